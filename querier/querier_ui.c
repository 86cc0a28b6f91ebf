#include "querier_ui.h"

#include <string.h>

const hearth_querier_ui_asset *
hearth_querier_ui_find(const char *name)
{
	for (size_t i = 0; i < hearth_querier_ui_n_assets; i++)
		if (strcmp(hearth_querier_ui_assets[i].name, name) == 0)
			return &hearth_querier_ui_assets[i];
	return NULL;
}

/* If-None-Match may list several tags, or be "*". */
static int
querier_ui_etag_matches(const char *inm, const char *etag)
{
	if (inm == NULL)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	return strstr(inm, etag) != NULL;
}

static void
querier_ui_serve(const hearth_querier_ui_asset *a, hearth_http_req *req,
    hearth_http_resp *resp)
{
	hearth_http_resp_header(resp, "ETag", a->etag);
	hearth_http_resp_header(resp, "Cache-Control", "no-cache");
	hearth_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	if (querier_ui_etag_matches(
	        hearth_http_req_header(req, "If-None-Match"), a->etag)) {
		resp->status = 304;
		return;
	}
	resp->content_type = a->content_type;
	hearth_buf_append(&resp->body, a->data, a->len);
	if (hearth_buf_failed(&resp->body))
		hearth_http_resp_error(resp, 500, "out of memory");
}

static void
querier_ui_handle_root(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	const hearth_querier_ui_asset *a = hearth_querier_ui_find("index.html");
	if (a == NULL) {
		hearth_http_resp_error(resp, 500, "UI not built in");
		return;
	}
	querier_ui_serve(a, req, resp);
}

static void
querier_ui_handle_file(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	const char *path = hearth_http_req_path(req) + strlen("/ui/");
	const hearth_querier_ui_asset *a = hearth_querier_ui_find(path);
	if (a == NULL) {
		hearth_http_resp_error_code(resp, 404, "not_found",
		    "no UI file %s", hearth_http_req_path(req));
		return;
	}
	querier_ui_serve(a, req, resp);
}

int
hearth_querier_ui_routes(hearth_http_server *s, hearth_err *err)
{
	if (hearth_http_route(s, "GET", "/", 0, "ui", querier_ui_handle_root,
	        NULL) != 0 ||
	    hearth_http_route(s, "GET", "/ui/", 1, "ui", querier_ui_handle_file,
	        NULL) != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "querier: cannot register the UI routes");
	return 0;
}

/* http_resp: the response side of http (see http.h): error bodies,
 * headers, gzip and handing the response to MHD. */
#include "http_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Smaller bodies are not worth the CPU and the gzip header. */
#define HTTP_GZIP_MIN 1024

#define HTTP_DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"

void
hearth_http_resp_init(hearth_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status       = 200;
	resp->content_type = HTTP_DEFAULT_CONTENT_TYPE;
	hearth_buf_init(&resp->body);
}

void
hearth_http_resp_fini(hearth_http_resp *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->header_names[i]);
		free(resp->header_values[i]);
	}
	hearth_buf_fini(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

static const char *
http_resp_find_header(const hearth_http_resp *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_headers; i++)
		if (strcasecmp(resp->header_names[i], name) == 0)
			return resp->header_values[i];
	return NULL;
}

void
hearth_http_resp_header(
    hearth_http_resp *resp, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return; /* header injection; see http.h */
	char *v = strdup(value);
	if (v == NULL)
		return;
	for (size_t i = 0; i < resp->n_headers; i++) {
		if (strcasecmp(resp->header_names[i], name) == 0) {
			free(resp->header_values[i]);
			resp->header_values[i] = v;
			return;
		}
	}
	HEARTH_ASSERT(resp->n_headers < HEARTH_HTTP_MAX_RESP_HEADERS);
	char *n = strdup(name);
	if (n == NULL) {
		free(v);
		return;
	}
	resp->header_names[resp->n_headers]    = n;
	resp->header_values[resp->n_headers++] = v;
}

const char *
hearth_http_code_from_status(int status)
{
	switch (status) {
	case 400:
		return "invalid_argument";
	case 401:
		return "unauthenticated";
	case 403:
		return "permission_denied";
	case 404:
		return "unimplemented";
	case 413:
		return "invalid_argument";
	case 429:
		return "resource_exhausted";
	case 499:
		return "canceled";
	case 502:
	case 503:
		return "unavailable";
	case 504:
		return "deadline_exceeded";
	default:
		return "unknown";
	}
}

int
hearth_http_status_from_err(int code)
{
	switch (code) {
	case HEARTH_EINVAL:
	case HEARTH_ELIMIT:
		return 400;
	case HEARTH_ENOTFOUND:
		return 404;
	case HEARTH_EUNAUTH:
		return 401;
	case HEARTH_EDENIED:
		return 403;
	case HEARTH_ETOOLARGE:
		return 413;
	case HEARTH_EBUSY:
		return 429;
	case HEARTH_EUNAVAIL:
		return 503;
	case HEARTH_ETIMEDOUT:
		return 504;
	default:
		return 500;
	}
}

static void
http_resp_verror(hearth_http_resp *resp, int status, const char *code,
    const char *fmt, va_list ap)
{
	hearth_buf msg;
	hearth_buf_init(&msg);
	hearth_buf_vprintf(&msg, fmt, ap);
	resp->status       = status;
	resp->content_type = "application/json";
	hearth_buf_reset(&resp->body);
	resp->body.failed = 0; /* an error must get through a failed body */
	hearth_buf_puts(&resp->body, "{\"code\":\"");
	hearth_buf_puts(&resp->body, code);
	hearth_buf_puts(&resp->body, "\",\"message\":");
	hearth_buf_put_json_str(
	    &resp->body, msg.data != NULL ? msg.data : "", msg.len);
	hearth_buf_puts(&resp->body, "}");
	hearth_buf_fini(&msg);
}

void
hearth_http_resp_error(
    hearth_http_resp *resp, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	http_resp_verror(
	    resp, status, hearth_http_code_from_status(status), fmt, ap);
	va_end(ap);
}

void
hearth_http_resp_error_code(
    hearth_http_resp *resp, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	http_resp_verror(resp, status, code, fmt, ap);
	va_end(ap);
}

void
hearth_http_resp_err(hearth_http_resp *resp, const hearth_err *err)
{
	hearth_http_resp_error(resp, hearth_http_status_from_err(err->code),
	    "%s", err->msg[0] != '\0' ? err->msg : hearth_strerror(err->code));
}

/* 1 when Accept-Encoding offers gzip with a non-zero q. */
static int
http_accepts_gzip(const char *ae)
{
	while (ae != NULL && *ae != '\0') {
		ae += strspn(ae, " \t,");
		size_t      n    = strcspn(ae, " \t,;");
		const char *name = ae;
		ae += n;
		double q = 1;
		/* parameters up to the next comma */
		while (*ae != '\0' && *ae != ',') {
			ae += strspn(ae, " \t;");
			if ((ae[0] == 'q' || ae[0] == 'Q') && ae[1] == '=')
				q = strtod(ae + 2, NULL);
			ae += strcspn(ae, ";,");
		}
		int is_gzip = (n == 4 && strncasecmp(name, "gzip", 4) == 0)
		    || (n == 6 && strncasecmp(name, "x-gzip", 6) == 0)
		    || (n == 1 && name[0] == '*');
		if (is_gzip && q > 0)
			return 1;
	}
	return 0;
}

/* gzip in[0..n) into out (emptied first). 0 or -1. */
static int
http_gzip(const char *in, size_t n, hearth_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (n > UINT_MAX / 2)
		return -1;
	/* windowBits 15 + 16: the gzip wrapper rather than raw zlib */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	        Z_DEFAULT_STRATEGY)
	    != Z_OK)
		return -1;
	uLong bound = deflateBound(&zs, (uLong) n);
	hearth_buf_reset(out);
	if (hearth_buf_reserve(out, bound) != 0) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in   = (Bytef *) (uintptr_t) in;
	zs.avail_in  = (uInt) n;
	zs.next_out  = (Bytef *) out->data;
	zs.avail_out = (uInt) bound;
	int rc       = deflate(&zs, Z_FINISH);
	if (rc == Z_STREAM_END) {
		out->len            = zs.total_out;
		out->data[out->len] = '\0';
	}
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? 0 : -1;
}

static int
http_should_gzip(const hearth_http_req *req, const hearth_http_resp *resp)
{
	return resp->status >= 200 && resp->status < 300
	    && resp->body.len > HTTP_GZIP_MIN
	    && http_resp_find_header(resp, "Content-Encoding") == NULL
	    && http_accepts_gzip(MHD_lookup_connection_value(
	        req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

enum MHD_Result
hearth_http_send(hearth_http_req *req, hearth_http_resp *resp)
{
	if (hearth_buf_failed(&resp->body))
		hearth_http_resp_error(resp, 500,
		    "the response could not be built (out of memory)");
	if (resp->status < 100 || resp->status > 599)
		resp->status = 500;
	int        gz = http_should_gzip(req, resp);
	hearth_buf zipped;
	hearth_buf_init(&zipped);
	if (gz && http_gzip(resp->body.data, resp->body.len, &zipped) != 0)
		gz = 0;
	hearth_buf *body = gz ? &zipped : &resp->body;
	size_t      len;
	char       *data = hearth_buf_take(body, &len);
	hearth_buf_fini(&zipped);
	struct MHD_Response *r = NULL;
	if (data != NULL)
		r = MHD_create_response_from_buffer_with_free_callback(
		    len, data, free);
	if (r == NULL) {
		free(data);
		return MHD_NO;
	}
	if (http_resp_find_header(resp, "Content-Type") == NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    resp->content_type != NULL ? resp->content_type
		                               : HTTP_DEFAULT_CONTENT_TYPE);
	for (size_t i = 0; i < resp->n_headers; i++)
		MHD_add_response_header(
		    r, resp->header_names[i], resp->header_values[i]);
	if (gz) {
		MHD_add_response_header(
		    r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
		MHD_add_response_header(
		    r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	}
	http_conn_set_busy(req->s, req->tcp, 1); /* answering: no deadline */
	enum MHD_Result rc
	    = MHD_queue_response(req->conn, (unsigned) resp->status, r);
	MHD_destroy_response(r);
	if (rc == MHD_YES)
		req->status = resp->status;
	return rc;
}

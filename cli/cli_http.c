#include "cli_http.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_MAX_BODY ((size_t) 1 << 30)

int
hearth_cli_http_global_init(hearth_err *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hearth_err_set(
		    err, HEARTH_EINTERNAL, "libcurl could not be initialised");
	return 0;
}

void
hearth_cli_http_global_fini(void)
{
	curl_global_cleanup();
}

int
hearth_cli_http_check_url(const char *url, hearth_err *err)
{
	const char *rest = NULL;
	if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	if (rest == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "--url \"%s\" must start with http:// or https://", url);
	if (*rest == '\0' || *rest == '/')
		return hearth_err_set(
		    err, HEARTH_EINVAL, "--url \"%s\" has no host", url);
	for (const char *p = url; *p != '\0'; p++) {
		if ((unsigned char) *p <= 0x20 || *p == 0x7f)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "--url must not contain spaces or control "
			    "characters");
		if (*p == '?' || *p == '#')
			return hearth_err_set(err, HEARTH_EINVAL,
			    "--url \"%s\" must not have a query or fragment "
			    "(hearth-cli adds the parameters)",
			    url);
	}
	return 0;
}

static void
http_escape(hearth_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '.'
		    || c == '_' || c == '~') {
			hearth_buf_putc(b, (char) c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			hearth_buf_append(b, e, 3);
		}
	}
}

void
hearth_cli_http_url(const char *base, const char *path,
    const hearth_cli_http_param *params, size_t n, hearth_buf *out)
{
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	hearth_buf_append(out, base, blen);
	hearth_buf_puts(out, path);
	char sep = '?';
	for (size_t i = 0; i < n; i++) {
		if (params[i].value == NULL)
			continue;
		hearth_buf_putc(out, sep);
		sep = '&';
		http_escape(out, params[i].key);
		hearth_buf_putc(out, '=');
		http_escape(out, params[i].value);
	}
}

typedef struct http_sink {
	hearth_buf *body;
	size_t      max;
	int         too_large;
} http_sink;

static size_t
http_write(char *p, size_t size, size_t nmemb, void *ud)
{
	http_sink *s = ud;
	size_t     n = size * nmemb;
	if (s->body->len + n > s->max) {
		s->too_large = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	hearth_buf_append(s->body, p, n);
	return hearth_buf_failed(s->body) ? 0 : n;
}

/* Adds "Name: value" to the list; 0 or HEARTH_ENOMEM. */
static int
http_header(struct curl_slist **l, hearth_buf *tmp, const char *name,
    const char *value)
{
	hearth_buf_reset(tmp);
	hearth_buf_printf(tmp, "%s: %s", name, value);
	if (hearth_buf_failed(tmp))
		return HEARTH_ENOMEM;
	struct curl_slist *n = curl_slist_append(*l, tmp->data);
	if (n == NULL)
		return HEARTH_ENOMEM;
	*l = n;
	return 0;
}

static int
http_headers(const hearth_cli_http_conn *c, const hearth_cli_http_req *req,
    struct curl_slist **l)
{
	hearth_buf tmp;
	int        rc = 0;
	hearth_buf_init(&tmp);
	if (c->tenant != NULL && *c->tenant != '\0')
		rc = http_header(l, &tmp, "X-Scope-OrgID", c->tenant);
	if (rc == 0 && c->token != NULL && *c->token != '\0') {
		hearth_buf bearer;
		hearth_buf_init(&bearer);
		hearth_buf_printf(&bearer, "Bearer %s", c->token);
		rc = hearth_buf_failed(&bearer)
		    ? HEARTH_ENOMEM
		    : http_header(l, &tmp, "Authorization", bearer.data);
		hearth_buf_fini(&bearer);
	}
	if (rc == 0 && req->content_type != NULL)
		rc = http_header(l, &tmp, "Content-Type", req->content_type);
	if (rc == 0 && req->accept != NULL)
		rc = http_header(l, &tmp, "Accept", req->accept);
	if (rc == 0 && req->content_encoding != NULL)
		rc = http_header(
		    l, &tmp, "Content-Encoding", req->content_encoding);
	/* curl would wait a second for "100 Continue" on large POSTs;
	 * "Name:" with nothing after it removes a header curl adds. */
	if (rc == 0) {
		struct curl_slist *n = curl_slist_append(*l, "Expect:");
		if (n == NULL)
			rc = HEARTH_ENOMEM;
		else
			*l = n;
	}
	hearth_buf_fini(&tmp);
	return rc;
}

static int
http_curl_error(CURLcode cc, const char *errbuf, const http_sink *sink,
    const char *url, const hearth_cli_http_conn *c, hearth_err *err)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
	if (sink->too_large)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "the answer of %s is larger than %zu bytes", url,
		    sink->max);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return hearth_err_set(err, HEARTH_ETIMEDOUT,
		    "no answer from %s within %ld ms (--timeout): %s", c->url,
		    c->timeout_ms, why);
	if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "out of memory reading %s", url);
	return hearth_err_set(
	    err, HEARTH_EUNAVAIL, "cannot connect to %s: %s", c->url, why);
}

int
hearth_cli_http_do(const hearth_cli_http_conn *c,
    const hearth_cli_http_req *req, hearth_cli_http_resp *resp,
    hearth_err *err)
{
	hearth_buf_init(&resp->body);
	resp->status = 0;
	hearth_buf url;
	hearth_buf_init(&url);
	hearth_cli_http_url(
	    c->url, req->path, req->params, req->n_params, &url);
	CURL              *h                       = curl_easy_init();
	struct curl_slist *hdrs                    = NULL;
	char               errbuf[CURL_ERROR_SIZE] = "";
	http_sink          sink                    = { &resp->body,
                c->max_body ? c->max_body : HTTP_DEFAULT_MAX_BODY, 0 };
	int                rc                      = 0;
	if (h == NULL || hearth_buf_failed(&url)
	    || http_headers(c, req, &hdrs) != 0) {
		rc = hearth_err_set(
		    err, HEARTH_ENOMEM, "out of memory preparing the request");
		goto done;
	}
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hearth-cli");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* any curl knows */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(
		    h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t) req->body_len);
	}
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = http_curl_error(cc, errbuf, &sink, url.data, c, err);
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
done:
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	hearth_buf_fini(&url);
	return rc;
}

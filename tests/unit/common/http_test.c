#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_LIMIT (1024 * 1024)

typedef struct fixture {
	hearth_metrics     *m;
	hearth_log          log;
	hearth_http_server *s;
	uint16_t            port;
} fixture;

/* ---- handlers ------------------------------------------------------ */

static void
h_hello(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	hearth_buf_puts(&resp->body, "hello\n");
}

static void
h_tagged(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_buf_printf(&resp->body, "%s %s %s", (const char *) ctx,
	    hearth_http_req_method(req), hearth_http_req_path(req));
}

static uint64_t
fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
h_echo(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	size_t         len;
	const uint8_t *b = hearth_http_req_body(req, &len);
	hearth_buf_printf(&resp->body, "len=%zu fnv=%016llx nul=%d", len,
	    (unsigned long long) fnv(b, len), b[len] == '\0');
}

static void
h_query(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	const char *vals[8];
	size_t      n = hearth_http_req_query_all(req, "a", vals, 8);
	hearth_buf_printf(&resp->body, "a=%zu", n);
	for (size_t i = 0; i < n; i++)
		hearth_buf_printf(&resp->body, "[%s]", vals[i]);
	const char *b    = hearth_http_req_query(req, "b");
	const char *flag = hearth_http_req_query(req, "flag");
	const char *none = hearth_http_req_query(req, "none");
	hearth_buf_printf(&resp->body, " b=%s flag=%s none=%s",
	    b ? b : "(null)", flag ? flag : "(null)", none ? none : "(null)");
	/* max bounds what is stored (no cmocka asserts on server threads) */
	hearth_buf_printf(&resp->body, " max1=%zu",
	    hearth_http_req_query_all(req, "a", vals, 1));
}

static void
h_headers(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	const char *t      = hearth_http_req_header(req, "x-scope-orgid");
	resp->status       = 201;
	resp->content_type = "application/x-test";
	hearth_http_resp_header(resp, "X-Hearth-Tenant", t ? t : "none");
	hearth_http_resp_header(resp, "X-Hearth-Twice", "first");
	hearth_http_resp_header(resp, "x-hearth-twice", "second");
	hearth_http_resp_header(resp, "X-Bad", "a\r\nInjected: yes");
	hearth_buf_puts(&resp->body, "ok");
}

/* 64 KiB of compressible text */
static void
fill_big(hearth_buf *b)
{
	for (int i = 0; i < 2048; i++)
		hearth_buf_printf(b, "line %05d of the big body........\n", i);
}

static void
h_big(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	fill_big(&resp->body);
}

static void
h_slow(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	hearth_buf_puts(&resp->body, "slow");
}

static void
h_err(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	hearth_buf_puts(&resp->body, "discarded partial output");
	hearth_http_resp_error(resp, 400, "bad \"%s\"", "selector");
}

static void
h_arena(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	hearth_arena *a = hearth_http_req_arena(req);
	char         *p = hearth_arena_strdup(a, "from the arena");
	void         *q = hearth_arena_alloc(a, 4096); /* over the 2 KiB cap */
	hearth_buf_printf(
	    &resp->body, "%s %s", p, q == NULL ? "capped" : "big");
}

/* ---- fixture ------------------------------------------------------- */

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->m       = hearth_metrics_new();
	hearth_log_init(&f->log, "http_test", HEARTH_LOG_ERROR);
	hearth_http_opts o = {
		.address                  = "127.0.0.1",
		.port                     = 0,
		.threads                  = 8,
		.max_body_bytes           = BODY_LIMIT,
		.connection_timeout_s     = 5,
		.max_connections          = 64,
		.max_request_header_bytes = 16384,
		.request_arena_cap        = 2048,
	};
	hearth_err err;
	assert_int_equal(
	    hearth_http_server_new(&o, f->m, &f->log, &f->s, &err), 0);
	hearth_http_server *s = f->s;
	assert_int_equal(
	    hearth_http_route(s, "GET", "/hello", 0, "hello", h_hello, NULL),
	    0);
	hearth_http_route(s, "POST", "/echo", 0, "echo", h_echo, NULL);
	hearth_http_route(
	    s, "GET", "/static/", 1, "static", h_tagged, "static");
	hearth_http_route(
	    s, "GET", "/static/deep/", 1, "deep", h_tagged, "deep");
	hearth_http_route(
	    s, "GET", "/static/exact", 0, "exact", h_tagged, "exact");
	hearth_http_route(s, NULL, "/any", 0, "any", h_tagged, "any");
	hearth_http_route(s, "GET", "/both", 0, "both", h_tagged, "get");
	hearth_http_route(s, "POST", "/both", 0, "both", h_tagged, "post");
	hearth_http_route(s, "GET", "/q", 0, "q", h_query, NULL);
	hearth_http_route(s, "GET", "/headers", 0, "headers", h_headers, NULL);
	hearth_http_route(s, "GET", "/big", 0, "big", h_big, NULL);
	hearth_http_route(s, "GET", "/slow", 0, "slow", h_slow, NULL);
	hearth_http_route(s, "GET", "/err", 0, "err", h_err, NULL);
	hearth_http_route(s, "GET", "/arena", 0, "arena", h_arena, NULL);
	assert_int_equal(hearth_http_server_start(s, &err), 0);
	f->port = hearth_http_server_port(s);
	assert_true(f->port > 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_http_server_free(f->s);
	hearth_metrics_free(f->m);
	free(f);
	return 0;
}

/* ---- client -------------------------------------------------------- */

typedef struct result {
	CURLcode   rc;
	long       status;
	hearth_buf body;
	hearth_buf headers;
	curl_off_t downloaded;
	curl_off_t uploaded;
} result;

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
	hearth_buf_append(ud, p, size * n);
	return size * n;
}

typedef struct stream {
	size_t total; /* bytes to send */
	size_t sent;
} stream;

static size_t
on_read(char *p, size_t size, size_t n, void *ud)
{
	stream *st   = ud;
	size_t  want = size * n;
	if (want > st->total - st->sent)
		want = st->total - st->sent;
	memset(p, 'z', want);
	st->sent += want;
	return want;
}

typedef struct req_opts {
	const char        *method; /* NULL = GET */
	const char        *body;
	size_t             body_len;
	stream            *chunked; /* body streamed without Content-Length */
	const char *const *headers; /* NULL-terminated */
	const char        *accept_encoding; /* curl decodes it */
	int                raw_gzip;        /* send the header, keep bytes */
} req_opts;

static void
do_request(const fixture *f, const char *path, const req_opts *o, result *r)
{
	char url[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port, path);
	memset(r, 0, sizeof(*r));
	hearth_buf_init(&r->body);
	hearth_buf_init(&r->headers);
	CURL              *c = curl_easy_init();
	struct curl_slist *h = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (o != NULL && o->method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
	if (o != NULL && o->method != NULL && strcmp(o->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (o != NULL && o->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) o->body_len);
	}
	if (o != NULL && o->chunked != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, o->chunked);
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
	}
	for (size_t i = 0; o != NULL && o->headers && o->headers[i]; i++)
		h = curl_slist_append(h, o->headers[i]);
	if (o != NULL && o->raw_gzip)
		h = curl_slist_append(h, "Accept-Encoding: gzip");
	if (o != NULL && o->accept_encoding != NULL)
		curl_easy_setopt(
		    c, CURLOPT_ACCEPT_ENCODING, o->accept_encoding);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &r->downloaded);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &r->uploaded);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void
result_fini(result *r)
{
	hearth_buf_fini(&r->body);
	hearth_buf_fini(&r->headers);
}

static const char *
body_of(const result *r)
{
	return r->body.data != NULL ? r->body.data : "";
}

/* Header value (case-insensitive name) from the raw header block. */
static int
has_header(const result *r, const char *line)
{
	return r->headers.data != NULL && strcasestr(r->headers.data, line);
}

static void
get(const fixture *f, const char *path, long want_status,
    const char *want_body)
{
	result r;
	do_request(f, path, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, want_status);
	if (want_body != NULL)
		assert_string_equal(body_of(&r), want_body);
	result_fini(&r);
}

/* Metrics are recorded when MHD reports completion, just after the
 * client has its answer: poll briefly for the expected line. */
static void
expect_metric(const fixture *f, const char *line)
{
	for (int i = 0; i < 200; i++) {
		hearth_buf b;
		hearth_buf_init(&b);
		hearth_metrics_write(f->m, &b);
		int found = b.data != NULL && strstr(b.data, line) != NULL;
		if (!found && i == 199)
			fprintf(
			    stderr, "metrics:\n%s\n", b.data ? b.data : "");
		hearth_buf_fini(&b);
		if (found)
			return;
		usleep(10000);
	}
	fail_msg("metric line not found: %s", line);
}

/* ---- tests --------------------------------------------------------- */

static void
test_http_routing_exact_prefix_and_any_method(void **state)
{
	fixture *f = *state;
	get(f, "/hello", 200, "hello\n");
	get(f, "/static/a/b.js", 200, "static GET /static/a/b.js");
	get(f, "/static/deep/x", 200, "deep GET /static/deep/x");
	get(f, "/static/exact", 200, "exact GET /static/exact");
	get(f, "/static/exactly", 200, "static GET /static/exactly");
	req_opts del = { .method = "DELETE" };
	result   r;
	do_request(f, "/any", &del, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "any DELETE /any");
	result_fini(&r);
	req_opts post = { .method = "POST", .body = "x", .body_len = 1 };
	do_request(f, "/both", &post, &r);
	assert_string_equal(body_of(&r), "post POST /both");
	result_fini(&r);
	get(f, "/both", 200, "get GET /both");
	/* HEAD is served by the GET route, without a body */
	req_opts head = { .method = "HEAD" };
	do_request(f, "/hello", &head, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	assert_true(has_header(&r, "Content-Length: 6\r\n"));
	result_fini(&r);
	/* percent-encoded paths are decoded before routing */
	get(f, "/static/%61%20b", 200, "static GET /static/a b");
}

static void
test_http_unknown_path_is_404_json(void **state)
{
	fixture *f = *state;
	result   r;
	do_request(f, "/nope?x=1", NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(body_of(&r),
	    "{\"code\":\"unimplemented\",\"message\":\"no such endpoint: GET "
	    "/nope\"}");
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	result_fini(&r);
	expect_metric(f,
	    "hearth_http_requests_total{route=\"other\",method=\"GET\","
	    "status=\"404\"} 1\n");
}

static void
test_http_errors_keep_the_connection_alive(void **state)
{
	fixture *f = *state;
	char     url[128];
	long     status, connects;
	CURL    *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	hearth_buf b;
	hearth_buf_init(&b);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	const char *paths[] = { "/hello", "/nope", "/hello" };
	for (int i = 0; i < 3; i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port,
		    paths[i]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		assert_int_equal(status, i == 1 ? 404 : 200);
		/* only the first request opens a connection */
		assert_int_equal(connects, i == 0 ? 1 : 0);
	}
	curl_easy_cleanup(c);
	hearth_buf_fini(&b);
}

static void
test_http_wrong_method_is_405_with_allow(void **state)
{
	fixture *f    = *state;
	req_opts post = { .method = "POST", .body = "{}", .body_len = 2 };
	result   r;
	do_request(f, "/hello", &post, &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD\r\n"));
	assert_string_equal(body_of(&r),
	    "{\"code\":\"unknown\",\"message\":\"method POST is not allowed "
	    "for "
	    "/hello; use GET, HEAD\"}");
	result_fini(&r);
	req_opts put = { .method = "PUT" };
	do_request(f, "/both", &put, &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, POST, HEAD\r\n"));
	result_fini(&r);
	expect_metric(f,
	    "hearth_http_requests_total{route=\"hello\",method=\"POST\","
	    "status=\"405\"} 1\n");
}

static void
test_http_query_repeated_and_decoded(void **state)
{
	fixture *f = *state;
	get(f, "/q?a=1&b=two&a=x+y&flag&a=%2F%C3%A9%26", 200,
	    "a=3[1][x y][/\xc3\xa9&] b=two flag= none=(null) max1=1");
	get(f, "/q", 200, "a=0 b=(null) flag=(null) none=(null) max1=0");
	get(f, "/q?b=&b=second", 200, "a=0 b= flag=(null) none=(null) max1=0");
}

static void
test_http_request_and_response_headers(void **state)
{
	fixture          *f    = *state;
	const char *const hs[] = { "X-Scope-OrgID: acme", NULL };
	req_opts          o    = { .headers = hs };
	result            r;
	do_request(f, "/headers", &o, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(body_of(&r), "ok");
	assert_true(has_header(&r, "X-Hearth-Tenant: acme\r\n"));
	assert_true(has_header(&r, "X-Hearth-Twice: second\r\n"));
	assert_false(has_header(&r, "first"));
	assert_false(has_header(&r, "Injected"));
	assert_false(has_header(&r, "X-Bad"));
	assert_true(has_header(&r, "Content-Type: application/x-test\r\n"));
	result_fini(&r);
	/* headers over max_request_header_bytes */
	char       *big   = malloc(20000);
	const char *hs2[] = { big, NULL };
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'b', 17000);
	big[17007] = '\0';
	o.headers  = hs2;
	do_request(f, "/headers", &o, &r);
	assert_int_equal(r.status, 431);
	assert_non_null(
	    strstr(body_of(&r), "\"message\":\"request headers are "));
	result_fini(&r);
	free(big);
}

static void
test_http_large_body_is_delivered_whole(void **state)
{
	fixture *f   = *state;
	size_t   n   = BODY_LIMIT; /* exactly at the limit is allowed */
	char    *buf = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char) (i * 7 + (i >> 11));
	char want[128];
	snprintf(want, sizeof(want), "len=%zu fnv=%016llx nul=1", n,
	    (unsigned long long) fnv((const uint8_t *) buf, n));
	req_opts o = { .method = "POST", .body = buf, .body_len = n };
	result   r;
	do_request(f, "/echo", &o, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), want);
	result_fini(&r);
	/* the same size streamed without Content-Length */
	stream   st = { n, 0 };
	req_opts oc = { .chunked = &st };
	do_request(f, "/echo", &oc, &r);
	assert_int_equal(r.status, 200);
	memset(buf, 'z', n);
	snprintf(want, sizeof(want), "len=%zu fnv=%016llx nul=1", n,
	    (unsigned long long) fnv((const uint8_t *) buf, n));
	assert_string_equal(body_of(&r), want);
	result_fini(&r);
	free(buf);
	expect_metric(f,
	    "hearth_http_request_body_bytes_bucket{route=\"echo\",le="
	    "\"1048576\"} 2\n");
}

static void
test_http_body_over_limit_with_content_length_is_413(void **state)
{
	fixture *f   = *state;
	size_t   n   = BODY_LIMIT + 1;
	char    *buf = calloc(1, n);
	/* with and without curl's Expect: 100-continue */
	const char *const no_expect[] = { "Expect:", NULL };
	for (int k = 0; k < 2; k++) {
		req_opts o = { .method = "POST",
			.body          = buf,
			.body_len      = n,
			.headers       = k ? no_expect : NULL };
		result   r;
		do_request(f, "/echo", &o, &r);
		assert_int_equal(r.status, 413);
		assert_string_equal(body_of(&r),
		    "{\"code\":\"invalid_argument\",\"message\":\"request "
		    "body "
		    "is 1048577 bytes, larger than the limit of 1048576 "
		    "bytes\"}");
		result_fini(&r);
	}
	free(buf);
	get(f, "/hello", 200, "hello\n");
	expect_metric(f,
	    "hearth_http_requests_total{route=\"echo\",method=\"POST\","
	    "status=\"413\"} 2\n");
}

static void
test_http_streamed_body_over_limit_is_413(void **state)
{
	fixture *f  = *state;
	stream   st = { BODY_LIMIT + 300000, 0 };
	req_opts o  = { .chunked = &st };
	result   r;
	do_request(f, "/echo", &o, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(body_of(&r),
	    "{\"code\":\"invalid_argument\",\"message\":\"request body is "
	    "larger than the limit of 1048576 bytes\"}");
	result_fini(&r);
	expect_metric(f,
	    "hearth_http_request_body_bytes_sum{route=\"echo\"} "
	    "1348576\n");
}

static void
test_http_endless_body_is_cut_off(void **state)
{
	fixture *f  = *state;
	stream   st = { (size_t) 200 << 20, 0 }; /* 200 MiB */
	req_opts o  = { .chunked = &st };
	result   r;
	do_request(f, "/echo", &o, &r);
	/* hung up on: curl sees an error or a truncated exchange, and far
	 * less than the whole stream was read */
	assert_true(r.rc != CURLE_OK || r.status != 200);
	assert_true(st.sent < ((size_t) 100 << 20));
	result_fini(&r);
	get(f, "/hello", 200, "hello\n");
	expect_metric(f,
	    "hearth_http_requests_total{route=\"echo\",method=\"POST\","
	    "status=\"413\"} 1\n");
}

static void
test_http_gzip_response(void **state)
{
	fixture   *f = *state;
	hearth_buf want;
	hearth_buf_init(&want);
	fill_big(&want);
	result   r;
	req_opts gz = { .accept_encoding = "gzip" };
	do_request(f, "/big", &gz, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Encoding: gzip\r\n"));
	assert_true(has_header(&r, "Vary: Accept-Encoding\r\n"));
	assert_int_equal(r.body.len, want.len);
	assert_memory_equal(r.body.data, want.data, want.len);
	assert_true(r.downloaded < (curl_off_t) want.len / 4);
	result_fini(&r);
	/* raw bytes start with the gzip magic */
	req_opts raw = { .raw_gzip = 1 };
	do_request(f, "/big", &raw, &r);
	assert_true(r.body.len > 2);
	assert_int_equal((unsigned char) r.body.data[0], 0x1f);
	assert_int_equal((unsigned char) r.body.data[1], 0x8b);
	result_fini(&r);
	/* not offered, offered with q=0, or a small body: plain */
	do_request(f, "/big", NULL, &r);
	assert_false(has_header(&r, "Content-Encoding"));
	assert_int_equal(r.body.len, want.len);
	result_fini(&r);
	const char *const q0[] = { "Accept-Encoding: br, gzip;q=0", NULL };
	req_opts          oq   = { .headers = q0 };
	do_request(f, "/big", &oq, &r);
	assert_false(has_header(&r, "Content-Encoding"));
	result_fini(&r);
	do_request(f, "/hello", &raw, &r);
	assert_false(has_header(&r, "Content-Encoding"));
	assert_string_equal(body_of(&r), "hello\n");
	result_fini(&r);
	hearth_buf_fini(&want);
}

typedef struct worker {
	const fixture *f;
	int            ok;
} worker;

static void *
worker_run(void *p)
{
	worker *w = p;
	for (int i = 0; i < 3; i++) {
		result r;
		do_request(w->f, "/slow", NULL, &r);
		if (r.rc == CURLE_OK && r.status == 200
		    && strcmp(body_of(&r), "slow") == 0)
			w->ok++;
		result_fini(&r);
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
test_http_concurrent_requests(void **state)
{
	fixture  *f = *state;
	pthread_t t[16];
	worker    w[16];
	double    t0 = now_s();
	for (int i = 0; i < 16; i++) {
		w[i] = (worker) { f, 0 };
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	double elapsed = now_s() - t0;
	for (int i = 0; i < 16; i++)
		assert_int_equal(w[i].ok, 3);
	/* 48 requests of 200 ms: 9.6 s one at a time; 8 threads overlap */
	assert_true(elapsed < 6.0);
	expect_metric(f,
	    "hearth_http_requests_total{route=\"slow\",method=\"GET\","
	    "status=\"200\"} 48\n");
	expect_metric(f,
	    "hearth_http_request_duration_seconds_count{route=\"slow\"} 48\n");
	expect_metric(f,
	    "hearth_http_request_duration_seconds_bucket{route="
	    "\"slow\",le=\"0.1\"} 0\n");
	expect_metric(f, "hearth_http_inflight_requests 0\n");
}

static void
test_http_handler_error_and_arena(void **state)
{
	fixture *f = *state;
	result   r;
	do_request(f, "/err", NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(body_of(&r),
	    "{\"code\":\"invalid_argument\",\"message\":\"bad "
	    "\\\"selector\\\"\"}");
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	result_fini(&r);
	get(f, "/arena", 200, "from the arena capped");
}

static void *
slow_once(void *p)
{
	worker *w = p;
	result  r;
	do_request(w->f, "/slow", NULL, &r);
	w->ok = r.rc == CURLE_OK && r.status == 200
	    && strcmp(body_of(&r), "slow") == 0;
	result_fini(&r);
	return NULL;
}

static void
test_http_stop_finishes_inflight_requests(void **state)
{
	fixture  *f = *state;
	pthread_t t;
	worker    w = { f, 0 };
	pthread_create(&t, NULL, slow_once, &w);
	usleep(80000); /* the handler is sleeping now */
	hearth_http_server_stop(f->s);
	pthread_join(t, NULL);
	assert_int_equal(w.ok, 1);
	assert_int_equal(hearth_http_server_port(f->s), 0);
	result r;
	do_request(f, "/hello", NULL, &r);
	assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
	result_fini(&r);
	hearth_http_server_stop(f->s); /* twice is fine */
}

static void
test_http_start_fails_on_busy_port(void **state)
{
	fixture            *f = *state;
	hearth_http_opts    o = { .address = "127.0.0.1", .port = f->port };
	hearth_http_server *s2;
	hearth_err          err;
	assert_int_equal(
	    hearth_http_server_new(&o, NULL, &f->log, &s2, &err), 0);
	assert_int_equal(hearth_http_server_start(s2, &err), HEARTH_EIO);
	char prefix[64];
	snprintf(prefix, sizeof(prefix),
	    "http: cannot listen on 127.0.0.1:%u: ", f->port);
	assert_memory_equal(err.msg, prefix, strlen(prefix));
	assert_non_null(strstr(err.msg, "in use"));
	/* libmicrohttpd's own part names the port asked for, not 0. */
	assert_null(strstr(err.msg, "port 0"));
	hearth_http_server_free(s2);
}

static void
test_http_bad_address(void **state)
{
	(void) state;
	hearth_http_opts    o = { .address = "not an address!", .port = 1 };
	hearth_http_server *s = NULL;
	hearth_err          err;
	assert_int_equal(
	    hearth_http_server_new(&o, NULL, NULL, &s, &err), HEARTH_EINVAL);
	assert_null(s);
	const char *want = "http: cannot use listen address \"not an "
	                   "address!\": ";
	assert_memory_equal(err.msg, want, strlen(want));
	print_message("%s\n", err.msg);
}

static void
test_http_ipv6_loopback(void **state)
{
	(void) state;
	hearth_http_opts o = { .address = "[::1]", .port = 0, .threads = 2 };
	hearth_http_server *s;
	hearth_err          err;
	assert_int_equal(hearth_http_server_new(&o, NULL, NULL, &s, &err), 0);
	hearth_http_route(s, "GET", "/hello", 0, "hello", h_hello, NULL);
	if (hearth_http_server_start(s, &err) != 0) {
		hearth_http_server_free(s); /* no IPv6 in this sandbox */
		skip();
	}
	char url[64];
	snprintf(url, sizeof(url), "http://[::1]:%u/hello",
	    hearth_http_server_port(s));
	CURL      *c = curl_easy_init();
	hearth_buf b;
	hearth_buf_init(&b);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_string_equal(b.data, "hello\n");
	curl_easy_cleanup(c);
	hearth_buf_fini(&b);
	hearth_http_server_free(s);
}

static void
test_http_status_and_code_mapping(void **state)
{
	(void) state;
	assert_int_equal(hearth_http_status_from_err(HEARTH_EINVAL), 400);
	assert_int_equal(hearth_http_status_from_err(HEARTH_ELIMIT), 400);
	assert_int_equal(hearth_http_status_from_err(HEARTH_ETOOLARGE), 413);
	assert_int_equal(hearth_http_status_from_err(HEARTH_EBUSY), 429);
	assert_int_equal(hearth_http_status_from_err(HEARTH_ETIMEDOUT), 504);
	assert_int_equal(hearth_http_status_from_err(HEARTH_EUNAVAIL), 503);
	assert_int_equal(hearth_http_status_from_err(HEARTH_ENOTFOUND), 404);
	assert_int_equal(hearth_http_status_from_err(HEARTH_EIO), 500);
	assert_int_equal(hearth_http_status_from_err(HEARTH_ENOMEM), 500);
	static const struct {
		int         status;
		const char *code;
	} m[] = { { 400, "invalid_argument" }, { 401, "unauthenticated" },
		{ 403, "permission_denied" }, { 404, "unimplemented" },
		{ 413, "invalid_argument" }, { 429, "resource_exhausted" },
		{ 499, "canceled" }, { 502, "unavailable" },
		{ 503, "unavailable" }, { 504, "deadline_exceeded" },
		{ 405, "unknown" }, { 408, "unknown" }, { 422, "unknown" },
		{ 500, "unknown" } };
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		assert_string_equal(
		    hearth_http_code_from_status(m[i].status), m[i].code);
}

static void
test_http_resp_error_json_exact(void **state)
{
	(void) state;
	hearth_http_resp resp;
	hearth_http_resp_init(&resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	hearth_buf_puts(&resp.body, "partial");
	hearth_http_resp_error(&resp, 429, "rate \"%s\"\n\x01", "limit");
	assert_int_equal(resp.status, 429);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.body.data,
	    "{\"code\":\"resource_exhausted\",\"message\":\"rate "
	    "\\\"limit\\\"\\n\\u0001\"}");
	hearth_http_resp_error_code(&resp, 404, "not_found", "no %d", 7);
	assert_string_equal(
	    resp.body.data, "{\"code\":\"not_found\",\"message\":\"no 7\"}");
	hearth_err err;
	hearth_err_set(&err, HEARTH_ETIMEDOUT, "rpc: deadline exceeded");
	hearth_http_resp_err(&resp, &err);
	assert_int_equal(resp.status, 504);
	assert_string_equal(resp.body.data,
	    "{\"code\":\"deadline_exceeded\",\"message\":\"rpc: deadline "
	    "exceeded\"}");
	hearth_http_resp_header(&resp, "X-A", "1");
	hearth_http_resp_header(&resp, "X-Evil", "1\r\nSet-Cookie: x");
	assert_int_equal(resp.n_headers, 1);
	hearth_http_resp_fini(&resp);
}

/* A raw connection to 127.0.0.1:port that has sent `head`. */
static int
raw_connect(uint16_t port, const char *head)
{
	struct sockaddr_in sa;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL),
	    (ssize_t) strlen(head));
	return fd;
}

/* 1 when the server closed fd (end of file or reset) within ms. */
static int
raw_closed_within(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	char           b[512];
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, b, sizeof(b), 0);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
test_http_read_timeout_cuts_slow_clients_only(void **state)
{
	(void) state;
	fixture *f = calloc(1, sizeof(*f));
	f->m       = hearth_metrics_new();
	hearth_log_init(&f->log, "http_test", HEARTH_LOG_ERROR);
	hearth_http_opts o = {
		.address                = "127.0.0.1",
		.threads                = 2,
		.read_timeout_ms        = 300,
		.max_connections_per_ip = 3,
	};
	hearth_err err;
	assert_int_equal(
	    hearth_http_server_new(&o, f->m, &f->log, &f->s, &err), 0);
	hearth_http_route(f->s, "GET", "/hello", 0, "hello", h_hello, NULL);
	hearth_http_route(f->s, "GET", "/slow", 0, "slow", h_slow, NULL);
	assert_int_equal(hearth_http_server_start(f->s, &err), 0);
	f->port = hearth_http_server_port(f->s);

	/* headers that trickle in, one byte every 100 ms: cut at ~300 ms
	 * (the reaper looks every 75 ms), however steady the trickle */
	struct timespec t0, t1, tick = { 0, 100 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int fd = raw_connect(f->port, "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: ");
	int closed = 0;
	for (int i = 0; i < 30 && !closed; i++) {
		nanosleep(&tick, NULL);
		closed = send(fd, "a", 1, MSG_NOSIGNAL) != 1
		    || raw_closed_within(fd, 1);
	}
	if (!closed)
		closed = raw_closed_within(fd, 500);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double) (t1.tv_sec - t0.tv_sec)
	    + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(closed);
	assert_true(secs >= 0.3 && secs < 1.5);
	close(fd);
	expect_metric(f, "hearth_http_slow_connections_closed_total 1\n");

	/* a handler slower than the deadline is not the client's fault */
	get(f, "/slow", 200, "slow");
	get(f, "/hello", 200, "hello\n");

	/* per-address limit: the fourth connection is closed at once */
	int fds[4];
	for (int i = 0; i < 3; i++) {
		fds[i] = raw_connect(f->port, "GET /hello HTTP/1.1\r\n");
		assert_false(raw_closed_within(fds[i], 50));
	}
	fds[3] = raw_connect(f->port, "GET /hello HTTP/1.1\r\n");
	assert_true(raw_closed_within(fds[3], 1000));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	hearth_http_server_free(f->s);
	hearth_metrics_free(f->m);
	free(f);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_http_routing_exact_prefix_and_any_method, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_unknown_path_is_404_json, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_errors_keep_the_connection_alive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_wrong_method_is_405_with_allow, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_query_repeated_and_decoded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_request_and_response_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_large_body_is_delivered_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_body_over_limit_with_content_length_is_413,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_streamed_body_over_limit_is_413, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_endless_body_is_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_gzip_response, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_concurrent_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_handler_error_and_arena, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_stop_finishes_inflight_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_start_fails_on_busy_port, setup, teardown),
		cmocka_unit_test(test_http_read_timeout_cuts_slow_clients_only),
		cmocka_unit_test(test_http_bad_address),
		cmocka_unit_test(test_http_ipv6_loopback),
		cmocka_unit_test(test_http_status_and_code_mapping),
		cmocka_unit_test(test_http_resp_error_json_exact),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

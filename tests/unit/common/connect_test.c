#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "connect.h"
#include "tenant.h"
#include "types.pb-c.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct fixture {
	hearth_http_server *http;
	hearth_connect     *c;
	hearth_metrics     *m;
	uint16_t            port;
	int64_t             seen_deadline;
} fixture;

/* LabelValuesRequest -> LabelValuesResponse{names: [name, start, tenant]};
 * name "fail:<code>" fails with that code; "big" answers 400 names. */
static int
h_values(void *ctx, hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	fixture                             *f = ctx;
	const Types__V1__LabelValuesRequest *r = (const void *) req;
	f->seen_deadline                       = call->deadline_unix_ms;
	if (strncmp(r->name, "fail:", 5) == 0)
		return hearth_connect_fail(call, atoi(r->name + 5),
		    "failed as asked: \"%s\"", r->name);
	char tenant[HEARTH_TENANT_MAX + 1];
	if (strcmp(r->name, "tenant") == 0
	    && hearth_connect_tenant(call, 1, tenant, sizeof(tenant)) != 0)
		return -1;
	Types__V1__LabelValuesResponse *out
	    = hearth_arena_alloc(call->arena, sizeof(*out));
	types__v1__label_values_response__init(out);
	size_t n      = strcmp(r->name, "big") == 0 ? 400 : 2;
	out->names    = hearth_arena_alloc(call->arena, n * sizeof(char *));
	out->n_names  = n;
	out->names[0] = r->name;
	for (size_t i = 1; i < n; i++) {
		out->names[i] = hearth_arena_alloc(call->arena, 32);
		snprintf(out->names[i], 32, "%lld",
		    (long long) (r->start + (int64_t) i - 1));
	}
	*resp = &out->base;
	return 0;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->m       = hearth_metrics_new();
	hearth_log log;
	hearth_log_init(&log, "test", HEARTH_LOG_ERROR);
	hearth_http_opts o = { .address = "127.0.0.1", .threads = 2 };
	hearth_err       err;
	assert_int_equal(
	    hearth_http_server_new(&o, f->m, &log, &f->http, &err), 0);
	hearth_connect_opts co
	    = { .max_body_bytes = 4096, .max_body_setting = "limits.x" };
	assert_int_equal(hearth_connect_new(f->http, &co, &f->c, &err), 0);
	assert_int_equal(
	    hearth_connect_add(f->c, "/t.v1.S/Values", "values",
	        &types__v1__label_values_request__descriptor, h_values, f),
	    0);
	assert_int_equal(hearth_connect_add_service(f->c, "/t.v1.S/", "t"), 0);
	assert_int_equal(hearth_http_server_start(f->http, &err), 0);
	f->port = hearth_http_server_port(f->http);
	*state  = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_http_server_free(f->http);
	hearth_connect_free(f->c);
	hearth_metrics_free(f->m);
	free(f);
	return 0;
}

typedef struct result {
	long       status;
	hearth_buf body;
	hearth_buf headers;
} result;

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
	hearth_buf_append(ud, p, size * n);
	return size * n;
}

static void
call(const fixture *f, const char *method, const char *path,
    const char *const *headers, const void *body, size_t len, result *r)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port, path);
	hearth_buf_init(&r->body);
	hearth_buf_init(&r->headers);
	CURL              *c = curl_easy_init();
	struct curl_slist *h = NULL;
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		h = curl_slist_append(h, headers[i]);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	hearth_buf_putc(&r->body, '\0');
	r->body.len--;
	hearth_buf_putc(&r->headers, '\0');
}

static void
result_fini(result *r)
{
	hearth_buf_fini(&r->body);
	hearth_buf_fini(&r->headers);
}

static int
has_header(const result *r, const char *line)
{
	return strcasestr(r->headers.data, line) != NULL;
}

static const char *json_hdr[] = { "Content-Type: application/json", NULL };

static void
test_connect_json_round_trip(void **state)
{
	fixture   *f = *state;
	result     r;
	const char body[] = "{\"name\":\"pod\",\"start\":\"41\"}";
	call(f, "POST", "/t.v1.S/Values", json_hdr, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"names\":[\"pod\",\"41\"]}");
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	assert_int_equal(f->seen_deadline, 0);
	result_fini(&r);
}

static void
test_connect_binary_round_trip(void **state)
{
	fixture                      *f = *state;
	Types__V1__LabelValuesRequest q
	    = TYPES__V1__LABEL_VALUES_REQUEST__INIT;
	q.name  = "env";
	q.start = 7;
	uint8_t     buf[64];
	size_t      n     = types__v1__label_values_request__pack(&q, buf);
	const char *hdr[] = { "Content-Type: application/proto",
		"Connect-Protocol-Version: 1", "Connect-Timeout-Ms: 5000",
		NULL };
	result      r;
	call(f, "POST", "/t.v1.S/Values", hdr, buf, n, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: application/proto\r\n"));
	Types__V1__LabelValuesResponse *resp
	    = types__v1__label_values_response__unpack(
	        NULL, r.body.len, (const uint8_t *) r.body.data);
	assert_non_null(resp);
	assert_int_equal(resp->n_names, 2);
	assert_string_equal(resp->names[0], "env");
	assert_string_equal(resp->names[1], "7");
	types__v1__label_values_response__free_unpacked(resp, NULL);
	assert_true(f->seen_deadline > 0);
	result_fini(&r);
	/* An empty binary body is the empty message. */
	call(f, "POST", "/t.v1.S/Values", hdr, "", 0, &r);
	assert_int_equal(r.status, 200);
	result_fini(&r);
}

static size_t
gz(const void *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	zs.next_in   = (Bytef *) (uintptr_t) in;
	zs.avail_in  = (uInt) n;
	zs.next_out  = out;
	zs.avail_out = (uInt) cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t len = zs.total_out;
	deflateEnd(&zs);
	return len;
}

static void
test_connect_gzip_request_and_response(void **state)
{
	fixture    *f      = *state;
	const char  body[] = "{\"name\":\"big\",\"start\":1000}";
	uint8_t     z[256];
	size_t      zn    = gz(body, strlen(body), z, sizeof(z));
	const char *hdr[] = { "Content-Type: application/json",
		"Content-Encoding: gzip", NULL };
	result      r;
	call(f, "POST", "/t.v1.S/Values", hdr, z, zn, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(
	    strncmp(r.body.data, "{\"names\":[\"big\",\"1000\",", 23), 0);
	assert_false(has_header(&r, "Content-Encoding: gzip"));
	result_fini(&r);
	/* Connect-Content-Encoding works too; the response is gzipped
	 * because the client offers it and it is over 1 KiB. */
	const char *hdr2[] = { "Content-Type: application/json",
		"Connect-Content-Encoding: gzip", "Accept-Encoding: gzip",
		NULL };
	call(f, "POST", "/t.v1.S/Values", hdr2, z, zn, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Encoding: gzip"));
	result_fini(&r);
	/* Over the decompressed limit (4096 here). */
	char big[6000];
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"name\":\"x\"}", 12);
	uint8_t zb[6000];
	zn = gz(big, sizeof(big), zb, sizeof(zb));
	call(f, "POST", "/t.v1.S/Values", hdr, zb, zn, &r);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.body.data,
	    "{\"code\":\"resource_exhausted\",\"message\":\"the decompressed "
	    "request is over 4096 bytes (limits.x)\"}");
	result_fini(&r);
	/* Not gzip at all. */
	call(f, "POST", "/t.v1.S/Values", hdr, "{}", 2, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body.data, "\"code\":\"invalid_argument\""));
	result_fini(&r);
	const char *hdr3[] = { "Content-Type: application/json",
		"Content-Encoding: br", NULL };
	call(f, "POST", "/t.v1.S/Values", hdr3, "{}", 2, &r);
	assert_int_equal(r.status, 501);
	assert_string_equal(r.body.data,
	    "{\"code\":\"unimplemented\",\"message\":\"unsupported "
	    "Content-Encoding \\\"br\\\" (supported: gzip, identity)\"}");
	result_fini(&r);
}

static void
test_connect_errors_map_codes(void **state)
{
	fixture *f = *state;
	result   r;
	char     body[64];
	static const struct {
		int  code;
		long status;
	} cases[] = { { 3, 400 }, { 16, 401 }, { 8, 429 }, { 12, 501 },
		{ 4, 504 }, { 14, 503 }, { 13, 500 }, { 5, 404 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"name\":\"fail:%d\"}",
		    cases[i].code);
		call(f, "POST", "/t.v1.S/Values", json_hdr, body, strlen(body),
		    &r);
		assert_int_equal(r.status, cases[i].status);
		assert_true(has_header(&r, "Content-Type: application/json"));
		char want[160];
		snprintf(want, sizeof(want),
		    "{\"code\":\"%s\",\"message\":\"failed as asked: "
		    "\\\"fail:%d\\\"\"}",
		    hearth_connect_code_name(cases[i].code), cases[i].code);
		assert_string_equal(r.body.data, want);
		result_fini(&r);
	}
}

static void
test_connect_protocol_errors(void **state)
{
	fixture    *f = *state;
	result      r;
	const char *txt[] = { "Content-Type: text/plain", NULL };
	call(f, "POST", "/t.v1.S/Values", txt, "{}", 2, &r);
	assert_int_equal(r.status, 415);
	assert_true(has_header(&r,
	    "Accept-Post: application/json, "
	    "application/proto"));
	result_fini(&r);
	/* Unknown method of a known service: unimplemented, 501. */
	call(f, "POST", "/t.v1.S/Nope", json_hdr, "{}", 2, &r);
	assert_int_equal(r.status, 501);
	assert_string_equal(r.body.data,
	    "{\"code\":\"unimplemented\",\"message\":\"/t.v1.S/Nope is not "
	    "implemented by hearth\"}");
	result_fini(&r);
	call(f, "GET", "/t.v1.S/Values", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: POST"));
	result_fini(&r);
	const char *proto[] = { "Content-Type: application/proto", NULL };
	call(f, "POST", "/t.v1.S/Values", proto, "\xff\xff\xff", 3, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body.data,
	    "{\"code\":\"invalid_argument\",\"message\":\"malformed protobuf: "
	    "the body (3 bytes) is not a types.v1.LabelValuesRequest "
	    "message\"}");
	result_fini(&r);
	call(f, "POST", "/t.v1.S/Values", json_hdr, "{\"start\":\"x\"}", 13,
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body.data,
	    "{\"code\":\"invalid_argument\",\"message\":\"json: offset 9: "
	    "field \\\"start\\\": \\\"x\\\" is not an integer in the field's "
	    "range\"}");
	result_fini(&r);
	const char *tmo[] = { "Content-Type: application/json",
		"Connect-Timeout-Ms: 12345678901", NULL };
	call(f, "POST", "/t.v1.S/Values", tmo, "{}", 2, &r);
	assert_int_equal(r.status, 400);
	result_fini(&r);
}

static void
test_connect_tenant_required(void **state)
{
	fixture   *f = *state;
	result     r;
	const char body[] = "{\"name\":\"tenant\"}";
	call(f, "POST", "/t.v1.S/Values", json_hdr, body, strlen(body), &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body.data, "\"code\":\"unauthenticated\""));
	result_fini(&r);
	const char *hdr[] = { "Content-Type: application/json",
		"X-Scope-OrgID: team-a", NULL };
	call(f, "POST", "/t.v1.S/Values", hdr, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	result_fini(&r);
	const char *bad[]
	    = { "Content-Type: application/json", "X-Scope-OrgID: a b", NULL };
	call(f, "POST", "/t.v1.S/Values", bad, body, strlen(body), &r);
	assert_int_equal(r.status, 400);
	result_fini(&r);
}

static void
test_connect_code_tables(void **state)
{
	(void) state;
	assert_string_equal(
	    hearth_connect_code_name(HEARTH_CONNECT_CANCELED), "canceled");
	assert_int_equal(
	    hearth_connect_code_status(HEARTH_CONNECT_CANCELED), 499);
	assert_int_equal(
	    hearth_connect_code_status(HEARTH_CONNECT_FAILED_PRECONDITION),
	    400);
	assert_int_equal(
	    hearth_connect_code_status(HEARTH_CONNECT_ABORTED), 409);
	assert_int_equal(
	    hearth_connect_code_status(HEARTH_CONNECT_DATA_LOSS), 500);
	assert_string_equal(hearth_connect_code_name(99), "unknown");
	assert_int_equal(hearth_connect_code_from_err(HEARTH_EINVAL),
	    HEARTH_CONNECT_INVALID_ARGUMENT);
	assert_int_equal(hearth_connect_code_from_err(HEARTH_EBUSY),
	    HEARTH_CONNECT_RESOURCE_EXHAUSTED);
	assert_int_equal(hearth_connect_code_from_err(HEARTH_ETIMEDOUT),
	    HEARTH_CONNECT_DEADLINE_EXCEEDED);
	assert_int_equal(hearth_connect_code_from_err(HEARTH_EUNAVAIL),
	    HEARTH_CONNECT_UNAVAILABLE);
	assert_int_equal(hearth_connect_code_from_err(HEARTH_EINTERNAL),
	    HEARTH_CONNECT_INTERNAL);
	hearth_connect_call c = { 0 };
	assert_int_equal(hearth_connect_deadline(&c, 1000, 0), 0);
	assert_int_equal(hearth_connect_deadline(&c, 1000, 50), 1050);
	c.deadline_unix_ms = 1020;
	assert_int_equal(hearth_connect_deadline(&c, 1000, 50), 1020);
	assert_int_equal(hearth_connect_deadline(&c, 1000, 0), 1020);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_json_round_trip),
		cmocka_unit_test(test_connect_binary_round_trip),
		cmocka_unit_test(test_connect_gzip_request_and_response),
		cmocka_unit_test(test_connect_errors_map_codes),
		cmocka_unit_test(test_connect_protocol_errors),
		cmocka_unit_test(test_connect_tenant_required),
		cmocka_unit_test(test_connect_code_tables),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}

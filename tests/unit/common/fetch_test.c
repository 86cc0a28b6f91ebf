#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fetch.h"
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
	hearth_metrics     *m;
	hearth_log          log;
	hearth_http_server *s;
	uint16_t            port;
	hearth_fetch       *f;
} fixture;

/* What the done callback saw, per request (indexed by the user pointer). */
typedef struct seen {
	int         done;
	int         rc;
	const char *reason;
	long        status;
	char        body[16384];
	size_t      len;
	char        error[384];
	int         order; /* 1 = first transfer reported in this test */
} seen;

static int done_count; /* transfers reported so far, for `order` */

static void
h_ok(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	hearth_buf_puts(&resp->body, "profile-bytes");
}

static void
h_fail(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	resp->status = 500;
	hearth_buf_puts(&resp->body, "boom \"quoted\"\nsecond line\n");
}

static void
h_slow(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	usleep(1500 * 1000);
	hearth_buf_puts(&resp->body, "late");
}

static void
h_big(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	for (int i = 0; i < 500; i++)
		hearth_buf_printf(&resp->body, "line %04d of a big body\n", i);
}

static void
h_auth(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	const char *a = hearth_http_req_header(req, "Authorization");
	hearth_buf_puts(&resp->body, a != NULL ? a : "(none)");
}

static int
setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	fx->m       = hearth_metrics_new();
	hearth_log_init(&fx->log, "fetch_test", HEARTH_LOG_ERROR);
	hearth_http_opts o = {
		.address              = "127.0.0.1",
		.threads              = 4,
		.connection_timeout_s = 5,
	};
	hearth_err err;
	assert_int_equal(
	    hearth_http_server_new(&o, fx->m, &fx->log, &fx->s, &err), 0);
	hearth_http_route(fx->s, "GET", "/ok", 0, "ok", h_ok, NULL);
	hearth_http_route(fx->s, "GET", "/fail", 0, "fail", h_fail, NULL);
	hearth_http_route(fx->s, "GET", "/slow", 0, "slow", h_slow, NULL);
	hearth_http_route(fx->s, "GET", "/big", 0, "big", h_big, NULL);
	hearth_http_route(fx->s, "GET", "/auth", 0, "auth", h_auth, NULL);
	assert_int_equal(hearth_http_server_start(fx->s, &err), 0);
	fx->port = hearth_http_server_port(fx->s);
	assert_int_equal(hearth_fetch_new(&fx->f, &err), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture *fx = *state;
	hearth_fetch_free(fx->f);
	hearth_http_server_free(fx->s);
	hearth_metrics_free(fx->m);
	free(fx);
	return 0;
}

static void
on_done(void *ctx, hearth_fetch_result *res)
{
	(void) ctx;
	seen *s = res->user;
	s->done++;
	s->order  = ++done_count;
	s->rc     = res->rc;
	s->reason = res->reason;
	s->status = res->status;
	s->len    = res->len;
	if (res->body != NULL) {
		assert_true(res->len < sizeof(s->body));
		memcpy(s->body, res->body, res->len);
		s->body[res->len] = '\0';
		assert_int_equal(res->body[res->len], '\0');
	}
	snprintf(s->error, sizeof(s->error), "%s", res->error);
	free(res->body);
}

/* Poll until nothing runs; fails the test after 10 s. */
static void
drain(hearth_fetch *f)
{
	for (int i = 0; i < 1000 && hearth_fetch_running(f) > 0; i++)
		assert_true(hearth_fetch_poll(f, 10, on_done, NULL) >= 0);
	assert_int_equal(hearth_fetch_running(f), 0);
}

static void
get(fixture *fx, const char *path, hearth_fetch_req *r, seen *s)
{
	char       url[128];
	hearth_err err;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", fx->port, path);
	r->url  = url;
	r->user = s;
	if (r->timeout_ms == 0)
		r->timeout_ms = 5000;
	assert_int_equal(hearth_fetch_start(fx->f, r, &err), 0);
	drain(fx->f);
	assert_int_equal(s->done, 1);
}

static void
test_fetch_ok_body(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { 0 };
	seen             s  = { 0 };
	get(fx, "/ok", &r, &s);
	assert_int_equal(s.rc, 0);
	assert_null(s.reason);
	assert_int_equal(s.status, 200);
	assert_string_equal(s.body, "profile-bytes");
	assert_int_equal(s.len, 13);
}

static void
test_fetch_http_500_reason_and_body_start(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { 0 };
	seen             s  = { 0 };
	get(fx, "/fail", &r, &s);
	assert_int_equal(s.rc, HEARTH_EIO);
	assert_string_equal(s.reason, "http_status");
	assert_int_equal(s.status, 500);
	assert_string_equal(s.error, "HTTP 500: boom  quoted  second line");
}

static void
test_fetch_404_is_http_status(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { 0 };
	seen             s  = { 0 };
	get(fx, "/nope", &r, &s);
	assert_string_equal(s.reason, "http_status");
	assert_int_equal(s.status, 404);
	assert_true(strncmp(s.error, "HTTP 404: ", 10) == 0);
}

static void
test_fetch_timeout(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { .timeout_ms = 300 };
	seen             s  = { 0 };
	struct timespec  t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(fx, "/slow", &r, &s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double) (t1.tv_sec - t0.tv_sec)
	    + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The server answers after 1.5 s: a timeout, not that answer. */
	assert_int_equal(s.rc, HEARTH_ETIMEDOUT);
	assert_string_equal(s.reason, "timeout");
	assert_non_null(strstr(s.error, "timed out"));
	assert_true(took < 10); /* loose: loaded CI machines */
}

static void
test_fetch_too_large(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { .max_bytes = 1000 };
	seen             s  = { 0 };
	get(fx, "/big", &r, &s);
	assert_int_equal(s.rc, HEARTH_ETOOLARGE);
	assert_string_equal(s.reason, "too_large");
	assert_string_equal(s.error, "response body larger than 1000 bytes");
}

/* The server gzips bodies over 1 KiB for us; the cap is on the decoded
 * size, and the body arrives decoded. */
static void
test_fetch_gzip_decoded_within_cap(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { .max_bytes = 12000 };
	seen             s  = { 0 };
	get(fx, "/big", &r, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.len, 500 * 24);
	assert_true(strncmp(s.body, "line 0000 of a big body\n", 24) == 0);
	assert_true(
	    strncmp(s.body + 499 * 24, "line 0499 of a big body\n", 24) == 0);
}

static void
test_fetch_connect_refused(void **state)
{
	fixture *fx = *state;
	(void) fx;
	/* A port that was free a moment ago: bind, read, close. */
	hearth_http_opts    o = { .address = "127.0.0.1" };
	hearth_http_server *tmp;
	hearth_err          err;
	hearth_log          log;
	hearth_log_init(&log, "fetch_test", HEARTH_LOG_ERROR);
	assert_int_equal(
	    hearth_http_server_new(&o, NULL, &log, &tmp, &err), 0);
	assert_int_equal(hearth_http_server_start(tmp, &err), 0);
	uint16_t port = hearth_http_server_port(tmp);
	hearth_http_server_free(tmp);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	seen             s = { 0 };
	hearth_fetch_req r = { .url = url, .timeout_ms = 2000, .user = &s };
	assert_int_equal(hearth_fetch_start(fx->f, &r, &err), 0);
	drain(fx->f);
	assert_int_equal(s.rc, HEARTH_EUNAVAIL);
	assert_string_equal(s.reason, "connect");
	assert_int_equal(s.status, 0);
}

static void
test_fetch_tls_to_plain_http_is_tls(void **state)
{
	fixture   *fx = *state;
	char       url[64];
	hearth_err err;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/ok", fx->port);
	seen             s = { 0 };
	hearth_fetch_req r = { .url   = url,
		.timeout_ms           = 2000,
		.user                 = &s,
		.insecure_skip_verify = 1 };
	assert_int_equal(hearth_fetch_start(fx->f, &r, &err), 0);
	drain(fx->f);
	assert_string_equal(s.reason, "tls");
}

static void
test_fetch_basic_auth_and_bearer(void **state)
{
	fixture         *fx = *state;
	hearth_fetch_req r  = { .username = "user", .password = "pass" };
	seen             s  = { 0 };
	get(fx, "/auth", &r, &s);
	assert_string_equal(s.body, "Basic dXNlcjpwYXNz");
	hearth_fetch_req b  = { .authorization = "Bearer s3cret" };
	seen             s2 = { 0 };
	get(fx, "/auth", &b, &s2);
	assert_string_equal(s2.body, "Bearer s3cret");
	hearth_fetch_req none = { 0 };
	seen             s3   = { 0 };
	get(fx, "/auth", &none, &s3);
	assert_string_equal(s3.body, "(none)");
}

/* A transfer that hangs does not hold back fast ones started with it.
 * The hanging peer is a bare listening socket: the kernel accepts the
 * connection, nobody ever answers (the test server's own threads are not
 * involved, so their scheduling cannot reorder the answers). */
static void
test_fetch_concurrent_transfers_finish_independently(void **state)
{
	fixture *fx = *state;
	int      ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_addr.s_addr              = htonl(INADDR_LOOPBACK) };
	socklen_t          sl = sizeof(sa);
	assert_int_equal(bind(ls, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 8), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *) &sa, &sl), 0);
	hearth_err err;
	char       u1[64], u2[64], u3[64];
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%u/hang",
	    (unsigned) ntohs(sa.sin_port));
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%u/ok", fx->port);
	snprintf(u3, sizeof(u3), "http://127.0.0.1:%u/fail", fx->port);
	seen             s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	hearth_fetch_req r1 = { .url = u1, .timeout_ms = 2000, .user = &s1 };
	hearth_fetch_req r2 = { .url = u2, .timeout_ms = 5000, .user = &s2 };
	hearth_fetch_req r3 = { .url = u3, .timeout_ms = 5000, .user = &s3 };
	assert_int_equal(hearth_fetch_start(fx->f, &r1, &err), 0);
	assert_int_equal(hearth_fetch_start(fx->f, &r2, &err), 0);
	assert_int_equal(hearth_fetch_start(fx->f, &r3, &err), 0);
	assert_int_equal(hearth_fetch_running(fx->f), 3);
	done_count = 0;
	drain(fx->f);
	close(ls);
	assert_int_equal(s2.done, 1);
	assert_int_equal(s3.done, 1);
	assert_string_equal(s2.body, "profile-bytes");
	assert_string_equal(s3.reason, "http_status");
	/* Started first, reported last, by its own deadline. */
	assert_int_equal(s1.done, 1);
	assert_int_equal(s1.order, 3);
	assert_string_equal(s1.reason, "timeout");
}

static void
test_fetch_wakeup_ends_poll(void **state)
{
	fixture *fx = *state;
	hearth_fetch_wakeup(fx->f);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(hearth_fetch_poll(fx->f, 5000, on_done, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
}

static void
test_fetch_invalid_requests(void **state)
{
	fixture         *fx = *state;
	hearth_err       err;
	hearth_fetch_req r = { .url = "http://127.0.0.1:1/", .timeout_ms = 0 };
	assert_int_equal(hearth_fetch_start(fx->f, &r, &err), HEARTH_EINVAL);
	/* Only http and https: curl refuses other schemes when it runs. */
	seen             s = { 0 };
	hearth_fetch_req f
	    = { .url = "file:///etc/passwd", .timeout_ms = 1000, .user = &s };
	assert_int_equal(hearth_fetch_start(fx->f, &f, &err), 0);
	drain(fx->f);
	assert_int_equal(s.done, 1);
	assert_true(s.rc < 0);
	assert_string_equal(s.reason, "io");
	assert_int_equal(s.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_ok_body),
		cmocka_unit_test(test_fetch_http_500_reason_and_body_start),
		cmocka_unit_test(test_fetch_404_is_http_status),
		cmocka_unit_test(test_fetch_timeout),
		cmocka_unit_test(test_fetch_too_large),
		cmocka_unit_test(test_fetch_gzip_decoded_within_cap),
		cmocka_unit_test(test_fetch_connect_refused),
		cmocka_unit_test(test_fetch_tls_to_plain_http_is_tls),
		cmocka_unit_test(test_fetch_basic_auth_and_bearer),
		cmocka_unit_test(
		    test_fetch_concurrent_transfers_finish_independently),
		cmocka_unit_test(test_fetch_wakeup_ends_poll),
		cmocka_unit_test(test_fetch_invalid_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rpc_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
roundtrip(const char *url)
{
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	fx_start(&f, url, MAX_MSG, MAX_MSG);
	int64_t dl = hearth_clock_unix_ms() + 5000;
	assert_int_equal(call(&f, HEARTH_RPC_PING, "hello", dl, &out, &n, &err),
	    0);
	assert_int_equal(n, strlen("acme|req-1|hello"));
	assert_memory_equal(out, "acme|req-1|hello", n);
	assert_int_equal(f.last_deadline, dl);
	/* Empty body and no metadata at all. */
	const uint8_t *r;
	assert_int_equal(hearth_rpc_call(f.cli, HEARTH_RPC_PING, NULL, NULL, 0,
			     f.arena, &r, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_memory_equal(r, "||", 2);
	assert_int_equal(f.last_deadline, 0);
	assert_int_equal(f.calls, 2);
	fx_stop(&f);
}

static void
test_rpc_inproc_roundtrip(void **state)
{
	(void) state;
	roundtrip("inproc://rpc_test_roundtrip");
}

static void
test_rpc_tcp_roundtrip(void **state)
{
	(void) state;
	roundtrip("tcp://127.0.0.1:0");
}

typedef struct worker_arg {
	fixture *f;
	int	 id;
	int	 ok;
} worker_arg;

#define CALLS_PER_THREAD 200
#define THREADS		 8

static void *
concurrent_worker(void *p)
{
	worker_arg   *a	    = p;
	hearth_arena *arena = hearth_arena_new(0);
	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		char	       body[64], want[96];
		const uint8_t *r;
		size_t	       n;
		hearth_err     err;
		hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 10000, NULL };
		snprintf(body, sizeof(body), "thread %d call %d", a->id, i);
		snprintf(want, sizeof(want), "t|r|%s", body);
		int rc = hearth_rpc_call(a->f->cli, HEARTH_RPC_PING, &meta,
		    (const uint8_t *) body, strlen(body), arena, &r, &n, &err);
		if (rc == 0 && n == strlen(want) && memcmp(r, want, n) == 0)
			a->ok++;
		hearth_arena_reset(arena);
	}
	hearth_arena_free(arena);
	return NULL;
}

static void
concurrent(const char *url)
{
	fixture	   f = { 0 };
	pthread_t  th[THREADS];
	worker_arg args[THREADS];
	fx_start(&f, url, MAX_MSG, MAX_MSG);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (worker_arg) { &f, i, 0 };
		pthread_create(&th[i], NULL, concurrent_worker, &args[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, CALLS_PER_THREAD);
	}
	assert_int_equal(f.calls, THREADS * CALLS_PER_THREAD);
	fx_stop(&f);
}

static void
test_rpc_inproc_concurrent_calls(void **state)
{
	(void) state;
	concurrent("inproc://rpc_test_concurrent");
}

static void
test_rpc_tcp_concurrent_calls(void **state)
{
	(void) state;
	concurrent("tcp://127.0.0.1:0");
}

static void *
slow_worker(void *p)
{
	worker_arg   *a	    = p;
	hearth_arena *arena = hearth_arena_new(0);
	const uint8_t *r;
	size_t	       n;
	hearth_err     err;
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 10000, NULL };
	if (hearth_rpc_call(a->f->cli, 10, &meta, (const uint8_t *) "z", 1,
		arena, &r, &n, &err) == 0 &&
	    n == 5 && memcmp(r, "t|r|z", 5) == 0)
		a->ok = 1;
	hearth_arena_free(arena);
	return NULL;
}

static void
test_rpc_slow_handlers_run_in_parallel(void **state)
{
	/* 4 workers, 4 calls of 500 ms each: they are handled at the same
	 * time (one context per request), so the batch takes about 500 ms,
	 * not 2000 ms (the bound leaves room for a loaded machine). */
	(void) state;
	fixture	   f = { 0 };
	pthread_t  th[4];
	worker_arg args[4];
	fx_start(&f, "inproc://rpc_test_parallel", MAX_MSG, MAX_MSG);
	f.sleep_ms = 500;
	int64_t t0 = hearth_clock_unix_ms();
	for (int i = 0; i < 4; i++) {
		args[i] = (worker_arg) { &f, i, 0 };
		pthread_create(&th[i], NULL, slow_worker, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 1);
	}
	int64_t took = hearth_clock_unix_ms() - t0;
	assert_true(took >= 500);
	assert_true(took < 1500);
	fx_stop(&f);
}

static void
test_rpc_request_over_client_limit(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	char	   *body = malloc(2001);
	memset(body, 'a', 2000);
	body[2000] = '\0';
	fx_start(&f, "inproc://rpc_test_client_limit", MAX_MSG, 1024);
	assert_int_equal(call(&f, HEARTH_RPC_PING, body, hearth_clock_unix_ms() + 5000,
			     &out, &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg,
	    "rpc: request of 2025 bytes exceeds the max message size of "
	    "1024 bytes calling inproc://rpc_test_client_limit");
	assert_int_equal(f.calls, 0);
	/* The connection is still good for small calls. */
	assert_int_equal(call(&f, HEARTH_RPC_PING, "ok", hearth_clock_unix_ms() + 5000,
			     &out, &n, &err),
	    0);
	free(body);
	fx_stop(&f);
}

static void
test_rpc_request_over_server_limit_inproc(void **state)
{
	/* A client configured larger than the server: the server refuses
	 * the message without running the fx_handler. */
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	char	   *body = malloc(2001);
	memset(body, 'a', 2000);
	body[2000] = '\0';
	fx_start(&f, "inproc://rpc_test_server_limit", 1024, MAX_MSG);
	assert_int_equal(call(&f, HEARTH_RPC_PING, body, hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg,
	    "rpc: request of 2025 bytes exceeds the max message size of 1024 "
	    "bytes");
	assert_int_equal(f.calls, 0);
	free(body);
	fx_stop(&f);
}

static void
test_rpc_request_over_server_limit_tcp(void **state)
{
	/* Over tcp nng drops the connection (NNG_OPT_RECVMAXSZ); with
	 * re-sending off the call fails at once and the fx_handler never
	 * runs. The client reconnects for the next call. */
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	char	   *body = malloc(4001);
	memset(body, 'a', 4000);
	body[4000] = '\0';
	fx_start(&f, "tcp://127.0.0.1:0", 1024, MAX_MSG);
	int rc = call(&f, HEARTH_RPC_PING, body, hearth_clock_unix_ms() + 300, &out, &n,
	    &err);
	assert_int_equal(rc, HEARTH_EUNAVAIL);
	char want[128];
	snprintf(want, sizeof(want),
	    "rpc: connection to tcp://127.0.0.1:%d lost: Connection reset",
	    hearth_rpc_server_port(f.srv));
	assert_string_equal(err.msg, want);
	assert_int_equal(f.calls, 0);
	assert_int_equal(call(&f, HEARTH_RPC_PING, "ok", hearth_clock_unix_ms() + 5000,
			     &out, &n, &err),
	    0);
	assert_memory_equal(out, "acme|req-1|ok", n);
	free(body);
	fx_stop(&f);
}

/* Logs and messages name methods; numbers on the wire never change. */
static void
test_rpc_method_names(void **state)
{
	(void) state;
	assert_string_equal(hearth_rpc_method_name(HEARTH_RPC_PUSH), "push");
	assert_string_equal(
	    hearth_rpc_method_name(HEARTH_RPC_SELECT), "select");
	assert_string_equal(
	    hearth_rpc_method_name(HEARTH_RPC_LABELS), "labels");
	assert_string_equal(hearth_rpc_method_name(HEARTH_RPC_PING), "ping");
	assert_string_equal(hearth_rpc_method_name(HEARTH_RPC_PLAN), "plan");
	assert_string_equal(hearth_rpc_method_name(HEARTH_RPC_IDS), "ids");
	assert_string_equal(
	    hearth_rpc_method_name(HEARTH_RPC_SERVICES), "services");
	assert_string_equal(hearth_rpc_method_name(0), "unknown");
	assert_string_equal(hearth_rpc_method_name(13), "unknown");
}

static void
test_rpc_response_over_limit(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	fx_start(&f, "inproc://rpc_test_big_response", 4096, 4096);
	f.big = 4094; /* fits the buffer, not the envelope */
	assert_int_equal(
	    call(&f, 13, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg,
	    "rpc: response of 4097 bytes exceeds the max message size of "
	    "4096 bytes");
	f.big = 100000; /* does not even fit the buffer */
	assert_int_equal(
	    call(&f, 13, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg,
	    "rpc: response to method 13 (unknown) exceeds the max message "
	    "size of 4096 bytes");
	f.big = 4000;
	assert_int_equal(
	    call(&f, 13, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err), 0);
	assert_int_equal(n, 4000);
	assert_int_equal(out[3999], 'x');
	fx_stop(&f);
}

static void
test_rpc_deadline_exceeded(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	fx_start(&f, "inproc://rpc_test_deadline", MAX_MSG, MAX_MSG);
	f.sleep_ms = 1000;
	int64_t t0 = hearth_clock_unix_ms();
	assert_int_equal(call(&f, 10, "x", t0 + 100, &out, &n, &err),
	    HEARTH_ETIMEDOUT);
	/* Back at the deadline, long before the fx_handler's 1 s is over. */
	int64_t took = hearth_clock_unix_ms() - t0;
	assert_true(took >= 90 && took < 900);
	assert_string_equal(err.msg,
	    "rpc: deadline exceeded calling inproc://rpc_test_deadline");
	/* Already past: fails at once, nothing is sent. */
	assert_int_equal(call(&f, HEARTH_RPC_PING, "x", hearth_clock_unix_ms() - 1, &out,
			     &n, &err),
	    HEARTH_ETIMEDOUT);
	assert_string_equal(err.msg,
	    "rpc: deadline exceeded calling inproc://rpc_test_deadline");
	/* The slow fx_handler's late reply is dropped; the next call works. */
	f.sleep_ms = 0;
	assert_int_equal(call(&f, HEARTH_RPC_PING, "y", hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    0);
	assert_memory_equal(out, "acme|req-1|y", n);
	fx_stop(&f);
}

static void
test_rpc_remote_error_propagates(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	fx_start(&f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	assert_int_equal(call(&f, 11, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_int_equal(err.code, HEARTH_EINVAL);
	assert_string_equal(err.msg, "selector: unexpected '}' at offset 3");
	assert_null(out);
	assert_int_equal(n, 0);
	/* No message: the code's name travels instead. */
	assert_int_equal(call(&f, 12, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err),
	    HEARTH_EBUSY);
	assert_string_equal(err.msg, "resource exhausted");
	assert_int_equal(call(&f, 99, NULL, hearth_clock_unix_ms() + 5000, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "unknown method 99");
	fx_stop(&f);
}

static void
test_rpc_client_before_server(void **state)
{
	/* The client dials in the background: a server that starts later
	 * is picked up. */
	(void) state;
	hearth_err	   err;
	hearth_rpc_client *cli;
	hearth_rpc_server *srv;
	fixture		   f = { 0 };
	pthread_mutex_init(&f.mu, NULL);
	assert_int_equal(hearth_rpc_client_new("inproc://rpc_test_later",
			     MAX_MSG, &cli, &err),
	    0);
	assert_string_equal(hearth_rpc_client_url(cli),
	    "inproc://rpc_test_later");
	assert_int_equal(hearth_rpc_server_new("inproc://rpc_test_later",
			     MAX_MSG, 1, fx_handler, &f, NULL, &srv, &err),
	    0);
	assert_int_equal(hearth_rpc_server_start(srv, &err), 0);
	hearth_arena   *a    = hearth_arena_new(0);
	hearth_rpc_meta meta = { "x", "y", hearth_clock_unix_ms() + 5000, NULL };
	const uint8_t  *r;
	size_t		n;
	assert_int_equal(hearth_rpc_call(cli, HEARTH_RPC_PING, &meta,
			     (const uint8_t *) "q", 1, a, &r, &n, &err),
	    0);
	assert_memory_equal(r, "x|y|q", 5);
	hearth_arena_free(a);
	hearth_rpc_server_free(srv);
	hearth_rpc_client_free(cli);
	pthread_mutex_destroy(&f.mu);
}

static void
test_rpc_no_server_times_out(void **state)
{
	(void) state;
	hearth_err	   err;
	hearth_rpc_client *cli;
	assert_int_equal(hearth_rpc_client_new("tcp://127.0.0.1:1", MAX_MSG,
			     &cli, &err),
	    0);
	hearth_arena   *a    = hearth_arena_new(0);
	hearth_rpc_meta meta = { "x", "y", hearth_clock_unix_ms() + 150, NULL };
	const uint8_t  *r;
	size_t		n;
	assert_int_equal(hearth_rpc_call(cli, HEARTH_RPC_PING, &meta, NULL, 0,
			     a, &r, &n, &err),
	    HEARTH_ETIMEDOUT);
	assert_string_equal(err.msg,
	    "rpc: deadline exceeded calling tcp://127.0.0.1:1");
	hearth_arena_free(a);
	hearth_rpc_client_free(cli);
}

static void
test_rpc_bad_urls(void **state)
{
	(void) state;
	hearth_err	   err;
	hearth_rpc_client *cli;
	hearth_rpc_server *srv;
	fixture		   f = { 0 };
	assert_int_equal(hearth_rpc_client_new("bogus://x", MAX_MSG, &cli,
			     &err),
	    HEARTH_EINVAL);
	assert_null(cli);
	assert_true(strncmp(err.msg, "rpc: cannot dial bogus://x: ", 28) == 0);
	assert_int_equal(hearth_rpc_server_new("bogus://x", MAX_MSG, 2,
			     fx_handler, &f, NULL, &srv, &err),
	    0);
	assert_int_equal(hearth_rpc_server_start(srv, &err), HEARTH_EINVAL);
	assert_true(strncmp(err.msg, "rpc: invalid listen address bogus://x: ",
			39) == 0);
	hearth_rpc_server_free(srv);
	assert_int_equal(hearth_rpc_server_new("inproc://x", 0, 2, fx_handler,
			     &f, NULL, &srv, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "rpc: max message size must be > 0");
	assert_int_equal(hearth_rpc_server_new("inproc://x", MAX_MSG, 0,
			     fx_handler, &f, NULL, &srv, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "rpc: workers must be >= 1");
}

static void
test_rpc_address_in_use(void **state)
{
	(void) state;
	fixture		   f = { 0 };
	hearth_err	   err;
	hearth_rpc_server *b;
	char		   url[64];
	const char *out;
	size_t	    n;
	fx_start(&f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	/* Connect before anything else: nng 1.5.2 leaks the pipe of a client
	 * closed while its connection is still being negotiated. */
	assert_int_equal(call(&f, HEARTH_RPC_PING, "c", hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
	    hearth_rpc_server_port(f.srv));
	assert_int_equal(hearth_rpc_server_new(url, MAX_MSG, 1, fx_handler, &f,
			     NULL, &b, &err),
	    0);
	assert_int_equal(hearth_rpc_server_start(b, &err), HEARTH_EIO);
	char want[128];
	snprintf(want, sizeof(want), "rpc: cannot listen on %s: ", url);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	hearth_rpc_server_free(b);
	fx_stop(&f);
}

static void *
inflight_worker(void *p)
{
	worker_arg    *a     = p;
	hearth_arena  *arena = hearth_arena_new(0);
	const uint8_t *r;
	size_t	       n;
	hearth_err     err;
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 600, NULL };
	int rc = hearth_rpc_call(a->f->cli, 10, &meta, (const uint8_t *) "z",
	    1, arena, &r, &n, &err);
	a->ok = rc == 0 || rc == HEARTH_ETIMEDOUT || rc == HEARTH_EUNAVAIL;
	hearth_arena_free(arena);
	return NULL;
}

static void
test_rpc_stop_with_requests_in_flight(void **state)
{
	/* Stopping while handlers run and more requests wait: stop returns,
	 * nothing leaks or crashes (ASan), callers finish by deadline. */
	(void) state;
	fixture	   f = { 0 };
	pthread_t  th[8];
	worker_arg args[8];
	fx_start(&f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	f.sleep_ms = 100;
	for (int i = 0; i < 8; i++) {
		args[i] = (worker_arg) { &f, i, 0 };
		pthread_create(&th[i], NULL, inflight_worker, &args[i]);
	}
	sleep_ms(30);
	hearth_rpc_server_stop(f.srv);
	hearth_rpc_server_stop(f.srv); /* idempotent */
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 1);
	}
	assert_true(f.calls >= 1 && f.calls <= 8);
	fx_stop(&f);
}

static void
test_rpc_start_stop_cycles(void **state)
{
	/* The teardown order of dependencies.md §3, many times over. */
	(void) state;
	for (int i = 0; i < 30; i++) {
		fixture	    f = { 0 };
		hearth_err  err;
		const char *out;
		size_t	    n;
		fx_start(&f, i % 2 ? "tcp://127.0.0.1:0"
				   : "inproc://rpc_test_cycles",
		    MAX_MSG, MAX_MSG);
		assert_int_equal(call(&f, HEARTH_RPC_PING, "c",
				     hearth_clock_unix_ms() + 5000, &out, &n, &err),
		    0);
		fx_stop(&f);
	}
}

static void
test_rpc_free_without_start(void **state)
{
	(void) state;
	hearth_err	   err;
	hearth_rpc_server *srv;
	fixture		   f = { 0 };
	assert_int_equal(hearth_rpc_server_new("inproc://never", MAX_MSG, 3,
			     fx_handler, &f, NULL, &srv, &err),
	    0);
	hearth_rpc_server_free(srv);
	hearth_rpc_server_free(NULL);
	hearth_rpc_client_free(NULL);
}


/* ---- in-process calls (inproc://, PUSH and PING) ---------------------- */


static void
test_rpc_inproc_push_runs_on_the_callers_thread(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	fx_start(&f, "inproc://rpc_test_local", MAX_MSG, MAX_MSG);
	assert_true(attached(&f));
	/* PUSH too, with the nng path's answers: the fx_handler's error
	 * (method 1 is unknown to this fx_handler) and code. */
	assert_int_equal(call(&f, HEARTH_RPC_PUSH, "p", hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "unknown method 1");
	assert_true(pthread_equal(f.last_thread, pthread_self()));
	/* Other methods keep the worker hop (their callers are back at the
	 * deadline even when the fx_handler is slow). */
	assert_int_equal(call(&f, 10, "q", hearth_clock_unix_ms() + 5000, &out, &n, &err), 0);
	assert_memory_equal(out, "acme|req-1|q", n);
	assert_false(pthread_equal(f.last_thread, pthread_self()));
	/* Metadata and deadline reach the fx_handler as over nng. */
	int64_t dl = hearth_clock_unix_ms() + 4000;
	assert_int_equal(call(&f, HEARTH_RPC_PING, "m", dl, &out, &n, &err), 0);
	assert_memory_equal(out, "acme|req-1|m", n);
	assert_int_equal(f.last_deadline, dl);
	/* Already past: refused before the fx_handler, like the nng path. */
	int calls = f.calls;
	assert_int_equal(call(&f, HEARTH_RPC_PING, "x", hearth_clock_unix_ms() - 1, &out, &n,
			     &err),
	    HEARTH_ETIMEDOUT);
	assert_string_equal(err.msg,
	    "rpc: deadline exceeded calling inproc://rpc_test_local");
	assert_int_equal(f.calls, calls);
	fx_stop(&f);
}

/* In-process calls need the registry on both sides: a client without it
 * (or a server without it) goes over nng, and a server stopped and
 * started again at the same URL is found again. */
static void
test_rpc_local_registry_sides_and_restarts(void **state)
{
	(void) state;
	fixture		   f = { 0 };
	hearth_err	   err;
	const char	  *out;
	size_t		   n;
	hearth_rpc_client *plain;
	fx_start(&f, "inproc://rpc_test_registry", MAX_MSG, MAX_MSG);
	assert_true(attached(&f));
	/* Same URL, no registry: the worker hop. */
	assert_int_equal(hearth_rpc_client_new("inproc://rpc_test_registry",
			     MAX_MSG, &plain, &err),
	    0);
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 5000, NULL };
	const uint8_t  *r;
	assert_int_equal(hearth_rpc_call(plain, HEARTH_RPC_PING, &meta,
			     (const uint8_t *) "p", 1, f.arena, &r, &n, &err),
	    0);
	assert_false(pthread_equal(f.last_thread, pthread_self()));
	hearth_rpc_client_free(plain);
	/* A new server of the URL in the same registry: found again. */
	hearth_rpc_server_free(f.srv);
	assert_int_equal(hearth_rpc_server_new("inproc://rpc_test_registry",
			     MAX_MSG, 2, fx_handler, &f, &f.log, &f.srv, &err),
	    0);
	hearth_rpc_server_set_local(f.srv, f.reg);
	assert_int_equal(hearth_rpc_server_start(f.srv, &err), 0);
	assert_int_equal(call(&f, HEARTH_RPC_PING, "again", hearth_clock_unix_ms() + 5000,
			     &out, &n, &err),
	    0);
	assert_true(pthread_equal(f.last_thread, pthread_self()));
	assert_memory_equal(out, "acme|req-1|again", n);
	/* A server without the registry is not found (nng answers). */
	hearth_rpc_server_free(f.srv);
	assert_int_equal(hearth_rpc_server_new("inproc://rpc_test_registry",
			     MAX_MSG, 2, fx_handler, &f, &f.log, &f.srv, &err),
	    0);
	assert_int_equal(hearth_rpc_server_start(f.srv, &err), 0);
	for (int i = 0; i < 100; i++) { /* the client redials */
		if (call(&f, HEARTH_RPC_PING, "nng", hearth_clock_unix_ms() + 1000, &out, &n,
			&err)
		    == 0)
			break;
		sleep_ms(10);
	}
	assert_memory_equal(out, "acme|req-1|nng", n);
	assert_false(pthread_equal(f.last_thread, pthread_self()));
	fx_stop(&f);
}

static void
test_rpc_inproc_local_limits(void **state)
{
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	char	    body[3001];
	/* The server's limit is lower than the client's: the server's
	 * message, as inproc over nng answers it. */
	fx_start(&f, "inproc://rpc_test_local_limits", 2048, MAX_MSG);
	assert_true(attached(&f));
	memset(body, 'b', 3000);
	body[3000] = '\0';
	int calls  = f.calls;
	assert_int_equal(call(&f, HEARTH_RPC_PING, body, hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg,
	    "rpc: request of 3025 bytes exceeds the max message size of 2048 "
	    "bytes");
	assert_int_equal(f.calls, calls);
	/* Under it, the same call goes through. */
	body[1900] = '\0';
	assert_int_equal(call(&f, HEARTH_RPC_PING, body, hearth_clock_unix_ms() + 5000, &out,
			     &n, &err),
	    0);
	assert_int_equal(n, 11 + 1900);
	fx_stop(&f);
}

typedef struct local_arg {
	fixture *f;
	int	 rc;
} local_arg;

static void *
local_pusher(void *p)
{
	local_arg     *a     = p;
	hearth_arena  *arena = hearth_arena_new(0);
	const uint8_t *r;
	size_t	       n;
	hearth_err     err;
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 5000, NULL };
	a->rc = hearth_rpc_call(a->f->cli, HEARTH_RPC_PING, &meta,
	    (const uint8_t *) "z", 1, arena, &r, &n, &err);
	hearth_arena_free(arena);
	return NULL;
}

static void
test_rpc_inproc_stop_detaches_local_callers(void **state)
{
	/* Stop waits for the in-process calls running, then the client is
	 * back on nng (and fails like any call to a stopped server). */
	(void) state;
	fixture	    f = { 0 };
	hearth_err  err;
	const char *out;
	size_t	    n;
	pthread_t   th[6];
	local_arg   args[6];
	fx_start(&f, "inproc://rpc_test_local_stop", MAX_MSG, MAX_MSG);
	assert_true(attached(&f));
	for (int i = 0; i < 6; i++) {
		args[i] = (local_arg) { &f, 1 };
		pthread_create(&th[i], NULL, local_pusher, &args[i]);
	}
	hearth_rpc_server_stop(f.srv);
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_true(args[i].rc == 0 || args[i].rc == HEARTH_EUNAVAIL ||
		    args[i].rc == HEARTH_ETIMEDOUT);
	}
	int rc = call(&f, HEARTH_RPC_PING, "late", hearth_clock_unix_ms() + 200, &out, &n,
	    &err);
	assert_true(rc == HEARTH_EUNAVAIL || rc == HEARTH_ETIMEDOUT);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_inproc_roundtrip),
		cmocka_unit_test(test_rpc_tcp_roundtrip),
		cmocka_unit_test(test_rpc_inproc_concurrent_calls),
		cmocka_unit_test(test_rpc_tcp_concurrent_calls),
		cmocka_unit_test(test_rpc_slow_handlers_run_in_parallel),
		cmocka_unit_test(test_rpc_request_over_client_limit),
		cmocka_unit_test(test_rpc_request_over_server_limit_inproc),
		cmocka_unit_test(test_rpc_request_over_server_limit_tcp),
		cmocka_unit_test(test_rpc_method_names),
		cmocka_unit_test(test_rpc_response_over_limit),
		cmocka_unit_test(test_rpc_deadline_exceeded),
		cmocka_unit_test(test_rpc_remote_error_propagates),
		cmocka_unit_test(test_rpc_client_before_server),
		cmocka_unit_test(test_rpc_no_server_times_out),
		cmocka_unit_test(test_rpc_bad_urls),
		cmocka_unit_test(test_rpc_address_in_use),
		cmocka_unit_test(test_rpc_stop_with_requests_in_flight),
		cmocka_unit_test(test_rpc_start_stop_cycles),
		cmocka_unit_test(test_rpc_free_without_start),
		cmocka_unit_test(test_rpc_inproc_push_runs_on_the_callers_thread),
		cmocka_unit_test(test_rpc_inproc_local_limits),
		cmocka_unit_test(test_rpc_local_registry_sides_and_restarts),
		cmocka_unit_test(test_rpc_inproc_stop_detaches_local_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

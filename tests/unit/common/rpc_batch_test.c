/* rpc_batch_test: hearth_rpc_call_all and hearth_rpc_call_until (common/
 * rpc_batch.c): parallel calls, the grace after enough answers, hedges. */
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
test_rpc_call_all_runs_in_parallel(void **state)
{
	/* 4 calls to a handler that sleeps 200 ms on a 4-worker server:
	 * serially 800 ms, in parallel about 200 ms. */
	(void) state;
	fixture		   f = { 0 };
	hearth_rpc_pending p[4];
	char		   body[4][16];
	fx_start(&f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	f.sleep_ms = 200;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 4; i++) {
		snprintf(body[i], sizeof(body[i]), "slow %d", i);
		p[i].client = f.cli;
		p[i].method = 10;
		p[i].body   = (const uint8_t *) body[i];
		p[i].len    = strlen(body[i]);
	}
	hearth_rpc_meta meta = { "acme", "req-9", hearth_clock_unix_ms() + 5000, NULL };
	int64_t		t0   = hearth_clock_mono_ms();
	hearth_rpc_call_all(p, 4, &meta, f.arena);
	int64_t took = hearth_clock_mono_ms() - t0;
	for (int i = 0; i < 4; i++) {
		char want[32];
		snprintf(want, sizeof(want), "acme|req-9|slow %d", i);
		assert_int_equal(p[i].rc, 0);
		assert_int_equal(p[i].resp_len, strlen(want));
		assert_memory_equal(p[i].resp, want, p[i].resp_len);
	}
	assert_true(took >= 190);
	assert_true(took < 800 * 2 / 3);
	assert_int_equal(f.calls, 4);
	fx_stop(&f);
}

/* A tcp fixture whose method 10 sleeps sleep_ms before answering. */
static void
fx_start_sleeping(fixture *f, int sleep_ms)
{
	fx_start(f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	f->sleep_ms = sleep_ms;
}

/* Call p: method with a string body (and a hedge when hedge is set). */
static void
pending_set(hearth_rpc_pending *p, hearth_rpc_client *c, uint32_t method,
    const char *body, hearth_rpc_client *hedge, const char *hedge_body)
{
	memset(p, 0, sizeof(*p));
	p->client	= c;
	p->method	= method;
	p->body		= (const uint8_t *) body;
	p->len		= strlen(body);
	p->hedge_client = hedge;
	if (hedge != NULL) {
		p->hedge_body = (const uint8_t *) hedge_body;
		p->hedge_len  = strlen(hedge_body);
	}
}

/* hearth_rpc_call_until's test: at most one call missing or failed. */
static int
enough_all_but_one(void *ctx, const hearth_rpc_pending *calls,
    const int *done, size_t n)
{
	(void) ctx;
	size_t missing = 0;
	for (size_t i = 0; i < n; i++)
		missing += !done[i] || calls[i].rc != 0;
	return missing <= 1;
}

/* A negative grace scales with the work: two calls that take ~400 ms
 * answer, and the straggler (2.5 s) is given up on after as long again
 * (~800 ms in all), not after the 50 ms floor and not at the deadline. */
static void
test_rpc_call_until_grace_scales_with_the_batch(void **state)
{
	(void) state;
	fixture		   fast = { 0 }, slow = { 0 };
	hearth_rpc_pending p[3];
	fx_start_sleeping(&fast, 400);
	fx_start_sleeping(&slow, 2500);
	pending_set(&p[0], fast.cli, 10, "x", NULL, NULL);
	pending_set(&p[1], fast.cli, 10, "x", NULL, NULL);
	pending_set(&p[2], slow.cli, 10, "x", NULL, NULL);
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 10000, NULL };
	int64_t		t0   = hearth_clock_mono_ms();
	hearth_rpc_call_until(
	    p, 3, &meta, fast.arena, enough_all_but_one, NULL, -50);
	int64_t took = hearth_clock_mono_ms() - t0;
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[1].rc, 0);
	assert_int_equal(p[2].rc, HEARTH_ETIMEDOUT);
	char want[128];
	snprintf(want, sizeof(want),
	    "rpc: call to tcp://127.0.0.1:%d not waited for: enough replicas "
	    "answered",
	    hearth_rpc_server_port(slow.srv));
	assert_string_equal(p[2].err.msg, want);
	assert_true(took >= 700);  /* as long again as the 400 ms calls */
	assert_true(took < 2400); /* not the straggler's 2.5 s */
	fx_stop(&fast);
	fx_stop(&slow);
}

/* A hedge replaces cancelling: a lone call that may go unanswered
 * (enough before any answer) gets the -grace_ms floor, then its hedge is
 * sent and the first answer (the hedge's, with its own body) is taken;
 * the slow original is cancelled, not waited for. */
static void
test_rpc_call_until_lone_straggler_is_hedged(void **state)
{
	(void) state;
	fixture		   fast = { 0 }, slow = { 0 };
	hearth_rpc_pending p[1];
	fx_start_sleeping(&fast, 100);
	fx_start_sleeping(&slow, 3000);
	pending_set(&p[0], slow.cli, 10, "orig", fast.cli, "copy");
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 10000, NULL };
	int64_t		t0   = hearth_clock_mono_ms();
	hearth_rpc_call_until(
	    p, 1, &meta, fast.arena, enough_all_but_one, NULL, -200);
	int64_t took = hearth_clock_mono_ms() - t0;
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[0].hedged, 2);
	assert_int_equal(p[0].resp_len, strlen("t|r|copy"));
	assert_memory_equal(p[0].resp, "t|r|copy", p[0].resp_len);
	assert_true(took >= 300);  /* the 200 ms floor, then the 100 ms hedge */
	assert_true(took < 2500); /* not the original's 3 s */
	assert_int_equal(fast.calls, 1);
	fx_stop(&fast);
	fx_stop(&slow);
}

/* The original answering first wins even after its hedge was sent, and a
 * hedge that fails leaves the original to be waited for. */
static void
test_rpc_call_until_original_beats_its_hedge(void **state)
{
	(void) state;
	fixture		   a = { 0 }, b = { 0 };
	hearth_rpc_pending p[2];
	fx_start_sleeping(&a, 600);
	fx_start_sleeping(&b, 3000);
	/* p[0] answers at once; p[1] (600 ms) is hedged after 100 ms to b,
	 * which takes 3 s: p[1]'s own answer comes first. */
	pending_set(&p[0], b.cli, HEARTH_RPC_PING, "x", NULL, NULL);
	pending_set(&p[1], a.cli, 10, "orig", b.cli, "copy");
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 10000, NULL };
	int64_t		t0   = hearth_clock_mono_ms();
	hearth_rpc_call_until(
	    p, 2, &meta, a.arena, enough_all_but_one, NULL, 100);
	int64_t took = hearth_clock_mono_ms() - t0;
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[1].rc, 0);
	assert_int_equal(p[1].hedged, 1);
	assert_memory_equal(p[1].resp, "t|r|orig", p[1].resp_len);
	assert_true(took >= 550);
	assert_true(took < 2500);
	/* A hedge to a peer that is not there fails; the original is then
	 * waited for and its answer taken. */
	hearth_rpc_client *dead;
	hearth_err	   err;
	assert_int_equal(hearth_rpc_client_new("tcp://127.0.0.1:1", MAX_MSG,
			     &dead, &err),
	    0);
	p[1].hedge_client = dead;
	hearth_rpc_call_until(
	    p, 2, &meta, a.arena, enough_all_but_one, NULL, 100);
	assert_int_equal(p[1].rc, 0);
	assert_int_equal(p[1].hedged, 1);
	assert_memory_equal(p[1].resp, "t|r|orig", p[1].resp_len);
	hearth_rpc_client_free(dead);
	fx_stop(&a);
	fx_stop(&b);
}

static void
test_rpc_call_all_unreachable_entry_only(void **state)
{
	/* One dead member among live ones: only its entry fails, with the
	 * message hearth_rpc_call gives, and the others are not held past
	 * the deadline. */
	(void) state;
	fixture		   f = { 0 };
	hearth_err	   err;
	hearth_rpc_client *dead;
	hearth_rpc_pending p[3];
	fx_start(&f, "tcp://127.0.0.1:0", MAX_MSG, MAX_MSG);
	assert_int_equal(hearth_rpc_client_new("tcp://127.0.0.1:1", MAX_MSG,
			     &dead, &err),
	    0);
	memset(p, 0, sizeof(p));
	p[0].client = f.cli;
	p[0].method = HEARTH_RPC_PING;
	p[0].body   = (const uint8_t *) "a";
	p[0].len    = 1;
	p[1].client = dead;
	p[1].method = HEARTH_RPC_PING;
	p[2].client = f.cli;
	p[2].method = HEARTH_RPC_PING;
	p[2].body   = (const uint8_t *) "c";
	p[2].len    = 1;
	hearth_rpc_meta meta = { "t", "r", hearth_clock_unix_ms() + 300, NULL };
	int64_t		t0   = hearth_clock_mono_ms();
	hearth_rpc_call_all(p, 3, &meta, f.arena);
	int64_t took = hearth_clock_mono_ms() - t0;
	assert_int_equal(p[0].rc, 0);
	assert_memory_equal(p[0].resp, "t|r|a", 5);
	assert_int_equal(p[2].rc, 0);
	assert_memory_equal(p[2].resp, "t|r|c", 5);
	assert_int_equal(p[1].rc, HEARTH_ETIMEDOUT);
	assert_int_equal(p[1].err.code, HEARTH_ETIMEDOUT);
	assert_string_equal(p[1].err.msg,
	    "rpc: deadline exceeded calling tcp://127.0.0.1:1");
	assert_null(p[1].resp);
	assert_true(took >= 250 && took < 2000);
	/* A deadline already passed fails every entry before sending. */
	meta.deadline_unix_ms = hearth_clock_unix_ms() - 1;
	hearth_rpc_call_all(p, 3, &meta, f.arena);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p[i].rc, HEARTH_ETIMEDOUT);
		assert_true(strncmp(p[i].err.msg, "rpc: deadline exceeded "
						  "calling ",
				31) == 0);
	}
	hearth_rpc_client_free(dead);
	fx_stop(&f);
}

static void
test_rpc_call_all_mixed_methods(void **state)
{
	/* Each entry gets exactly what a blocking call of the same method
	 * gets: a body, a remote error with its message, a bare remote
	 * code, a local size refusal. */
	(void) state;
	fixture		   f = { 0 };
	hearth_rpc_pending p[5];
	static uint8_t	   huge[MAX_MSG + 1];
	fx_start(&f, "inproc://rpc_test_call_all", MAX_MSG, MAX_MSG);
	f.sleep_ms = 20;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 5; i++)
		p[i].client = f.cli;
	p[0].method = HEARTH_RPC_PING;
	p[1].method = 11;
	p[2].method = 12;
	p[3].method = 99;
	p[3].body   = huge;
	p[3].len    = sizeof(huge);
	p[4].method = 10;
	p[4].body   = (const uint8_t *) "zz";
	p[4].len    = 2;
	hearth_rpc_meta meta = { "a", "b", hearth_clock_unix_ms() + 5000, NULL };
	hearth_rpc_call_all(p, 5, &meta, f.arena);
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[0].resp_len, 4);
	assert_memory_equal(p[0].resp, "a|b|", 4);
	assert_int_equal(p[1].rc, HEARTH_EINVAL);
	assert_string_equal(p[1].err.msg,
	    "selector: unexpected '}' at offset 3");
	assert_int_equal(p[2].rc, HEARTH_EBUSY);
	assert_string_equal(p[2].err.msg, "resource exhausted");
	assert_int_equal(p[3].rc, HEARTH_ETOOLARGE);
	assert_true(strstr(p[3].err.msg, "exceeds the max message size of "
					 "65536 bytes calling "
					 "inproc://rpc_test_call_all") != NULL);
	assert_int_equal(p[4].rc, 0);
	assert_memory_equal(p[4].resp, "a|b|zz", 6);
	/* The server saw 4 calls: the over-size one never left. */
	assert_int_equal(f.calls, 4);
	/* An empty batch is a no-op. */
	hearth_rpc_call_all(NULL, 0, &meta, f.arena);
	fx_stop(&f);
}

static void
test_rpc_inproc_call_all_runs_local_calls_inline(void **state)
{
	(void) state;
	fixture		   f = { 0 };
	hearth_rpc_pending p[2];
	fx_start(&f, "inproc://rpc_test_local_all", MAX_MSG, MAX_MSG);
	assert_true(attached(&f));
	memset(p, 0, sizeof(p));
	p[0] = (hearth_rpc_pending) { .client = f.cli,
		.method = HEARTH_RPC_PING, .body = (const uint8_t *) "one",
		.len = 3 };
	p[1] = (hearth_rpc_pending) { .client = f.cli,
		.method = HEARTH_RPC_PUSH, .body = (const uint8_t *) "two",
		.len = 3 };
	hearth_rpc_meta meta = { "acme", "req-9", hearth_clock_unix_ms() + 5000, NULL };
	hearth_rpc_call_all(p, 2, &meta, f.arena);
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[0].resp_len, strlen("acme|req-9|one"));
	assert_memory_equal(p[0].resp, "acme|req-9|one", p[0].resp_len);
	assert_int_equal(p[1].rc, HEARTH_EINVAL);
	assert_string_equal(p[1].err.msg, "unknown method 1");
	assert_true(pthread_equal(f.last_thread, pthread_self()));
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_call_all_runs_in_parallel),
		cmocka_unit_test(test_rpc_call_until_grace_scales_with_the_batch),
		cmocka_unit_test(test_rpc_call_until_lone_straggler_is_hedged),
		cmocka_unit_test(test_rpc_call_until_original_beats_its_hedge),
		cmocka_unit_test(test_rpc_call_all_unreachable_entry_only),
		cmocka_unit_test(test_rpc_call_all_mixed_methods),
		cmocka_unit_test(test_rpc_inproc_call_all_runs_local_calls_inline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* rpc_fixture: see rpc_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rpc_fixture.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int
fx_handler(void *ctx, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	fixture *f = ctx;
	(void) arena;
	pthread_mutex_lock(&f->mu);
	f->calls++;
	f->last_deadline = meta->deadline_unix_ms;
	f->last_thread	 = pthread_self();
	pthread_mutex_unlock(&f->mu);
	switch (method) {
	case 10: sleep_ms(f->sleep_ms); /* fall through */
	case HEARTH_RPC_PING:
		hearth_buf_printf(resp, "%s|%s|", meta->tenant,
		    meta->request_id);
		hearth_buf_append(resp, body, len);
		return 0;
	case 11:
		return hearth_err_set(err, HEARTH_EINVAL,
		    "selector: unexpected '}' at offset 3");
	case 12: return HEARTH_EBUSY;
	case 13:
		for (size_t i = 0; i < f->big; i++)
			hearth_buf_putc(resp, 'x');
		return 0;
	default:
		return hearth_err_set(err, HEARTH_EINVAL,
		    "unknown method %u", method);
	}
}

void
fx_start(fixture *f, const char *srv_url, size_t srv_max, size_t cli_max)
{
	hearth_err err;
	char	   url[128];
	pthread_mutex_init(&f->mu, NULL);
	hearth_log_init(&f->log, "rpc_test", HEARTH_LOG_WARN);
	assert_int_equal(hearth_rpc_server_new(srv_url, srv_max, 4, fx_handler, f,
			     &f->log, &f->srv, &err),
	    0);
	/* inproc:// as -target=all runs it: with a registry, so PUSH and
	 * PING run in-process (the tests below check both paths). */
	if (strncmp(srv_url, "inproc://", 9) == 0) {
		assert_int_equal(hearth_rpc_local_new(&f->reg, &err), 0);
		hearth_rpc_server_set_local(f->srv, f->reg);
	}
	assert_int_equal(hearth_rpc_server_start(f->srv, &err), 0);
	if (strncmp(srv_url, "tcp://", 6) == 0) {
		assert_true(hearth_rpc_server_port(f->srv) > 0);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
		    hearth_rpc_server_port(f->srv));
	} else {
		assert_int_equal(hearth_rpc_server_port(f->srv), 0);
		snprintf(url, sizeof(url), "%s", srv_url);
	}
	assert_int_equal(hearth_rpc_client_new(url, cli_max, &f->cli, &err),
	    0);
	hearth_rpc_client_set_local(f->cli, f->reg);
	f->arena = hearth_arena_new(0);
	assert_non_null(f->arena);
}

void
fx_stop(fixture *f)
{
	hearth_rpc_client_free(f->cli);
	hearth_rpc_server_free(f->srv);
	hearth_rpc_local_free(f->reg);
	hearth_arena_free(f->arena);
	pthread_mutex_destroy(&f->mu);
}

int
call(fixture *f, uint32_t method, const char *body, int64_t deadline,
    const char **out, size_t *out_len, hearth_err *err)
{
	hearth_rpc_meta meta = { "acme", "req-1", deadline, NULL };
	const uint8_t  *r;
	hearth_err_clear(err);
	int rc = hearth_rpc_call(f->cli, method, &meta, (const uint8_t *) body,
	    body != NULL ? strlen(body) : 0, f->arena, &r, out_len, err);
	*out   = (const char *) r;
	return rc;
}

/* Ping until the fx_handler runs on the calling thread: 1 when it did
 * within a second (with a registry, at once). */
int
attached(fixture *f)
{
	const char *out;
	size_t	    n;
	hearth_err  err;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(call(f, HEARTH_RPC_PING, "a", hearth_clock_unix_ms() + 5000,
				     &out, &n, &err),
		    0);
		pthread_mutex_lock(&f->mu);
		int same = pthread_equal(f->last_thread, pthread_self());
		pthread_mutex_unlock(&f->mu);
		if (same)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

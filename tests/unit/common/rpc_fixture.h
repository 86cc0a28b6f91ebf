/* rpc_fixture: what the rpc tests share (rpc_test.c: server, client and
 * in-process calls; rpc_batch_test.c: parallel calls): a server with the
 * test handler below and a client to it, started by fx_start and freed by
 * fx_stop, and small clock helpers. The fixture owns its server, client,
 * registry (inproc:// URLs) and arena. */
#ifndef HEARTH_TEST_RPC_FIXTURE_H
#define HEARTH_TEST_RPC_FIXTURE_H

#include "clock.h"
#include "log.h"
#include "rpc.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_MSG (64 * 1024)

/* Test handler: PING echoes "tenant|request_id|body"; method 10 sleeps
 * `sleep_ms` then echoes; 11 fails with a message; 12 fails without one;
 * 13 answers with `big` bytes. */
typedef struct fixture {
	int		  sleep_ms;
	size_t		  big;
	pthread_mutex_t	  mu;
	int		  calls;
	int64_t		  last_deadline;
	pthread_t	  last_thread; /* the handler's */
	hearth_rpc_server *srv;
	hearth_rpc_client *cli;
	hearth_rpc_local  *reg; /* inproc fixtures: in-process calls on */
	hearth_arena	  *arena;
	hearth_log	   log;
} fixture;

void	sleep_ms(int ms);
int fx_handler(void *ctx, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err);
/* Server on srv_url (tcp://127.0.0.1:0 or inproc://NAME, with a registry
 * so PUSH and PING run in-process) and a client to it. */
void fx_start(fixture *f, const char *srv_url, size_t srv_max,
    size_t cli_max);
void fx_stop(fixture *f);
/* hearth_rpc_call with tenant "acme", request id "req-1". */
int call(fixture *f, uint32_t method, const char *body, int64_t deadline,
    const char **out, size_t *out_len, hearth_err *err);
/* 1 when a PING runs the handler on the calling thread within a second. */
int attached(fixture *f);

#endif

/*
 * fetch: many HTTP(S) GETs in flight at once, driven by one thread. The
 * only module that uses libcurl (STYLE rule 6): a curl multi handle plus
 * one easy handle per transfer. The scraper (distributor/scrape.h) holds
 * one; a blocking single GET is start + poll until the callback ran.
 *
 * A transfer's life; the function making each step is on the arrow:
 *
 *   hearth_fetch_start ──▶ RUNNING ──hearth_fetch_poll: finished, failed,
 *                            │       timed out or over max_bytes──▶ done
 *                            │                      callback (exactly once)
 *                            └──hearth_fetch_free──▶ dropped, no callback
 *
 * Outcome of a finished transfer (hearth_fetch_result): rc 0 and a body
 * for a 2xx answer; otherwise rc < 0, a short bounded `reason` (a metric
 * label) and a sentence for people in `error`:
 *
 *   reason        rc                when
 *   timeout       HEARTH_ETIMEDOUT  timeout_ms passed (connect included)
 *   connect       HEARTH_EUNAVAIL   name not resolved, refused, unreachable
 *   tls           HEARTH_EUNAVAIL   handshake or certificate check failed
 *   http_status   HEARTH_EIO        a non-2xx status ("HTTP 500: <body>")
 *   too_large     HEARTH_ETOOLARGE  the body passed max_bytes
 *   io            HEARTH_EIO        anything else (connection dropped,
 *                                   bad Content-Encoding, ...)
 *
 * Redirects are followed (at most 5, http and https only; curl does not
 * send credentials to another host). Content-Encoding gzip, deflate, br
 * and zstd are requested and decoded, so max_bytes bounds the decoded
 * body.
 *
 * Threading: one thread owns a hearth_fetch and calls everything except
 * hearth_fetch_wakeup, which any thread may call to end a poll early.
 * Ownership: request strings are copied by curl at start (the caller may
 * free them once start returns); a result's body is malloc'd and belongs
 * to the callback, which frees it with free() (or keeps it).
 */
#ifndef HEARTH_FETCH_H
#define HEARTH_FETCH_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_fetch hearth_fetch;

typedef struct hearth_fetch_req {
	const char *url;        /* http:// or https:// */
	int64_t     timeout_ms; /* whole transfer; must be > 0 */
	size_t      max_bytes;  /* decoded body cap; 0 = no cap */
	const char *username;   /* basic auth when not NULL */
	const char *password;   /* NULL = "" */
	/* Authorization header value, e.g. "Bearer abc"; NULL = none. Not
	 * combined with username. */
	const char *authorization;
	const char *ca_file;   /* PEM CA bundle; NULL = the system's */
	const char *cert_file; /* client certificate (PEM); NULL = none */
	const char *key_file;  /* its key (PEM) */
	int         insecure_skip_verify; /* no certificate/host check */
	const char *user_agent;           /* NULL = "hearth" */
	void       *user;                 /* handed back in the result */
} hearth_fetch_req;

typedef struct hearth_fetch_result {
	void       *user;
	int         rc;     /* 0 or a HEARTH_E* code (table above) */
	const char *reason; /* NULL when rc == 0; a string literal */
	long        status; /* HTTP status; 0 when none arrived */
	uint8_t    *body;   /* malloc'd, NUL-terminated; the callback's */
	size_t      len;
	double      seconds; /* start to finish */
	char        error[384];
} hearth_fetch_result;

/* Called once per finished transfer from inside hearth_fetch_poll. It may
 * call hearth_fetch_start (new transfers join the next poll). */
typedef void (*hearth_fetch_done_fn)(void *ctx, hearth_fetch_result *res);

/* New, empty. HEARTH_ENOMEM or HEARTH_EINTERNAL (libcurl failed to
 * initialise) with a message. */
int hearth_fetch_new(hearth_fetch **out, hearth_err *err);
/* Abort every transfer (no callbacks) and free; NULL is a no-op. */
void hearth_fetch_free(hearth_fetch *f);

/* Start a GET. HEARTH_EINVAL for a request curl refuses (bad URL scheme,
 * timeout <= 0), HEARTH_ENOMEM. */
int hearth_fetch_start(
    hearth_fetch *f, const hearth_fetch_req *r, hearth_err *err);

/* Transfers started and not yet reported. */
size_t hearth_fetch_running(const hearth_fetch *f);

/* Make progress: wait at most timeout_ms (0 = do not wait) for network
 * activity, a transfer's deadline or a wakeup, then report every finished
 * transfer to done(ctx, res). Returns how many were reported, or
 * HEARTH_EINTERNAL when curl's multi interface fails. */
int hearth_fetch_poll(
    hearth_fetch *f, int timeout_ms, hearth_fetch_done_fn done, void *ctx);

/* End the current (or next) hearth_fetch_poll wait early. Thread-safe. */
void hearth_fetch_wakeup(hearth_fetch *f);

#endif

/*
 * auth: built-in authentication for deployments without a gateway
 * (-auth.tokens-file), and the one place that decides the tenant(s) of a
 * request, with or without it.
 *
 * The tokens file (YAML, reloaded when it changes) lists credentials and
 * the tenants each may write (ingest) and read (query):
 *
 *   tokens:                       # Authorization: Bearer <token>
 *     - name: ci-agents           # shown in logs and errors, never the secret
 *       sha256: 5e884898da28...   # hex SHA-256 of the token, not the token
 *       write: [team-a]
 *       read: [team-a]
 *   users:                        # Authorization: Basic <user:password>
 *     - name: alice               # the user name
 *       password_hash: "$6$..."   # crypt(3): $y$ yescrypt, $2b$ bcrypt,
 *       read: [team-a, team-b]    #   $6$ SHA-512
 *
 * Basic credentials whose user name is not a listed user are checked as a
 * token (the password is the token), which is how Grafana Cloud-style
 * clients send one. The file never holds a secret in the clear: tokens
 * are compared by their SHA-256 with a constant-time compare over every
 * entry, passwords through crypt(3). A verified password is remembered
 * (as a SHA-256 of user and password) until the next reload, so basic
 * auth costs one slow hash per user and file version, not per request.
 *
 * Deciding the tenant (hearth_auth_tenants):
 *   no tokens file: tenant.h's rules — multi-tenancy off: "anonymous";
 *     on: X-Scope-OrgID, required (401), one ID to write, a|b to read.
 *   tokens file: the credential decides. Missing, malformed, unknown,
 *     wrong or revoked (removed from the file) → 401 with
 *     WWW-Authenticate. Then the tenant is X-Scope-OrgID when sent (each
 *     ID must be one the credential may use for this access, else 403),
 *     or the credential's only tenant for this access; a credential with
 *     several must name them (400), one with none gets 403. With
 *     multi-tenancy off the tenant is "anonymous", and the credential
 *     must list it.
 *
 * Errors: HEARTH_EUNAUTH (401), HEARTH_EDENIED (403), HEARTH_EINVAL
 * (400: a malformed X-Scope-OrgID), HEARTH_ELIMIT (the arena cap).
 * Messages name the credential by its name and never include a secret.
 *
 * Threading: hearth_auth_tenants may run on any number of threads; a
 * reload swaps the credential table atomically (a request holds a
 * reference to the table it started with). Ownership: results live in
 * the caller's arena; log and metrics are borrowed.
 */
#ifndef HEARTH_AUTH_H
#define HEARTH_AUTH_H

#include "arena.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_AUTH_READ 1
#define HEARTH_AUTH_WRITE 2

/* The WWW-Authenticate value of a 401 when a tokens file is in use. */
#define HEARTH_AUTH_CHALLENGE                                                 \
	"Bearer realm=\"hearth\", Basic realm=\"hearth\", charset=\"UTF-8\""

/* Largest tokens file read. */
#define HEARTH_AUTH_MAX_FILE_BYTES ((size_t) 4 << 20)

typedef struct hearth_auth hearth_auth;

/* Load the tokens file at path now (an invalid file is an error that
 * names it and the line, never a secret) and return an object that
 * reloads it every period_ms once started. log, m may be NULL. */
int hearth_auth_new(const char *path, int64_t period_ms, const hearth_log *log,
    hearth_metrics *m, hearth_auth **out, hearth_err *err);
int hearth_auth_start(hearth_auth *a, hearth_err *err);
void hearth_auth_stop(hearth_auth *a); /* idempotent */
void hearth_auth_free(hearth_auth *a); /* NULL is a no-op */

/* Replace the credentials by the document yaml[0..len) (what a reload
 * does; for tests and the fuzzer). On error nothing changes. */
int hearth_auth_load(hearth_auth *a, const char *yaml, size_t len,
    const char *source, hearth_err *err);

/* The tenants of a request (see the header comment). a NULL means no
 * tokens file. access: HEARTH_AUTH_READ or HEARTH_AUTH_WRITE.
 * authorization and orgid are the request's Authorization and
 * X-Scope-OrgID headers (NULL when absent). On success *ids is a sorted,
 * de-duplicated arena array of *n >= 1 arena strings; writes get
 * exactly one. */
int hearth_auth_tenants(hearth_auth *a, int multitenancy_enabled, int access,
    const char *authorization, const char *orgid, hearth_arena *arena,
    const char ***ids, size_t *n, hearth_err *err);

/* hearth_auth_tenants for an HTTP request: the tokens file of its server
 * (hearth_http_req_auth), its Authorization and X-Scope-OrgID headers and
 * its arena. Every data handler, of every role and protocol, decides the
 * tenant through this one call. */
int hearth_auth_request(hearth_http_req *req, int multitenancy_enabled,
    int access, const char ***ids, size_t *n, hearth_err *err);

/* Answer resp with err: its status (hearth_http_status_from_err) and
 * message, plus WWW-Authenticate on a 401 when a is not NULL. */
void hearth_auth_fail(
    const hearth_auth *a, hearth_http_resp *resp, const hearth_err *err);

#endif

/*
 * scrape: the pull model. hearth scrapes pprof endpoints (Go's
 * net/http/pprof and anything speaking the same) the way Prometheus
 * scrapes /metrics, and feeds what it gets into the same path as pushed
 * profiles (ingest.h → ingester RPC). Owned by the distributor; runs in
 * the distributor role and so in -target=all. docs/scrape.md is the
 * user's guide; this comment is the design.
 *
 * Configuration (scrape_config.c): `scrape_configs:` of the YAML file, a
 * list of jobs shaped like Prometheus' (job_name, scrape_interval,
 * scrape_timeout, scheme, basic_auth, authorization, tls_config,
 * static_configs, file_sd_configs) plus profiling_config, which picks the
 * endpoints: process_cpu (/debug/pprof/profile?seconds=N), memory
 * (/debug/pprof/heap), goroutine, mutex, block and custom paths. The
 * walk of the YAML is config_tree.h; the meaning is here. Errors name the
 * key path and line: "config file h.yaml: line 7:
 * scrape_configs[0].scrape_timeout: 20s is longer than scrape_interval
 * (15s)".
 *
 * Targets. A target is (job, host:port, labels). Its series labels are
 * the group's labels, then job = job_name and instance = host:port unless
 * the group set them, then service_name = the group's service_name label
 * or else the job name, then __name__ = the profile name; the pprof's own
 * sample labels join as for pushes. Static targets live as long as the
 * config; file_sd targets are re-read when a file changes (checked every
 * second) and at least every refresh_interval; a file that fails to parse
 * keeps its previous targets. A target keeps its delta state and status
 * across re-reads as long as its (job, instance, labels) is unchanged.
 *
 * Threads and states of one (target, profile) slot:
 *
 *     IDLE ──loop: due (next tick)──▶ FETCHING ──loop: fetch failed──▶ IDLE
 *       ▲                                │ fetch ok: body queued
 *       │                                ▼
 *       └──────worker: decoded, delta, pushed (or failed)── PROCESSING
 *
 *   - the loop thread owns the target list, the schedule and every HTTP
 *     transfer (one curl multi, common/fetch.h), so a slow or hanging
 *     target costs a socket, never a thread;
 *   - `workers` threads decode, apply deltas and push; a push blocked on
 *     an ingester therefore never delays anyone's scrape schedule;
 *   - a slot still busy at its next tick skips that tick (as Prometheus'
 *     scrape loop does), so at most one scrape per slot is in flight and
 *     its delta state needs no lock: only the one worker holding the slot
 *     in PROCESSING touches it.
 * Ticks: every slot scrapes every scrape_interval at a fixed offset
 * inside the interval derived from a hash of (job, instance, profile), so
 * targets spread out and each keeps its phase across restarts.
 *
 * Deltas (scrape_delta.c). Go's heap alloc_*, mutex and block profiles
 * count since the process started. With delta on (the default for memory,
 * mutex and block; any custom profile may ask) hearth keeps the previous
 * scrape's value per (sample labels, stack) and per cumulative sample type
 * (all types except inuse_*, which are gauges) and stores current −
 * previous. A value lower than before is a counter reset for that key: it
 * stores 0 and the current value becomes the new baseline. The first
 * scrape, and one whose sample types changed, only seeds (its gauge types
 * are stored, its cumulative ones are not). A delta profile is stored at
 * the scrape's start time with duration = the time since the previous
 * scrape. Keys are 128-bit XXH3 hashes of the key's text; a collision
 * (probability about n²/2^129 for n keys) would mix two stacks' baselines.
 * A profile with cumulative types keeps no span rows (upload.h): per-span
 * values cannot be diffed, a span ends between two scrapes.
 *
 * Status: `GET /targets` (HTML; JSON with Accept: application/json or
 * ?format=json) and the metrics hearth_scrape_up, _duration_seconds,
 * _bytes (gauges of the last scrape), hearth_scrape_failures_total
 * {job,instance,profile,reason} with reason one of timeout, connect, tls,
 * http_status, too_large, io (fetch.h), decode (not a valid pprof),
 * invalid (labels or limits), push (the ingester or the tenant's rate
 * limit did not take it); hearth_scrapes_total, _skipped_total and
 * hearth_scrape_targets{job}. A target is "up" when its last scrape was
 * fetched, decoded and stored (or held nothing new to store).
 *
 * Ownership: a hearth_scrape_config owns everything it points to (one
 * private arena); the manager borrows the config, limits, metrics, log
 * and HTTP server (all must outlive it) and owns targets, their delta
 * state and the fetch handle.
 */
#ifndef HEARTH_DISTRIBUTOR_SCRAPE_H
#define HEARTH_DISTRIBUTOR_SCRAPE_H

#include "arena.h"
#include "buf.h"
#include "config_tree.h"
#include "err.h"
#include "http.h"
#include "ingest.h"
#include "labels.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "upload.h"

#include <stddef.h>
#include <stdint.h>

/* ---- configuration (scrape_config.c) ------------------------------- */

typedef struct hearth_scrape_profile {
	const char *name;        /* __name__ of the stored series */
	const char *path;        /* URL path, may carry a query */
	int         delta;       /* store differences of cumulative types */
	int         cpu_seconds; /* add seconds=N (process_cpu with delta) */
	int         custom;      /* from profiling_config.custom */
} hearth_scrape_profile;

/* One target group: static_configs entry or one group of a file_sd file. */
typedef struct hearth_scrape_group {
	const char  **targets; /* host:port (or host) */
	size_t        n_targets;
	hearth_label *labels; /* sorted by name */
	size_t        n_labels;
} hearth_scrape_group;

typedef struct hearth_scrape_sd {
	const char **files; /* glob patterns, made absolute */
	size_t       n_files;
	int64_t      refresh_ms;
} hearth_scrape_sd;

typedef struct hearth_scrape_job {
	const char *name;
	int64_t     interval_ms;
	int64_t     timeout_ms;
	const char *scheme; /* "http" or "https" */
	const char *tenant; /* used with multi-tenancy on */
	/* basic_auth: username != NULL; password or password_file */
	const char *username, *password, *password_file;
	/* authorization: type ("Bearer") and credentials or its file */
	const char *auth_type, *credentials, *credentials_file;
	const char *ca_file, *cert_file, *key_file; /* tls_config */
	int         insecure_skip_verify;
	int64_t     body_size_limit;     /* bytes; 0 = the ingest body limit */
	hearth_scrape_profile *profiles; /* enabled ones only */
	size_t                 n_profiles;
	hearth_scrape_group   *groups; /* static_configs */
	size_t                 n_groups;
	hearth_scrape_sd      *sd; /* file_sd_configs */
	size_t                 n_sd;
	unsigned long          line;
} hearth_scrape_job;

typedef struct hearth_scrape_config {
	hearth_scrape_job *jobs;
	size_t             n_jobs;
	hearth_arena      *arena; /* private: owns everything above */
} hearth_scrape_config;

/* Parse a `scrape_configs` node (a LIST, or NULL for none) into *out.
 * source prefixes errors ("config file h.yaml"); base_dir makes relative
 * file paths (file_sd files, password_file, credentials_file, TLS files)
 * absolute. */
int hearth_scrape_config_parse(const hearth_config_node *list,
    const char *source, const char *base_dir, hearth_scrape_config **out,
    hearth_err *err);

/* Read `scrape_configs:` from the YAML file at path (NULL or "" = no
 * file: an empty config). Relative paths are relative to the file's
 * directory. */
int hearth_scrape_config_load(
    const char *path, hearth_scrape_config **out, hearth_err *err);

void hearth_scrape_config_free(hearth_scrape_config *c);

/* Append the config as YAML under a `scrape_configs:` key, for /config.
 * Passwords and credentials print as "<secret>"; the files' paths are
 * shown. Returns 0 or HEARTH_ENOMEM. */
int hearth_scrape_config_dump(const hearth_scrape_config *c, hearth_buf *out);

/* Parse a file_sd file's text: a list of {targets: [...], labels: {...}}
 * groups (JSON when json is set, else YAML). Groups and strings live in a.
 * Errors name source and line. */
int hearth_scrape_sd_parse(hearth_arena *a, const char *text, size_t len,
    const char *source, int json, hearth_scrape_group **groups, size_t *n,
    hearth_err *err);

/* ---- deltas (scrape_delta.c) --------------------------------------- */

typedef struct hearth_scrape_delta hearth_scrape_delta;

hearth_scrape_delta *hearth_scrape_delta_new(void);    /* NULL: no memory */
void hearth_scrape_delta_free(hearth_scrape_delta *d); /* NULL: no-op */

/* Turn the cumulative sample types of u (cumulative[t] != 0) into
 * differences to the previous call, in place, and remember u's values for
 * the next call (rules in the top comment). Returns 1 when u now holds
 * deltas, 0 when this call only seeded (cumulative columns were set to 0:
 * nothing of them is to be stored), or a negative HEARTH_E* (out of
 * memory; the state is then reset so the next call seeds). u's strings
 * and stacks are read, never kept. */
int hearth_scrape_delta_apply(hearth_scrape_delta *d, hearth_upload *u,
    const unsigned char *cumulative, hearth_err *err);

/* Keys remembered (for tests and status). */
size_t hearth_scrape_delta_keys(const hearth_scrape_delta *d);

/* ---- the manager (scrape.c) ---------------------------------------- */

/* Store one built request; 0 or a HEARTH_E* with err filled. Called from
 * worker threads, several at once. */
typedef int (*hearth_scrape_push_fn)(void *ctx, const char *tenant,
    const hearth_ingest_result *res, hearth_arena *a, hearth_err *err);
/* The limits of tenant now (per-tenant overrides); from any thread. */
typedef void (*hearth_scrape_limits_fn)(
    void *ctx, const char *tenant, hearth_limits *out);

typedef struct hearth_scrape_opts {
	const hearth_scrape_config *config;
	const hearth_limits        *limits;     /* when limits_for is NULL */
	hearth_scrape_limits_fn     limits_for; /* called with push_ctx */
	int                         multitenancy_enabled;
	unsigned                    workers;   /* >= 1 */
	const char                 *dump_dir;  /* NULL or "" = off */
	size_t                      dump_keep; /* files per slot */
	size_t                      arena_cap; /* per worker; 0 = none */
	hearth_scrape_push_fn       push;
	void                       *push_ctx;
	hearth_http_server         *http; /* /targets is added at start */
	hearth_metrics             *metrics;
	const hearth_log           *log;
} hearth_scrape_opts;

typedef struct hearth_scrape hearth_scrape;

int hearth_scrape_new(
    const hearth_scrape_opts *o, hearth_scrape **out, hearth_err *err);
/* Register GET /targets, start the loop and the workers. */
int hearth_scrape_start(hearth_scrape *s, hearth_err *err);
/* Stop scraping: in-flight transfers are abandoned, workers finish the
 * profile in hand. Idempotent. */
void hearth_scrape_stop(hearth_scrape *s);
void hearth_scrape_free(hearth_scrape *s); /* stops first; NULL: no-op */

/* The status of every (target, profile), sorted by job, instance,
 * profile, as the /targets page serves it. */
int hearth_scrape_status_json(hearth_scrape *s, hearth_buf *out);
int hearth_scrape_status_html(hearth_scrape *s, hearth_buf *out);

#endif

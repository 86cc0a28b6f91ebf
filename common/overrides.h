/*
 * overrides: the limits of each tenant — the config's defaults with a
 * runtime overrides file on top, reloaded while hearth runs (DESIGN §8).
 *
 * The file is Pyroscope's runtime configuration format:
 *
 *   overrides:
 *     team-a:                     # a tenant ID (tenant.h rules)
 *       ingestion_rate_mb: 16     # any key of the config's limits: section,
 *       max_query_length: 7d      #   same syntax and ranges as there
 *     team-b:
 *       max_global_series_per_tenant: 100000
 *
 * A tenant gets the defaults with its keys replaced; keys left out (or
 * null) keep the default. Anything else is an error that names the file,
 * line and key, and a file with an error is not used at all: hearth keeps
 * the previous version (at start-up it refuses to start).
 *
 *   snapshot: tenants sorted by byte order, each with a full
 *             hearth_limits; replaced as a whole on every reload
 *
 * Threading: hearth_overrides_get may be called from any number of
 * threads; it copies the tenant's limits under a read lock, so a reload
 * (write lock, pointer swap) never shows a half-applied file. Loading and
 * parsing happen outside the lock.
 *
 * Ownership: the object owns its snapshot; hearth_overrides_get copies
 * into the caller's struct. log and metrics are borrowed (the metrics
 * registry must outlive the object).
 */
#ifndef HEARTH_OVERRIDES_H
#define HEARTH_OVERRIDES_H

#include "err.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

/* Largest overrides file read; bigger files are refused. */
#define HEARTH_OVERRIDES_MAX_BYTES ((size_t) 16 << 20)

typedef struct hearth_overrides hearth_overrides;

/* defaults are copied. path NULL or "" means no file: every tenant gets
 * the defaults. Otherwise the file is loaded now (a missing or invalid
 * file is an error naming it) and reloaded every period_ms after
 * hearth_overrides_start. log may be NULL; m may be NULL. */
int hearth_overrides_new(const hearth_limits *defaults, const char *path,
    int64_t period_ms, const hearth_log *log, hearth_metrics *m,
    hearth_overrides **out, hearth_err *err);
/* Start watching the file (no-op without one). */
int hearth_overrides_start(hearth_overrides *o, hearth_err *err);
/* Stop watching (idempotent). */
void hearth_overrides_stop(hearth_overrides *o);
/* NULL is a no-op. */
void hearth_overrides_free(hearth_overrides *o);

/* The limits of tenant (the defaults when it has no overrides). */
void hearth_overrides_get(
    hearth_overrides *o, const char *tenant, hearth_limits *out);

/* Replace the overrides by the document yaml[0..len) (what a reload
 * does; for tests and the fuzzer). source names it in errors. On error
 * nothing changes. */
int hearth_overrides_load(hearth_overrides *o, const char *yaml, size_t len,
    const char *source, hearth_err *err);

/* Number of tenants with overrides in use. */
size_t hearth_overrides_count(hearth_overrides *o);

#endif

/*
 * scrape_impl.h: what the parts of the scrape manager share (scrape.c:
 * lifecycle, loop thread, service discovery; scrape_work.c: the worker
 * side; scrape_status.c: /targets and the /config dump). Include only
 * from distributor/scrape*.c.
 *
 * Locking: s->mu guards the target list, every slot's `state` and
 * status fields, the work queue and `stopping`. The loop thread alone adds
 * and frees targets (under mu), and frees one only when none of its slots
 * is FETCHING or PROCESSING. A slot's delta state and prev_ns belong to
 * the worker holding it in PROCESSING (scrape.h, "Threads").
 */
#ifndef HEARTH_DISTRIBUTOR_SCRAPE_IMPL_H
#define HEARTH_DISTRIBUTOR_SCRAPE_IMPL_H

#include "scrape.h"

#include "fetch.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

enum { SCRAPE_IDLE, SCRAPE_FETCHING, SCRAPE_PROCESSING };

struct scrape_target;

typedef struct scrape_slot {
	struct scrape_target        *t;
	const hearth_scrape_profile *p;
	char                        *url;      /* full URL, query included */
	int64_t                      next_ms;  /* loop thread: next tick */
	int                          state;    /* under mu */
	int64_t                      start_ns; /* wall start of the scrape
	                                          in flight */
	/* The worker's, while PROCESSING. */
	hearth_scrape_delta *delta;   /* NULL unless p->delta */
	int64_t              prev_ns; /* start of the last delta scrape */
	/* Status, under mu. */
	int         health; /* -1 unknown, 0 down, 1 up */
	int64_t     last_ns;
	double      last_seconds;
	size_t      last_bytes;
	const char *last_reason; /* literal; NULL when up */
	char        last_error[384];
	uint64_t    scrapes, failures, skipped;
} scrape_slot;

typedef struct scrape_target {
	const hearth_scrape_job *job;
	hearth_arena            *arena;    /* the strings below */
	const char              *addr;     /* host:port as configured */
	const char              *instance; /* the instance label */
	const char              *key;      /* job NUL addr NUL labels */
	size_t                   key_len;
	hearth_label            *labels; /* series labels, sorted */
	size_t                   n_labels;
	scrape_slot             *slots; /* one per job profile */
	size_t                   n_slots;
	int                      dead; /* left the config; freed when idle */
	int                      mark;
} scrape_target;

typedef struct scrape_work {
	struct scrape_work *next;
	scrape_slot        *slot;
	uint8_t            *body; /* malloc'd (fetch.h) */
	size_t              len;
	int64_t             start_ns;
	double              seconds;
} scrape_work;

typedef struct scrape_sd_file {
	char                *path;
	ino_t                ino;
	off_t                size;
	int64_t              mtime_ns;
	hearth_arena        *arena; /* groups live here */
	hearth_scrape_group *groups;
	size_t               n_groups;
	int                  mark;
} scrape_sd_file;

typedef struct scrape_sd_state {
	const hearth_scrape_job *job;
	const hearth_scrape_sd  *sd;
	int64_t                  next_refresh_ms;
	scrape_sd_file          *files;
	size_t                   n_files;
} scrape_sd_state;

struct hearth_scrape {
	hearth_scrape_opts o;
	pthread_mutex_t    mu;
	pthread_cond_t     cv;
	pthread_cond_t     stop_cv; /* broadcast at stop (CLOCK_MONOTONIC):
	                               wakes workers waiting to retry */
	int                stopping;
	int                running; /* threads started */
	pthread_t          loop;
	pthread_t         *workers;
	unsigned           n_workers;
	hearth_fetch      *fetch;
	scrape_target    **targets;
	size_t             n_targets, cap_targets;
	scrape_sd_state   *sd;
	size_t             n_sd;
	scrape_work       *q_head, *q_tail;
	hearth_metric *m_up, *m_duration, *m_bytes, *m_failures, *m_scrapes,
	    *m_skipped, *m_targets;
};

/* Failure reasons a slot can have; hearth_scrape_failures_total's series
 * of a removed target are deleted by walking this list. */
extern const char *const hearth_scrape_reasons[];
extern const size_t      hearth_scrape_n_reasons;

/* Built-in profiles (scrape_config.c), for the /config dump. */
typedef struct hearth_scrape_builtin {
	const char *key;
	const char *path;
	int         delta;
} hearth_scrape_builtin;
extern const hearth_scrape_builtin hearth_scrape_builtins[];
extern const size_t                hearth_scrape_n_builtins;

int64_t hearth_scrape_wall_ns(void);
/* The tenant's limits: opts.limits_for, or opts.limits. */
void hearth_scrape_tenant_limits(
    hearth_scrape *s, const char *tenant, hearth_limits *out);

/* Record the end of a scrape in the slot's status and metrics, and make
 * the slot IDLE. reason NULL = up. Takes mu. */
void hearth_scrape_finish(hearth_scrape *s, scrape_slot *sl, int64_t start_ns,
    double seconds, size_t bytes, const char *reason, const char *error);

/* Worker thread body (scrape_work.c); arg is the manager. */
void *hearth_scrape_worker(void *arg);

#endif

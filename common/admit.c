#include "admit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ADMIT_BUCKETS 4096 /* chains; entries are few per chain */

typedef struct admit_entry {
	struct admit_entry *next;
	double              tokens;   /* bytes; invariant (1) */
	double              rate;     /* of the last rate call, bytes/s */
	double              burst;    /* of the last rate call */
	int64_t             last_ns;  /* last refill; 0 = no bucket yet */
	int64_t             inflight; /* query slots held */
	char                tenant[];
} admit_entry;

struct hearth_admit {
	pthread_mutex_t mu;
	admit_entry    *chains[ADMIT_BUCKETS];
	size_t          n;
};

int
hearth_admit_new(hearth_admit **out, hearth_err *err)
{
	hearth_admit *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "admission control: out of memory");
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	return 0;
}

void
hearth_admit_free(hearth_admit *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < ADMIT_BUCKETS; i++)
		for (admit_entry *e = a->chains[i], *next; e != NULL;
		     e              = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static size_t
admit_chain(const char *tenant)
{
	return (size_t) XXH3_64bits(tenant, strlen(tenant))
	    & (ADMIT_BUCKETS - 1);
}

/* Refill e's bucket up to now (rate and burst of the last call). */
static void
admit_refill(admit_entry *e, int64_t now_ns)
{
	if (e->last_ns == 0 || now_ns <= e->last_ns)
		return;
	e->tokens += e->rate * (double) (now_ns - e->last_ns) / 1e9;
	if (e->tokens > e->burst)
		e->tokens = e->burst;
	e->last_ns = now_ns;
}

/* Invariant (2): nothing here that a new entry would not have. */
static int
admit_forgettable(admit_entry *e, int64_t now_ns)
{
	if (e->inflight > 0)
		return 0;
	admit_refill(e, now_ns);
	return e->last_ns == 0 || e->tokens >= e->burst;
}

static void
admit_sweep(hearth_admit *a, int64_t now_ns)
{
	for (size_t i = 0; i < ADMIT_BUCKETS; i++)
		for (admit_entry **pp = &a->chains[i]; *pp != NULL;) {
			admit_entry *e = *pp;
			if (admit_forgettable(e, now_ns)) {
				*pp = e->next;
				free(e);
				a->n--;
			} else {
				pp = &e->next;
			}
		}
}

/* The tenant's entry, made when missing; NULL when the table is full
 * (invariant (3)) or memory ran out: the caller admits as new. */
static admit_entry *
admit_get(hearth_admit *a, const char *tenant, int64_t now_ns)
{
	size_t c = admit_chain(tenant);
	for (admit_entry *e = a->chains[c]; e != NULL; e = e->next)
		if (strcmp(e->tenant, tenant) == 0)
			return e;
	if (a->n >= HEARTH_ADMIT_MAX_TENANTS) {
		admit_sweep(a, now_ns);
		if (a->n >= HEARTH_ADMIT_MAX_TENANTS)
			return NULL;
	}
	size_t       len = strlen(tenant);
	admit_entry *e   = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->tenant, tenant, len + 1);
	e->next      = a->chains[c];
	a->chains[c] = e;
	a->n++;
	return e;
}

static void
admit_drop_if_forgettable(hearth_admit *a, admit_entry *e, int64_t now_ns)
{
	if (!admit_forgettable(e, now_ns))
		return;
	for (admit_entry **pp = &a->chains[admit_chain(e->tenant)];
	     *pp != NULL; pp  = &(*pp)->next)
                if (*pp == e) {
			 *pp = e->next;
			 free(e);
			 a->n--;
			 return;
                }
}

int
hearth_admit_rate(hearth_admit *a, const char *tenant, double rate,
    double burst, double cost, int64_t now_ns, int64_t *retry_after_ms)
{
	*retry_after_ms = 0;
	if (!(rate > 0))
		return 0;
	if (cost > burst)
		return HEARTH_ELIMIT;
	if (now_ns <= 0)
		now_ns = 1; /* 0 marks "no bucket yet" */
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	admit_entry *e = admit_get(a, tenant, now_ns);
	if (e == NULL)
		goto out; /* invariant (3): admitted as a new tenant */
	if (e->last_ns == 0) {
		e->tokens  = burst; /* a new tenant starts full */
		e->last_ns = now_ns;
	}
	admit_refill(e, now_ns); /* at the old rate, up to now */
	e->rate  = rate;
	e->burst = burst;
	if (e->tokens > burst)
		e->tokens = burst; /* invariant (1) after a lowered burst */
	if (e->tokens >= cost) {
		e->tokens -= cost;
	} else {
		double wait_ms  = (cost - e->tokens) / rate * 1000.0;
		*retry_after_ms = wait_ms >= 9e15 ? INT64_MAX / 2
		                                  : (int64_t) ceil(wait_ms);
		if (*retry_after_ms < 1)
			*retry_after_ms = 1;
		rc = HEARTH_EBUSY;
	}
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
hearth_admit_enter(
    hearth_admit *a, const char *tenant, int64_t max, int64_t *in_flight)
{
	int rc = 0;
	if (in_flight != NULL)
		*in_flight = 0;
	if (max <= 0)
		return 0;
	pthread_mutex_lock(&a->mu);
	admit_entry *e = admit_get(a, tenant, 1);
	if (e == NULL) {
		/* Full table: refuse rather than admit untracked, which a
		 * later leave could not pair. Only queries wait for this. */
		rc = HEARTH_EBUSY;
	} else if (e->inflight >= max) {
		rc = HEARTH_EBUSY;
	} else {
		e->inflight++;
	}
	if (in_flight != NULL && e != NULL)
		*in_flight = e->inflight;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void
hearth_admit_leave(hearth_admit *a, const char *tenant, int64_t max)
{
	if (max <= 0)
		return;
	pthread_mutex_lock(&a->mu);
	admit_entry *e = a->chains[admit_chain(tenant)];
	while (e != NULL && strcmp(e->tenant, tenant) != 0)
		e = e->next;
	HEARTH_ASSERT(e != NULL && e->inflight > 0); /* unpaired leave */
	e->inflight--;
	/* A bucketless entry exists only for its slots. */
	if (e->inflight == 0 && e->last_ns == 0)
		admit_drop_if_forgettable(a, e, 1);
	pthread_mutex_unlock(&a->mu);
}

size_t
hearth_admit_size(hearth_admit *a)
{
	pthread_mutex_lock(&a->mu);
	size_t n = a->n;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/*
 * err: hearth's error convention.
 *
 * Every fallible function returns int: 0 on success, a negative HEARTH_E*
 * code on failure (a function that produces a count may return it, >= 0).
 * Where a person must read the reason (config, validation, limits, parse
 * errors that end up in a 4xx body) the caller also passes a hearth_err,
 * which the callee fills with the code and a message the user can act on.
 * Foreign conventions (RocksDB errptr, nng's positive codes, MHD_YES/NO)
 * are converted in their wrapper and never escape it.
 *
 * hearth_err is a plain value type owned by the caller (usually on the
 * stack); it holds no pointers.
 */
#ifndef HEARTH_ERR_H
#define HEARTH_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum {
	HEARTH_OK	= 0,
	HEARTH_ENOMEM	= -1,  /* allocation failed or arena cap reached */
	HEARTH_EINVAL	= -2,  /* malformed input: a 4xx for the client */
	HEARTH_ELIMIT	= -3,  /* a configured limit was exceeded */
	HEARTH_EIO	= -4,  /* disk or socket I/O failed */
	HEARTH_ECORRUPT = -5,  /* stored data failed a consistency check */
	HEARTH_ETIMEDOUT = -6, /* a deadline passed */
	HEARTH_EUNAVAIL = -7,  /* a peer or the service is not available */
	HEARTH_ENOTFOUND = -8, /* the named thing does not exist */
	HEARTH_ETOOLARGE = -9, /* a body or message is over its size limit */
	HEARTH_EBUSY	= -10, /* back-pressure: try again later (429) */
	HEARTH_EINTERNAL = -11, /* a bug or an unexpected library failure */
	/* Credentials (common/auth.h). They are answered at the HTTP edge
	 * and never cross the internal RPC, whose status field carries only
	 * the codes above. */
	HEARTH_EUNAUTH = -12, /* missing or wrong credentials (401) */
	HEARTH_EDENIED = -13  /* credentials valid but not allowed (403) */
};

#define HEARTH_ERR_MSG_MAX 512

typedef struct hearth_err {
	int  code;			  /* one of HEARTH_E*, 0 when clear */
	char msg[HEARTH_ERR_MSG_MAX]; /* NUL-terminated, user-readable */
} hearth_err;

/* Short constant name of a code, e.g. "HEARTH_EINVAL: invalid argument". */
const char *hearth_strerror(int code);

/* Clear err (code 0, empty message). err may be NULL. */
void hearth_err_clear(hearth_err *err);

/* Fill err with code and a printf-style message; returns code so callers can
 * write `return hearth_err_set(err, HEARTH_EINVAL, "...")`. err may be NULL. */
int hearth_err_set(hearth_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with "prefix: " (for context while unwinding).
 * Returns err->code. */
int hearth_err_prefix(hearth_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Programming-error checks that stay in release builds: abort with file,
 * line and condition. Never used for input, disk, network or OOM. */
#define HEARTH_ASSERT(cond)                                                   \
	((cond) ? (void) 0 : hearth_assert_fail(#cond, __FILE__, __LINE__))
void hearth_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));

#endif

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
hearth_strerror(int code)
{
	switch (code) {
	case HEARTH_OK: return "ok";
	case HEARTH_ENOMEM: return "out of memory";
	case HEARTH_EINVAL: return "invalid argument";
	case HEARTH_ELIMIT: return "limit exceeded";
	case HEARTH_EIO: return "i/o error";
	case HEARTH_ECORRUPT: return "corrupt data";
	case HEARTH_ETIMEDOUT: return "deadline exceeded";
	case HEARTH_EUNAVAIL: return "unavailable";
	case HEARTH_ENOTFOUND: return "not found";
	case HEARTH_ETOOLARGE: return "too large";
	case HEARTH_EBUSY: return "resource exhausted";
	case HEARTH_EINTERNAL: return "internal error";
	case HEARTH_EUNAUTH: return "unauthenticated";
	case HEARTH_EDENIED: return "permission denied";
	default: return "unknown error";
	}
}

void
hearth_err_clear(hearth_err *err)
{
	if (err == NULL)
		return;
	err->code   = 0;
	err->msg[0] = '\0';
}

int
hearth_err_set(hearth_err *err, int code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

int
hearth_err_prefix(hearth_err *err, const char *fmt, ...)
{
	if (err == NULL)
		return HEARTH_EINTERNAL;
	char	prefix[HEARTH_ERR_MSG_MAX];
	char	old[HEARTH_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: the prefix matters most, the tail least. */
	size_t n = strlen(prefix);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, prefix, n);
	err->msg[n]	= ':';
	err->msg[n + 1] = ' ';
	size_t rest	= sizeof(err->msg) - n - 3;
	size_t ol	= strnlen(old, sizeof(old) - 1);
	if (ol > rest)
		ol = rest;
	memcpy(err->msg + n + 2, old, ol);
	err->msg[n + 2 + ol] = '\0';
	return err->code;
}

void
hearth_assert_fail(const char *cond, const char *file, int line)
{
	fprintf(stderr, "hearth: assertion failed: %s (%s:%d)\n", cond, file,
	    line);
	abort();
}

/*
 * log: logfmt lines on stderr.
 *
 *   ts=2026-11-26T12:00:00.123Z level=warn component=distributor \
 *       msg="ingester push failed" addr=127.0.0.1:9095 err="timeout"
 *
 * A hearth_log is a small value owned by whoever logs (a role's server
 * struct); it fixes the component and the minimum level. `msg` is a
 * constant so grep finds the call site; variable data goes in the
 * key=value part, which the caller formats (quote values that may hold
 * spaces with hearth_log_quote). One fprintf per line keeps lines whole
 * across threads (stdio locks the stream).
 */
#ifndef HEARTH_LOG_H
#define HEARTH_LOG_H

#include <stddef.h>

enum {
	HEARTH_LOG_DEBUG = 0,
	HEARTH_LOG_INFO	 = 1,
	HEARTH_LOG_WARN	 = 2,
	HEARTH_LOG_ERROR = 3
};

typedef struct hearth_log {
	const char *component; /* borrowed, usually a string literal */
	int	    level;     /* lines below this level are dropped */
} hearth_log;

void hearth_log_init(hearth_log *l, const char *component, int level);
/* Parse "debug|info|warn|error"; returns -1 when unknown. */
int hearth_log_level_parse(const char *s);
int hearth_log_enabled(const hearth_log *l, int level);

/* Write one line. kvfmt may be NULL; otherwise it is printf-formatted and
 * appended after msg (it should produce `key=value ...`). */
void hearth_log_write(const hearth_log *l, int level, const char *msg,
    const char *kvfmt, ...) __attribute__((format(printf, 4, 5)));

/* Copy s into out as a logfmt-quoted value ("..." with \" and \\ escaped,
 * control characters dropped), truncated to fit outsz. Returns out. */
const char *hearth_log_quote(char *out, size_t outsz, const char *s);

#define HEARTH_LOG_DEBUGF(l, msg, ...)                                        \
	do {                                                                  \
		if (hearth_log_enabled((l), HEARTH_LOG_DEBUG))                \
			hearth_log_write((l), HEARTH_LOG_DEBUG, msg,          \
			    __VA_ARGS__);                                     \
	} while (0)

#endif

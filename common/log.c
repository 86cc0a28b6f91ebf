#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const log_level_names[] = { "debug", "info", "warn",
	"error" };

void
hearth_log_init(hearth_log *l, const char *component, int level)
{
	l->component = component;
	l->level     = level;
}

int
hearth_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, log_level_names[i]) == 0)
			return i;
	return -1;
}

int
hearth_log_enabled(const hearth_log *l, int level)
{
	return level >= l->level;
}

void
hearth_log_write(const hearth_log *l, int level, const char *msg,
    const char *kvfmt, ...)
{
	if (!hearth_log_enabled(l, level))
		return;
	if (level < 0 || level > 3)
		level = HEARTH_LOG_ERROR;
	struct timespec ts;
	struct tm	tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char kv[2048];
	kv[0] = '\0';
	if (kvfmt != NULL) {
		va_list ap;
		va_start(ap, kvfmt);
		kv[0] = ' ';
		vsnprintf(kv + 1, sizeof(kv) - 1, kvfmt, ap);
		va_end(ap);
	}
	fprintf(stderr,
	    "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s "
	    "msg=\"%s\"%s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_level_names[level],
	    l->component ? l->component : "hearth", msg, kv);
}

const char *
hearth_log_quote(char *out, size_t outsz, const char *s)
{
	size_t o = 0;
	if (outsz < 3) {
		if (outsz > 0)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (; s != NULL && *s != '\0' && o + 3 < outsz; s++) {
		unsigned char c = (unsigned char) *s;
		if (c < 0x20)
			continue;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char) c;
	}
	out[o++] = '"';
	out[o]	 = '\0';
	return out;
}

#include "buildinfo.h"

#include "err.h"

#include <string.h>

#ifndef HEARTH_VERSION
#error "HEARTH_VERSION comes from CMake's project(VERSION)"
#endif

/* buildinfo_gen.c, written at build time (cmake/buildinfo.cmake). */
extern const char hearth_buildinfo_revision[];
extern const char hearth_buildinfo_branch[];
extern const char hearth_buildinfo_date[];

#define BUILDINFO_STR_(x) #x
#define BUILDINFO_STR(x)  BUILDINFO_STR_(x)
#if defined(__clang__)
#define BUILDINFO_COMPILER                                                  \
	"clang " BUILDINFO_STR(__clang_major__) "." BUILDINFO_STR(          \
	    __clang_minor__) "." BUILDINFO_STR(__clang_patchlevel__)
#elif defined(__GNUC__)
#define BUILDINFO_COMPILER                                                  \
	"gcc " BUILDINFO_STR(__GNUC__) "." BUILDINFO_STR(                   \
	    __GNUC_MINOR__) "." BUILDINFO_STR(__GNUC_PATCHLEVEL__)
#else
#define BUILDINFO_COMPILER "unknown"
#endif

static const hearth_buildinfo buildinfo = {
	.version  = HEARTH_VERSION,
	.revision = hearth_buildinfo_revision,
	.branch	  = hearth_buildinfo_branch,
	.date	  = hearth_buildinfo_date,
	.compiler = BUILDINFO_COMPILER,
};

const hearth_buildinfo *
hearth_buildinfo_get(void)
{
	return &buildinfo;
}

int
hearth_buildinfo_line(
    hearth_buf *out, const char *program, const hearth_buildinfo *b)
{
	if (b == NULL)
		b = &buildinfo;
	hearth_buf_printf(out, "%s %s (revision %s, branch %s, %s, %s)",
	    program, b->version, b->revision, b->branch, b->date, b->compiler);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

int
hearth_buildinfo_json(hearth_buf *out)
{
	const struct {
		const char *key, *value;
		size_t	    len;
	} fields[] = {
		{ "version", buildinfo.version, strlen(buildinfo.version) },
		{ "revision", buildinfo.revision, strlen(buildinfo.revision) },
		{ "branch", buildinfo.branch, strlen(buildinfo.branch) },
		{ "buildUser", "", 0 },
		{ "buildDate", buildinfo.date, strlen(buildinfo.date) },
		{ "goVersion", buildinfo.compiler, strlen(buildinfo.compiler) },
	};
	hearth_buf_puts(out, "{\"status\":\"success\",\"data\":{");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		hearth_buf_printf(out, "%s\"%s\":", i > 0 ? "," : "",
		    fields[i].key);
		hearth_buf_put_json_str(out, fields[i].value, fields[i].len);
	}
	hearth_buf_puts(out, "}}");
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

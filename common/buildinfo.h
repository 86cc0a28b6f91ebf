/*
 * buildinfo: what this binary is. The release number comes from CMake's
 * project(VERSION); the source revision, branch and commit date are read
 * from git at build time (cmake/buildinfo.cmake writes them into the
 * generated buildinfo_gen.c); the compiler from its own macros.
 *
 * Shown by `hearth -version`, in the "hearth started" log line, as the
 * hearth_build_info metric (value 1, the fields as labels, Prometheus'
 * convention) and by GET /api/v1/status/buildinfo (Pyroscope's and
 * Prometheus' JSON shape).
 *
 * Memory: every string is static and lives as long as the program. The
 * revision, branch and date are "unknown" when the source was built
 * without git (a tarball); the revision ends in "-dirty" when tracked
 * files differed from that commit.
 */
#ifndef HEARTH_BUILDINFO_H
#define HEARTH_BUILDINFO_H

#include "buf.h"

typedef struct hearth_buildinfo {
	const char *version;  /* "0.1.0" */
	const char *revision; /* "0e18c4f2a1b3", "…-dirty" or "unknown" */
	const char *branch;   /* "main" or "unknown" */
	const char *date;     /* the commit's date, ISO 8601, or "unknown" */
	const char *compiler; /* "gcc 12.2.0", "clang 14.0.6" */
} hearth_buildinfo;

/* This binary's build information (static, never NULL). */
const hearth_buildinfo *hearth_buildinfo_get(void);

/* Append b (NULL: this binary's) as one line without a newline, after
 * program: "hearth 0.1.0 (revision 0e18c4f2a1b3, branch main,
 * 2026-11-27T…, gcc 12.2.0)" is what `hearth -version` prints with
 * program "hearth"; hearth-cli names itself, and a server's build read
 * from /api/v1/status/buildinfo, the same way. 0 or HEARTH_ENOMEM. */
int hearth_buildinfo_line(
    hearth_buf *out, const char *program, const hearth_buildinfo *b);

/* Append the GET /api/v1/status/buildinfo body:
 * {"status":"success","data":{"version":…,"revision":…,"branch":…,
 * "buildUser":"","buildDate":…,"goVersion":…}}. goVersion, the key
 * clients know, carries the C compiler; buildUser is empty (a build
 * does not record who ran it). 0 or HEARTH_ENOMEM. */
int hearth_buildinfo_json(hearth_buf *out);

#endif

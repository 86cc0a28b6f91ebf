/*
 * tenant: validation is a byte loop over a 150-byte maximum; splitting
 * copies each part into the arena so the caller's header buffer may go
 * away (MHD's header storage dies with the connection).
 */
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
tenant_char_ok(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!-_.*'()", c) != NULL;
}

int
hearth_tenant_validate(const char *id, size_t len, hearth_err *err)
{
	if (len == 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "tenant ID is empty");
	if (len > HEARTH_TENANT_MAX)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "tenant ID is %zu bytes, limit %d", len,
		    HEARTH_TENANT_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) id[i];
		if (tenant_char_ok(c))
			continue;
		/* Printable characters as 'c', the rest as 0xNN so that the
		 * message stays readable. */
		char shown[8];
		if (c >= 0x21 && c < 0x7f && c != '"' && c != '\\')
			snprintf(shown, sizeof(shown), "'%c'", c);
		else
			snprintf(shown, sizeof(shown), "0x%02x", c);
		return hearth_err_set(err, HEARTH_EINVAL,
		    "tenant ID \"%.*s\" has unsupported character %s at "
		    "offset %zu (allowed: A-Z a-z 0-9 ! - _ . * ' ( ))",
		    (int) len, id, shown, i);
	}
	/* "." and ".." would be path segments if an ID ever names a file. */
	if ((len == 1 && id[0] == '.')
	    || (len == 2 && id[0] == '.' && id[1] == '.'))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "tenant ID \"%.*s\" is not allowed", (int) len, id);
	return 0;
}

static int
tenant_missing(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ENOTFOUND,
	    "missing X-Scope-OrgID header: multi-tenancy is enabled, so "
	    "every request must name its tenant");
}

int
hearth_tenant_resolve(const char *header, int multitenancy_enabled, char *out,
    size_t outsz, hearth_err *err)
{
	HEARTH_ASSERT(out != NULL && outsz > HEARTH_TENANT_MAX);
	if (!multitenancy_enabled) {
		memcpy(out, HEARTH_TENANT_ANONYMOUS,
		    sizeof(HEARTH_TENANT_ANONYMOUS));
		return 0;
	}
	if (header == NULL || header[0] == '\0')
		return tenant_missing(err);
	size_t len = strlen(header);
	if (memchr(header, '|', len) != NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "X-Scope-OrgID: \"%.*s\" names several tenants; only "
		    "queries may span tenants, writes need exactly one",
		    len > 200 ? 200 : (int) len, header);
	int rc = hearth_tenant_validate(header, len, err);
	if (rc != 0) {
		hearth_err_prefix(err, "X-Scope-OrgID");
		return rc;
	}
	memcpy(out, header, len + 1);
	return 0;
}

static int
tenant_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *) x, *(const char *const *) y);
}

static int
tenant_nomem(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached while reading X-Scope-OrgID");
}

int
hearth_tenant_split(hearth_arena *a, const char *header,
    int multitenancy_enabled, const char ***ids, size_t *n, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && ids != NULL && n != NULL);
	*ids = NULL;
	*n   = 0;
	if (!multitenancy_enabled)
		header = HEARTH_TENANT_ANONYMOUS;
	else if (header == NULL || header[0] == '\0')
		return tenant_missing(err);
	size_t parts = 1;
	for (const char *c = header; *c != '\0'; c++)
		parts += *c == '|';
	const char **v = hearth_arena_calloc(a, parts, sizeof(*v));
	if (v == NULL)
		return tenant_nomem(err);
	const char *p = header;
	for (size_t i = 0; i < parts; i++) {
		const char *bar = strchr(p, '|');
		size_t      len = bar != NULL ? (size_t) (bar - p) : strlen(p);
		int         rc  = hearth_tenant_validate(p, len, err);
		if (rc != 0) {
			hearth_err_prefix(err,
			    "X-Scope-OrgID: tenant %zu of "
			    "%zu",
			    i + 1, parts);
			return rc;
		}
		if ((v[i] = hearth_arena_strndup(a, p, len)) == NULL)
			return tenant_nomem(err);
		p += len + 1;
	}
	qsort(v, parts, sizeof(*v), tenant_cmp);
	size_t m = 0;
	for (size_t i = 0; i < parts; i++)
		if (m == 0 || strcmp(v[m - 1], v[i]) != 0)
			v[m++] = v[i];
	*ids = v;
	*n   = m;
	return 0;
}

/*
 * tenant: the X-Scope-OrgID header (model.md §7, DESIGN §8).
 *
 * A tenant ID is 1..HEARTH_TENANT_MAX bytes of [A-Za-z0-9] and
 * ! - _ . * ' ( ), and is neither "." nor ".." (IDs become parts of keys
 * and paths). With multi-tenancy off every request is tenant "anonymous"
 * and the header is ignored, even when present. With it on, write paths
 * need exactly one ID; read paths accept several joined by '|' (a
 * cross-tenant query), normalized to sorted and de-duplicated.
 *
 * Pure functions, thread-safe; memory is the caller's buffer or arena.
 */
#ifndef HEARTH_TENANT_H
#define HEARTH_TENANT_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

#define HEARTH_TENANT_MAX 150
#define HEARTH_TENANT_ANONYMOUS "anonymous"

/* 0 when id[0..len) is a valid tenant ID, else HEARTH_EINVAL with a
 * message naming the problem, e.g. "tenant ID \"a b\" has unsupported
 * character 0x20 at offset 1 (allowed: A-Z a-z 0-9 ! - _ . * ' ( ))". */
int hearth_tenant_validate(const char *id, size_t len, hearth_err *err);

/* The tenant of a write request. header is the X-Scope-OrgID value (NULL
 * when absent). out must hold at least HEARTH_TENANT_MAX + 1 bytes (an
 * assertion: a smaller buffer is a bug). Multi-tenancy off: "anonymous".
 * On: HEARTH_ENOTFOUND when the header is missing or empty (the caller
 * answers 401 unauthenticated), HEARTH_EINVAL when it is not one valid ID
 * (400); messages start with "X-Scope-OrgID: " or name the header. */
int hearth_tenant_resolve(const char *header, int multitenancy_enabled,
    char *out, size_t outsz, hearth_err *err);

/* The tenants of a read request: header split at '|', each part
 * validated, sorted by byte order and de-duplicated into an arena array of
 * arena strings. Multi-tenancy off: { "anonymous" }. Errors as
 * hearth_tenant_resolve (an empty part such as "a||b" is HEARTH_EINVAL);
 * HEARTH_ELIMIT when the arena cap is reached. */
int hearth_tenant_split(hearth_arena *a, const char *header,
    int multitenancy_enabled, const char ***ids, size_t *n, hearth_err *err);

#endif

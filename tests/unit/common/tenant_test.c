#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tenant.h"

static void
test_tenant_validate_accepts_allowed_set(void **state)
{
	(void) state;
	hearth_err  err;
	const char *ok[] = { "acme", "A-Z_09", "team.prod", "x!*'()", "...",
		".a", "a.", "-", "0" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(
		    hearth_tenant_validate(ok[i], strlen(ok[i]), &err), 0);
	char max[HEARTH_TENANT_MAX];
	memset(max, 'a', sizeof(max));
	assert_int_equal(hearth_tenant_validate(max, sizeof(max), &err), 0);
}

static void
test_tenant_validate_errors(void **state)
{
	(void) state;
	hearth_err err;
	assert_int_equal(hearth_tenant_validate("", 0, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "tenant ID is empty");

	char long_id[HEARTH_TENANT_MAX + 1];
	memset(long_id, 'a', sizeof(long_id));
	assert_int_equal(
	    hearth_tenant_validate(long_id, sizeof(long_id), &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "tenant ID is 151 bytes, limit 150");

	assert_int_equal(
	    hearth_tenant_validate("a b", 3, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "tenant ID \"a b\" has unsupported character 0x20 at offset 1 "
	    "(allowed: A-Z a-z 0-9 ! - _ . * ' ( ))");
	assert_int_equal(
	    hearth_tenant_validate("ab/c", 4, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "tenant ID \"ab/c\" has unsupported character '/' at offset 2 "
	    "(allowed: A-Z a-z 0-9 ! - _ . * ' ( ))");
	assert_int_equal(
	    hearth_tenant_validate("a|b", 3, &err), HEARTH_EINVAL);
	assert_int_equal(
	    hearth_tenant_validate("caf\xc3\xa9", 5, &err), HEARTH_EINVAL);
	assert_int_equal(
	    hearth_tenant_validate("a\0b", 3, &err), HEARTH_EINVAL);
	assert_int_equal(hearth_tenant_validate(".", 1, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "tenant ID \".\" is not allowed");
	assert_int_equal(hearth_tenant_validate("..", 2, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "tenant ID \"..\" is not allowed");
}

static void
test_tenant_resolve_off_is_anonymous(void **state)
{
	(void) state;
	hearth_err err;
	char       out[HEARTH_TENANT_MAX + 1];
	assert_int_equal(
	    hearth_tenant_resolve(NULL, 0, out, sizeof(out), &err), 0);
	assert_string_equal(out, "anonymous");
	/* The header is ignored when multi-tenancy is off, even if invalid. */
	assert_int_equal(
	    hearth_tenant_resolve("bad id|x", 0, out, sizeof(out), &err), 0);
	assert_string_equal(out, "anonymous");
}

static void
test_tenant_resolve_on(void **state)
{
	(void) state;
	hearth_err err;
	char       out[HEARTH_TENANT_MAX + 1];
	assert_int_equal(
	    hearth_tenant_resolve("acme", 1, out, sizeof(out), &err), 0);
	assert_string_equal(out, "acme");

	assert_int_equal(
	    hearth_tenant_resolve(NULL, 1, out, sizeof(out), &err),
	    HEARTH_ENOTFOUND);
	assert_string_equal(err.msg,
	    "missing X-Scope-OrgID header: multi-tenancy is enabled, so every "
	    "request must name its tenant");
	assert_int_equal(hearth_tenant_resolve("", 1, out, sizeof(out), &err),
	    HEARTH_ENOTFOUND);

	assert_int_equal(
	    hearth_tenant_resolve("a b", 1, out, sizeof(out), &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "X-Scope-OrgID: tenant ID \"a b\" has unsupported character 0x20 "
	    "at offset 1 (allowed: A-Z a-z 0-9 ! - _ . * ' ( ))");

	assert_int_equal(
	    hearth_tenant_resolve("a|b", 1, out, sizeof(out), &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "X-Scope-OrgID: \"a|b\" names several tenants; only queries may "
	    "span tenants, writes need exactly one");
}

static void
test_tenant_split_sorted_deduplicated(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	const char  **ids;
	size_t        n;
	assert_int_equal(
	    hearth_tenant_split(a, "zeta|acme|beta|acme", 1, &ids, &n, &err),
	    0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "acme");
	assert_string_equal(ids[1], "beta");
	assert_string_equal(ids[2], "zeta");

	assert_int_equal(hearth_tenant_split(a, "solo", 1, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "solo");

	assert_int_equal(
	    hearth_tenant_split(a, "ignored|x", 0, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "anonymous");
	hearth_arena_free(a);
}

static void
test_tenant_split_errors(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	const char  **ids = (const char **) 1;
	size_t        n   = 7;
	assert_int_equal(
	    hearth_tenant_split(a, NULL, 1, &ids, &n, &err), HEARTH_ENOTFOUND);
	assert_null(ids);
	assert_int_equal(n, 0);
	assert_int_equal(
	    hearth_tenant_split(a, "a||b", 1, &ids, &n, &err), HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "X-Scope-OrgID: tenant 2 of 3: tenant ID is empty");
	assert_int_equal(
	    hearth_tenant_split(a, "a|", 1, &ids, &n, &err), HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "X-Scope-OrgID: tenant 2 of 2: tenant ID is empty");
	assert_int_equal(
	    hearth_tenant_split(a, "a|..", 1, &ids, &n, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "X-Scope-OrgID: tenant 2 of 2: tenant ID \"..\" is not allowed");
	hearth_arena_free(a);

	a = hearth_arena_new(32);
	assert_int_equal(
	    hearth_tenant_split(a, "a|b|c|d|e|f|g|h|i", 1, &ids, &n, &err),
	    HEARTH_ELIMIT);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_validate_accepts_allowed_set),
		cmocka_unit_test(test_tenant_validate_errors),
		cmocka_unit_test(test_tenant_resolve_off_is_anonymous),
		cmocka_unit_test(test_tenant_resolve_on),
		cmocka_unit_test(test_tenant_split_sorted_deduplicated),
		cmocka_unit_test(test_tenant_split_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

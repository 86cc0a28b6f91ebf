#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Hashes made with Python's crypt and hashlib (not with hearth's code):
 *   crypt("s3cret", "$6$rounds=1000$saltsalt$"), the yescrypt one with
 *   "$y$j9T$saltsaltsaltsalt$"; sha256("tok-a"), sha256("tok-b"),
 *   sha256("tok-ab"). base64("alice:s3cret") = YWxpY2U6czNjcmV0. */
#define H_ALICE                                                               \
	"$6$rounds=1000$saltsalt$zcCvYcDM8j0aB28drG.Vwe4L4mnOkoRyg3Q."        \
	"Bu7J9v6yK9"                                                          \
	"aKDDPiDDlrOhF03cpnd3KFfSzTDNEBa0iVYm2H90"
#define H_BOB                                                                 \
	"$y$j9T$saltsaltsaltsalt$gIvwkwu59HUpqBIOkVbDR/t2/jSuuzFfOz0l6nwgRw2"
#define S_A "4f66a4283f8bc9768c3cb97fd06d267b79315aee941c9c1727b9354509242ffe"
#define S_B "efa1cd32d437a4dd30463a379503cadfb2b13481660f6345110f3bde01f2e773"
#define S_AB "baae8ea8dcf0c71f1e0c4989fde0eb05ff826cd90e86b637103c874497f066df"

static const char *const tokens_yaml
    = "tokens:\n"
      "  - name: writer-a\n"
      "    sha256: " S_A "\n"
      "    write: [team-a]\n"
      "    read: [team-a]\n"
      "  - name: reader-b\n"
      "    sha256: " S_B "\n"
      "    read: [team-b]\n"
      "  - name: wide\n"
      "    sha256: " S_AB "\n"
      "    write: [team-a, team-b]\n"
      "    read: [team-b, team-a, anonymous]\n"
      "users:\n"
      "  - name: alice\n"
      "    password_hash: \"" H_ALICE "\"\n"
      "    read: [team-a]\n"
      "  - name: bob\n"
      "    password_hash: '" H_BOB "'\n"
      "    write: [team-b]\n";

typedef struct fixture {
	char          path[64];
	hearth_auth  *a;
	hearth_arena *arena;
} fixture;

static int
setup(void **state)
{
	fixture   *f = calloc(1, sizeof(*f));
	hearth_err err;
	snprintf(f->path, sizeof(f->path), "/tmp/hearth-auth-test-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tokens_yaml, strlen(tokens_yaml)),
	    (ssize_t) strlen(tokens_yaml));
	close(fd);
	assert_int_equal(
	    hearth_auth_new(f->path, 1000, NULL, NULL, &f->a, &err), 0);
	f->arena = hearth_arena_new(0);
	*state   = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_auth_free(f->a);
	hearth_arena_free(f->arena);
	unlink(f->path);
	free(f);
	return 0;
}

/* Tenants of one request as "a|b", or the error code and message. */
static int
check(fixture *f, int mt, int access, const char *authz, const char *org,
    char *out, size_t outsz, hearth_err *err)
{
	const char **ids;
	size_t       n;
	hearth_err_clear(err);
	int rc = hearth_auth_tenants(
	    f->a, mt, access, authz, org, f->arena, &ids, &n, err);
	out[0] = '\0';
	for (size_t i = 0; rc == 0 && i < n; i++)
		snprintf(out + strlen(out), outsz - strlen(out), "%s%s",
		    i ? "|" : "", ids[i]);
	return rc;
}

static void
test_auth_bearer_token_decides_the_tenant(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-a", NULL,
	                     t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-a");
	/* scheme is case-insensitive, spaces around are fine */
	assert_int_equal(check(f, 1, HEARTH_AUTH_READ, "  bearer   tok-a  ",
	                     "team-a", t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-a");
}

static void
test_auth_missing_wrong_and_malformed_are_401(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	assert_int_equal(
	    check(f, 1, HEARTH_AUTH_WRITE, NULL, "team-a", t, sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_string_equal(err.msg,
	    "missing credentials: send Authorization: Bearer <token> or Basic "
	    "credentials from the tokens file");
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-x",
	                     "team-a", t, sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_non_null(strstr(err.msg, "invalid or revoked token"));
	assert_null(strstr(err.msg, "tok-x")); /* never echo the secret */
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer", "team-a", t,
	                     sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Digest x=1", "team-a",
	                     t, sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_non_null(strstr(err.msg, "unsupported Authorization scheme"));
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Basic !!!", "team-a",
	                     t, sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_non_null(strstr(err.msg, "malformed Basic credentials"));
}

static void
test_auth_conflicting_org_id_is_403(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-a",
	                     "team-b", t, sizeof(t), &err),
	    HEARTH_EDENIED);
	assert_string_equal(
	    err.msg, "token \"writer-a\" may not write tenant \"team-b\"");
	/* read-only token writing */
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-b", NULL,
	                     t, sizeof(t), &err),
	    HEARTH_EDENIED);
	assert_string_equal(
	    err.msg, "token \"reader-b\" may not write any tenant");
	/* a cross-tenant read needs every tenant */
	assert_int_equal(check(f, 1, HEARTH_AUTH_READ, "Bearer tok-a",
	                     "team-a|team-b", t, sizeof(t), &err),
	    HEARTH_EDENIED);
	assert_int_equal(check(f, 1, HEARTH_AUTH_READ, "Bearer tok-ab",
	                     "team-b|team-a", t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-a|team-b");
}

static void
test_auth_several_tenants_must_be_named(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-ab", NULL,
	                     t, sizeof(t), &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "token \"wide\" may write 2 tenants: name the one to write in "
	    "X-Scope-OrgID");
	/* writes still take exactly one */
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-ab",
	                     "team-a|team-b", t, sizeof(t), &err),
	    HEARTH_EINVAL);
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-ab",
	                     "team-b", t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-b");
}

static void
test_auth_basic_users_and_token_as_password(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	/* alice:s3cret, twice: the second check is served by the cache */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    check(f, 1, HEARTH_AUTH_READ, "Basic YWxpY2U6czNjcmV0",
		        NULL, t, sizeof(t), &err),
		    0);
		assert_string_equal(t, "team-a");
	}
	/* alice:wrong (YWxpY2U6d3Jvbmc=), also twice (negative cache) */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    check(f, 1, HEARTH_AUTH_READ,
		        "Basic YWxpY2U6d3Jvbmc=", NULL, t, sizeof(t), &err),
		    HEARTH_EUNAUTH);
		assert_non_null(
		    strstr(err.msg, "invalid user name or password"));
	}
	/* bob:s3cret with yescrypt (Ym9iOnMzY3JldA==) */
	assert_int_equal(
	    check(f, 1, HEARTH_AUTH_WRITE, "Basic Ym9iOnMzY3JldA==", NULL, t,
	        sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-b");
	/* team-a:tok-a (dGVhbS1hOnRvay1h): not a user, password is a token */
	assert_int_equal(
	    check(f, 1, HEARTH_AUTH_WRITE, "Basic dGVhbS1hOnRvay1h", NULL, t,
	        sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-a");
}

static void
test_auth_multitenancy_off_uses_anonymous(void **state)
{
	fixture   *f = *state;
	char       t[256];
	hearth_err err;
	assert_int_equal(check(f, 0, HEARTH_AUTH_READ, "Bearer tok-ab",
	                     "team-a", t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "anonymous");
	assert_int_equal(check(f, 0, HEARTH_AUTH_READ, "Bearer tok-a", NULL, t,
	                     sizeof(t), &err),
	    HEARTH_EDENIED);
	assert_string_equal(
	    err.msg, "token \"writer-a\" may not read tenant \"anonymous\"");
}

static void
test_auth_reload_revokes(void **state)
{
	fixture    *f = *state;
	char        t[256];
	hearth_err  err;
	const char *y = "tokens:\n  - name: b\n    sha256: " S_B
	                "\n    write: [team-b]\n";
	assert_int_equal(hearth_auth_load(f->a, y, strlen(y), "t", &err), 0);
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-a", NULL,
	                     t, sizeof(t), &err),
	    HEARTH_EUNAUTH);
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-b", NULL,
	                     t, sizeof(t), &err),
	    0);
	assert_string_equal(t, "team-b");
	/* an invalid document changes nothing */
	const char *bad = "tokens:\n  - name: b\n    sha256: nothex\n";
	assert_int_equal(hearth_auth_load(f->a, bad, strlen(bad), "t", &err),
	    HEARTH_EINVAL);
	assert_int_equal(check(f, 1, HEARTH_AUTH_WRITE, "Bearer tok-b", NULL,
	                     t, sizeof(t), &err),
	    0);
}

static void
test_auth_file_errors_name_line_not_secret(void **state)
{
	fixture   *f = *state;
	hearth_err err;
	struct {
		const char *yaml;
		const char *msg;
	} cases[] = {
		{ "tokens:\n  - name: x\n    sha256: abc\n",
		    "t: line 3: token \"x\": sha256 must be 64 hex digits, "
		    "the "
		    "SHA-256 of the token (printf %s \"$TOKEN\" | "
		    "sha256sum)" },
		{ "users:\n  - name: u\n    password_hash: plain\n",
		    "t: line 3: user \"u\": password_hash is not a crypt(3) "
		    "hash "
		    "hearth accepts (use $y$ yescrypt, $2b$ bcrypt or $6$ "
		    "SHA-512, e.g. the output of openssl passwd -6 or "
		    "mkpasswd)" },
		{ "users:\n  - name: u\n    password_hash: $1$abc$def\n",
		    NULL },
		{ "tokens:\n  - name: x\n    sha256: " S_A
		  "\n    write: [\"a b\"]\n",
		    NULL },
		{ "tokens:\n  - name: x\n    sha256: " S_A "\n  - name: y\n"
		  "    sha256: " S_A "\n",
		    "t: line 4: tokens \"x\" and \"y\" have the same sha256" },
		{ "tokens:\n  - name: x\n    sha256: " S_A
		  "\n    admin: true\n",
		    "t: line 4: token \"x\": unknown key \"admin\" (expected "
		    "name, sha256, read, write)" },
		{ "tokens:\n  - sha256: " S_A "\n",
		    "t: line 2: tokens[0]: name is missing" },
		{ "secrets: []\n",
		    "t: line 1: unknown key \"secrets\" (expected tokens: and "
		    "users:)" },
		{ "tokens: {a: 1}\n",
		    "t: line 1: tokens: expected a list, got a mapping" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_err_clear(&err);
		assert_int_equal(hearth_auth_load(f->a, cases[i].yaml,
		                     strlen(cases[i].yaml), "t", &err),
		    HEARTH_EINVAL);
		if (cases[i].msg != NULL)
			assert_string_equal(err.msg, cases[i].msg);
		assert_null(strstr(err.msg, S_A));
		assert_null(strstr(err.msg, "$1$abc"));
	}
}

static void
test_auth_without_tokens_file_follows_tenant_rules(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	const char  **ids;
	size_t        n;
	hearth_err    err;
	assert_int_equal(hearth_auth_tenants(NULL, 0, HEARTH_AUTH_WRITE, NULL,
	                     "x", a, &ids, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "anonymous");
	assert_int_equal(hearth_auth_tenants(NULL, 1, HEARTH_AUTH_WRITE, NULL,
	                     NULL, a, &ids, &n, &err),
	    HEARTH_EUNAUTH);
	assert_int_equal(hearth_auth_tenants(NULL, 1, HEARTH_AUTH_WRITE, NULL,
	                     "a|b", a, &ids, &n, &err),
	    HEARTH_EINVAL);
	assert_int_equal(hearth_auth_tenants(NULL, 1, HEARTH_AUTH_READ, NULL,
	                     "b|a|b", a, &ids, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "a");
	assert_string_equal(ids[1], "b");
	hearth_arena_free(a);
}

static void
test_auth_fail_sets_challenge_on_401_only(void **state)
{
	fixture         *f = *state;
	hearth_http_resp r;
	hearth_err       err;
	hearth_http_resp_init(&r);
	hearth_err_set(&err, HEARTH_EUNAUTH, "missing credentials");
	hearth_auth_fail(f->a, &r, &err);
	assert_int_equal(r.status, 401);
	assert_int_equal(r.n_headers, 1);
	assert_string_equal(r.header_names[0], "WWW-Authenticate");
	assert_string_equal(r.header_values[0], HEARTH_AUTH_CHALLENGE);
	assert_string_equal(r.body.data,
	    "{\"code\":\"unauthenticated\",\"message\":\"missing "
	    "credentials\"}");
	hearth_http_resp_fini(&r);
	hearth_http_resp_init(&r);
	hearth_err_set(&err, HEARTH_EDENIED, "no");
	hearth_auth_fail(f->a, &r, &err);
	assert_int_equal(r.status, 403);
	assert_int_equal(r.n_headers, 0);
	hearth_http_resp_fini(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_auth_bearer_token_decides_the_tenant, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_missing_wrong_and_malformed_are_401, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_conflicting_org_id_is_403, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_several_tenants_must_be_named, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_basic_users_and_token_as_password, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_multitenancy_off_uses_anonymous, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_reload_revokes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_file_errors_name_line_not_secret, setup,
		    teardown),
		cmocka_unit_test(
		    test_auth_without_tokens_file_follows_tenant_rules),
		cmocka_unit_test_setup_teardown(
		    test_auth_fail_sets_challenge_on_401_only, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

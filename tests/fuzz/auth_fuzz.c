/*
 * auth_fuzz: libFuzzer target for built-in authentication (common/auth.h):
 * the tokens file parser and the request check (Authorization header
 * parsing, base64, the token and password lookups, X-Scope-OrgID rules).
 *
 * Input: line 1 is the Authorization header, line 2 X-Scope-OrgID (absent
 * when the input has fewer lines), the first byte's low bits pick
 * multi-tenancy and read/write, and everything after line 2 is loaded as
 * a tokens file. Properties: a check either succeeds with 1..n valid,
 * sorted, unique tenants (exactly 1 for writes), each one the credential
 * was given, or fails with 401/403/400-class codes and a message; a
 * refused tokens file keeps the known one (the fixed token still works).
 * The fixed file's password hash is cheap ($6$rounds=1000) so that basic
 * auth does not slow the fuzzer down.
 */
#include "auth.h"
#include "tenant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* sha256("tok") and crypt("pw", "$6$rounds=1000$salt$") */
static const char fuzz_tokens[]
    = "tokens:\n"
      "  - name: t\n"
      "    sha256: "
      "1a7674eb4ee78df7e1ac439a93c3fa8e3c945784d4dec9fd8e3011738b2f1d62\n"
      "    write: [a]\n"
      "    read: [a, b, anonymous]\n"
      "users:\n"
      "  - name: u\n"
      "    password_hash: "
      "\"$6$rounds=1000$salt$d7eV9s8slZkQfSpeUNlCmopaL.Tpt4XY61764aIN"
      "p2KRzpE5Z1iZ0R2WyFPpdxHBQpj2PwPDM2H3NdKLRu/Ax/\"\n"
      "    read: [b]\n";

static hearth_auth *fuzz_a;

static hearth_auth *
fuzz_auth(void)
{
	if (fuzz_a != NULL)
		return fuzz_a;
	char       path[] = "/tmp/hearth-auth-fuzz-XXXXXX";
	hearth_err err;
	int        fd = mkstemp(path);
	if (fd < 0 || write(fd, fuzz_tokens, sizeof(fuzz_tokens) - 1) < 0)
		abort();
	close(fd);
	if (hearth_auth_new(path, 1000, NULL, NULL, &fuzz_a, &err) != 0) {
		fprintf(stderr, "auth_fuzz: %s\n", err.msg);
		abort();
	}
	unlink(path);
	return fuzz_a;
}

static char *
fuzz_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t) (end - *p));
	if (nl == NULL)
		return NULL;
	char *s = malloc((size_t) (nl - *p) + 1);
	if (s == NULL)
		abort();
	memcpy(s, *p, (size_t) (nl - *p));
	s[nl - *p] = '\0';
	*p         = nl + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_auth *a = fuzz_auth();
	const char  *p = (const char *) data, *end = p + size;
	int          mt = size > 0 && (data[0] & 1);
	int          acc
	    = size > 0 && (data[0] & 2) ? HEARTH_AUTH_WRITE : HEARTH_AUTH_READ;
	char         *authz = fuzz_line(&p, end);
	char         *org   = authz != NULL ? fuzz_line(&p, end) : NULL;
	hearth_arena *ar    = hearth_arena_new(1 << 20);
	const char  **ids;
	size_t        n;
	hearth_err    err;
	if (ar == NULL)
		abort();
	/* authz may hold NULs: the check sees the part before the first */
	int rc
	    = hearth_auth_tenants(a, mt, acc, authz, org, ar, &ids, &n, &err);
	if (rc == 0) {
		HEARTH_ASSERT(n >= 1 && (acc == HEARTH_AUTH_READ || n == 1));
		for (size_t i = 0; i < n; i++) {
			HEARTH_ASSERT(hearth_tenant_validate(
			                  ids[i], strlen(ids[i]), NULL)
			    == 0);
			HEARTH_ASSERT(
			    i == 0 || strcmp(ids[i - 1], ids[i]) < 0);
			HEARTH_ASSERT(strcmp(ids[i], "a") == 0
			    || strcmp(ids[i], "b") == 0
			    || strcmp(ids[i], "anonymous") == 0);
		}
	} else {
		HEARTH_ASSERT(rc == HEARTH_EUNAUTH || rc == HEARTH_EDENIED
		    || rc == HEARTH_EINVAL || rc == HEARTH_ELIMIT);
		HEARTH_ASSERT(rc == err.code && err.msg[0] != '\0');
	}
	/* The rest as a tokens file: accepted or refused, then the fixed
	 * file again, which must still let "tok" write tenant a. */
	if (org != NULL && p < end) {
		int lr
		    = hearth_auth_load(a, p, (size_t) (end - p), "fuzz", &err);
		HEARTH_ASSERT(
		    lr == 0 || (lr == err.code && err.msg[0] != '\0'));
		HEARTH_ASSERT(hearth_auth_load(a, fuzz_tokens,
		                  sizeof(fuzz_tokens) - 1, "fixed", &err)
		    == 0);
		HEARTH_ASSERT(hearth_auth_tenants(a, 1, HEARTH_AUTH_WRITE,
		                  "Bearer tok", NULL, ar, &ids, &n, &err)
		    == 0);
	}
	free(authz);
	free(org);
	hearth_arena_free(ar);
	return 0;
}

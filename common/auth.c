/*
 * auth: the tokens file is parsed into an immutable table; requests hold a
 * reference to the table they started with, so a reload never frees
 * credentials under a running check. Only crypt(3) and SHA-256 (OpenSSL)
 * touch secrets; nothing here logs or prints them.
 */
#include "auth.h"

#include "filewatch.h"
#include "tenant.h"
#include "config_tree.h"
#include "utf8.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_MAX_CREDENTIAL 4096 /* bytes of a token or user:password */
#define AUTH_MAX_NAME 256

/* A missing value or a YAML null. */
static int
auth_null(const hearth_config_node *n)
{
	return n == NULL || n->kind == HEARTH_CONFIG_NULL;
}

typedef struct auth_cred {
	char    name[AUTH_MAX_NAME + 1];
	int     is_user;
	uint8_t sha256[32]; /* tokens: SHA-256 of the token */
	char   *hash;       /* users: crypt(3) hash */
	char  **tenants[2]; /* [0] read, [1] write; sorted */
	size_t  n_tenants[2];
	/* users: the last password digest that verified and the last one
	 * that did not, guarded by the table's cache_mu */
	uint8_t good[32], bad[32];
	int     has_good, has_bad;
} auth_cred;

typedef struct auth_table {
	auth_cred      *v;
	size_t          n;
	size_t          refs; /* guarded by hearth_auth.mu */
	pthread_mutex_t cache_mu;
} auth_table;

struct hearth_auth {
	hearth_filewatch *watch;
	char              source[4200];
	pthread_mutex_t   mu; /* guards cur and every table's refs */
	auth_table       *cur;
	hearth_metric    *m_attempts;
	hearth_metric    *m_creds;
};

/* ---- table ------------------------------------------------------------ */

static void
auth_table_free(auth_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].hash);
		for (int k = 0; k < 2; k++) {
			for (size_t j = 0; j < t->v[i].n_tenants[k]; j++)
				free(t->v[i].tenants[k][j]);
			free(t->v[i].tenants[k]);
		}
	}
	free(t->v);
	pthread_mutex_destroy(&t->cache_mu);
	free(t);
}

static auth_table *
auth_acquire(hearth_auth *a)
{
	pthread_mutex_lock(&a->mu);
	auth_table *t = a->cur;
	t->refs++;
	pthread_mutex_unlock(&a->mu);
	return t;
}

static void
auth_release(hearth_auth *a, auth_table *t)
{
	pthread_mutex_lock(&a->mu);
	int last = --t->refs == 0 && t != a->cur;
	pthread_mutex_unlock(&a->mu);
	if (last)
		auth_table_free(t);
}

/* ---- the tokens file --------------------------------------------------- */

typedef struct auth_parse {
	const char *source;
	hearth_err *err;
} auth_parse;

static int
auth_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A scalar field of entry `what`; never quotes the value (secrets). */
static int
auth_scalar(auth_parse *p, const hearth_config_node *v, const char *what,
    const char *key)
{
	if (v->kind != HEARTH_CONFIG_SCALAR || v->len == 0)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: %s must be a non-empty value",
		    p->source, v->line, what, key);
	if (strlen(v->str) != v->len)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: %s holds a NUL byte", p->source,
		    v->line, what, key);
	return 0;
}

static int
auth_tenant_list(auth_parse *p, const hearth_config_node *v, const char *what,
    const char *key, auth_cred *c, int k)
{
	if (auth_null(v))
		return 0;
	if (v->kind != HEARTH_CONFIG_LIST)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: %s must be a list of tenant IDs, e.g. "
		    "[team-a]",
		    p->source, v->line, what, key);
	c->tenants[k] = calloc(v->n ? v->n : 1, sizeof(char *));
	if (c->tenants[k] == NULL)
		return hearth_err_set(p->err, HEARTH_ENOMEM, "out of memory");
	for (size_t i = 0; i < v->n; i++) {
		const hearth_config_node *t = &v->items[i];
		if (t->kind != HEARTH_CONFIG_SCALAR)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: %s: %s: each item must be a tenant "
			    "ID",
			    p->source, t->line, what, key);
		int rc = hearth_tenant_validate(t->str, t->len, p->err);
		if (rc != 0)
			return hearth_err_prefix(p->err,
			    "%s: line %lu: %s: %s", p->source, t->line, what,
			    key);
		if ((c->tenants[k][c->n_tenants[k]] = strdup(t->str)) == NULL)
			return hearth_err_set(
			    p->err, HEARTH_ENOMEM, "out of memory");
		c->n_tenants[k]++;
	}
	qsort(c->tenants[k], c->n_tenants[k], sizeof(char *), auth_str_cmp);
	return 0;
}

static int
auth_sha256_field(
    auth_parse *p, const hearth_config_node *v, const char *what, auth_cred *c)
{
	int rc = auth_scalar(p, v, what, "sha256");
	if (rc != 0)
		return rc;
	if (v->len != 64)
		goto bad;
	for (size_t i = 0; i < 32; i++) {
		int hi = hearth_hex_digit(v->str[2 * i]),
		    lo = hearth_hex_digit(v->str[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		c->sha256[i] = (uint8_t) (hi << 4 | lo);
	}
	return 0;
bad:
	return hearth_err_set(p->err, HEARTH_EINVAL,
	    "%s: line %lu: %s: sha256 must be 64 hex digits, the SHA-256 of "
	    "the token (printf %%s \"$TOKEN\" | sha256sum)",
	    p->source, v->line, what);
}

static int
auth_hash_field(
    auth_parse *p, const hearth_config_node *v, const char *what, auth_cred *c)
{
	int rc = auth_scalar(p, v, what, "password_hash");
	if (rc != 0)
		return rc;
	/* crypt_checksalt knows what this libcrypt can verify; DES, MD5 and
	 * (on Debian) $5$ SHA-256 hashes are "legacy" and refused: they are
	 * cheap to crack. */
	int ok
	    = v->str[0] == '$' ? crypt_checksalt(v->str) : CRYPT_SALT_INVALID;
	if (ok != CRYPT_SALT_OK && ok != CRYPT_SALT_TOO_CHEAP)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: password_hash is not a crypt(3) hash "
		    "hearth accepts (use $y$ yescrypt, $2b$ bcrypt or $6$ "
		    "SHA-512, e.g. the output of openssl passwd -6 or "
		    "mkpasswd)",
		    p->source, v->line, what);
	if ((c->hash = strdup(v->str)) == NULL)
		return hearth_err_set(p->err, HEARTH_ENOMEM, "out of memory");
	return 0;
}

/* One list item of tokens: (is_user 0) or users: (1). */
static int
auth_entry(auth_parse *p, const hearth_config_node *e, int is_user, size_t idx,
    auth_cred *c)
{
	const char *list = is_user ? "users" : "tokens";
	char        what[AUTH_MAX_NAME + 64];
	if (e->kind != HEARTH_CONFIG_MAP)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s[%zu]: expected a mapping with name, %s, "
		    "read and write",
		    p->source, e->line, list, idx,
		    is_user ? "password_hash" : "sha256");
	c->is_user                   = is_user;
	const hearth_config_node *nm = hearth_config_tree_get(e, "name");
	if (nm == NULL)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s[%zu]: name is missing", p->source,
		    e->line, list, idx);
	snprintf(what, sizeof(what), "%s[%zu]", list, idx);
	int rc = auth_scalar(p, nm, what, "name");
	if (rc != 0)
		return rc;
	if (nm->len > AUTH_MAX_NAME || (is_user && strchr(nm->str, ':')))
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: name must be at most %d bytes%s",
		    p->source, nm->line, what, AUTH_MAX_NAME,
		    is_user ? " without ':'" : "");
	memcpy(c->name, nm->str, nm->len + 1);
	snprintf(what, sizeof(what), "%s \"%s\"", is_user ? "user" : "token",
	    c->name);
	const char *secret = is_user ? "password_hash" : "sha256";
	int         have   = 0;
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		const char *k = e->keys[i].str;
		if (strcmp(k, "name") == 0)
			continue;
		if (strcmp(k, secret) == 0) {
			have = 1;
			rc   = is_user
			      ? auth_hash_field(p, &e->items[i], what, c)
			      : auth_sha256_field(p, &e->items[i], what, c);
		} else if (strcmp(k, "read") == 0 || strcmp(k, "write") == 0) {
			rc = auth_tenant_list(
			    p, &e->items[i], what, k, c, k[0] == 'w');
		} else {
			rc = hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: %s: unknown key \"%.64s\" "
			    "(expected "
			    "name, %s, read, write)",
			    p->source, e->keys[i].line, what, k, secret);
		}
	}
	if (rc == 0 && !have)
		rc = hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: %s: %s is missing", p->source, e->line,
		    what, secret);
	return rc;
}

static int
auth_unique(
    auth_parse *p, const auth_table *t, const auth_cred *c, unsigned long line)
{
	for (size_t i = 0; i + 1 < t->n; i++) {
		const auth_cred *o = &t->v[i];
		if (o->is_user != c->is_user)
			continue;
		if (strcmp(o->name, c->name) == 0)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: %s \"%s\" is listed twice",
			    p->source, line, c->is_user ? "user" : "token",
			    c->name);
		if (!c->is_user && memcmp(o->sha256, c->sha256, 32) == 0)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: tokens \"%s\" and \"%s\" have the "
			    "same sha256",
			    p->source, line, o->name, c->name);
	}
	return 0;
}

static int
auth_build(auth_parse *p, const hearth_config_node *root, auth_table *t)
{
	if (auth_null(root))
		return 0;
	if (root->kind != HEARTH_CONFIG_MAP)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "%s: line %lu: expected a mapping with tokens: and "
		    "users:, "
		    "got %s",
		    p->source, root->line,
		    hearth_config_tree_kind_name((root)->kind));
	size_t total = 0;
	for (size_t i = 0; i < root->n; i++) {
		const char               *k = root->keys[i].str;
		const hearth_config_node *v = &root->items[i];
		if (strcmp(k, "tokens") != 0 && strcmp(k, "users") != 0)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: unknown key \"%.64s\" (expected "
			    "tokens: and users:)",
			    p->source, root->keys[i].line, k);
		if (auth_null(v))
			continue;
		if (v->kind != HEARTH_CONFIG_LIST)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "%s: line %lu: %s: expected a list, got %s",
			    p->source, v->line, k,
			    hearth_config_tree_kind_name((v)->kind));
		total += v->n;
	}
	t->v = calloc(total ? total : 1, sizeof(*t->v));
	if (t->v == NULL)
		return hearth_err_set(p->err, HEARTH_ENOMEM, "out of memory");
	for (size_t i = 0; i < root->n; i++) {
		const hearth_config_node *v = &root->items[i];
		int is_user = strcmp(root->keys[i].str, "users") == 0;
		for (size_t j = 0; !auth_null(v) && j < v->n; j++) {
			auth_cred *c = &t->v[t->n++];
			int rc = auth_entry(p, &v->items[j], is_user, j, c);
			if (rc == 0)
				rc = auth_unique(p, t, c, v->items[j].line);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int
hearth_auth_load(hearth_auth *a, const char *yaml, size_t len,
    const char *source, hearth_err *err)
{
	const hearth_config_node *root = NULL;
	auth_parse                p    = { source, err };
	auth_table               *t    = calloc(1, sizeof(*t));
	/* The tree costs a few times the file; the cap stops a hostile
	 * file before it costs more than that. */
	hearth_arena *ar = hearth_arena_new(len * 16 + ((size_t) 1 << 20));
	int           rc = 0;
	if (t == NULL || ar == NULL)
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	else
		rc = hearth_config_tree_parse(
		    ar, yaml, len, source, 0, &root, err);
	if (t != NULL)
		pthread_mutex_init(&t->cache_mu, NULL);
	if (rc == 0)
		rc = auth_build(&p, root, t);
	hearth_arena_free(ar);
	if (rc != 0) {
		auth_table_free(t);
		return rc;
	}
	pthread_mutex_lock(&a->mu);
	auth_table *old = a->cur;
	a->cur          = t;
	int drop        = old != NULL && old->refs == 0;
	pthread_mutex_unlock(&a->mu);
	if (drop)
		auth_table_free(old);
	hearth_metric_set(a->m_creds, NULL, (double) t->n);
	return 0;
}

/* ---- credentials ------------------------------------------------------- */

static void
auth_sha256(
    const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
	EVP_MD_CTX  *c  = EVP_MD_CTX_new();
	unsigned int n  = 32;
	int          ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL)
	    && EVP_DigestUpdate(c, a, an)
	    && (bn == 0 || EVP_DigestUpdate(c, b, bn))
	    && EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
	HEARTH_ASSERT(ok && n == 32); /* SHA-256 is always available */
}

static int
auth_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (padding optional) of s[0..n) into out; -1 if invalid. */
static int
auth_b64_decode(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
	uint32_t acc  = 0;
	int      bits = 0;
	size_t   o    = 0;
	while (n > 0 && s[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = auth_b64val((unsigned char) s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (char) (acc >> bits);
		}
	}
	*len = o;
	return 0;
}

/* The token entry whose digest matches; every entry is compared so the
 * time taken does not depend on which one (or whether one) matched. */
static auth_cred *
auth_find_token(auth_table *t, const char *tok, size_t len)
{
	uint8_t    d[32];
	auth_cred *found = NULL;
	auth_sha256(tok, len, NULL, 0, d);
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].is_user
		    && CRYPTO_memcmp(t->v[i].sha256, d, 32) == 0)
			found = &t->v[i];
	return found;
}

static int
auth_password_ok(auth_table *t, auth_cred *c, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	uint8_t d[32];
	int     known = -1;
	char    tmp[AUTH_MAX_CREDENTIAL + 1];
	auth_sha256(user, ulen + 1, pass, plen, d); /* user's NUL separates */
	pthread_mutex_lock(&t->cache_mu);
	if (c->has_good && CRYPTO_memcmp(c->good, d, 32) == 0)
		known = 1;
	else if (c->has_bad && CRYPTO_memcmp(c->bad, d, 32) == 0)
		known = 0;
	pthread_mutex_unlock(&t->cache_mu);
	if (known >= 0)
		return known;
	/* crypt wants a C string; a password with a NUL byte never matches */
	if (memchr(pass, '\0', plen) != NULL)
		return 0;
	memcpy(tmp, pass, plen);
	tmp[plen]              = '\0';
	struct crypt_data *cd  = calloc(1, sizeof(*cd));
	int                ok  = 0;
	const char        *out = cd != NULL
	           ? crypt_rn(tmp, c->hash, cd, (int) sizeof(*cd))
	           : NULL;
	size_t             hl  = strlen(c->hash);
	ok = out != NULL && out[0] != '*' && strlen(out) == hl
	    && CRYPTO_memcmp(out, c->hash, hl) == 0;
	OPENSSL_cleanse(tmp, sizeof(tmp));
	if (cd != NULL)
		OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	pthread_mutex_lock(&t->cache_mu);
	memcpy(ok ? c->good : c->bad, d, 32);
	*(ok ? &c->has_good : &c->has_bad) = 1;
	pthread_mutex_unlock(&t->cache_mu);
	return ok;
}

static int
auth_unauth(hearth_err *err, const char *why)
{
	return hearth_err_set(err, HEARTH_EUNAUTH,
	    "%s: send Authorization: Bearer <token> or Basic credentials "
	    "from the tokens file",
	    why);
}

/* The credential of an Authorization header value. */
static int
auth_identify(auth_table *t, const char *h, auth_cred **out, hearth_err *err)
{
	char   buf[AUTH_MAX_CREDENTIAL + 1];
	size_t len;
	*out = NULL;
	if (h == NULL)
		return auth_unauth(err, "missing credentials");
	h += strspn(h, " \t");
	size_t      sl   = strcspn(h, " \t");
	const char *cred = h + sl + strspn(h + sl, " \t");
	size_t      cl   = strlen(cred);
	while (cl > 0 && (cred[cl - 1] == ' ' || cred[cl - 1] == '\t'))
		cl--;
	if (cl == 0 || cl > AUTH_MAX_CREDENTIAL * 4 / 3 + 4)
		return auth_unauth(err, "malformed Authorization header");
	if (sl == 6 && strncasecmp(h, "Bearer", 6) == 0) {
		if ((*out = auth_find_token(t, cred, cl)) == NULL)
			return auth_unauth(err, "invalid or revoked token");
		return 0;
	}
	if (!(sl == 5 && strncasecmp(h, "Basic", 5) == 0))
		return auth_unauth(err,
		    "unsupported Authorization scheme (use Bearer or Basic)");
	const char *colon;
	if (auth_b64_decode(cred, cl, buf, AUTH_MAX_CREDENTIAL, &len) != 0
	    || (colon = memchr(buf, ':', len)) == NULL)
		return auth_unauth(err,
		    "malformed Basic credentials (want base64 of "
		    "user:password)");
	size_t      ul = (size_t) (colon - buf);
	const char *pw = colon + 1;
	size_t      pl = len - ul - 1;
	for (size_t i = 0; i < t->n; i++) {
		auth_cred *c = &t->v[i];
		if (!c->is_user || strlen(c->name) != ul
		    || memcmp(c->name, buf, ul) != 0)
			continue;
		buf[ul] = '\0';
		int ok  = auth_password_ok(t, c, buf, ul, pw, pl);
		OPENSSL_cleanse(buf, sizeof(buf));
		if (!ok)
			return auth_unauth(
			    err, "invalid user name or password");
		*out = c;
		return 0;
	}
	/* Not a user: the password may be a token (Grafana Cloud style). */
	*out = pl > 0 ? auth_find_token(t, pw, pl) : NULL;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (*out == NULL)
		return auth_unauth(err, "invalid user name or password");
	return 0;
}

static int
auth_may(const auth_cred *c, int k, const char *tenant)
{
	return c->n_tenants[k] > 0
	    && bsearch(&tenant, c->tenants[k], c->n_tenants[k], sizeof(char *),
	           auth_str_cmp)
	    != NULL;
}

/* The tenants of a request whose credential is c. */
static int
auth_decide(const auth_cred *c, int mt, int access, const char *orgid,
    hearth_arena *ar, const char ***ids, size_t *n, hearth_err *err)
{
	int         k    = access == HEARTH_AUTH_WRITE;
	const char *verb = k ? "write" : "read";
	const char *kind = c->is_user ? "user" : "token";
	if (mt && (orgid == NULL || orgid[0] == '\0')) {
		if (c->n_tenants[k] == 0)
			goto denied_all;
		if (c->n_tenants[k] > 1)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s \"%s\" may %s %zu tenants: name %s in "
			    "X-Scope-OrgID%s",
			    kind, c->name, verb, c->n_tenants[k],
			    k ? "the one to write" : "the ones to read",
			    k ? "" : " (a|b for several)");
		orgid = c->tenants[k][0];
	}
	int rc;
	if (k) {
		char         one[HEARTH_TENANT_MAX + 1];
		const char **v = hearth_arena_alloc(ar, sizeof(*v));
		if ((rc = hearth_tenant_resolve(
		         orgid, mt, one, sizeof(one), err))
		    != 0)
			return rc;
		if (v == NULL || (v[0] = hearth_arena_strdup(ar, one)) == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		*ids = v;
		*n   = 1;
	} else if ((rc = hearth_tenant_split(ar, orgid, mt, ids, n, err))
	    != 0) {
		return rc;
	}
	for (size_t i = 0; i < *n; i++)
		if (!auth_may(c, k, (*ids)[i]))
			return hearth_err_set(err, HEARTH_EDENIED,
			    "%s \"%s\" may not %s tenant \"%s\"", kind,
			    c->name, verb, (*ids)[i]);
	return 0;
denied_all:
	return hearth_err_set(err, HEARTH_EDENIED,
	    "%s \"%s\" may not %s any tenant", kind, c->name, verb);
}

static void
auth_count(hearth_auth *a, const char *result)
{
	const char *lv[1] = { result };
	hearth_metric_add(a->m_attempts, lv, 1);
}

/* Without a tokens file: tenant.h's rules. A missing header is 401. */
static int
auth_plain(int mt, int access, const char *orgid, hearth_arena *ar,
    const char ***ids, size_t *n, hearth_err *err)
{
	int rc;
	if (access == HEARTH_AUTH_READ) {
		rc = hearth_tenant_split(ar, orgid, mt, ids, n, err);
	} else {
		char         one[HEARTH_TENANT_MAX + 1];
		const char **v = hearth_arena_alloc(ar, sizeof(*v));
		rc = hearth_tenant_resolve(orgid, mt, one, sizeof(one), err);
		if (rc == 0
		    && (v == NULL
		        || (v[0] = hearth_arena_strdup(ar, one)) == NULL))
			rc = hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		if (rc == 0) {
			*ids = v;
			*n   = 1;
		}
	}
	if (rc == HEARTH_ENOTFOUND)
		err->code = rc = HEARTH_EUNAUTH;
	return rc;
}

int
hearth_auth_tenants(hearth_auth *a, int multitenancy_enabled, int access,
    const char *authorization, const char *orgid, hearth_arena *arena,
    const char ***ids, size_t *n, hearth_err *err)
{
	HEARTH_ASSERT(
	    access == HEARTH_AUTH_READ || access == HEARTH_AUTH_WRITE);
	*ids = NULL;
	*n   = 0;
	if (a == NULL)
		return auth_plain(
		    multitenancy_enabled, access, orgid, arena, ids, n, err);
	auth_table *t  = auth_acquire(a);
	auth_cred  *c  = NULL;
	int         rc = auth_identify(t, authorization, &c, err);
	if (rc == 0)
		rc = auth_decide(c, multitenancy_enabled, access, orgid, arena,
		    ids, n, err);
	auth_release(a, t);
	if (rc == HEARTH_ENOTFOUND) /* cannot happen: orgid checked above */
		err->code = rc = HEARTH_EUNAUTH;
	auth_count(a,
	    rc == 0 ? "ok"
	        : rc == HEARTH_EUNAUTH
	        ? (authorization == NULL ? "missing" : "invalid")
	        : rc == HEARTH_EDENIED ? "denied"
	                               : "bad_request");
	if (rc != 0) {
		*ids = NULL;
		*n   = 0;
	}
	return rc;
}

/* ---- lifecycle --------------------------------------------------------- */

static int
auth_apply(void *ctx, const char *data, size_t len, hearth_err *err)
{
	hearth_auth *a = ctx;
	return hearth_auth_load(a, data, len, a->source, err);
}

int
hearth_auth_new(const char *path, int64_t period_ms, const hearth_log *log,
    hearth_metrics *m, hearth_auth **out, hearth_err *err)
{
	static const char *const rl[] = { "result" };
	*out                          = NULL;
	hearth_auth *a                = calloc(1, sizeof(*a));
	if (a == NULL || (a->cur = calloc(1, sizeof(*a->cur))) == NULL) {
		free(a);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "auth: out of memory");
	}
	pthread_mutex_init(&a->cur->cache_mu, NULL);
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->source, sizeof(a->source), "tokens file %.4096s", path);
	if (m != NULL) {
		a->m_attempts = hearth_metrics_counter(m,
		    "hearth_auth_requests_total",
		    "Requests checked against the tokens file, by result (ok, "
		    "missing, invalid, denied, bad_request).",
		    1, rl);
		a->m_creds = hearth_metrics_gauge(m, "hearth_auth_credentials",
		    "Tokens and users in the tokens file in use.", 0, NULL);
	}
	int rc = hearth_filewatch_new(path, "tokens", period_ms,
	    HEARTH_AUTH_MAX_FILE_BYTES, auth_apply, a, log, m, &a->watch, err);
	if (rc != 0) {
		hearth_auth_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int
hearth_auth_start(hearth_auth *a, hearth_err *err)
{
	return hearth_filewatch_start(a->watch, err);
}

void
hearth_auth_stop(hearth_auth *a)
{
	if (a != NULL)
		hearth_filewatch_stop(a->watch);
}

void
hearth_auth_free(hearth_auth *a)
{
	if (a == NULL)
		return;
	hearth_filewatch_free(a->watch);
	/* No request may be running: their references are gone. */
	auth_table_free(a->cur);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

int
hearth_auth_request(hearth_http_req *req, int multitenancy_enabled, int access,
    const char ***ids, size_t *n, hearth_err *err)
{
	return hearth_auth_tenants(hearth_http_req_auth(req),
	    multitenancy_enabled, access,
	    hearth_http_req_header(req, "Authorization"),
	    hearth_http_req_header(req, "X-Scope-OrgID"),
	    hearth_http_req_arena(req), ids, n, err);
}

void
hearth_auth_fail(
    const hearth_auth *a, hearth_http_resp *resp, const hearth_err *err)
{
	hearth_http_resp_err(resp, err);
	if (a != NULL && err->code == HEARTH_EUNAUTH)
		hearth_http_resp_header(
		    resp, "WWW-Authenticate", HEARTH_AUTH_CHALLENGE);
}

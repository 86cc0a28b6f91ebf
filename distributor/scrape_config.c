/* scrape_config: the meaning of `scrape_configs:` (scrape.h), walked from
 * a config_tree.h node tree. Every error names the source, the line and
 * the key path, e.g. "config file h.yaml: line 9:
 * scrape_configs[0].static_configs[0].targets[1]: ...". */
#include "scrape_impl.h"

#include "config.h"
#include "tenant.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Built-in endpoints, Grafana Alloy's defaults (pyroscope.scrape). */
const hearth_scrape_builtin hearth_scrape_builtins[] = {
	{ "process_cpu", "/debug/pprof/profile", 1 },
	{ "memory", "/debug/pprof/heap", 1 },
	{ "goroutine", "/debug/pprof/goroutine", 0 },
	{ "mutex", "/debug/pprof/mutex", 1 },
	{ "block", "/debug/pprof/block", 1 },
};
const size_t hearth_scrape_n_builtins
    = sizeof(hearth_scrape_builtins) / sizeof(hearth_scrape_builtins[0]);
#define SC_N_BUILTINS hearth_scrape_n_builtins

typedef struct sc_ctx {
	hearth_arena *a;
	const char   *source;
	const char   *base_dir; /* NULL: paths stay as written */
	char          path[512];
	size_t        plen;
	hearth_err   *err;
} sc_ctx;

/* Key path bookkeeping: push a segment, pop back to a saved length. */
static size_t
sc_push(sc_ctx *x, const char *fmt, ...)
{
	size_t  saved = x->plen;
	va_list ap;
	va_start(ap, fmt);
	int n
	    = vsnprintf(x->path + x->plen, sizeof(x->path) - x->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		x->plen += (size_t) n < sizeof(x->path) - x->plen
		    ? (size_t) n
		    : sizeof(x->path) - x->plen - 1;
	return saved;
}

static void
sc_pop(sc_ctx *x, size_t saved)
{
	x->plen          = saved;
	x->path[x->plen] = '\0';
}

static int sc_fail(sc_ctx *x, const hearth_config_node *n, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int
sc_fail(sc_ctx *x, const hearth_config_node *n, const char *fmt, ...)
{
	char    msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hearth_err_set(x->err, HEARTH_EINVAL, "%s: line %lu: %s: %s",
	    x->source, n->line, x->path, msg);
}

/* Strings are copied into the config's arena (NULL: out of memory). */
static const char *
sc_dup(sc_ctx *x, const char *s)
{
	return hearth_arena_strdup(x->a, s);
}

static int
sc_nomem(sc_ctx *x)
{
	return hearth_err_set(x->err, HEARTH_ENOMEM,
	    "%s: out of memory while reading scrape_configs", x->source);
}

/* n must be a MAP (or NULL, read as empty) whose keys are all in allowed
 * (NULL-terminated). */
static int
sc_keys(sc_ctx *x, const hearth_config_node *n, const char *const *allowed)
{
	if (n->kind == HEARTH_CONFIG_NULL)
		return 0;
	if (n->kind != HEARTH_CONFIG_MAP)
		return sc_fail(x, n,
		    "expected a mapping (key: value lines), "
		    "got %s",
		    hearth_config_tree_kind_name(n->kind));
	for (size_t i = 0; i < n->n; i++) {
		const char *k    = n->keys[i].str;
		const char *best = NULL;
		size_t      bd   = 3;
		int         ok   = 0;
		for (size_t j = 0; allowed[j] != NULL && !ok; j++) {
			ok       = strcmp(k, allowed[j]) == 0;
			size_t d = hearth_config_edit_distance(
			    k, strlen(k), allowed[j], strlen(allowed[j]));
			if (d < bd)
				bd = d, best = allowed[j];
		}
		if (ok)
			continue;
		sc_push(x, ".%.64s", k);
		return sc_fail(x, &n->keys[i], "unknown key%s%s%s",
		    best ? " (did you mean \"" : "", best ? best : "",
		    best ? "\"?)" : "");
	}
	return 0;
}

/* Scalar value of key in map, or NULL when absent or null. */
static int
sc_str(sc_ctx *x, const hearth_config_node *map, const char *key,
    const char **out)
{
	const hearth_config_node *v = hearth_config_tree_get(map, key);
	if (v == NULL || v->kind == HEARTH_CONFIG_NULL)
		return 0;
	size_t saved = sc_push(x, ".%s", key);
	if (v->kind != HEARTH_CONFIG_SCALAR)
		return sc_fail(x, v, "expected a single value, got %s",
		    hearth_config_tree_kind_name(v->kind));
	if (memchr(v->str, '\0', v->len) != NULL)
		return sc_fail(x, v, "contains a NUL character");
	/* Copied: the tree may die before the config (scrape_config_load). */
	if ((*out = sc_dup(x, v->str)) == NULL)
		return sc_nomem(x);
	sc_pop(x, saved);
	return 0;
}

static int
sc_bool(sc_ctx *x, const hearth_config_node *map, const char *key, int *out)
{
	const char *s = NULL;
	if (sc_str(x, map, key, &s) != 0)
		return x->err->code;
	if (s == NULL)
		return 0;
	if (strcmp(s, "true") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0)
		*out = 0;
	else {
		sc_push(x, ".%s", key);
		return sc_fail(x, hearth_config_tree_get(map, key),
		    "expected true or false, got \"%.64s\"", s);
	}
	return 0;
}

static int
sc_duration(sc_ctx *x, const hearth_config_node *map, const char *key,
    int64_t min_ms, int64_t *out)
{
	const char *s = NULL;
	if (sc_str(x, map, key, &s) != 0)
		return x->err->code;
	if (s == NULL)
		return 0;
	const hearth_config_node *v     = hearth_config_tree_get(map, key);
	size_t                    saved = sc_push(x, ".%s", key);
	hearth_err                e;
	int64_t                   ms = 0;
	if (hearth_config_duration_parse(s, strlen(s), &ms, &e) != 0)
		return sc_fail(x, v, "%s", e.msg);
	char txt[32];
	if (ms < min_ms)
		return sc_fail(x, v, "must be at least %s",
		    hearth_config_duration_format(min_ms, txt, sizeof(txt)));
	*out = ms;
	sc_pop(x, saved);
	return 0;
}

/* A byte size: an integer with an optional unit B, KB, MB, GB (powers of
 * 1000) or KiB, MiB, GiB (powers of 1024), as Prometheus writes sizes. */
static int
sc_size(
    sc_ctx *x, const hearth_config_node *map, const char *key, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t     mult;
	} units[] = { { "", 1 }, { "B", 1 }, { "KB", 1000 }, { "MB", 1000000 },
		{ "GB", 1000000000 }, { "KiB", 1 << 10 }, { "MiB", 1 << 20 },
		{ "GiB", 1 << 30 } };
	const char *s = NULL;
	if (sc_str(x, map, key, &s) != 0)
		return x->err->code;
	if (s == NULL)
		return 0;
	char *end   = NULL;
	errno       = 0;
	long long v = strtoll(s, &end, 10);
	for (size_t i = 0; end != s && v >= 0 && errno == 0
	     && i < sizeof(units) / sizeof(units[0]);
	     i++)
		if (strcmp(end, units[i].unit) == 0
		    && v <= INT64_MAX / units[i].mult) {
			*out = v * units[i].mult;
			return 0;
		}
	sc_push(x, ".%s", key);
	return sc_fail(x, hearth_config_tree_get(map, key),
	    "expected a size such as 16MiB, 10MB or 1048576, got \"%.64s\"",
	    s);
}

/* Make a configured file path absolute (relative to the config file's
 * directory) and, when must_exist, check that it can be read now rather
 * than at the first scrape. */
static int
sc_file_node(
    sc_ctx *x, const hearth_config_node *v, int must_exist, const char **out)
{
	if (v->kind != HEARTH_CONFIG_SCALAR || v->str[0] == '\0'
	    || memchr(v->str, '\0', v->len) != NULL)
		return sc_fail(x, v, "expected a file name");
	const char *s = v->str;
	if (s[0] != '/' && x->base_dir != NULL) {
		size_t bl = strlen(x->base_dir), sl = strlen(s);
		char  *p = hearth_arena_alloc(x->a, bl + sl + 2);
		if (p == NULL)
			return sc_nomem(x);
		memcpy(p, x->base_dir, bl);
		p[bl] = '/';
		memcpy(p + bl + 1, s, sl + 1);
		s = p;
	} else if ((s = sc_dup(x, s)) == NULL) {
		return sc_nomem(x);
	}
	if (must_exist && access(s, R_OK) != 0)
		return sc_fail(x, v, "cannot read %s: %s", s, strerror(errno));
	*out = s;
	return 0;
}

static int
sc_file(sc_ctx *x, const hearth_config_node *map, const char *key,
    int must_exist, const char **out)
{
	const hearth_config_node *v = hearth_config_tree_get(map, key);
	if (v == NULL || v->kind == HEARTH_CONFIG_NULL)
		return 0;
	size_t saved = sc_push(x, ".%s", key);
	if (sc_file_node(x, v, must_exist, out) != 0)
		return x->err->code;
	sc_pop(x, saved);
	return 0;
}

static int
sc_label_name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
	        || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
		        || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* host, host:port or [v6]:port; no scheme, no path. */
static int
sc_target_ok(const char *t, const char **why)
{
	if (*t == '\0')
		return *why = "empty target", 0;
	if (strstr(t, "://") != NULL)
		return *why = "a target is host:port without a scheme (set "
		              "scheme: https for TLS)",
		       0;
	if (strpbrk(t, "/?#@ \t") != NULL)
		return *why = "a target is host:port without a path, query or "
		              "user (paths go in profiling_config)",
		       0;
	const char *colon = strrchr(t, ':');
	if (t[0] == '[') {
		const char *close = strchr(t, ']');
		if (close == NULL)
			return *why = "unterminated [IPv6] address", 0;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] != '\0' && colon == NULL)
			return *why = "expected :port after ]", 0;
	} else if (colon != NULL && strchr(t, ':') != colon) {
		return *why = "IPv6 addresses go in brackets: [::1]:6060", 0;
	}
	if (colon != NULL) {
		char *end = NULL;
		long  p   = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
			return *why
			       = "the port must be a number from 1 to 65535",
			       0;
	}
	return 1;
}

static int
sc_group(sc_ctx *x, const hearth_config_node *n, hearth_scrape_group *g)
{
	static const char *const keys[] = { "targets", "labels", NULL };
	memset(g, 0, sizeof(*g));
	if (sc_keys(x, n, keys) != 0)
		return x->err->code;
	const hearth_config_node *t     = hearth_config_tree_get(n, "targets");
	size_t                    saved = sc_push(x, ".targets");
	if (t == NULL || t->kind == HEARTH_CONFIG_NULL)
		return sc_fail(x, n, "missing: list the host:port targets");
	if (t->kind != HEARTH_CONFIG_LIST)
		return sc_fail(x, t, "expected a list of host:port, got %s",
		    hearth_config_tree_kind_name(t->kind));
	g->targets
	    = hearth_arena_calloc(x->a, t->n ? t->n : 1, sizeof(*g->targets));
	if (g->targets == NULL)
		return sc_nomem(x);
	for (size_t i = 0; i < t->n; i++) {
		const hearth_config_node *v   = &t->items[i];
		size_t                    s2  = sc_push(x, "[%zu]", i);
		const char               *why = NULL;
		if (v->kind != HEARTH_CONFIG_SCALAR)
			return sc_fail(x, v, "expected host:port, got %s",
			    hearth_config_tree_kind_name(v->kind));
		if (memchr(v->str, '\0', v->len) != NULL
		    || !sc_target_ok(v->str, &why))
			return sc_fail(x, v, "\"%.128s\": %s", v->str,
			    why != NULL ? why : "contains a NUL character");
		if ((g->targets[g->n_targets++] = sc_dup(x, v->str)) == NULL)
			return sc_nomem(x);
		sc_pop(x, s2);
	}
	sc_pop(x, saved);
	const hearth_config_node *l = hearth_config_tree_get(n, "labels");
	if (l == NULL || l->kind == HEARTH_CONFIG_NULL)
		return 0;
	saved = sc_push(x, ".labels");
	if (l->kind != HEARTH_CONFIG_MAP)
		return sc_fail(x, l,
		    "expected a mapping of label: value, got %s",
		    hearth_config_tree_kind_name(l->kind));
	g->labels
	    = hearth_arena_calloc(x->a, l->n ? l->n : 1, sizeof(*g->labels));
	if (g->labels == NULL)
		return sc_nomem(x);
	for (size_t i = 0; i < l->n; i++) {
		const char *k  = l->keys[i].str;
		size_t      s2 = sc_push(x, ".%.64s", k);
		if (!sc_label_name_ok(k))
			return sc_fail(x, &l->keys[i],
			    "invalid label name (use [a-zA-Z_][a-zA-Z0-9_]*)");
		if (k[0] == '_' && k[1] == '_')
			return sc_fail(x, &l->keys[i],
			    "label names starting with __ are reserved");
		const hearth_config_node *v = &l->items[i];
		if (v->kind == HEARTH_CONFIG_MAP
		    || v->kind == HEARTH_CONFIG_LIST)
			return sc_fail(x, v, "expected a value, got %s",
			    hearth_config_tree_kind_name(v->kind));
		if (memchr(v->str, '\0', v->len) != NULL
		    || !hearth_utf8_valid(v->str, v->len))
			return sc_fail(x, v, "value must be valid UTF-8 text");
		g->labels[g->n_labels].name    = sc_dup(x, k);
		g->labels[g->n_labels++].value = sc_dup(x, v->str);
		if (g->labels[g->n_labels - 1].name == NULL
		    || g->labels[g->n_labels - 1].value == NULL)
			return sc_nomem(x);
		sc_pop(x, s2);
	}
	g->n_labels = hearth_labels_sort(g->labels, g->n_labels);
	sc_pop(x, saved);
	return 0;
}

typedef int (*sc_item_fn)(sc_ctx *, const hearth_config_node *, void *);

/* A LIST node (or NULL: empty) whose items fn parses into an arena
 * array of elem-sized entries. */
static int
sc_list_node(sc_ctx *x, const hearth_config_node *l, size_t elem, void **out,
    size_t *n, sc_item_fn fn)
{
	*n = 0;
	if (l == NULL || l->kind == HEARTH_CONFIG_NULL)
		return 0;
	if (l->kind != HEARTH_CONFIG_LIST)
		return sc_fail(x, l,
		    "expected a list (lines starting with "
		    "\"- \"), got %s",
		    hearth_config_tree_kind_name(l->kind));
	char *arr = hearth_arena_calloc(x->a, l->n ? l->n : 1, elem);
	if (arr == NULL)
		return sc_nomem(x);
	for (size_t i = 0; i < l->n; i++) {
		size_t saved = sc_push(x, "[%zu]", i);
		if (fn(x, &l->items[i], arr + i * elem) != 0)
			return x->err->code;
		sc_pop(x, saved);
	}
	*out = arr;
	*n   = l->n;
	return 0;
}

static int
sc_list(sc_ctx *x, const hearth_config_node *map, const char *key, size_t elem,
    void **out, size_t *n, sc_item_fn fn)
{
	size_t saved = sc_push(x, ".%s", key);
	if (sc_list_node(x, hearth_config_tree_get(map, key), elem, out, n, fn)
	    != 0)
		return x->err->code;
	sc_pop(x, saved);
	return 0;
}

static int
sc_group_cb(sc_ctx *x, const hearth_config_node *n, void *out)
{
	return sc_group(x, n, out);
}

static int
sc_sd_cb(sc_ctx *x, const hearth_config_node *n, void *out)
{
	static const char *const keys[]
	    = { "files", "refresh_interval", NULL };
	hearth_scrape_sd *sd = out;
	sd->refresh_ms       = 5 * 60 * 1000;
	if (sc_keys(x, n, keys) != 0
	    || sc_duration(x, n, "refresh_interval", 1000, &sd->refresh_ms)
	        != 0)
		return x->err->code;
	const hearth_config_node *f     = hearth_config_tree_get(n, "files");
	size_t                    saved = sc_push(x, ".files");
	if (f == NULL || f->kind != HEARTH_CONFIG_LIST || f->n == 0)
		return sc_fail(x, f != NULL ? f : n,
		    "expected a non-empty list of file names or patterns "
		    "(*.json, *.yaml)");
	sd->files = hearth_arena_calloc(x->a, f->n, sizeof(*sd->files));
	if (sd->files == NULL)
		return sc_nomem(x);
	for (size_t i = 0; i < f->n; i++) {
		size_t s2 = sc_push(x, "[%zu]", i);
		if (sc_file_node(x, &f->items[i], 0, &sd->files[i]) != 0)
			return x->err->code;
		sc_pop(x, s2);
	}
	sd->n_files = f->n;
	sc_pop(x, saved);
	return 0;
}

static int
sc_profile_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
		        || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'
		        || *s == '.'))
			return 0;
	return 1;
}

/* One profile block: {enabled, path, delta} (+ name for custom ones). */
static int
sc_profile(sc_ctx *x, const hearth_config_node *n, int custom,
    hearth_scrape_profile *p, int *enabled)
{
	static const char *const bkeys[]
	    = { "enabled", "path", "delta", NULL };
	static const char *const ckeys[]
	    = { "name", "path", "enabled", "delta", NULL };
	if (sc_keys(x, n, custom ? ckeys : bkeys) != 0
	    || sc_bool(x, n, "enabled", enabled) != 0
	    || sc_bool(x, n, "delta", &p->delta) != 0
	    || sc_str(x, n, "path", &p->path) != 0
	    || (custom && sc_str(x, n, "name", &p->name) != 0))
		return x->err->code;
	if (custom && (p->name == NULL || !sc_profile_name_ok(p->name)))
		return sc_fail(x, n,
		    "name: required, letters, digits, _ - . only (it becomes "
		    "__name__ and part of the profile type id)");
	if (custom && p->path == NULL)
		return sc_fail(
		    x, n, "path: required (e.g. /debug/pprof/allocs)");
	if (p->path[0] != '/' || strpbrk(p->path, " \t\r\n#") != NULL)
		return sc_fail(x, n,
		    "path: \"%.128s\" must start with / and "
		    "hold no spaces or #",
		    p->path);
	return 0;
}

static int
sc_profiles(sc_ctx *x, const hearth_config_node *pc, hearth_scrape_job *j)
{
	static const char *const keys[] = { "process_cpu", "memory",
		"goroutine", "mutex", "block", "custom", NULL };
	size_t                   saved  = sc_push(x, ".profiling_config");
	if (sc_keys(x, pc, keys) != 0)
		return x->err->code;
	const hearth_config_node *cl = hearth_config_tree_get(pc, "custom");
	size_t                    ncustom
	    = cl != NULL && cl->kind == HEARTH_CONFIG_LIST ? cl->n : 0;
	if (cl != NULL && cl->kind != HEARTH_CONFIG_LIST
	    && cl->kind != HEARTH_CONFIG_NULL) {
		sc_push(x, ".custom");
		return sc_fail(
		    x, cl, "expected a list of {name, path, delta}");
	}
	j->profiles = hearth_arena_calloc(
	    x->a, SC_N_BUILTINS + ncustom, sizeof(*j->profiles));
	if (j->profiles == NULL)
		return sc_nomem(x);
	for (size_t i = 0; i < SC_N_BUILTINS + ncustom; i++) {
		int                       custom  = i >= SC_N_BUILTINS;
		hearth_scrape_profile     p       = { 0 };
		int                       enabled = 1;
		const hearth_config_node *n;
		size_t                    s2;
		if (!custom) {
			p.name  = hearth_scrape_builtins[i].key;
			p.path  = hearth_scrape_builtins[i].path;
			p.delta = hearth_scrape_builtins[i].delta;
			n       = hearth_config_tree_get(pc, p.name);
			s2      = sc_push(x, ".%s", p.name);
		} else {
			n  = &cl->items[i - SC_N_BUILTINS];
			s2 = sc_push(x, ".custom[%zu]", i - SC_N_BUILTINS);
		}
		hearth_config_node empty = {
			.kind = HEARTH_CONFIG_NULL, .str = "", .line = pc->line
		};
		if (sc_profile(x, n != NULL ? n : &empty, custom, &p, &enabled)
		    != 0)
			return x->err->code;
		if (!enabled) {
			sc_pop(x, s2);
			continue;
		}
		for (size_t k = 0; k < j->n_profiles; k++)
			if (strcmp(j->profiles[k].name, p.name) == 0)
				return sc_fail(x, n,
				    "profile name \"%s\" is used twice in "
				    "this "
				    "job",
				    p.name);
		/* The CPU profile is a window: delta means "ask for the
		 * last N seconds", which is how Go serves it. */
		p.custom      = custom;
		p.cpu_seconds = !custom && i == 0 && p.delta;
		if (p.cpu_seconds)
			p.delta = 0;
		j->profiles[j->n_profiles++] = p;
		sc_pop(x, s2);
	}
	sc_pop(x, saved);
	return 0;
}

static int
sc_auth(sc_ctx *x, const hearth_config_node *n, hearth_scrape_job *j)
{
	static const char *const bkeys[]
	    = { "username", "password", "password_file", NULL };
	static const char *const akeys[]
	    = { "type", "credentials", "credentials_file", NULL };
	static const char *const  tkeys[] = { "ca_file", "cert_file",
		 "key_file", "insecure_skip_verify", NULL };
	const hearth_config_node *b = hearth_config_tree_get(n, "basic_auth");
	const hearth_config_node *a
	    = hearth_config_tree_get(n, "authorization");
	const hearth_config_node *t = hearth_config_tree_get(n, "tls_config");
	size_t                    saved;
	if (b != NULL && b->kind != HEARTH_CONFIG_NULL) {
		saved = sc_push(x, ".basic_auth");
		if (sc_keys(x, b, bkeys) != 0
		    || sc_str(x, b, "username", &j->username) != 0
		    || sc_str(x, b, "password", &j->password) != 0
		    || sc_file(x, b, "password_file", 1, &j->password_file)
		        != 0)
			return x->err->code;
		if (j->username == NULL)
			return sc_fail(x, b, "username: required");
		if (j->password != NULL && j->password_file != NULL)
			return sc_fail(x, b,
			    "set password or password_file, "
			    "not both");
		sc_pop(x, saved);
	}
	if (a != NULL && a->kind != HEARTH_CONFIG_NULL) {
		saved = sc_push(x, ".authorization");
		if (j->username != NULL)
			return sc_fail(x, a,
			    "use basic_auth or authorization, "
			    "not both");
		j->auth_type = "Bearer";
		if (sc_keys(x, a, akeys) != 0
		    || sc_str(x, a, "type", &j->auth_type) != 0
		    || sc_str(x, a, "credentials", &j->credentials) != 0
		    || sc_file(
		           x, a, "credentials_file", 1, &j->credentials_file)
		        != 0)
			return x->err->code;
		if ((j->credentials == NULL) == (j->credentials_file == NULL))
			return sc_fail(x, a,
			    "set exactly one of credentials "
			    "and credentials_file");
		if (!sc_label_name_ok(j->auth_type))
			return sc_fail(x, a,
			    "type: \"%.64s\" is not a scheme "
			    "name such as Bearer",
			    j->auth_type);
		sc_pop(x, saved);
	}
	if (t != NULL && t->kind != HEARTH_CONFIG_NULL) {
		saved = sc_push(x, ".tls_config");
		if (sc_keys(x, t, tkeys) != 0
		    || sc_file(x, t, "ca_file", 1, &j->ca_file) != 0
		    || sc_file(x, t, "cert_file", 1, &j->cert_file) != 0
		    || sc_file(x, t, "key_file", 1, &j->key_file) != 0
		    || sc_bool(x, t, "insecure_skip_verify",
		           &j->insecure_skip_verify)
		        != 0)
			return x->err->code;
		if ((j->cert_file == NULL) != (j->key_file == NULL))
			return sc_fail(x, t,
			    "cert_file and key_file go "
			    "together");
		sc_pop(x, saved);
	}
	return 0;
}

static int
sc_job(sc_ctx *x, const hearth_config_node *n, hearth_scrape_job *j)
{
	static const char *const keys[] = { "job_name", "scrape_interval",
		"scrape_timeout", "scheme", "tenant_id", "body_size_limit",
		"basic_auth", "authorization", "tls_config", "static_configs",
		"file_sd_configs", "profiling_config", NULL };
	memset(j, 0, sizeof(*j));
	j->line        = n->line;
	j->interval_ms = 15000;
	j->timeout_ms  = 0;
	j->scheme      = "http";
	j->tenant      = HEARTH_TENANT_ANONYMOUS;
	if (n->kind != HEARTH_CONFIG_MAP)
		return sc_fail(x, n,
		    "expected a job (a mapping with "
		    "job_name:), got %s",
		    hearth_config_tree_kind_name(n->kind));
	if (sc_str(x, n, "job_name", &j->name) != 0)
		return x->err->code;
	if (j->name == NULL || j->name[0] == '\0')
		return sc_fail(x, n, "job_name: required");
	if (!hearth_utf8_valid(j->name, strlen(j->name)))
		return sc_fail(x, n, "job_name: must be valid UTF-8");
	/* Name the job in the path from here on: errors are easier to
	 * place in a long file. */
	sc_push(x, " (job \"%.64s\")", j->name);
	if (sc_keys(x, n, keys) != 0)
		return x->err->code;
	if (sc_duration(x, n, "scrape_interval", 1000, &j->interval_ms) != 0
	    || sc_duration(x, n, "scrape_timeout", 100, &j->timeout_ms) != 0
	    || sc_str(x, n, "scheme", &j->scheme) != 0
	    || sc_str(x, n, "tenant_id", &j->tenant) != 0
	    || sc_size(x, n, "body_size_limit", &j->body_size_limit) != 0)
		return x->err->code;
	if (j->timeout_ms == 0)
		j->timeout_ms = j->interval_ms;
	char a[32], b[32];
	if (j->timeout_ms > j->interval_ms)
		return sc_fail(x, hearth_config_tree_get(n, "scrape_timeout"),
		    "scrape_timeout %s is longer than scrape_interval %s",
		    hearth_config_duration_format(j->timeout_ms, a, sizeof(a)),
		    hearth_config_duration_format(
		        j->interval_ms, b, sizeof(b)));
	if (strcmp(j->scheme, "http") != 0 && strcmp(j->scheme, "https") != 0)
		return sc_fail(x, hearth_config_tree_get(n, "scheme"),
		    "scheme: expected http or https, got \"%.32s\"",
		    j->scheme);
	hearth_err e;
	if (hearth_tenant_validate(j->tenant, strlen(j->tenant), &e) != 0)
		return sc_fail(x, hearth_config_tree_get(n, "tenant_id"),
		    "tenant_id: %s", e.msg);
	if (sc_auth(x, n, j) != 0
	    || sc_list(x, n, "static_configs", sizeof(*j->groups),
	           (void **) &j->groups, &j->n_groups, sc_group_cb)
	        != 0
	    || sc_list(x, n, "file_sd_configs", sizeof(*j->sd),
	           (void **) &j->sd, &j->n_sd, sc_sd_cb)
	        != 0)
		return x->err->code;
	const hearth_config_node *pc
	    = hearth_config_tree_get(n, "profiling_config");
	hearth_config_node empty
	    = { .kind = HEARTH_CONFIG_NULL, .str = "", .line = n->line };
	if (sc_profiles(x, pc != NULL ? pc : &empty, j) != 0)
		return x->err->code;
	if (j->n_profiles == 0)
		return sc_fail(x, pc != NULL ? pc : n,
		    "profiling_config: every profile is disabled");
	for (size_t i = 0; i < j->n_profiles; i++)
		if (j->profiles[i].cpu_seconds && j->timeout_ms < 2000)
			return sc_fail(x, n,
			    "scrape_timeout must be at least 2s with "
			    "process_cpu enabled: the CPU profile runs for "
			    "the timeout minus 1s");
	return 0;
}

static int
sc_job_cb(sc_ctx *x, const hearth_config_node *n, void *out)
{
	return sc_job(x, n, out);
}

int
hearth_scrape_config_parse(const hearth_config_node *list, const char *source,
    const char *base_dir, hearth_scrape_config **out, hearth_err *err)
{
	hearth_scrape_config *c = calloc(1, sizeof(*c));
	hearth_arena         *a = hearth_arena_new(0);
	hearth_err_clear(err);
	if (c == NULL || a == NULL) {
		free(c);
		hearth_arena_free(a);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "%s: out of memory while reading scrape_configs",
		    source != NULL ? source : "config");
	}
	c->arena = a;
	sc_ctx x = { .a   = a,
		.source   = source != NULL ? source : "config",
		.base_dir = base_dir,
		.err      = err };
	sc_push(&x, "scrape_configs");
	int rc = sc_list_node(&x, list, sizeof(*c->jobs), (void **) &c->jobs,
	    &c->n_jobs, sc_job_cb);
	for (size_t i = 0; rc == 0 && i < c->n_jobs; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->jobs[i].name, c->jobs[k].name) == 0) {
				rc = hearth_err_set(err, HEARTH_EINVAL,
				    "%s: line %lu: scrape_configs[%zu]: "
				    "job_name \"%.64s\" is used twice (first "
				    "on line %lu)",
				    x.source, c->jobs[i].line, i,
				    c->jobs[i].name, c->jobs[k].line);
				break;
			}
	if (rc != 0) {
		hearth_scrape_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
hearth_scrape_config_load(
    const char *path, hearth_scrape_config **out, hearth_err *err)
{
	if (path == NULL || *path == '\0')
		return hearth_scrape_config_parse(NULL, NULL, NULL, out, err);
	hearth_arena *a = hearth_arena_new(0);
	if (a == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	char source[4200];
	snprintf(source, sizeof(source), "config file %.4096s", path);
	const hearth_config_node *root = NULL;
	int rc = hearth_config_tree_load(a, path, source, 0, 0, &root, err);
	if (rc == 0) {
		/* Relative paths are relative to the config file. */
		char        dir[4096];
		const char *slash = strrchr(path, '/');
		size_t      dl = slash == NULL ? 0 : (size_t) (slash - path);
		if (slash == NULL)
			snprintf(dir, sizeof(dir), ".");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int) (dl ? dl : 1),
			    path);
		rc = hearth_scrape_config_parse(
		    hearth_config_tree_get(root, "scrape_configs"), source,
		    dir, out, err);
	}
	hearth_arena_free(a);
	return rc;
}

void
hearth_scrape_config_free(hearth_scrape_config *c)
{
	if (c == NULL)
		return;
	hearth_arena_free(c->arena);
	free(c);
}

int
hearth_scrape_sd_parse(hearth_arena *a, const char *text, size_t len,
    const char *source, int json, hearth_scrape_group **groups, size_t *n,
    hearth_err *err)
{
	const hearth_config_node *root = NULL;
	*groups                        = NULL;
	*n                             = 0;
	int rc
	    = hearth_config_tree_parse(a, text, len, source, json, &root, err);
	if (rc != 0)
		return rc;
	sc_ctx x = { .a = a, .source = source, .err = err };
	if (root->kind == HEARTH_CONFIG_NULL)
		return 0; /* an empty file: no targets */
	if (root->kind != HEARTH_CONFIG_LIST)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: expected a list of target groups "
		    "([{\"targets\": [...], \"labels\": {...}}]), got %s",
		    source, root->line,
		    hearth_config_tree_kind_name(root->kind));
	hearth_scrape_group *g
	    = hearth_arena_calloc(a, root->n ? root->n : 1, sizeof(*g));
	if (g == NULL)
		return sc_nomem(&x);
	for (size_t i = 0; i < root->n; i++) {
		x.plen = 0;
		sc_push(&x, "[%zu]", i);
		if (sc_group(&x, &root->items[i], &g[i]) != 0)
			return err->code;
	}
	*groups = g;
	*n      = root->n;
	return 0;
}

/* config_tree: YAML/JSON documents as hearth node trees (libyaml's
 * document API, converted node by node into the caller's arena). */
#include "config_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct config_tree_ctx {
	hearth_arena    *a;
	yaml_document_t *doc;
	const char      *source;
	size_t           nodes; /* converted so far, invariant (3) */
} config_tree_ctx;

const char *
hearth_config_tree_kind_name(int kind)
{
	switch (kind) {
	case HEARTH_CONFIG_MAP:
		return "a mapping";
	case HEARTH_CONFIG_LIST:
		return "a list";
	case HEARTH_CONFIG_SCALAR:
		return "a single value";
	default:
		return "null";
	}
}

static int
config_tree_is_null(const yaml_node_t *n)
{
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *) n->data.scalar.value;
	size_t      l = n->data.scalar.length;
	return l == 0 || (l == 1 && v[0] == '~')
	    || (l == 4
	        && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4)
	            || !memcmp(v, "NULL", 4)));
}

static int
config_tree_nomem(config_tree_ctx *x, hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "%s: out of memory while reading the document", x->source);
}

static int
config_tree_key_cmp(const void *pa, const void *pb)
{
	const hearth_config_node *a = *(const hearth_config_node *const *) pa;
	const hearth_config_node *b = *(const hearth_config_node *const *) pb;
	size_t                    n = a->len < b->len ? a->len : b->len;
	int                       c = memcmp(a->str, b->str, n);
	if (c != 0)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	/* Equal keys: earlier line first, so the error names the repeat. */
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Invariant (1): sort pointers to the keys and compare neighbours, so a
 * large mapping costs n log n, not n². */
static int
config_tree_check_keys(
    config_tree_ctx *x, const hearth_config_node *map, hearth_err *err)
{
	if (map->n < 2)
		return 0;
	const hearth_config_node **ks
	    = hearth_arena_alloc(x->a, map->n * sizeof(*ks));
	if (ks == NULL)
		return config_tree_nomem(x, err);
	for (size_t i = 0; i < map->n; i++)
		ks[i] = &map->keys[i];
	qsort(ks, map->n, sizeof(*ks), config_tree_key_cmp);
	for (size_t i = 1; i < map->n; i++)
		if (ks[i]->len == ks[i - 1]->len
		    && memcmp(ks[i]->str, ks[i - 1]->str, ks[i]->len) == 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: key \"%.*s\" is set twice (first "
			    "on "
			    "line %lu)",
			    x->source, ks[i]->line,
			    (int) (ks[i]->len > 128 ? 128 : ks[i]->len),
			    ks[i]->str, ks[i - 1]->line);
	return 0;
}

static int config_tree_convert(config_tree_ctx *x, const yaml_node_t *in,
    hearth_config_node *out, int depth, hearth_err *err);

static int
config_tree_scalar(config_tree_ctx *x, const yaml_node_t *in,
    hearth_config_node *out, hearth_err *err)
{
	if (config_tree_is_null(in)) {
		out->kind = HEARTH_CONFIG_NULL;
		return 0;
	}
	char *s = hearth_arena_strndup(x->a,
	    (const char *) in->data.scalar.value, in->data.scalar.length);
	if (s == NULL)
		return config_tree_nomem(x, err);
	out->kind   = HEARTH_CONFIG_SCALAR;
	out->str    = s;
	out->len    = in->data.scalar.length;
	out->quoted = in->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return 0;
}

static int
config_tree_map(config_tree_ctx *x, const yaml_node_t *in,
    hearth_config_node *out, int depth, hearth_err *err)
{
	size_t n  = (size_t) (in->data.mapping.pairs.top
            - in->data.mapping.pairs.start);
	out->kind = HEARTH_CONFIG_MAP;
	out->n    = n;
	if (n == 0)
		return 0;
	out->keys  = hearth_arena_calloc(x->a, n, sizeof(*out->keys));
	out->items = hearth_arena_calloc(x->a, n, sizeof(*out->items));
	if (out->keys == NULL || out->items == NULL)
		return config_tree_nomem(x, err);
	for (size_t i = 0; i < n; i++) {
		const yaml_node_pair_t *p = &in->data.mapping.pairs.start[i];
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		if (k == NULL || v == NULL)
			return hearth_err_set(err, HEARTH_EINTERNAL,
			    "%s: broken YAML document", x->source);
		if (k->type != YAML_SCALAR_NODE)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: keys must be names, not %s",
			    x->source, (unsigned long) k->start_mark.line + 1,
			    k->type == YAML_MAPPING_NODE ? "a mapping"
			                                 : "a list");
		int rc
		    = config_tree_convert(x, k, &out->keys[i], depth + 1, err);
		if (rc != 0)
			return rc;
		/* A key written `~` is the text "~", not a null. */
		if (out->keys[i].kind == HEARTH_CONFIG_NULL) {
			out->keys[i].kind = HEARTH_CONFIG_SCALAR;
			out->keys[i].str  = hearth_arena_strndup(x->a,
			     (const char *) k->data.scalar.value,
			     k->data.scalar.length);
			out->keys[i].len  = k->data.scalar.length;
			if (out->keys[i].str == NULL)
				return config_tree_nomem(x, err);
		}
		rc = config_tree_convert(x, v, &out->items[i], depth + 1, err);
		if (rc != 0)
			return rc;
	}
	return config_tree_check_keys(x, out, err);
}

static int
config_tree_convert(config_tree_ctx *x, const yaml_node_t *in,
    hearth_config_node *out, int depth, hearth_err *err)
{
	memset(out, 0, sizeof(*out));
	out->str  = "";
	out->line = (unsigned long) in->start_mark.line + 1;
	if (depth > HEARTH_CONFIG_TREE_MAX_DEPTH)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: nested more than %d levels deep", x->source,
		    out->line, HEARTH_CONFIG_TREE_MAX_DEPTH);
	if (++x->nodes > HEARTH_CONFIG_TREE_MAX_NODES)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: more than %d values once aliases are expanded; "
		    "is this a configuration file?",
		    x->source, HEARTH_CONFIG_TREE_MAX_NODES);
	switch (in->type) {
	case YAML_SCALAR_NODE:
		return config_tree_scalar(x, in, out, err);
	case YAML_MAPPING_NODE:
		return config_tree_map(x, in, out, depth, err);
	case YAML_SEQUENCE_NODE: {
		size_t n  = (size_t) (in->data.sequence.items.top
                    - in->data.sequence.items.start);
		out->kind = HEARTH_CONFIG_LIST;
		out->n    = n;
		if (n == 0)
			return 0;
		out->items = hearth_arena_calloc(x->a, n, sizeof(*out->items));
		if (out->items == NULL)
			return config_tree_nomem(x, err);
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *v = yaml_document_get_node(
			    x->doc, in->data.sequence.items.start[i]);
			if (v == NULL)
				return hearth_err_set(err, HEARTH_EINTERNAL,
				    "%s: broken YAML document", x->source);
			int rc = config_tree_convert(
			    x, v, &out->items[i], depth + 1, err);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	default:
		out->kind = HEARTH_CONFIG_NULL;
		return 0;
	}
}

static int
config_tree_syntax_error(yaml_parser_t *p, const char *source, hearth_err *err)
{
	if (p->error == YAML_MEMORY_ERROR)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "%s: out of memory while parsing YAML", source);
	return hearth_err_set(err, HEARTH_EINVAL,
	    "%s: line %lu, column %lu: %s%s%s", source,
	    (unsigned long) p->problem_mark.line + 1,
	    (unsigned long) p->problem_mark.column + 1,
	    p->problem ? p->problem : "invalid YAML", p->context ? " " : "",
	    p->context ? p->context : "");
}

int
hearth_config_tree_parse(hearth_arena *a, const char *s, size_t len,
    const char *source, int json, const hearth_config_node **root,
    hearth_err *err)
{
	yaml_parser_t       parser;
	yaml_document_t     doc;
	config_tree_ctx     x = { .a = a,
		    .doc             = &doc,
		    .source          = source != NULL ? source : "config" };
	int                 rc;
	hearth_config_node *r = hearth_arena_calloc(a, 1, sizeof(*r));
	if (r == NULL)
		return config_tree_nomem(&x, err);
	r->str = "";
	if (json && memchr(s, '\t', len) != NULL) {
		char *c = hearth_arena_alloc(a, len ? len : 1);
		if (c == NULL)
			return config_tree_nomem(&x, err);
		for (size_t i = 0; i < len; i++)
			c[i] = s[i] == '\t' ? ' ' : s[i];
		s = c;
	}
	if (!yaml_parser_initialize(&parser))
		return config_tree_nomem(&x, err);
	yaml_parser_set_input_string(&parser, (const unsigned char *) s, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = config_tree_syntax_error(&parser, x.source, err);
		goto out;
	}
	yaml_node_t *top = yaml_document_get_root_node(&doc);
	rc = top != NULL ? config_tree_convert(&x, top, r, 0, err) : 0;
	yaml_document_delete(&doc);
	if (rc != 0)
		goto out;
	/* A reader that stopped after one document would silently ignore
	 * the rest: refuse it instead. */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = config_tree_syntax_error(&parser, x.source, err);
		goto out;
	}
	yaml_node_t *second = yaml_document_get_root_node(&doc);
	if (second != NULL)
		rc = hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: a second YAML document starts here; the "
		    "file must hold one",
		    x.source, (unsigned long) second->start_mark.line + 1);
	yaml_document_delete(&doc);
out:
	yaml_parser_delete(&parser);
	if (rc == 0)
		*root = r;
	return rc;
}

int
hearth_config_tree_load(hearth_arena *a, const char *path, const char *source,
    int json, size_t max_bytes, const hearth_config_node **root,
    hearth_err *err)
{
	if (max_bytes == 0)
		max_bytes = (size_t) 16 << 20;
	if (source == NULL)
		source = path;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return hearth_err_set(err, HEARTH_EIO, "%s: cannot open: %s",
		    source, strerror(errno));
	/* The read buffer is arena memory too: it dies with the tree. */
	size_t cap = 4096, len = 0;
	char  *buf = hearth_arena_alloc(a, cap);
	int    rc  = 0;
	for (;;) {
		if (buf != NULL && len == cap) {
			buf = hearth_arena_realloc(a, buf, len, cap * 2);
			cap *= 2;
		}
		if (buf == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "%s: out of memory while reading", source);
			break;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len > max_bytes) {
			rc = hearth_err_set(err, HEARTH_EINVAL,
			    "%s: larger than %zu bytes", source, max_bytes);
			break;
		}
		if (got == 0) {
			if (ferror(f))
				rc = hearth_err_set(err, HEARTH_EIO,
				    "%s: cannot read: %s", source,
				    strerror(errno));
			break;
		}
	}
	fclose(f);
	if (rc != 0)
		return rc;
	return hearth_config_tree_parse(a, buf, len, source, json, root, err);
}

const hearth_config_node *
hearth_config_tree_get(const hearth_config_node *map, const char *key)
{
	if (map == NULL || map->kind != HEARTH_CONFIG_MAP)
		return NULL;
	size_t klen = strlen(key);
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i].len == klen
		    && memcmp(map->keys[i].str, key, klen) == 0)
			return &map->items[i];
	return NULL;
}

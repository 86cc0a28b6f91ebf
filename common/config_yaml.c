/* config_yaml: the YAML side of config (libyaml's document API). */
#include "config_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *const config_type_phrases[]
    = { "a string", "an integer", "a boolean", "a duration" };

/* Top-level keys whose value is a list that the scalar table cannot hold.
 * This loader only checks that each is a list (or null); the module that
 * owns it reads the same file through config_tree.h (scrape_configs:
 * distributor/scrape_config.c). */
static const char *const config_list_sections[] = { "scrape_configs" };

static int
config_is_list_section(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(config_list_sections)
	         / sizeof(config_list_sections[0]);
	     i++)
		if (strlen(config_list_sections[i]) == len
		    && memcmp(config_list_sections[i], key, len) == 0)
			return 1;
	return 0;
}

/* 1 when key names a section: some row's path is "key.<something>". */
static int
config_is_section(const char *key, size_t len)
{
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++)
		if (strncmp(hearth_config_rows[i].yaml, key, len) == 0
		    && memchr(key, '\0', len) == NULL
		    && hearth_config_rows[i].yaml[len] == '.')
			return 1;
	return 0;
}

typedef struct config_yaml_ctx {
	yaml_document_t *doc;
	const char      *source;
	void            *base;
	unsigned long
	    seen[HEARTH_CONFIG_N_ROWS]; /* line of first use, 0 = unset */
	unsigned long seen_section[HEARTH_CONFIG_N_ROWS];
} config_yaml_ctx;

static unsigned long
config_line(const yaml_node_t *n)
{
	return (unsigned long) n->start_mark.line + 1;
}

static int
config_yaml_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE
	    || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *) n->data.scalar.value;
	size_t      l = n->data.scalar.length;
	return l == 0 || (l == 1 && v[0] == '~')
	    || (l == 4
	        && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4)
	            || !memcmp(v, "NULL", 4)));
}

static const char *
config_node_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" : "a list";
}

static int
config_yaml_unknown(config_yaml_ctx *x, const yaml_node_t *key,
    const char *path, size_t len, hearth_err *err)
{
	const char *hint  = hearth_config_suggest(path, len, 0);
	int         shown = len > 128 ? 128 : (int) len;
	return hearth_err_set(err, HEARTH_EINVAL,
	    "%s: line %lu: unknown key \"%.*s\"%s%s%s", x->source,
	    config_line(key), shown, path, hint ? " (did you mean \"" : "",
	    hint ? hint : "", hint ? "\"?)" : "");
}

/* Apply one `key: value` whose full path is path[0..len). */
static int
config_yaml_leaf(config_yaml_ctx *x, const yaml_node_t *key,
    const yaml_node_t *val, const char *path, size_t len, hearth_err *err)
{
	const hearth_config_row *r = hearth_config_find_yaml(path, len);
	if (r == NULL)
		return config_yaml_unknown(x, key, path, len, err);
	size_t i = (size_t) (r - hearth_config_rows);
	if (x->seen[i] != 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: key \"%s\" is set twice (first on line "
		    "%lu)",
		    x->source, config_line(key), r->yaml, x->seen[i]);
	x->seen[i] = config_line(key);
	if (config_yaml_is_null(val))
		return 0;
	if (val->type != YAML_SCALAR_NODE)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: %s: expected %s, got %s", x->source,
		    config_line(val), r->yaml, config_type_phrases[r->type],
		    config_node_kind(val));
	if (hearth_config_set_value(x->base, r,
	        (const char *) val->data.scalar.value, val->data.scalar.length,
	        err)
	    != 0)
		return hearth_err_prefix(err, "%s: line %lu: %s", x->source,
		    config_line(val), r->yaml);
	return 0;
}

static int
config_yaml_section(config_yaml_ctx *x, const yaml_node_t *skey,
    const yaml_node_t *sval, hearth_err *err)
{
	const char *sname = (const char *) skey->data.scalar.value;
	size_t      slen  = skey->data.scalar.length;
	/* Section names are few; index seen_section by the first row of the
	 * section, which is unique per section. */
	size_t first = 0;
	while (strncmp(hearth_config_rows[first].yaml, sname, slen) != 0
	    || hearth_config_rows[first].yaml[slen] != '.')
		first++;
	if (x->seen_section[first] != 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: section \"%.*s\" appears twice (first on "
		    "line %lu); merge the two",
		    x->source, config_line(skey), (int) slen, sname,
		    x->seen_section[first]);
	x->seen_section[first] = config_line(skey);
	if (config_yaml_is_null(sval))
		return 0;
	if (sval->type != YAML_MAPPING_NODE)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: %.*s: expected a mapping (indented key: "
		    "value lines), got %s",
		    x->source, config_line(sval), (int) slen, sname,
		    sval->type == YAML_SCALAR_NODE ? "a single value"
		                                   : config_node_kind(sval));
	for (yaml_node_pair_t *p = sval->data.mapping.pairs.start;
	     p < sval->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		if (k == NULL || v == NULL)
			return hearth_err_set(err, HEARTH_EINTERNAL,
			    "%s: broken YAML document", x->source);
		if (k->type != YAML_SCALAR_NODE)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: keys under %.*s must be names, not "
			    "%s",
			    x->source, config_line(k), (int) slen, sname,
			    config_node_kind(k));
		char   path[256];
		size_t klen = k->data.scalar.length;
		if (slen + 1 + klen >= sizeof(path))
			klen = sizeof(path) - slen - 2;
		memcpy(path, sname, slen);
		path[slen] = '.';
		memcpy(path + slen + 1, k->data.scalar.value, klen);
		if (config_yaml_leaf(x, k, v, path, slen + 1 + klen, err) != 0)
			return err != NULL ? err->code : HEARTH_EINVAL;
	}
	return 0;
}

static int
config_yaml_apply(config_yaml_ctx *x, hearth_err *err)
{
	yaml_node_t *root = yaml_document_get_root_node(x->doc);
	if (root == NULL || config_yaml_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: the top level must be a mapping of keys "
		    "such as server: and limits:, not %s",
		    x->source, config_line(root),
		    root->type == YAML_SCALAR_NODE ? "a single value"
		                                   : config_node_kind(root));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		if (k == NULL || v == NULL)
			return hearth_err_set(err, HEARTH_EINTERNAL,
			    "%s: broken YAML document", x->source);
		if (k->type != YAML_SCALAR_NODE)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: top-level keys must be names, not "
			    "%s",
			    x->source, config_line(k), config_node_kind(k));
		const char *key = (const char *) k->data.scalar.value;
		size_t      len = k->data.scalar.length;
		int         rc;
		if (config_is_list_section(key, len)) {
			rc = 0;
			if (!config_yaml_is_null(v) && v->type != YAML_SEQUENCE_NODE)
				rc = hearth_err_set(err, HEARTH_EINVAL,
				    "%s: line %lu: %.*s: expected a list "
				    "(lines starting with \"- \"), got %s",
				    x->source, config_line(v), (int) len, key,
				    v->type == YAML_SCALAR_NODE
				        ? "a single value"
				        : config_node_kind(v));
		} else if (config_is_section(key, len))
			rc = config_yaml_section(x, k, v, err);
		else if (memchr(key, '.', len) != NULL)
			rc = config_yaml_unknown(x, k, key, len, err);
		else
			rc = config_yaml_leaf(x, k, v, key, len, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
config_yaml_syntax_error(yaml_parser_t *p, const char *source, hearth_err *err)
{
	if (p->error == YAML_MEMORY_ERROR)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "%s: out of memory while parsing YAML", source);
	if (p->context != NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu, column %lu: %s (%s, started on line %lu)",
		    source, (unsigned long) p->problem_mark.line + 1,
		    (unsigned long) p->problem_mark.column + 1,
		    p->problem ? p->problem : "invalid YAML", p->context,
		    (unsigned long) p->context_mark.line + 1);
	return hearth_err_set(err, HEARTH_EINVAL,
	    "%s: line %lu, column %lu: %s", source,
	    (unsigned long) p->problem_mark.line + 1,
	    (unsigned long) p->problem_mark.column + 1,
	    p->problem ? p->problem : "invalid YAML");
}

int
hearth_config_parse_yaml_string(hearth_config *c, const char *s, size_t len,
    const char *source, hearth_err *err)
{
	yaml_parser_t   parser;
	yaml_document_t doc;
	int             rc;
	/* Work on a copy so that a failed parse leaves c unchanged; the
	 * context is large (two arrays per row), so it lives on the heap. */
	config_yaml_ctx *x   = calloc(1, sizeof(*x));
	hearth_config   *tmp = malloc(sizeof(*tmp));
	if (source == NULL)
		source = "config";
	if (x == NULL || tmp == NULL || !yaml_parser_initialize(&parser)) {
		free(x);
		free(tmp);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "%s: out of memory", source);
	}
	memcpy(tmp, c, sizeof(*tmp));
	x->source = source;
	x->base   = tmp;
	x->doc    = &doc;
	yaml_parser_set_input_string(&parser, (const unsigned char *) s, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = config_yaml_syntax_error(&parser, source, err);
		goto out;
	}
	rc = config_yaml_apply(x, err);
	yaml_document_delete(&doc);
	if (rc != 0)
		goto out;
	/* A second document would be silently ignored by a reader that
	 * stops after one: refuse it instead. */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = config_yaml_syntax_error(&parser, source, err);
		goto out;
	}
	yaml_node_t *root2 = yaml_document_get_root_node(&doc);
	if (root2 != NULL)
		rc = hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: a second YAML document starts here; a "
		    "config file holds one document",
		    source, config_line(root2));
	yaml_document_delete(&doc);
	if (rc == 0)
		memcpy(c, tmp, sizeof(*c));
out:
	yaml_parser_delete(&parser);
	free(x);
	free(tmp);
	return rc;
}

int
hearth_config_load_file(hearth_config *c, const char *path, hearth_err *err)
{
	/* A config file is a few KB; the cap only stops `-config.file
	 * /dev/zero` from eating memory. */
	enum { MAX_BYTES = 16 << 20 };
	char       source[4200];
	hearth_buf b;
	int        rc;
	snprintf(source, sizeof(source), "config file %.4096s", path);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: cannot open: %s", source, strerror(errno));
	hearth_buf_init(&b);
	for (;;) {
		if (hearth_buf_reserve(&b, 65536) != 0) {
			rc = hearth_err_set(
			    err, HEARTH_ENOMEM, "%s: out of memory", source);
			goto out;
		}
		size_t n = fread(b.data + b.len, 1, 65536, f);
		b.len += n;
		if (b.len > MAX_BYTES) {
			rc = hearth_err_set(err, HEARTH_EINVAL,
			    "%s: larger than %d bytes; is this a config file?",
			    source, MAX_BYTES);
			goto out;
		}
		if (n < 65536)
			break;
	}
	if (ferror(f)) {
		rc = hearth_err_set(err, HEARTH_EINVAL, "%s: cannot read: %s",
		    source, strerror(errno));
		goto out;
	}
	rc = hearth_config_parse_yaml_string(c, b.data, b.len, source, err);
out:
	fclose(f);
	hearth_buf_fini(&b);
	return rc;
}

/*
 * config_tree: a YAML (or JSON) document as a read-only tree of nodes, for
 * what the scalar table of config.h cannot hold: list-valued sections such
 * as `scrape_configs:` (walked by distributor/scrape_config.c) and files
 * read at run time (file_sd target files). It is part of the config
 * module: libyaml is used only here and in config_yaml.c (STYLE rule 6),
 * so other modules see hearth nodes and hearth errors.
 *
 *   MAP    n pairs: keys[i] (always a SCALAR node) → items[i]
 *   LIST   n items: items[0..n)
 *   SCALAR str[0..len), NUL-terminated; `quoted` when written in quotes
 *          (so "null" and "true" in quotes stay text for the caller)
 *   NULL   a plain empty value, `~`, `null`, `Null`, `NULL`
 *
 * Invariants: (1) keys of one MAP are distinct (a repeated key is a parse
 * error naming both lines, as YAML requires); (2) line is the 1-based line
 * of the node's first character; (3) the tree is finite and at most
 * HEARTH_CONFIG_TREE_MAX_DEPTH deep and HEARTH_CONFIG_TREE_MAX_NODES large
 * (YAML aliases are expanded, so a "billion laughs" document is refused
 * instead of eating memory). Merge keys (<<) are not resolved (libyaml
 * does not): they are ordinary keys, which callers reject as unknown.
 *
 * Ownership: every node and string lives in the arena passed to the
 * parser and dies with it. Threading: a parse uses one arena on one
 * thread; a finished tree is immutable and may be read from any thread.
 */
#ifndef HEARTH_CONFIG_TREE_H
#define HEARTH_CONFIG_TREE_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

#define HEARTH_CONFIG_TREE_MAX_DEPTH 64
#define HEARTH_CONFIG_TREE_MAX_NODES 1000000

enum {
	HEARTH_CONFIG_NULL,
	HEARTH_CONFIG_SCALAR,
	HEARTH_CONFIG_MAP,
	HEARTH_CONFIG_LIST
};

typedef struct hearth_config_node hearth_config_node;
struct hearth_config_node {
	int                 kind; /* HEARTH_CONFIG_* */
	unsigned long       line;
	const char         *str; /* SCALAR: the text; others: "" */
	size_t              len;
	int                 quoted;
	size_t              n;     /* MAP pairs or LIST items */
	hearth_config_node *keys;  /* MAP only: n scalar nodes */
	hearth_config_node *items; /* MAP values or LIST items */
};

/* Parse one document s[0..len) (need not be NUL-terminated) into *root.
 * source names the text in errors ("file_sd file targets.json"); NULL is
 * "config". With json set, the text is JSON: tab characters, which JSON
 * allows as whitespace and YAML does not as indentation, are read as
 * spaces (JSON strings cannot hold a raw tab, so no value changes).
 * An empty document gives a NULL root node. A second document is an
 * error. Errors (HEARTH_EINVAL, or HEARTH_ENOMEM) read
 * "<source>: line L, column C: <problem>" or "<source>: line L: ...". */
int hearth_config_tree_parse(hearth_arena *a, const char *s, size_t len,
    const char *source, int json, const hearth_config_node **root,
    hearth_err *err);

/* Read the file at path (at most max_bytes; 0 = 16 MiB) and parse it as
 * above; source defaults to the path. An unreadable file is HEARTH_EIO
 * naming the path and the system's reason. */
int hearth_config_tree_load(hearth_arena *a, const char *path,
    const char *source, int json, size_t max_bytes,
    const hearth_config_node **root, hearth_err *err);

/* Value of key in a MAP node, or NULL (also when map is not a MAP). */
const hearth_config_node *hearth_config_tree_get(
    const hearth_config_node *map, const char *key);

/* "a mapping", "a list", "a single value" or "null", for messages such as
 * "expected a list, got a mapping". */
const char *hearth_config_tree_kind_name(int kind);

#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "fgtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Add "a;b;c" (root first) with value v. */
static void
add_folded(hearth_fgtree *t, const char *stack, int64_t v)
{
	const char *frames[64];
	size_t	    lens[64];
	size_t	    n = 0;
	const char *p = stack;
	while (*p != '\0') {
		const char *e = strchr(p, ';');
		size_t	    l = e ? (size_t) (e - p) : strlen(p);
		frames[n]     = p;
		lens[n++]     = l;
		p += l;
		if (*p == ';')
			p++;
	}
	assert_int_equal(hearth_fgtree_add_stack(t, frames, lens, n, v), 0);
}

/* Node reached by the folded path, or fail. */
static uint32_t
node_at(const hearth_fgtree *t, const char *path)
{
	uint32_t    node = 0;
	const char *p	 = path;
	while (*p != '\0') {
		const char *e = strchr(p, ';');
		size_t	    l = e ? (size_t) (e - p) : strlen(p);
		if (!hearth_fgtree_find(t, node, p, l, &node))
			fail_msg("no node %s", path);
		p += l;
		if (*p == ';')
			p++;
	}
	return node;
}

static int64_t
self_at(const hearth_fgtree *t, const char *path)
{
	int64_t self;
	hearth_fgtree_node(t, node_at(t, path), NULL, NULL, NULL, &self);
	return self;
}

static void
test_fgtree_new_is_root_only(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	assert_non_null(t);
	assert_int_equal(hearth_fgtree_size(t), 1);
	assert_int_equal(hearth_fgtree_total(t), 0);
	assert_int_equal(hearth_fgtree_name_count(t), 1);
	uint32_t    parent;
	const char *name;
	size_t	    len;
	int64_t	    self;
	hearth_fgtree_node(t, 0, &parent, &name, &len, &self);
	assert_int_equal(parent, HEARTH_FGTREE_NO_PARENT);
	assert_int_equal(len, 0);
	assert_int_equal(self, 0);
	assert_int_equal(hearth_fgtree_node_name(t, 0), 0);
	hearth_fgtree_free(t);
	hearth_fgtree_free(NULL);
}

static void
test_fgtree_child_find_or_add(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	uint32_t       a, a2, b, ab, ba;
	assert_int_equal(hearth_fgtree_child(t, 0, "a", 1, &a), 0);
	assert_int_equal(hearth_fgtree_child(t, 0, "b", 1, &b), 0);
	assert_int_equal(hearth_fgtree_child(t, 0, "a", 1, &a2), 0);
	assert_int_equal(a, a2);
	assert_int_not_equal(a, b);
	assert_int_equal(hearth_fgtree_child(t, a, "b", 1, &ab), 0);
	assert_int_equal(hearth_fgtree_child(t, b, "a", 1, &ba), 0);
	assert_int_not_equal(ab, b);
	assert_int_equal(hearth_fgtree_size(t), 5);
	/* names are interned: "", "a", "b" */
	assert_int_equal(hearth_fgtree_name_count(t), 3);
	assert_int_equal(hearth_fgtree_node_name(t, ab),
	    hearth_fgtree_node_name(t, b));
	uint32_t parent;
	hearth_fgtree_node(t, ab, &parent, NULL, NULL, NULL);
	assert_int_equal(parent, a);
	/* lookups without adding */
	uint32_t f;
	assert_true(hearth_fgtree_find(t, a, "b", 1, &f));
	assert_int_equal(f, ab);
	assert_false(hearth_fgtree_find(t, a, "a", 1, &f));
	assert_false(hearth_fgtree_find(t, 0, "zz", 2, &f));
	assert_int_equal(hearth_fgtree_size(t), 5);
	/* names are bytes: a NUL inside and the empty name are fine */
	uint32_t z, e;
	assert_int_equal(hearth_fgtree_child(t, 0, "x\0y", 3, &z), 0);
	assert_int_equal(hearth_fgtree_child(t, 0, "", 0, &e), 0);
	assert_int_not_equal(e, 0);
	const char *name;
	size_t	    len;
	hearth_fgtree_node(t, z, NULL, &name, &len, NULL);
	assert_int_equal(len, 3);
	assert_memory_equal(name, "x\0y", 3);
	hearth_fgtree_free(t);
}

static void
test_fgtree_add_stack_and_totals(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "main;work;compute", 60);
	add_folded(t, "main;work", 20);
	add_folded(t, "main;idle", 10);
	add_folded(t, "gc", 10);
	add_folded(t, "main;work;compute", 5);
	const char *frames[] = { "main", "idle" };
	assert_int_equal(hearth_fgtree_add_stack(t, frames, NULL, 2, 1), 0);
	assert_int_equal(hearth_fgtree_size(t), 6);
	assert_int_equal(hearth_fgtree_total(t), 106);
	assert_int_equal(self_at(t, "main;work;compute"), 65);
	assert_int_equal(self_at(t, "main;idle"), 11);
	assert_int_equal(self_at(t, "main"), 0);
	int64_t tot[6];
	hearth_fgtree_totals(t, tot);
	assert_int_equal(tot[0], 106);
	assert_int_equal(tot[node_at(t, "main")], 96);
	assert_int_equal(tot[node_at(t, "main;work")], 85);
	assert_int_equal(tot[node_at(t, "gc")], 10);
	/* n == 0 adds to the root */
	assert_int_equal(hearth_fgtree_add_stack(t, NULL, NULL, 0, 4), 0);
	assert_int_equal(self_at(t, ""), 4);
	assert_int_equal(hearth_fgtree_total(t), 110);
	hearth_fgtree_free(t);
}

static void
test_fgtree_parent_before_child(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	char	       buf[64];
	for (int i = 0; i < 2000; i++) {
		snprintf(buf, sizeof(buf), "f%d;g%d;h%d;k%d", i % 7, i % 13,
		    i % 29, i);
		add_folded(t, buf, i);
	}
	for (uint32_t i = 1; i < hearth_fgtree_size(t); i++) {
		uint32_t p;
		hearth_fgtree_node(t, i, &p, NULL, NULL, NULL);
		assert_true(p < i);
	}
	hearth_fgtree_free(t);
}

static void
test_fgtree_saturating_self(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "a", INT64_MAX - 1);
	add_folded(t, "a", 10);
	assert_int_equal(self_at(t, "a"), INT64_MAX);
	add_folded(t, "b", 5);
	assert_int_equal(hearth_fgtree_total(t), INT64_MAX);
	int64_t tot[3];
	hearth_fgtree_totals(t, tot);
	assert_int_equal(tot[0], INT64_MAX);
	add_folded(t, "c", INT64_MIN);
	add_folded(t, "c", -1);
	assert_int_equal(self_at(t, "c"), INT64_MIN);
	hearth_fgtree_free(t);
}

static void
test_fgtree_merge(void **state)
{
	(void) state;
	hearth_fgtree *a = hearth_fgtree_new();
	hearth_fgtree *b = hearth_fgtree_new();
	add_folded(a, "main;a", 10);
	add_folded(a, "main;b", 5);
	add_folded(b, "main;a", 4);
	add_folded(b, "main;c", 6);
	add_folded(b, "other;x;y", 1);
	assert_int_equal(hearth_fgtree_add_stack(b, NULL, NULL, 0, 2), 0);
	assert_int_equal(hearth_fgtree_merge(a, b), 0);
	assert_int_equal(hearth_fgtree_total(a), 28);
	assert_int_equal(self_at(a, "main;a"), 14);
	assert_int_equal(self_at(a, "main;b"), 5);
	assert_int_equal(self_at(a, "main;c"), 6);
	assert_int_equal(self_at(a, "other;x;y"), 1);
	assert_int_equal(self_at(a, ""), 2);
	assert_int_equal(hearth_fgtree_size(a), 8);
	/* merging into an empty tree copies */
	hearth_fgtree *c = hearth_fgtree_new();
	assert_int_equal(hearth_fgtree_merge(c, a), 0);
	assert_int_equal(hearth_fgtree_size(c), 8);
	assert_int_equal(hearth_fgtree_total(c), 28);
	/* merging again doubles the values, not the nodes */
	assert_int_equal(hearth_fgtree_merge(c, a), 0);
	assert_int_equal(hearth_fgtree_size(c), 8);
	assert_int_equal(self_at(c, "main;a"), 28);
	hearth_fgtree_free(a);
	hearth_fgtree_free(b);
	hearth_fgtree_free(c);
}

static void
test_fgtree_intern_from_own_pool(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	uint32_t       n;
	assert_int_equal(hearth_fgtree_child(t, 0, "runtime.mallocgc", 16, &n),
	    0);
	/* Intern many substrings of names the tree itself holds, forcing
	 * the pool to move while the source pointer points into it. */
	for (int i = 0; i < 500; i++) {
		const char *name;
		size_t	    len;
		hearth_fgtree_node(t, n, NULL, &name, &len, NULL);
		uint32_t c;
		assert_int_equal(hearth_fgtree_child(t, n, name + 1, len - 1,
				     &c),
		    0);
		const char *cn;
		size_t	    cl;
		hearth_fgtree_node(t, c, NULL, &cn, &cl, NULL);
		assert_int_equal(cl, len - 1);
		if (i == 0)
			assert_memory_equal(cn, "untime.mallocgc", 15);
		char big[64];
		snprintf(big, sizeof(big), "%.*s-%d", (int) cl, cn, i);
		assert_int_equal(hearth_fgtree_child(t, c, big, strlen(big),
				     &n),
		    0);
	}
	hearth_fgtree_free(t);
}

static void
test_fgtree_many_nodes(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	char	       buf[32];
	/* 100k distinct names under the root plus a second level. */
	for (int i = 0; i < 100000; i++) {
		uint32_t c, g;
		int	 l = snprintf(buf, sizeof(buf), "fn_%d", i);
		assert_int_equal(hearth_fgtree_child(t, 0, buf, (size_t) l, &c),
		    0);
		assert_int_equal(hearth_fgtree_child(t, c, "leaf", 4, &g), 0);
		assert_int_equal(hearth_fgtree_add_self(t, g, i), 0);
	}
	assert_int_equal(hearth_fgtree_size(t), 200001);
	assert_int_equal(hearth_fgtree_name_count(t), 100002);
	for (int i = 0; i < 100000; i += 997) {
		snprintf(buf, sizeof(buf), "fn_%d;leaf", i);
		assert_int_equal(self_at(t, buf), i);
	}
	assert_int_equal(hearth_fgtree_total(t), (int64_t) 99999 * 100000 / 2);
	hearth_fgtree_free(t);
}

static void
test_fgtree_deep_stack(void **state)
{
	(void) state;
	enum { DEPTH = 5000 };
	const char   **frames = malloc(DEPTH * sizeof(*frames));
	size_t	      *lens   = malloc(DEPTH * sizeof(*lens));
	hearth_fgtree *t      = hearth_fgtree_new();
	for (int i = 0; i < DEPTH; i++) {
		frames[i] = (i & 1) ? "recurse" : "step";
		lens[i]	  = strlen(frames[i]);
	}
	assert_int_equal(hearth_fgtree_add_stack(t, frames, lens, DEPTH, 3),
	    0);
	assert_int_equal(hearth_fgtree_add_stack(t, frames, lens, DEPTH, 4),
	    0);
	assert_int_equal(hearth_fgtree_size(t), DEPTH + 1);
	int64_t *tot = malloc((DEPTH + 1) * sizeof(*tot));
	hearth_fgtree_totals(t, tot);
	for (int i = 0; i <= DEPTH; i++)
		assert_int_equal(tot[i], 7);
	free(tot);
	free(frames);
	free(lens);
	hearth_fgtree_free(t);
}

static void
test_fgtree_kth_largest(void **state)
{
	(void) state;
	int64_t v[] = { 5, 1, 9, 7, 7, 3, 9, 0, -2 };
	int64_t r;
	size_t	n = sizeof(v) / sizeof(v[0]);
	int64_t want[] = { 9, 9, 7, 7, 5, 3, 1, 0, -2 };
	for (size_t k = 1; k <= n; k++) {
		assert_int_equal(hearth_fgtree_kth_largest(v, n, k, &r), 0);
		assert_int_equal(r, want[k - 1]);
	}
	assert_int_equal(hearth_fgtree_kth_largest(v, n, n + 5, &r), 0);
	assert_int_equal(r, -2);
	assert_int_equal(hearth_fgtree_kth_largest(v, 0, 3, &r), 0);
	assert_int_equal(r, 0);
	/* ascending and descending inputs exercise both heap paths */
	int64_t *big = malloc(10000 * sizeof(*big));
	for (int i = 0; i < 10000; i++)
		big[i] = i;
	assert_int_equal(hearth_fgtree_kth_largest(big, 10000, 100, &r), 0);
	assert_int_equal(r, 9900);
	for (int i = 0; i < 10000; i++)
		big[i] = 10000 - i;
	assert_int_equal(hearth_fgtree_kth_largest(big, 10000, 100, &r), 0);
	assert_int_equal(r, 9901);
	free(big);
}

static void
test_fgtree_truncate(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "main;work;compute", 60);
	add_folded(t, "main;work", 20);
	add_folded(t, "main;idle", 10);
	add_folded(t, "main;idle;sleep", 1);
	add_folded(t, "gc", 10);
	add_folded(t, "gc;mark", 2);
	hearth_fgtree *o;
	/* 7 nodes besides the root; max 3 -> threshold = 3rd largest
	 * total (main 91, work 80, compute 60) = 60. */
	assert_int_equal(hearth_fgtree_truncate(t, 3, &o), 0);
	assert_int_equal(hearth_fgtree_size(o), 6);
	assert_int_equal(hearth_fgtree_total(o), 103);
	assert_int_equal(self_at(o, "main;work;compute"), 60);
	assert_int_equal(self_at(o, "main;work"), 20);
	assert_int_equal(self_at(o, "main;other"), 11); /* idle + sleep */
	assert_int_equal(self_at(o, "other"), 12);	/* gc + mark */
	uint32_t x;
	assert_false(hearth_fgtree_find(o, 0, "gc", 2, &x));
	hearth_fgtree_free(o);
	/* no truncation: same tree */
	assert_int_equal(hearth_fgtree_truncate(t, 0, &o), 0);
	assert_int_equal(hearth_fgtree_size(o), 8);
	assert_int_equal(self_at(o, "main;idle;sleep"), 1);
	hearth_fgtree_free(o);
	assert_int_equal(hearth_fgtree_truncate(t, 7, &o), 0);
	assert_int_equal(hearth_fgtree_size(o), 8);
	hearth_fgtree_free(o);
	hearth_fgtree_free(t);
}

static void
test_fgtree_truncate_literal_other(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "main;other;deep", 50);
	add_folded(t, "main;tiny", 1);
	add_folded(t, "main;zero", 0);
	hearth_fgtree *o;
	/* Even without truncation a real "other" is folded (subtree and
	 * all); the zero-total node passes the threshold 0. */
	assert_int_equal(hearth_fgtree_truncate(t, 0, &o), 0);
	assert_int_equal(self_at(o, "main;other"), 50);
	uint32_t x;
	assert_false(hearth_fgtree_find(o, node_at(o, "main;other"), "deep", 4,
	    &x));
	assert_int_equal(self_at(o, "main;tiny"), 1);
	assert_int_equal(self_at(o, "main;zero"), 0);
	hearth_fgtree_free(o);
	/* With truncation the literal and the small ones share one node. */
	assert_int_equal(hearth_fgtree_truncate(t, 2, &o), 0);
	assert_int_equal(self_at(o, "main;other"), 51);
	assert_int_equal(hearth_fgtree_size(o), 3);
	hearth_fgtree_free(o);
	hearth_fgtree_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fgtree_new_is_root_only),
		cmocka_unit_test(test_fgtree_child_find_or_add),
		cmocka_unit_test(test_fgtree_add_stack_and_totals),
		cmocka_unit_test(test_fgtree_parent_before_child),
		cmocka_unit_test(test_fgtree_saturating_self),
		cmocka_unit_test(test_fgtree_merge),
		cmocka_unit_test(test_fgtree_intern_from_own_pool),
		cmocka_unit_test(test_fgtree_many_nodes),
		cmocka_unit_test(test_fgtree_deep_stack),
		cmocka_unit_test(test_fgtree_kth_largest),
		cmocka_unit_test(test_fgtree_truncate),
		cmocka_unit_test(test_fgtree_truncate_literal_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target for the selector parser and matcher (common/selector.h).
 *
 * Checks, for every input: parsing either succeeds or fails with a
 * "selector: " message and -HEARTH_EINVAL/-HEARTH_ENOMEM; a parsed selector
 * formats to text that parses back to the same matchers and formats to the
 * same text again; every matcher evaluates on its own value, on "" and on
 * the raw input (regexes under the match limits), consistently with its
 * negation; a label set built from the matchers is evaluated as a whole.
 * Seeds: any text file of selectors, e.g. one selector per file.
 */
#include "selector.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
fuzz_same(const hearth_selector *a, const hearth_selector *b)
{
	HEARTH_ASSERT(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		HEARTH_ASSERT(a->matchers[i].op == b->matchers[i].op);
		HEARTH_ASSERT(
		    strcmp(a->matchers[i].name, b->matchers[i].name) == 0);
		HEARTH_ASSERT(strcmp(a->matchers[i].value,
				  b->matchers[i].value) == 0);
	}
}

static int
fuzz_label_cmp(const void *x, const void *y)
{
	return strcmp(((const hearth_label *) x)->name,
	    ((const hearth_label *) y)->name);
}

static void
fuzz_match(const hearth_selector *s, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < s->n; i++) {
		const hearth_matcher *m = &s->matchers[i];
		int r = hearth_matcher_match(m, m->value, strlen(m->value));
		if (m->op == HEARTH_MATCH_EQ)
			HEARTH_ASSERT(r == 1);
		if (m->op == HEARTH_MATCH_NEQ)
			HEARTH_ASSERT(r == 0);
		HEARTH_ASSERT(hearth_matcher_matches_empty(m) ==
		    hearth_matcher_match(m, "", 0));
		(void) hearth_matcher_match(m, (const char *) data, size);
	}
	/* One label per distinct name, valued with the first matcher's
	 * value for it; sorted as hearth_selector_match requires. */
	hearth_label *ls = calloc(s->n + 1, sizeof(*ls));
	size_t	      n	 = 0;
	HEARTH_ASSERT(ls != NULL);
	for (size_t i = 0; i < s->n; i++) {
		int dup = 0;
		for (size_t k = 0; k < n; k++)
			dup |= strcmp(ls[k].name, s->matchers[i].name) == 0;
		if (!dup) {
			ls[n].name    = s->matchers[i].name;
			ls[n++].value = s->matchers[i].value;
		}
	}
	qsort(ls, n, sizeof(*ls), fuzz_label_cmp);
	(void) hearth_selector_match(s, ls, n);
	(void) hearth_selector_match(s, NULL, 0);
	free(ls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_selector *s = NULL;
	hearth_err	 err;
	hearth_err_clear(&err);
	int rc = hearth_selector_parse((const char *) data, size, &s, &err);
	if (rc != 0) {
		HEARTH_ASSERT(s == NULL);
		HEARTH_ASSERT(rc == HEARTH_EINVAL || rc == HEARTH_ENOMEM);
		HEARTH_ASSERT(err.code == rc);
		HEARTH_ASSERT(strncmp(err.msg, "selector: ", 10) == 0);
		return 0;
	}
	hearth_buf b1, b2;
	hearth_buf_init(&b1);
	hearth_buf_init(&b2);
	HEARTH_ASSERT(hearth_selector_format(s, &b1) == 0);
	hearth_selector *t = NULL;
	rc		   = hearth_selector_parse(b1.data, b1.len, &t, &err);
	HEARTH_ASSERT(rc == 0);
	fuzz_same(s, t);
	HEARTH_ASSERT(hearth_selector_format(t, &b2) == 0);
	HEARTH_ASSERT(b1.len == b2.len &&
	    memcmp(b1.data, b2.data, b1.len) == 0);
	fuzz_match(s, data, size);
	hearth_buf_fini(&b1);
	hearth_buf_fini(&b2);
	hearth_selector_free(s);
	hearth_selector_free(t);
	return 0;
}

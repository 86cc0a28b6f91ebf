/* upload_render: see upload_render.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "upload_render.h"

static int
render_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

char *
upload_render(const hearth_upload *u)
{
	assert_int_equal(u->n_sample_types, 1);
	hearth_buf out;
	hearth_buf_init(&out);
	if (u->n_groups == 0)
		return hearth_buf_take(&out, NULL);
	assert_int_equal(u->n_groups, 1);
	const hearth_upload_group *g = &u->groups[0];
	assert_int_equal(g->n_labels, 0);
	char **lines = calloc(g->n_rows, sizeof(*lines));
	for (size_t r = 0; r < g->n_rows; r++) {
		hearth_buf l;
		hearth_buf_init(&l);
		uint32_t st = g->stacks[r];
		for (uint32_t f = u->stack_off[st]; f < u->stack_off[st + 1];
		     f++) {
			if (f > u->stack_off[st])
				hearth_buf_putc(&l, ';');
			uint32_t id = u->frames[f];
			hearth_buf_append(
			    &l, u->strings[id], u->string_lens[id]);
		}
		hearth_buf_printf(&l, " %lld", (long long) g->values[r]);
		lines[r] = hearth_buf_take(&l, NULL);
	}
	qsort(lines, g->n_rows, sizeof(*lines), render_cmp);
	for (size_t r = 0; r < g->n_rows; r++) {
		hearth_buf_puts(&out, lines[r]);
		hearth_buf_putc(&out, '\n');
		free(lines[r]);
	}
	free(lines);
	return hearth_buf_take(&out, NULL);
}


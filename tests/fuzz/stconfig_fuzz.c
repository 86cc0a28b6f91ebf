/* libFuzzer target: the sample_type_config JSON reader (stconfig.h). On
 * success every string must be valid UTF-8 and the heuristic must run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "stconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
stconfig_fuzz_str(const char *s)
{
	if (s != NULL)
		HEARTH_ASSERT(hearth_utf8_valid(s, strlen(s)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_arena    *a = hearth_arena_new(64u << 20);
	hearth_stconfig *c = NULL;
	hearth_err       err;
	if (a == NULL)
		abort();
	int rc = hearth_stconfig_parse(a, (const char *) data, size, &c, &err);
	if (rc == 0) {
		HEARTH_ASSERT(c->n <= HEARTH_STCONFIG_MAX_ENTRIES);
		const char **types = malloc((c->n + 1) * sizeof(*types));
		if (types == NULL)
			abort();
		for (size_t i = 0; i < c->n; i++) {
			const hearth_stconfig_entry *e = &c->entries[i];
			stconfig_fuzz_str(e->sample_type);
			stconfig_fuzz_str(e->units);
			stconfig_fuzz_str(e->display_name);
			stconfig_fuzz_str(e->aggregation);
			HEARTH_ASSERT(
			    hearth_stconfig_find(c, e->sample_type) == e);
			types[i] = e->sample_type;
		}
		const char *name
		    = hearth_stconfig_profile_name(c, types, c->n);
		HEARTH_ASSERT((name == NULL) == (c->n == 0));
		free(types);
	} else {
		HEARTH_ASSERT(c == NULL && err.msg[0] != '\0');
	}
	hearth_arena_free(a);
	return 0;
}

/*
 * overrides_fuzz: libFuzzer target for the runtime overrides file
 * (common/overrides.h: YAML through config_tree, tenant IDs, every limit's
 * value syntax). Properties beyond "no crash, no leak":
 *  - a refused document changes nothing (the tenants in use stay, and a
 *    tenant's limits read back the same) and says why;
 *  - an accepted document gives every tenant it names limits that differ
 *    from the defaults only in keys it lists (checked loosely: a tenant
 *    that is not named gets exactly the defaults).
 */
#include "config.h"
#include "overrides.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hearth_overrides *fuzz_o;
static hearth_limits     fuzz_defaults;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_err    err;
	hearth_limits before, after, none;
	if (fuzz_o == NULL) {
		hearth_config_limits_defaults(&fuzz_defaults);
		if (hearth_overrides_new(
		        &fuzz_defaults, "", 1000, NULL, NULL, &fuzz_o, &err)
		    != 0)
			abort();
	}
	/* A fixed tenant with overrides, so a refused input can be seen to
	 * keep them. */
	static const char base[]
	    = "overrides: {fuzz-keep: {max_query_length: 3h}}\n";
	HEARTH_ASSERT(
	    hearth_overrides_load(fuzz_o, base, sizeof(base) - 1, "base", &err)
	    == 0);
	hearth_overrides_get(fuzz_o, "fuzz-keep", &before);
	HEARTH_ASSERT(before.max_query_length_ms == 3 * 3600000);
	int rc = hearth_overrides_load(
	    fuzz_o, (const char *) data, size, "fuzz", &err);
	if (rc != 0) {
		HEARTH_ASSERT(rc == err.code && err.msg[0] != '\0');
		hearth_overrides_get(fuzz_o, "fuzz-keep", &after);
		HEARTH_ASSERT(memcmp(&before, &after, sizeof(after)) == 0);
		HEARTH_ASSERT(hearth_overrides_count(fuzz_o) == 1);
		return 0;
	}
	/* '|' is never in a tenant ID: this tenant cannot have overrides. */
	hearth_overrides_get(fuzz_o, "no|such", &none);
	HEARTH_ASSERT(memcmp(&none, &fuzz_defaults, sizeof(none)) == 0);
	return 0;
}

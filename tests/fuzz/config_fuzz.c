/* libFuzzer target: the YAML config loader (config.h). Properties checked
 * beyond "no crash, no leak":
 *  - a failed parse leaves the config unchanged and says why;
 *  - a successful parse dumps to YAML that parses back to the same config
 *    and dumps to the same text (what /config shows can be fed back). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_config c, before, back;
	hearth_err    err;
	hearth_config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	int rc = hearth_config_parse_yaml_string(
	    &c, (const char *) data, size, "fuzz", &err);
	if (rc != 0) {
		HEARTH_ASSERT(rc == err.code && err.msg[0] != '\0');
		HEARTH_ASSERT(memcmp(&c, &before, sizeof(c)) == 0);
		return 0;
	}
	hearth_buf d1, d2;
	hearth_buf_init(&d1);
	hearth_buf_init(&d2);
	HEARTH_ASSERT(hearth_config_dump(&c, &d1) == 0);
	hearth_config_defaults(&back);
	rc = hearth_config_parse_yaml_string(
	    &back, d1.data, d1.len, "dump", &err);
	HEARTH_ASSERT(rc == 0);
	HEARTH_ASSERT(memcmp(&back, &c, sizeof(c)) == 0);
	HEARTH_ASSERT(hearth_config_dump(&back, &d2) == 0);
	HEARTH_ASSERT(
	    d1.len == d2.len && memcmp(d1.data, d2.data, d1.len) == 0);
	hearth_buf_fini(&d1);
	hearth_buf_fini(&d2);
	return 0;
}

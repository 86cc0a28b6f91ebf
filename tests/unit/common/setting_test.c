#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "setting.h"

static Hearth__Ingester__Setting
version(const char *value, int64_t t, int deleted)
{
	Hearth__Ingester__Setting s = HEARTH__INGESTER__SETTING__INIT;
	s.name			    = "n";
	s.value			    = (char *) value;
	s.modified_at_ms	    = t;
	s.deleted		    = deleted;
	return s;
}

/* Exactly one of two different versions wins, the same one either way
 * round: the later time, then a delete, then the greater value. */
static void
test_setting_order_is_total(void **state)
{
	(void) state;
	Hearth__Ingester__Setting v[] = {
		version("a", 1, 0),
		version("b", 1, 0),
		version("", 1, 1),
		version("a", 2, 0),
		version("", 2, 1),
		version("z", 0, 0),
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	for (size_t i = 0; i < n; i++) {
		assert_false(hearth_setting_newer(&v[i], &v[i]));
		for (size_t j = 0; j < n; j++)
			if (i != j)
				assert_int_equal(hearth_setting_newer(&v[i], &v[j])
					+ hearth_setting_newer(&v[j], &v[i]),
				    1);
	}
	assert_true(hearth_setting_newer(&v[3], &v[1])); /* later */
	assert_true(hearth_setting_newer(&v[0], &v[5])); /* later, smaller */
	assert_true(hearth_setting_newer(&v[2], &v[1])); /* delete at a tie */
	assert_true(hearth_setting_newer(&v[1], &v[0])); /* greater value */
	assert_true(hearth_setting_newer(&v[3], &v[2])); /* a later write
							   * undoes a delete */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setting_order_is_total),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "setting.h"

#include <string.h>

int
hearth_setting_newer(const Hearth__Ingester__Setting *a,
    const Hearth__Ingester__Setting *b)
{
	if (a->modified_at_ms != b->modified_at_ms)
		return a->modified_at_ms > b->modified_at_ms;
	if (a->deleted != b->deleted)
		return a->deleted;
	return strcmp(a->value, b->value) > 0;
}

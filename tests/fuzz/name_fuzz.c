/* libFuzzer target: the /ingest `name` parser (labels.h). On success the
 * result must obey the grammar of ingest-http.md §3. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
name_fuzz_app_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'
	    || c == '/';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_arena *a = hearth_arena_new(64u << 20);
	hearth_err    err;
	const char   *app = NULL;
	hearth_label *ls  = NULL;
	size_t        n   = 0;
	if (a == NULL)
		abort();
	int rc = hearth_labels_parse_ingest_name(
	    a, (const char *) data, size, &app, &ls, &n, &err);
	if (rc == 0) {
		HEARTH_ASSERT(app != NULL && app[0] != '\0');
		for (const char *c = app; *c != '\0'; c++)
			HEARTH_ASSERT(name_fuzz_app_char(*c));
		for (size_t i = 0; i < n; i++) {
			const char *k = ls[i].name;
			HEARTH_ASSERT(k[0] != '\0');
			HEARTH_ASSERT(strncmp(k, "__", 2) != 0
			    || strcmp(k, "__session_id__") == 0);
			for (size_t j = 0; j < i; j++)
				HEARTH_ASSERT(strcmp(ls[j].name, k) != 0);
		}
		/* Whatever parsed must survive sort and validation calls. */
		n = hearth_labels_sort(ls, n);
		n = hearth_labels_drop_empty(ls, n);
		(void) hearth_labels_validate(ls, n, NULL, &err);
		(void) hearth_labels_fingerprint("t", ls, n);
	} else {
		HEARTH_ASSERT(app == NULL && ls == NULL && n == 0);
		HEARTH_ASSERT(strncmp(err.msg, "name: ", 6) == 0);
	}
	hearth_arena_free(a);
	return 0;
}

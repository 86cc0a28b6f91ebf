/* upload_render: a test helper that renders a one-sample-type upload
 * (one group without labels) as sorted "frame;frame value" lines, so that
 * a test states its whole expected result as one string. The returned
 * string is malloc'd (the caller frees it); "" for an upload without
 * groups. Fails the test (cmocka) on another shape. */
#ifndef HEARTH_TEST_UPLOAD_RENDER_H
#define HEARTH_TEST_UPLOAD_RENDER_H

#include "upload.h"

char *upload_render(const hearth_upload *u);

#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "cli_http.h"

static void
test_http_url_escapes_every_parameter(void **state)
{
	(void) state;
	hearth_cli_http_param p[] = {
		{ "query",
		    "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
		    "{service_name=\"shop\",env=~\"a|b\"}" },
		{ "from", "now-1h" },
		{ "maxNodes", NULL }, /* left out */
		{ "groupBy", "k8s pod" },
		{ "name", "caf\xc3\xa9 ~x" },
	};
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_http_url("http://h:4040/", "/pyroscope/render", p, 5, &b);
	assert_string_equal(b.data,
	    "http://h:4040/pyroscope/render?query=process_cpu%3Acpu%3A"
	    "nanoseconds%3Acpu%3Ananoseconds%7Bservice_name%3D%22shop%22%2C"
	    "env%3D~%22a%7Cb%22%7D&from=now-1h&groupBy=k8s%20pod"
	    "&name=caf%C3%A9%20~x");
	hearth_buf_reset(&b);
	/* A path prefix stays; no parameters, no '?'. */
	hearth_cli_http_url("https://proxy/hearth//", "/ready", NULL, 0, &b);
	assert_string_equal(b.data, "https://proxy/hearth/ready");
	hearth_buf_fini(&b);
}

static void
test_http_check_url(void **state)
{
	(void) state;
	hearth_err err;
	assert_int_equal(
	    hearth_cli_http_check_url("http://localhost:4040", &err), 0);
	assert_int_equal(
	    hearth_cli_http_check_url("HTTPS://h/prefix", &err), 0);
	assert_int_equal(
	    hearth_cli_http_check_url("localhost:4040", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "--url \"localhost:4040\" must start with "
	    "http:// or https://");
	assert_int_equal(
	    hearth_cli_http_check_url("http://", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "--url \"http://\" has no host");
	assert_int_equal(
	    hearth_cli_http_check_url("http://h/?a=1", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "--url \"http://h/?a=1\" must not have a "
	    "query or fragment (hearth-cli adds the "
	    "parameters)");
	assert_int_equal(hearth_cli_http_check_url("http://h\r\nX: y", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "--url must not contain spaces or control "
	    "characters");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_url_escapes_every_parameter),
		cmocka_unit_test(test_http_check_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

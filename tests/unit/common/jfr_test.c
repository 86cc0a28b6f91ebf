#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "jfr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* tests/data/jfr/burn.jfr.gz, a real JDK 17 recording (make_fixture.sh).
 * The figures below are what `jfr print` read from it
 * (burn.expected.json); regenerating the fixture means updating them. */
#define BURN		  HEARTH_TEST_DATA "/jfr/burn.jfr.gz"
#define BURN_CPU	  302
#define BURN_ALLOC	  47
#define BURN_ALLOC_BYTES  32279416
#define BURN_MONITOR	  76
#define BURN_MONITOR_NS	  2417924727
#define BURN_PARK	  1424
#define BURN_PARK_NS	  2980820690

static uint8_t *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t) len + 1);
	assert_int_equal(fread(b, 1, (size_t) len, f), (size_t) len);
	fclose(f);
	*n = (size_t) len;
	return b;
}

/* The recording without its gzip wrapper (the decoder takes both). */
static uint8_t *
burn_raw(size_t *n)
{
	size_t	 gn;
	uint8_t *gzb = read_file(BURN, &gn);
	size_t	 cap = 1 << 20;
	uint8_t *out = malloc(cap);
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in   = gzb;
	zs.avail_in  = (uInt) gn;
	zs.next_out  = out;
	zs.avail_out = (uInt) cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	*n = cap - zs.avail_out;
	inflateEnd(&zs);
	free(gzb);
	return out;
}

static const hearth_jfr_profile *
find(const hearth_jfr_result *r, const char *event)
{
	for (size_t i = 0; i < r->n_profiles; i++)
		if (strcmp(r->profiles[i].event, event) == 0)
			return &r->profiles[i];
	return NULL;
}

static void
assert_total(const hearth_jfr_result *r, const char *event, size_t type,
    int64_t want)
{
	const hearth_jfr_profile *p = find(r, event);
	assert_non_null(p);
	assert_int_equal(hearth_upload_total(p->upload, type), want);
}

/* Every kind in the recording, with its totals, names and types. */
static void
test_jfr_real_recording(void **state)
{
	(void) state;
	size_t		  n;
	uint8_t		 *b = read_file(BURN, &n);
	hearth_arena	 *a = hearth_arena_new(0);
	hearth_jfr_result r;
	hearth_err	  err;
	hearth_jfr_opts	  o = { .sample_rate = 100 };
	assert_int_equal(hearth_jfr_decode(a, b, n, &o, &r, &err), 0);
	assert_int_equal(r.n_profiles, 4);
	assert_true(r.decoded_bytes > n);
	assert_total(&r, "jdk.ExecutionSample", 0, BURN_CPU * 10000000LL);
	assert_total(&r, "jdk.ObjectAllocationSample", 0, BURN_ALLOC);
	assert_total(&r, "jdk.ObjectAllocationSample", 1, BURN_ALLOC_BYTES);
	assert_total(&r, "jdk.JavaMonitorEnter", 0, BURN_MONITOR);
	assert_total(&r, "jdk.JavaMonitorEnter", 1, BURN_MONITOR_NS);
	assert_total(&r, "jdk.ThreadPark", 0, BURN_PARK);
	assert_total(&r, "jdk.ThreadPark", 1, BURN_PARK_NS);
	/* Events stored per kind (what hearth-cli prints as samples). */
	assert_int_equal(find(&r, "jdk.ExecutionSample")->samples, BURN_CPU);
	assert_int_equal(
	    find(&r, "jdk.ObjectAllocationSample")->samples, BURN_ALLOC);
	assert_int_equal(
	    find(&r, "jdk.JavaMonitorEnter")->samples, BURN_MONITOR);
	assert_int_equal(find(&r, "jdk.ThreadPark")->samples, BURN_PARK);
	const hearth_jfr_profile *cpu = find(&r, "jdk.ExecutionSample");
	assert_string_equal(cpu->name, "process_cpu");
	assert_string_equal(cpu->upload->sample_types[0].type, "cpu");
	assert_string_equal(cpu->upload->period_type, "cpu");
	assert_int_equal(cpu->upload->period, 10000000);
	assert_string_equal(find(&r, "jdk.ThreadPark")->name, "block");
	assert_string_equal(find(&r, "jdk.JavaMonitorEnter")->upload->period_type, "mutex");
	/* Frames are "<class>.<method>", root first: every CPU stack of
	 * the main thread starts at Burn.main and one ends in a spin. */
	const hearth_upload *u	   = cpu->upload;
	int		     spins = 0;
	for (size_t s = 0; s < u->n_stacks; s++) {
		uint32_t lo = u->stack_off[s], hi = u->stack_off[s + 1];
		if (hi == lo)
			continue;
		const char *root = u->strings[u->frames[lo]];
		const char *leaf = u->strings[u->frames[hi - 1]];
		assert_true(strcmp(root, "Burn.main") == 0
		    || strcmp(root, "java/lang/Thread.run") == 0);
		spins += strcmp(leaf, "Burn.spinA") == 0
		    || strcmp(leaf, "Burn.spinB") == 0;
	}
	assert_true(spins > 0);
	assert_true(u->time_nanos > 1700000000LL * 1000000000LL);
	/* JDK's own recorder has no async-profiler "event" setting. */
	assert_null(r.event_mode);
	assert_true(u->duration_nanos > 2000000000LL);
	/* The same bytes without gzip. */
	size_t	 rn;
	uint8_t *raw = burn_raw(&rn);
	hearth_jfr_result r2;
	assert_int_equal(hearth_jfr_decode(a, raw, rn, &o, &r2, &err), 0);
	assert_int_equal(r2.n_profiles, 4);
	assert_int_equal(r2.decoded_bytes, rn);
	/* sampleRate scales only cpu and wall samples. */
	hearth_jfr_opts fast = { .sample_rate = 250 };
	assert_int_equal(hearth_jfr_decode(a, raw, rn, &fast, &r2, &err), 0);
	assert_total(&r2, "jdk.ExecutionSample", 0, BURN_CPU * 4000000LL);
	assert_total(&r2, "jdk.ThreadPark", 0, BURN_PARK);
	free(raw);
	free(b);
	hearth_arena_free(a);
}

/* The limits pprof has: samples per kind, stack depth (root side kept),
 * symbol length (last bytes kept), and the arena cap. */
static void
test_jfr_limits(void **state)
{
	(void) state;
	size_t		  n;
	uint8_t		 *b = burn_raw(&n);
	hearth_arena	 *a = hearth_arena_new(0);
	hearth_jfr_result r;
	hearth_err	  err;
	hearth_jfr_opts	  o = { .max_samples = 1000 };
	assert_int_equal(hearth_jfr_decode(a, b, n, &o, &r, &err), HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "max_profile_stacktrace_samples"));
	assert_non_null(strstr(err.msg, "jdk.ThreadPark"));
	assert_int_equal(r.n_profiles, 0);

	hearth_jfr_opts d = { .max_stack_depth = 2 };
	assert_int_equal(hearth_jfr_decode(a, b, n, &d, &r, &err), 0);
	assert_true(r.truncated_stacks > 0);
	assert_total(&r, "jdk.ThreadPark", 1, BURN_PARK_NS);
	for (size_t i = 0; i < r.n_profiles; i++) {
		const hearth_upload *u = r.profiles[i].upload;
		for (size_t s = 0; s < u->n_stacks; s++)
			assert_true(u->stack_off[s + 1] - u->stack_off[s] <= 2);
	}

	hearth_jfr_opts sym = { .max_symbol_length = 9 };
	assert_int_equal(hearth_jfr_decode(a, b, n, &sym, &r, &err), 0);
	assert_true(r.truncated_symbols > 0);
	for (size_t i = 0; i < r.n_profiles; i++) {
		const hearth_upload *u = r.profiles[i].upload;
		for (size_t s = 1; s < u->n_strings; s++)
			assert_true(u->string_lens[s] <= 9);
	}

	hearth_arena *small = hearth_arena_new(64 << 10);
	assert_int_equal(hearth_jfr_decode(small, b, n, NULL, &r, &err),
	    HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "memory limit"));
	hearth_arena_free(small);
	free(b);
	hearth_arena_free(a);
}

/* Damaged recordings: every cut and many flipped bytes end in an error
 * naming JFR (or, for a harmless flip, success); never a crash (the
 * sanitizer run checks the reads). */
static void
test_jfr_damaged(void **state)
{
	(void) state;
	size_t		  n;
	uint8_t		 *b = burn_raw(&n);
	hearth_arena	 *a = hearth_arena_new(0);
	hearth_jfr_result r;
	hearth_err	  err;
	assert_int_equal(hearth_jfr_decode(a, b, 0, NULL, &r, &err), HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(hearth_jfr_decode(a, (const uint8_t *) "hello", 5,
			     NULL, &r, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "no chunk header"));
	for (size_t cut = 1; cut < n; cut += 211) {
		int rc = hearth_jfr_decode(a, b, cut, NULL, &r, &err);
		assert_int_not_equal(rc, 0);
		assert_non_null(strstr(err.msg, "jfr"));
		hearth_arena_reset(a);
	}
	uint8_t *m = malloc(n);
	for (size_t i = 0; i < n; i += 37) {
		memcpy(m, b, n);
		m[i] ^= (uint8_t) (0x5a + i);
		int rc = hearth_jfr_decode(a, m, n, NULL, &r, &err);
		assert_true(rc == 0 || strstr(err.msg, "jfr") != NULL);
		hearth_arena_reset(a);
	}
	/* Version 3 is refused by name. */
	memcpy(m, b, n);
	m[5] = 3;
	assert_int_equal(hearth_jfr_decode(a, m, n, NULL, &r, &err), HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "not supported"));
	free(m);
	free(b);
	hearth_arena_free(a);
}

/* LabelsSnapshot: contexts {7: {1: 2}}, strings {1: "endpoint", 2: "/a"}. */
static void
test_jfr_contexts(void **state)
{
	(void) state;
	static const uint8_t snap[] = {
		0x0a, 0x0a, 0x08, 0x07, 0x12, 0x06, 0x0a, 0x04, 0x08, 0x01,
		0x10, 0x02, /* contexts: key 7, value {labels {1: 2}} */
		0x12, 0x0c, 0x08, 0x01, 0x12, 0x08, 'e', 'n', 'd', 'p', 'o',
		'i', 'n', 't', /* strings: 1 = "endpoint" */
		0x12, 0x06, 0x08, 0x02, 0x12, 0x02, '/', 'a', /* 2 = "/a" */
	};
	hearth_arena	    *a = hearth_arena_new(0);
	hearth_jfr_contexts *c;
	hearth_err	     err;
	assert_int_equal(
	    hearth_jfr_contexts_decode(a, snap, sizeof(snap), 0, &c, &err), 0);
	assert_non_null(c);
	/* A label naming a string the snapshot lacks. */
	uint8_t bad[sizeof(snap)];
	memcpy(bad, snap, sizeof(snap));
	bad[11] = 0x05;
	assert_int_equal(
	    hearth_jfr_contexts_decode(a, bad, sizeof(bad), 0, &c, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "does not hold"));
	assert_int_equal(hearth_jfr_contexts_decode(a,
			     (const uint8_t *) "\xff\xff", 2, 0, &c, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "LabelsSnapshot"));
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jfr_real_recording),
		cmocka_unit_test(test_jfr_limits),
		cmocka_unit_test(test_jfr_damaged),
		cmocka_unit_test(test_jfr_contexts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

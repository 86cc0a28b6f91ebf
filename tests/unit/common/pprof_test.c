/* pprof decoding on real profiles (totals and functions as go tool pprof
 * reports them, metadata, exemplars) and the conversion rules on
 * hand-built ones. Fixture: pprof_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pprof_fixture.h"

#include "gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Like go tool pprof -top: flat = value where name is the leaf frame, cum
 * = value of rows whose stack holds name at least once. */
static void
flat_cum(const hearth_upload *u, size_t type, const char *name, int64_t *flat,
    int64_t *cum)
{
	*flat = *cum = 0;
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		for (size_t r = 0; r < grp->n_rows; r++) {
			int64_t v = grp->values[r * u->n_sample_types + type];
			size_t  d = depth(u, grp->stacks[r]);
			if (d > 0
			    && strcmp(frame(u, grp->stacks[r], d - 1), name)
			        == 0)
				*flat += v;
			for (size_t i = 0; i < d; i++)
				if (strcmp(frame(u, grp->stacks[r], i), name)
				    == 0) {
					*cum += v;
					break;
				}
		}
	}
}

/* ---- testdata: values from `go tool pprof -top -nodefraction=0` --------- */

typedef struct fn_expect {
	const char *name;
	int64_t     flat;
	int64_t     cum;
} fn_expect;

typedef struct file_expect {
	const char *file;
	const char *spy;
	size_t      n_types;
	const char *type0;
	const char *unit0;
	int64_t     totals[6];
	size_t      fn_type;
	fn_expect   fns[4];
	size_t      dropped_zero;
} file_expect;

static const file_expect files[] = {
	{ "cpu.pb.gz", NULL, 2, "samples", "count", { 47, 470000000 }, 1,
	    { { "runtime.kevent", 250000000, 250000000 },
	        { "main.work", 10000000, 10000000 },
	        { "main.slowFunction", 0, 10000000 },
	        { "runtime.netpollBreak", 0, 10000000 } },
	    0 },
	{ "cpu-exemplars.pb.gz", NULL, 2, "samples", "count",
	    { 873, 8730000000 }, 1,
	    { { "runtime.duffzero", 460000000, 460000000 },
	        { "runtime.asyncPreempt", 330000000, 330000000 },
	        { "github.com/pyroscope-io/client/pyroscope.TagWrapper", 0,
	            8730000000 },
	        { "go.opentelemetry.io/otel/sdk/trace.(*tracer).Start", 0,
	            470000000 } },
	    0 },
	{ "cpu-js.pb.gz", NULL, 2, "sample", "count", { 8849, 8849000 }, 1,
	    { { "(idle)", 811000, 811000 }, { "handle", 75000, 7846000 },
	        { "bikeSearchHandler", 25000, 1903000 },
	        { "(garbage collector)", 150000, 150000 } },
	    0 },
	{ "heap.pb", NULL, 4, "alloc_objects", "count",
	    { 196607841, 13434386318, 22156072, 1602645059 }, 3,
	    { { "github.com/pyroscope-io/pyroscope/pkg/storage/tree.newNode",
	          480277120, 480277120 },
	        { "github.com/dgraph-io/badger/v2/skl.newArena", 436224000,
	            436224000 },
	        { "github.com/pyroscope-io/pyroscope/pkg/storage/"
	          "tree.Deserialize",
	            434661260, 969466588 },
	        { "runtime.allocm", 12070403, 12070403 } },
	    69 },
	{ "heap-js.pprof", NULL, 2, "objects", "count", { 66148, 6388384 }, 1,
	    { { "(external)", 2193664, 2193664 },
	        { "parserOnIncoming", 524448, 3146112 }, { "app", 0, 3145968 },
	        { "carSearchHandler", 0, 3670272 } },
	    0 },
	{ "dump1.jfr.gz.process_cpu_cpu_nanoseconds_cpu_nanoseconds.172", NULL,
	    1, "cpu", "nanoseconds", { 21880000000 }, 0,
	    { { "App.fib", 20850000000, 21880000000 },
	        { "java/lang/Long.valueOf", 1000000000, 1000000000 },
	        { ".unknown_Java", 0, 410000000 },
	        { "java/lang/Thread.run", 0, 21470000000 } },
	    0 },
	/* go tool pprof rejects this file (function ids 0); expectations
	 * from an independent Python wire decoder with the dotnet fix. */
	{ "dotnet-pprof-3.pb.gz", "dotnetspy", 6, "cpu", "nanoseconds",
	    { 5653000000, 0, 0, 0, 0, 0 }, 0,
	    { { "WebApplication1.Controllers!CpuController.fib", 5653000000,
	          5653000000 },
	        { "Microsoft.AspNetCore.Routing!EndpointMiddleware.Invoke", 0,
	            5653000000 } },
	    0 },
};

static void
test_pprof_testdata_totals_and_functions(void **state)
{
	(void) state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		const file_expect  *e = &files[f];
		size_t              n;
		uint8_t            *body = read_file(e->file, &n);
		hearth_arena       *a    = hearth_arena_new(0);
		hearth_pprof_opts   o    = { .spy_name = e->spy };
		hearth_pprof_result res;
		hearth_err          err = { 0 };
		int rc = hearth_pprof_decode(a, body, n, &o, &res, &err);
		if (rc != 0)
			fail_msg("%s: %s", e->file, err.msg);
		const hearth_upload *u = res.upload;
		assert_int_equal(u->n_sample_types, e->n_types);
		assert_string_equal(u->sample_types[0].type, e->type0);
		assert_string_equal(u->sample_types[0].unit, e->unit0);
		for (size_t t = 0; t < e->n_types; t++)
			if (hearth_upload_total(u, t) != e->totals[t])
				fail_msg("%s type %zu: total %lld, want %lld",
				    e->file, t,
				    (long long) hearth_upload_total(u, t),
				    (long long) e->totals[t]);
		for (size_t k = 0; k < 4 && e->fns[k].name != NULL; k++) {
			int64_t fl, cu;
			flat_cum(u, e->fn_type, e->fns[k].name, &fl, &cu);
			if (fl != e->fns[k].flat || cu != e->fns[k].cum)
				fail_msg("%s %s: flat %lld cum %lld, want "
				         "%lld %lld",
				    e->file, e->fns[k].name, (long long) fl,
				    (long long) cu, (long long) e->fns[k].flat,
				    (long long) e->fns[k].cum);
		}
		assert_int_equal(res.dropped_zero, e->dropped_zero);
		assert_int_equal(res.dropped_negative, 0);
		assert_string_equal(u->strings[0], "");
		hearth_arena_free(a);
		free(body);
	}
}

static void
test_pprof_testdata_metadata(void **state)
{
	(void) state;
	size_t              n;
	uint8_t            *body = read_file("cpu.pb.gz", &n);
	hearth_arena       *a    = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(hearth_pprof_decode(a, body, n, NULL, &res, &err), 0);
	const hearth_upload *u = res.upload;
	/* go tool pprof -raw: "Time: 2021-04-25 03:39:08.26514 +0000 UTC",
	 * "Duration: 1.10", "PeriodType: cpu nanoseconds", "Period:
	 * 10000000", and 7 samples */
	assert_int_equal(u->time_nanos / 1000, 1619321948265140);
	assert_int_equal(u->duration_nanos / 10000000, 110);
	assert_string_equal(u->period_type, "cpu");
	assert_string_equal(u->period_unit, "nanoseconds");
	assert_int_equal(u->period, 10000000);
	assert_int_equal(res.n_samples, 7);
	assert_int_equal(u->n_groups, 1);
	assert_int_equal(u->groups[0].n_labels, 0);
	/* location 10 is main.work inlined into main.slowFunction into
	 * main.main: root first after runtime.main */
	assert_int_equal(row_value(u, 0,
	                     "runtime.main;main.main;main.slowFunction;"
	                     "main.work",
	                     1),
	    10000000);

	/* the same profile gunzipped first decodes identically */
	uint8_t *raw;
	size_t   raw_n;
	assert_int_equal(
	    hearth_gzip_decode(a, body, n, 1 << 20, &raw, &raw_n, &err), 0);
	hearth_pprof_result res2;
	assert_int_equal(
	    hearth_pprof_decode(a, raw, raw_n, NULL, &res2, &err), 0);
	assert_int_equal(res2.decoded_bytes, raw_n);
	assert_int_equal(res.decoded_bytes, raw_n);
	assert_int_equal(res2.upload->n_stacks, u->n_stacks);
	assert_int_equal(hearth_upload_total(res2.upload, 1), 470000000);
	hearth_arena_free(a);
	free(body);
}

static void
test_pprof_testdata_exemplar_labels_grouping(void **state)
{
	(void) state;
	size_t              n;
	uint8_t            *body = read_file("cpu-exemplars.pb.gz", &n);
	hearth_arena       *a    = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(hearth_pprof_decode(a, body, n, NULL, &res, &err), 0);
	const hearth_upload *u = res.upload;
	/* labels are foo=bar, function=slow|fast (5 samples have foo only),
	 * profile_id=<span>: the span id is not a grouping label, so three
	 * groups remain. Per-group sums from an independent wire decoder. */
	assert_int_equal(u->n_groups, 3);
	static const struct {
		const char *function;
		int64_t     samples;
	} want[] = { { NULL, 49 }, { "fast", 150 }, { "slow", 674 } };
	for (size_t w = 0; w < 3; w++) {
		size_t found = 0;
		for (size_t g = 0; g < 3; g++) {
			const hearth_upload_group *grp = &u->groups[g];
			if (grp->n_labels != (want[w].function ? 2u : 1u)
			    || (want[w].function
			        && strcmp(
			               grp->labels[1].value, want[w].function)
			            != 0))
				continue;
			assert_string_equal(grp->labels[0].name, "foo");
			assert_string_equal(grp->labels[0].value, "bar");
			int64_t sum = 0;
			for (size_t r = 0; r < grp->n_rows; r++)
				sum += grp->values[r * 2];
			assert_int_equal(sum, want[w].samples);
			found++;
		}
		assert_int_equal(found, 1);
	}
	hearth_arena_free(a);
	free(body);
}

/* The profile_id labels become span rows: per group, the span rows of the
 * samples that had one sum to those samples' rows; f9666c0d6bffec33 is
 * 4 samples, 40 ms (`go tool pprof -tags`). */
static void
test_pprof_testdata_exemplar_span_rows(void **state)
{
	(void) state;
	size_t              n;
	uint8_t            *body = read_file("cpu-exemplars.pb.gz", &n);
	hearth_arena       *a    = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(hearth_pprof_decode(a, body, n, NULL, &res, &err), 0);
	const hearth_upload *u = res.upload;
	int64_t one[2] = { 0, 0 }, spans[2] = { 0, 0 }, rows[2] = { 0, 0 };
	size_t  with = 0;
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		/* the 5 samples with foo only have no profile_id */
		if (grp->n_labels == 1) {
			assert_int_equal(grp->n_span_rows, 0);
			continue;
		}
		with++;
		for (size_t r = 0; r < grp->n_rows; r++)
			for (int t = 0; t < 2; t++)
				rows[t] += grp->values[r * 2 + t];
		for (size_t r = 0; r < grp->n_span_rows; r++) {
			assert_true(grp->span_ids[r] != 0);
			for (int t = 0; t < 2; t++) {
				spans[t] += grp->span_values[r * 2 + t];
				if (grp->span_ids[r] == 0xf9666c0d6bffec33ull)
					one[t] += grp->span_values[r * 2 + t];
			}
		}
	}
	assert_int_equal(with, 2);
	assert_int_equal(spans[0], 824);
	assert_int_equal(spans[0], rows[0]);
	assert_int_equal(spans[1], rows[1]);
	assert_int_equal(one[0], 4);
	assert_int_equal(one[1], 40000000);
	hearth_arena_free(a);
	free(body);
}

/* ---- hand-built profiles ---------------------------------------------- */

static void
test_pprof_frames_root_first_inline_and_unsymbolized(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label        = 0;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	const hearth_upload *u = res.upload;
	assert_int_equal(u->n_groups, 1);
	assert_int_equal(u->groups[0].n_rows, 3);
	assert_int_equal(row_value(u, 0, "main;foo", 0), 2); /* s0 + s3 */
	assert_int_equal(row_value(u, 0, "main;foo", 1), 20);
	assert_int_equal(row_value(u, 0, "main;foo;bar", 1), 20);
	assert_int_equal(row_value(u, 0, "main;0xabc", 1), 30);
	assert_int_equal(u->n_stacks, 3);
	assert_int_equal(u->time_nanos, 1700000000000000000);
	assert_int_equal(u->duration_nanos, 10000000000);
	assert_string_equal(u->sample_types[1].type, "cpu");
	assert_string_equal(u->sample_types[1].unit, "nanoseconds");
	assert_string_equal(u->period_type, "cpu");
	assert_int_equal(u->period, 10000000);

	/* no period type: "" */
	t.p.period_type = NULL;
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	assert_string_equal(res.upload->period_type, "");
	assert_string_equal(res.upload->period_unit, "");
	hearth_arena_free(a);
}

static void
test_pprof_nameless_function_system_name_then_address(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label        = 0;
	t.f[1].name           = 0;  /* foo loses its name... */
	t.f[1].system_name    = 10; /* ...but has system name "abc" */
	t.f[2].name           = 0;  /* bar has no name at all */
	t.l[2].address        = 0x10;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0, "main;abc", 1), 20);
	assert_int_equal(row_value(res.upload, 0, "main;abc;0x10", 1), 20);
	hearth_arena_free(a);
}

static void
test_pprof_labels_grouping_rules(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	/* s0 gets a numeric label (num, str 0): not a series label */
	t.lb[0][0].key        = 7;
	t.lb[0][0].num        = 42;
	t.s[0].n_label        = 1;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	const hearth_upload *u = res.upload;
	assert_int_equal(u->n_groups, 2);
	/* group 0: no labels (s0, s1, s2); group 1: key=val only */
	assert_int_equal(u->groups[0].n_labels, 0);
	assert_int_equal(row_value(u, 0, "main;foo", 0), 1);
	assert_int_equal(u->groups[1].n_labels, 1);
	assert_string_equal(u->groups[1].labels[0].name, "key");
	assert_string_equal(u->groups[1].labels[0].value, "val");
	assert_int_equal(row_value(u, 1, "main;foo", 0), 1);
	hearth_arena_free(a);
}

/* Samples whose labels repeat (by string index, in another order, through
 * a duplicate string-table entry, or more labels than the converter's
 * index cache holds) land in the group the strings say, with every value:
 * checked against a reference grouping of 400 samples over ~200 label
 * sets (enough to evict cache entries). */
#define GC_SAMPLES 400
#define GC_VALUES  150
static void
test_pprof_label_groups_by_index_and_by_string(void **state)
{
	(void) state;
	/* strings: 0 "", 1 cpu, 2 nanoseconds, 3 main, 4 main.go,
	 * 5..14 k0..k9, 15 "k0" again, 16.. v0..v149 */
	enum { NSTR = 16 + GC_VALUES };
	char  *str[NSTR];
	char   names[NSTR][8];
	str[0] = "";
	str[1] = "cpu";
	str[2] = "nanoseconds";
	str[3] = "main";
	str[4] = "main.go";
	for (int k = 0; k < 10; k++) {
		snprintf(names[5 + k], sizeof(names[0]), "k%d", k);
		str[5 + k] = names[5 + k];
	}
	str[15] = "k0";
	for (int v = 0; v < GC_VALUES; v++) {
		snprintf(names[16 + v], sizeof(names[0]), "v%d", v);
		str[16 + v] = names[16 + v];
	}
	Perftools__Profiles__Profile p;
	perftools__profiles__profile__init(&p);
	p.string_table	 = str;
	p.n_string_table = NSTR;
	Perftools__Profiles__ValueType st, *stp = &st;
	perftools__profiles__value_type__init(&st);
	st.type		= 1;
	st.unit		= 2;
	p.sample_type	= &stp;
	p.n_sample_type = 1;
	Perftools__Profiles__Function f, *fp = &f;
	perftools__profiles__function__init(&f);
	f.id	     = 1;
	f.name	     = 3;
	f.filename   = 4;
	p.function   = &fp;
	p.n_function = 1;
	Perftools__Profiles__Line ln, *lnp = &ln;
	perftools__profiles__line__init(&ln);
	ln.function_id = 1;
	Perftools__Profiles__Location l, *lp = &l;
	perftools__profiles__location__init(&l);
	l.id	     = 1;
	l.line	     = &lnp;
	l.n_line     = 1;
	p.location   = &lp;
	p.n_location = 1;

	static Perftools__Profiles__Sample s[GC_SAMPLES], *sp[GC_SAMPLES];
	static Perftools__Profiles__Label  lb[GC_SAMPLES][10],
	    *lbp[GC_SAMPLES][10];
	static int64_t	val[GC_SAMPLES];
	static uint64_t loc = 1;
	/* reference: canonical "k=v," lists (sorted keys) and their sums */
	static char    canon[GC_SAMPLES][160];
	static int64_t want_sum[GC_SAMPLES];
	int	       n_want = 0;
	for (int i = 0; i < GC_SAMPLES; i++) {
		perftools__profiles__sample__init(&s[i]);
		sp[i]		  = &s[i];
		s[i].location_id  = &loc;
		s[i].n_location_id = 1;
		val[i]		  = i + 1;
		s[i].value	  = &val[i];
		s[i].n_value	  = 1;
		int keys[10], vals[10], n = 0;
		int a = i % GC_VALUES, b = (i * 7) % 13;
		switch (i % 5) {
		case 0: /* {k0=a} */
			keys[n] = 5, vals[n++] = a;
			break;
		case 1: /* {k0=b, k1=a} */
			keys[n] = 5, vals[n++] = b;
			keys[n] = 6, vals[n++] = a;
			break;
		case 2: /* the same sets, other order */
			keys[n] = 6, vals[n++] = a;
			keys[n] = 5, vals[n++] = b;
			break;
		case 3: /* {k0=b} through the duplicate "k0" entry */
			keys[n] = 15, vals[n++] = b;
			break;
		default: /* ten labels: past the index cache */
			for (int k = 0; k < 10; k++)
				keys[n] = 5 + k, vals[n++] = (b + k) % 3;
			break;
		}
		for (int k = 0; k < n; k++) {
			perftools__profiles__label__init(&lb[i][k]);
			lb[i][k].key = keys[k];
			lb[i][k].str = 16 + vals[k];
			lbp[i][k]    = &lb[i][k];
		}
		s[i].label   = lbp[i];
		s[i].n_label = (size_t) n;
		/* canonical form: by key name (k0 < k1 < ... < k9) */
		char c[160] = "";
		for (int key = 0; key < 10; key++)
			for (int k = 0; k < n; k++) {
				int kn = keys[k] == 15 ? 0 : keys[k] - 5;
				if (kn != key)
					continue;
				char one[16];
				snprintf(one, sizeof(one), "k%d=v%d,", kn,
				    vals[k]);
				strcat(c, one);
			}
		int w = 0;
		while (w < n_want && strcmp(canon[w], c) != 0)
			w++;
		if (w == n_want) {
			strcpy(canon[n_want], c);
			want_sum[n_want++] = 0;
		}
		want_sum[w] += val[i];
	}
	p.sample   = sp;
	p.n_sample = GC_SAMPLES;
	assert_true(n_want > 64); /* more sets than the cache has entries */

	size_t	 n_body = perftools__profiles__profile__get_packed_size(&p);
	uint8_t *body	= malloc(n_body);
	assert_int_equal(perftools__profiles__profile__pack(&p, body), n_body);
	hearth_arena	   *ar = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err	    err = { 0 };
	assert_int_equal(
	    hearth_pprof_decode(ar, body, n_body, NULL, &res, &err), 0);
	const hearth_upload *u = res.upload;
	assert_int_equal(u->n_groups, (size_t) n_want);
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		char			   c[160] = "";
		for (size_t k = 0; k < grp->n_labels; k++) {
			strcat(c, grp->labels[k].name);
			strcat(c, "=");
			strcat(c, grp->labels[k].value);
			strcat(c, ",");
		}
		int w = 0;
		while (w < n_want && strcmp(canon[w], c) != 0)
			w++;
		assert_true(w < n_want);
		assert_int_equal(grp->n_rows, 1);
		assert_int_equal(grp->values[0], want_sum[w]);
		want_sum[w] = -1; /* each set once */
	}
	hearth_arena_free(ar);
	free(body);
}

/* span_id / profile_id values of 1-16 hex digits are span ids (span rows
 * next to the rows); other values are no span. */
static void
test_pprof_span_labels_become_span_rows(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	/* s0: profile_id=val (not hex: no span); s2: profile_id=abc */
	t.lb[0][0].key	      = 11;
	t.lb[0][0].str	      = 8;
	t.s[0].n_label	      = 1;
	t.lb[2][0].key	      = 11;
	t.lb[2][0].str	      = 10;
	t.s[2].n_label	      = 1;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err	    err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	const hearth_upload *u = res.upload;
	/* span ids group nothing: {} (s0, s1, s2) and {key=val} (s3) */
	assert_int_equal(u->n_groups, 2);
	const hearth_upload_group *g0 = &u->groups[0], *g1 = &u->groups[1];
	assert_int_equal(g0->n_rows, 3);
	assert_int_equal(g0->n_span_rows, 1);
	assert_true(g0->span_ids[0] == 0xabc);
	assert_int_equal(g0->span_stacks[0], g0->stacks[2]);
	assert_int_equal(g0->span_values[0], 3);
	assert_int_equal(g0->span_values[1], 30);
	/* s3: profile_id=abc next to trace_id=abc (dropped) */
	assert_int_equal(g1->n_span_rows, 1);
	assert_true(g1->span_ids[0] == 0xabc);
	assert_int_equal(g1->span_values[1], 10);
	hearth_arena_free(a);
}

static void
test_pprof_negative_and_zero_samples_dropped(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.val[0][1]           = -5;
	t.val[1][0]           = 0;
	t.val[1][1]           = 0;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	assert_int_equal(res.n_samples, 4);
	assert_int_equal(res.dropped_negative, 1);
	assert_int_equal(res.dropped_zero, 1);
	assert_int_equal(hearth_upload_total(res.upload, 1), 40);
	hearth_arena_free(a);
}

static void
test_pprof_stack_depth_truncated_root_side(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label        = 0;
	hearth_pprof_opts   o = { .max_stack_depth = 2 };
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	/* main;foo;bar -> main;foo, merged with s0 and s3 */
	assert_int_equal(row_value(res.upload, 0, "main;foo", 1), 40);
	assert_int_equal(res.truncated_stacks, 1);
	o.max_stack_depth = 1;
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0, "main", 1), 70);
	assert_int_equal(res.truncated_stacks, 4);
	/* ids past the cut are still validated */
	t.locid[0][0] = 99;
	expect_error(&t, &o, HEARTH_EINVAL,
	    "pprof: sample 0 references location id 99 which does not exist");
	/* s1 = [98, 3, 1] leaf first: the cut falls inside location 3's
	 * two lines, and 98 (past the cut) is still checked */
	o.max_stack_depth    = 2;
	t.locid[0][0]        = 2;
	t.locid[1][0]        = 98;
	t.locid[1][1]        = 3;
	t.locid[1][2]        = 1;
	t.s[1].n_location_id = 3;
	expect_error(&t, &o, HEARTH_EINVAL,
	    "pprof: sample 1 references location id 98 which does not exist");
	hearth_arena_free(a);
}

static void
test_pprof_dropped_sample_still_validated(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.val[2][0]   = 0;
	t.val[2][1]   = 0;
	t.locid[2][1] = 77;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample 2 references location id 77 which does not exist");
	t.val[2][0] = -1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample 2 references location id 77 which does not exist");
}

static void
test_pprof_symbol_truncated_keeps_last_bytes(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label        = 0;
	t.str[3]              = "pkg.(*T).longname";
	t.str[4]              = "x\xc3\xa9\xc3\xa9"; /* "xéé", 5 bytes */
	hearth_pprof_opts   o = { .max_symbol_length = 3 };
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	/* the last 3 bytes of "xéé" start mid-character: "é" is kept;
	 * "bar" fits; "0xabc" becomes "abc" */
	assert_int_equal(row_value(res.upload, 0, "ame;\xc3\xa9", 1), 20);
	assert_int_equal(row_value(res.upload, 0, "ame;\xc3\xa9;bar", 1), 20);
	assert_int_equal(row_value(res.upload, 0, "ame;abc", 1), 30);
	assert_int_equal(res.truncated_symbols, 3);
	/* a limit below one character keeps that whole character */
	o.max_symbol_length = 1;
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0, "e;\xc3\xa9;r", 1), 20);
	assert_int_equal(res.truncated_symbols, 4);
	hearth_arena_free(a);
}

static void
test_pprof_spy_scripting_renames(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label        = 0;
	t.f[1].filename       = 12; /* foo lives in /abs/lib.py */
	hearth_pprof_opts   o = { .spy_name = "pyspy" };
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	/* pyspy: absolute filename keeps the plain name */
	assert_int_equal(
	    row_value(res.upload, 0, "main.go main;foo;main.go bar", 1), 20);
	o.spy_name = "rbspy";
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0,
	                     "main.go main;/abs/lib.py foo;main.go bar", 1),
	    20);
	o.spy_name = "scripting";
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_int_equal(
	    row_value(res.upload, 0, "main.go main;/abs/lib.py foo", 1), 20);
	o.spy_name = "gospy";
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0, "main;foo", 1), 20);
	hearth_arena_free(a);
}

static void
test_pprof_spy_dotnet_fixes_ids_and_dashes(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	t.s[3].n_label = 0;
	/* 3 functions, 3 locations, all function ids 0 */
	t.p.n_location = 3;
	t.locid[2][0]  = 3; /* s2 now main;foo;bar like s1 */
	for (int i = 0; i < 3; i++)
		t.f[i].id = 0;
	/* After the fix function ids = location ids 1, 2, 3, so lines keep
	 * pointing at main, foo, bar. */
	t.str[13] = "alloc-samples";
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample type name \"alloc-samples\" contains '-'");
	hearth_pprof_opts   o = { .spy_name = "dotnetspy" };
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);
	assert_string_equal(res.upload->sample_types[0].type, "alloc_samples");
	assert_int_equal(row_value(res.upload, 0, "main;foo;bar", 1), 50);
	hearth_arena_free(a);
	t.str[13] = "samples";
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: function 0 has id 0 (ids must be non-zero)");
}

static void
test_pprof_sparse_ids_use_hash_lookup(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	uint64_t base = 1ull << 40;
	for (int i = 0; i < 4; i++)
		t.l[i].id = base + (uint64_t) i * 7919;
	for (int i = 0; i < 3; i++)
		t.f[i].id = base * 3 + (uint64_t) i;
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++)
			if (t.ln[i][k].function_id != 0)
				t.ln[i][k].function_id += base * 3 - 1;
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++)
			t.locid[i][k] = base + (t.locid[i][k] - 1) * 7919;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, NULL, a, &res, &err), 0);
	assert_int_equal(row_value(res.upload, 0, "main;foo;bar", 1), 20);
	assert_int_equal(row_value(res.upload, 0, "main;0xabc", 1), 30);
	t.locid[1][0] = base + 1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample 1 references location id 1099511627777 which "
	    "does not exist");
	t.locid[1][0] = base + 2 * 7919;
	t.l[3].id     = base;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: duplicate location id 1099511627776 (location 0 and 3)");
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pprof_testdata_totals_and_functions),
		cmocka_unit_test(test_pprof_testdata_metadata),
		cmocka_unit_test(test_pprof_testdata_exemplar_labels_grouping),
		cmocka_unit_test(test_pprof_frames_root_first_inline_and_unsymbolized),
		cmocka_unit_test(test_pprof_nameless_function_system_name_then_address),
		cmocka_unit_test(test_pprof_testdata_exemplar_span_rows),
		cmocka_unit_test(test_pprof_span_labels_become_span_rows),
		cmocka_unit_test(test_pprof_labels_grouping_rules),
		cmocka_unit_test(test_pprof_label_groups_by_index_and_by_string),
		cmocka_unit_test(test_pprof_negative_and_zero_samples_dropped),
		cmocka_unit_test(test_pprof_stack_depth_truncated_root_side),
		cmocka_unit_test(test_pprof_dropped_sample_still_validated),
		cmocka_unit_test(test_pprof_symbol_truncated_keeps_last_bytes),
		cmocka_unit_test(test_pprof_spy_scripting_renames),
		cmocka_unit_test(test_pprof_spy_dotnet_fixes_ids_and_dashes),
		cmocka_unit_test(test_pprof_sparse_ids_use_hash_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

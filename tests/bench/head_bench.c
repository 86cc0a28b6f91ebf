/* head_bench: push throughput of the ingester head with testdata-sized
 * batches, and head bytes per stored sample. Each file is turned into a
 * PushRequest once (distributor/ingest), packed, and then
 *   (a) hearth_head_push of the decoded request, new time + id per round;
 *   (b) protobuf unpack (arena) + hearth_head_push, what the ingester's RPC
 *       handler does per request. */
#include "head.h"
#include "ingest.h"
#include "limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
bump(Hearth__Ingester__PushRequest *p, int64_t round)
{
	for (size_t b = 0; b < p->n_batches; b++)
		for (size_t i = 0; i < p->batches[b]->n_profiles; i++) {
			Hearth__Ingester__SeriesProfile *sp =
			    p->batches[b]->profiles[i];
			sp->time_nanos = (1700000000000LL + round * 10000) * 1000000LL;
			if (sp->id.len == 16)
				memcpy(sp->id.data + 8, &round, 8);
		}
}

static int
bench_file(const char *path, double secs)
{
	static uint8_t body[4 << 20];
	FILE	      *fp = fopen(path, "rb");
	if (fp == NULL) {
		perror(path);
		return 1;
	}
	size_t n = fread(body, 1, sizeof(body), fp);
	fclose(fp);
	hearth_arena *a = hearth_arena_new(0);
	hearth_limits lim;
	memset(&lim, 0, sizeof(lim)); /* every limit off */
	hearth_ingest_params ip = { 0 };
	ip.name			= "bench.app{env=prod}";
	ip.format		= "pprof";
	ip.spy_name		= strstr(path, "dotnet") ? "dotnetspy" : NULL;
	ip.now_ns		= 1700000000000000000LL;
	ip.limits		= &lim;
	hearth_ingest_result res;
	hearth_err	     err;
	if (hearth_ingest_build(a, &ip, body, n, &res, &err) != 0 ||
	    res.push == NULL) {
		printf("%s: ingest failed: %s\n", path, err.msg);
		hearth_arena_free(a);
		return 1;
	}
	Hearth__Ingester__PushRequest *p = res.push;
	size_t wire = hearth__ingester__push_request__get_packed_size(p);
	hearth_head *h = NULL;
	if (hearth_head_new(&h, &err) != 0) {
		printf("head: %s\n", err.msg);
		return 1;
	}
	uint64_t np, ns;
	size_t	 samples = 0;
	int64_t	 rounds	 = 0;
	double	 t, t0 = now_s();
	/* (a) push of an already decoded request */
	while ((t = now_s() - t0) < secs) {
		for (int k = 0; k < 50; k++, rounds++) {
			bump(p, rounds);
			if (hearth_head_push(h, "t", p, &np, &ns, &err) != 0) {
				printf("push: %s\n", err.msg);
				return 1;
			}
			samples += ns;
		}
	}
	double push_rate    = (double) rounds / t;
	double sample_rate  = (double) samples / t;
	/* (b) unpack + push: what the ingester's RPC handler does */
	uint8_t *packed = malloc(wire);
	hearth__ingester__push_request__pack(p, packed);
	hearth_arena	  *ra = hearth_arena_new(0);
	ProtobufCAllocator al = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		ra };
	int64_t r2 = 0;
	t0	   = now_s();
	while ((t = now_s() - t0) < secs) {
		for (int k = 0; k < 50; k++, r2++, rounds++) {
			Hearth__Ingester__PushRequest *q =
			    hearth__ingester__push_request__unpack(&al, wire,
			        packed);
			if (q == NULL) {
				printf("unpack failed\n");
				return 1;
			}
			bump(q, rounds);
			if (hearth_head_push(h, "t", q, &np, &ns, &err) != 0) {
				printf("push: %s\n", err.msg);
				return 1;
			}
			hearth_arena_reset(ra);
		}
	}
	double		  rpc_rate = (double) r2 / t;
	hearth_head_stats st;
	hearth_head_stats_get(h, NULL, &st);
	const char *base = strrchr(path, '/');
	printf("%-22s wire %7zu B  profiles %2zu  samples/push %5zu | push "
	       "%7.0f/s (%4.1f M samples/s) | unpack+push %7.0f/s | head "
	       "%5.1f B/sample\n",
	    base ? base + 1 : path, wire, res.profiles, res.samples, push_rate,
	    sample_rate / 1e6, rpc_rate,
	    (double) st.bytes / (double) (st.samples ? st.samples : 1));
	free(packed);
	hearth_arena_free(ra);
	hearth_head_free(h);
	hearth_arena_free(a);
	return 0;
}

/* head_bench [-t seconds] [file...]; default: every testdata pprof. */
int
main(int argc, char **argv)
{
	static const char *const files[] = { "cpu.pb.gz", "cpu-js.pb.gz",
		"cpu-exemplars.pb.gz", "heap.pb", "heap-js.pprof",
		"dotnet-pprof-3.pb.gz" };
	double secs = 1.0;
	int    i    = 1;
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		secs = atof(argv[2]);
		i    = 3;
	}
	int rc = 0;
	if (i < argc) {
		for (; i < argc; i++)
			rc |= bench_file(argv[i], secs);
		return rc;
	}
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/pprof/%s", HEARTH_TESTDATA,
		    files[f]);
		rc |= bench_file(path, secs);
	}
	return rc;
}

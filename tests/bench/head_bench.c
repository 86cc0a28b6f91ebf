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

int
main(int argc, char **argv)
{
	const char *dir = "/work/shared/testdata/pprof";
	const char *files[] = { "cpu.pb.gz", "cpu-js.pb.gz", "cpu-exemplars.pb.gz",
		"heap.pb", "heap-js.pprof", "dotnet-pprof-3.pb.gz" };
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, files[fi]);
		FILE *fp = fopen(path, "rb");
		if (!fp) { perror(path); return 1; }
		static uint8_t body[1 << 20];
		size_t n = fread(body, 1, sizeof(body), fp);
		fclose(fp);
		hearth_arena *a = hearth_arena_new(0);
		hearth_limits lim;
		memset(&lim, 0, sizeof(lim));
		hearth_ingest_params ip = { 0 };
		ip.name = "bench.app{env=prod}";
		ip.format = "pprof";
		ip.now_ns = 1700000000000000000LL;
		ip.limits = &lim;
		hearth_ingest_result res;
		hearth_err err;
		if (hearth_ingest_build(a, &ip, body, n, &res, &err) != 0 || !res.push) {
			printf("%s: ingest failed: %s\n", files[fi], err.msg);
			continue;
		}
		Hearth__Ingester__PushRequest *p = res.push;
		size_t wire = hearth__ingester__push_request__get_packed_size(p);
		size_t nstacks = 0;
		for (size_t b = 0; b < p->n_batches; b++) nstacks += p->batches[b]->n_stack_lengths;
		hearth_head *h;
		hearth_head_new(&h, &err);
		uint64_t np, ns;
		double t0 = now_s();
		bump(p, 0);
		if (hearth_head_push(h, "t", p, &np, &ns, &err)) { printf("push: %s\n", err.msg); return 1; }
		double cold = now_s() - t0;
		int64_t rounds = 1;
		size_t samples = 0;
		t0 = now_s();
		double t;
		while ((t = now_s() - t0) < secs) {
			for (int k = 0; k < 50; k++, rounds++) {
				bump(p, rounds);
				hearth_head_push(h, "t", p, &np, &ns, &err);
				samples += ns;
			}
		}
		double warm = rounds / t;
		/* (b) unpack + push */
		uint8_t *packed = malloc(wire);
		hearth__ingester__push_request__pack(p, packed);
		hearth_arena *ra = hearth_arena_new(0);
		ProtobufCAllocator al = { hearth_arena_pb_alloc, hearth_arena_pb_free, ra };
		int64_t r2 = 0;
		t0 = now_s();
		while ((t = now_s() - t0) < secs) {
			for (int k = 0; k < 50; k++, r2++, rounds++) {
				Hearth__Ingester__PushRequest *q =
				    hearth__ingester__push_request__unpack(&al, wire, packed);
				bump(q, rounds);
				hearth_head_push(h, "t", q, &np, &ns, &err);
				hearth_arena_reset(ra);
			}
		}
		double rpc = r2 / t;
		hearth_head_stats st;
		hearth_head_stats_get(h, NULL, &st);
		printf("%-22s wire %6zu B, %3zu series-profiles, %5zu stacks, %6zu samples/push | "
		    "cold %.2f ms | push %7.0f/s (%5.1f M samples/s) | unpack+push %7.0f/s | head: %zu nodes, %.1f MB, %.1f B/sample\n",
		    files[fi], wire, res.profiles, nstacks, res.samples, cold * 1e3,
		    warm, warm * res.samples / 1e6, rpc, st.nodes, st.bytes / 1e6,
		    (double) st.bytes / (double) st.samples);
		free(packed);
		hearth_arena_free(ra);
		hearth_head_free(h);
		hearth_arena_free(a);
	}
	return 0;
}

/*
 * decode_bench: the decode-only ceiling of pprof ingestion.
 *
 * Measures what one core can do with the first two steps every pprof upload
 * goes through, and nothing else: gunzip (zlib, only when the file starts
 * with the gzip magic) and protobuf-c unpack of perftools.profiles.Profile
 * into a request arena (hearth_arena as ProtobufCAllocator, reset between
 * profiles, exactly how the ingest path allocates). tests/bench/
 * ingest_bench.py compares hearth's end-to-end ingest rate per core with this
 * number, so both must read the same files in the same round-robin order.
 *
 * Usage: decode_bench [-t seconds] [-n min_rounds] [-c 1] file...
 *   Runs rounds over all files until both at least `seconds` of wall time
 *   (default 3) and `min_rounds` rounds (default 20) have passed.
 *   -c 1 then also times hearth's whole pprof decoder (hearth_pprof_decode:
 *   the same gunzip and unpack, then validation and conversion into an
 *   upload) against decode-only, file by file: where the CPU between the
 *   ceiling and a stored profile starts to go. Not used by ingest_bench.
 *
 * Output: one line per file, then one summary line that scripts parse:
 *   decode_bench: files=7 profiles=… seconds=… cpu_seconds=…
 *     profiles_per_s=… compressed_mb_per_s=… decompressed_mb_per_s=…
 * Rates are per CPU second of this process (single-threaded, so one core);
 * MB = 1e6 bytes; "compressed" = the bytes as stored in the file (what is
 * posted over HTTP), "decompressed" = the protobuf bytes unpacked.
 *
 * Memory: each file is read once into malloc'd memory; everything per
 * profile lives in one arena that is reset after each unpack.
 */
#include "arena.h"
#include "err.h"
#include "pprof.h"
#include "profile.pb-c.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* Largest decompressed profile accepted: a corrupt ISIZE trailer or a
 * decompression bomb must not make the benchmark allocate without bound. */
#define BENCH_MAX_RAW ((size_t)256 << 20)

typedef struct bench_file {
	const char *path;
	uint8_t	   *data;
	size_t	    len;
	size_t	    raw_len; /* decompressed size, learnt on the first decode */
	uint64_t    decoded;
} bench_file;

static double
bench_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_read(bench_file *f)
{
	FILE *fp = fopen(f->path, "rb");
	long  n;
	int   rc = -1;

	if (fp == NULL) {
		fprintf(stderr, "decode_bench: %s: %s\n", f->path, strerror(errno));
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "decode_bench: %s: cannot size file\n", f->path);
		goto out;
	}
	f->len = (size_t)n;
	f->data = malloc(f->len ? f->len : 1);
	if (f->data == NULL) {
		fprintf(stderr, "decode_bench: out of memory reading %s\n", f->path);
		goto out;
	}
	if (fread(f->data, 1, f->len, fp) != f->len) {
		fprintf(stderr, "decode_bench: %s: short read\n", f->path);
		goto out;
	}
	rc = 0;
out:
	fclose(fp);
	return rc;
}

/*
 * Inflate a whole gzip buffer (all members) into arena memory. The first
 * guess is the size we saw last time (or the last member's ISIZE trailer),
 * so in the steady state there is exactly one allocation and no copy.
 */
static int
bench_gunzip(hearth_arena *a, const bench_file *f, uint8_t **out,
    size_t *out_len)
{
	z_stream zs;
	size_t	 cap, used = 0;
	uint8_t *buf;
	int	 zrc, rc = -1;

	cap = f->raw_len;
	if (cap == 0 && f->len >= 4) {
		const uint8_t *t = f->data + f->len - 4;

		cap = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 |
		    (size_t)t[3] << 24;
	}
	if (cap < 4096)
		cap = 4096;
	if (cap > BENCH_MAX_RAW)
		cap = BENCH_MAX_RAW;
	if ((buf = hearth_arena_alloc(a, cap)) == NULL)
		return -1;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK) /* 32: accept gzip headers */
		return -1;
	zs.next_in = f->data;
	zs.avail_in = (uInt)f->len;
	for (;;) {
		zs.next_out = buf + used;
		zs.avail_out = (uInt)(cap - used);
		zrc = inflate(&zs, Z_NO_FLUSH);
		used = cap - zs.avail_out;
		if (zrc == Z_STREAM_END) {
			/* Another gzip member may follow (concatenated gzip). */
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
				goto out;
			continue;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			fprintf(stderr, "decode_bench: %s: gzip: %s\n", f->path,
			    zs.msg ? zs.msg : "corrupt data");
			goto out;
		}
		if (zs.avail_out == 0) {
			size_t	 ncap = cap * 2;
			uint8_t *nbuf;

			if (ncap > BENCH_MAX_RAW || (nbuf = hearth_arena_realloc(
			    a, buf, used, ncap)) == NULL) {
				fprintf(stderr, "decode_bench: %s: over %zu "
				    "bytes decompressed\n", f->path, BENCH_MAX_RAW);
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		} else if (zs.avail_in == 0) {
			fprintf(stderr, "decode_bench: %s: gzip: truncated "
			    "stream\n", f->path);
			goto out;
		}
	}
	*out = buf;
	*out_len = used;
	rc = 0;
out:
	inflateEnd(&zs);
	return rc;
}

static int
bench_decode(hearth_arena *a, bench_file *f)
{
	ProtobufCAllocator	      alloc = { hearth_arena_pb_alloc,
		      hearth_arena_pb_free, a };
	Perftools__Profiles__Profile *p;
	uint8_t			     *raw = f->data;
	size_t			      raw_len = f->len;

	if (f->len >= 2 && f->data[0] == 0x1f && f->data[1] == 0x8b) {
		if (bench_gunzip(a, f, &raw, &raw_len) != 0)
			return -1;
	}
	p = perftools__profiles__profile__unpack(&alloc, raw_len, raw);
	if (p == NULL) {
		fprintf(stderr, "decode_bench: %s: not a valid pprof\n", f->path);
		return -1;
	}
	/* Touch the result so the unpack cannot be considered dead. */
	if (p->n_sample_type == 0 && p->n_sample == (size_t)-1)
		return -1;
	f->raw_len = raw_len;
	f->decoded++;
	hearth_arena_reset(a);
	return 0;
}

/* CPU microseconds per profile of `iters` runs of f, decode-only
 * (full == 0) or through hearth_pprof_decode (full == 1); -1 on error. */
static double
bench_time_one(hearth_arena *a, bench_file *f, int full, long iters)
{
	hearth_pprof_opts o = { 0 };
	/* ingest_bench posts the .NET file with spyName=dotnetspy */
	if (strstr(f->path, "dotnet") != NULL)
		o.spy_name = "dotnetspy";
	double c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
	for (long k = 0; k < iters; k++) {
		if (!full) {
			if (bench_decode(a, f) != 0)
				return -1;
			continue;
		}
		hearth_pprof_result res;
		hearth_err	    err = { 0 };
		if (hearth_pprof_decode(a, f->data, f->len, &o, &res, &err) != 0) {
			fprintf(stderr, "decode_bench: %s: %s\n", f->path,
			    err.msg);
			return -1;
		}
		hearth_arena_reset(a);
	}
	return (bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)iters *
	    1e6;
}

/* -c: per file, the best of 5 alternating measurements of each kind (the
 * least disturbed by neighbours on a shared machine), about `secs` in all. */
static int
bench_convert(hearth_arena *a, bench_file *files, int nf, double secs)
{
	double sum_d = 0, sum_c = 0;
	for (int i = 0; i < nf; i++) {
		/* size the loop from one decode: ~secs / nf / 10 per batch */
		double one = bench_time_one(a, &files[i], 1, 3);
		if (one < 0)
			return -1;
		long iters = (long)(secs / nf / 10 / (one / 1e6));
		if (iters < 1)
			iters = 1;
		double best_d = -1, best_c = -1;
		for (int rep = 0; rep < 5; rep++) {
			double d = bench_time_one(a, &files[i], 0, iters);
			double c = bench_time_one(a, &files[i], 1, iters);
			if (d < 0 || c < 0)
				return -1;
			if (best_d < 0 || d < best_d)
				best_d = d;
			if (best_c < 0 || c < best_c)
				best_c = c;
		}
		printf("convert %s decode_us=%.1f hearth_decode_us=%.1f "
		       "extra_us=%.1f extra_pct=%.0f\n",
		    files[i].path, best_d, best_c, best_c - best_d,
		    100 * (best_c - best_d) / best_d);
		sum_d += best_d;
		sum_c += best_c;
	}
	printf("convert_bench: files=%d decode_us=%.1f hearth_decode_us=%.1f "
	       "extra_us=%.1f extra_pct=%.0f (one round of every file)\n",
	    nf, sum_d, sum_c, sum_c - sum_d, 100 * (sum_c - sum_d) / sum_d);
	return 0;
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: decode_bench [-t seconds] [-n min_rounds] "
			"[-c 1] file...\n");
}

int
main(int argc, char **argv)
{
	bench_file   *files;
	hearth_arena *a;
	double	      secs = 3.0, w0, c0, wall, cpu;
	long	      min_rounds = 20, rounds = 0;
	int	      convert = 0;
	uint64_t      profiles = 0, in_bytes = 0, raw_bytes = 0;
	int	      i, nf = 0, first, rc = 1;

	for (first = 1; first < argc && argv[first][0] == '-'; first += 2) {
		if (first + 1 >= argc) {
			bench_usage();
			return 2;
		}
		if (strcmp(argv[first], "-t") == 0)
			secs = atof(argv[first + 1]);
		else if (strcmp(argv[first], "-n") == 0)
			min_rounds = atol(argv[first + 1]);
		else if (strcmp(argv[first], "-c") == 0)
			convert = atoi(argv[first + 1]) != 0;
		else {
			bench_usage();
			return 2;
		}
	}
	if (first >= argc) {
		bench_usage();
		return 2;
	}
	files = calloc((size_t)(argc - first), sizeof(*files));
	a = hearth_arena_new(0);
	if (files == NULL || a == NULL) {
		fprintf(stderr, "decode_bench: out of memory\n");
		goto out;
	}
	for (i = first; i < argc; i++) {
		files[nf].path = argv[i];
		if (bench_read(&files[nf]) != 0)
			goto out;
		nf++;
	}

	/* Warm-up round: page in the files, size the arena's first chunk. */
	for (i = 0; i < nf; i++) {
		if (bench_decode(a, &files[i]) != 0)
			goto out;
		files[i].decoded = 0;
	}

	w0 = bench_now(CLOCK_MONOTONIC);
	c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (i = 0; i < nf; i++) {
			if (bench_decode(a, &files[i]) != 0)
				goto out;
			profiles++;
			in_bytes += files[i].len;
			raw_bytes += files[i].raw_len;
		}
		rounds++;
	} while (rounds < min_rounds || bench_now(CLOCK_MONOTONIC) - w0 < secs);
	wall = bench_now(CLOCK_MONOTONIC) - w0;
	cpu = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (cpu <= 0)
		cpu = wall;

	for (i = 0; i < nf; i++)
		printf("file %s compressed=%zu decompressed=%zu decoded=%llu\n",
		    files[i].path, files[i].len, files[i].raw_len,
		    (unsigned long long)files[i].decoded);
	printf("decode_bench: files=%d rounds=%ld profiles=%llu seconds=%.3f "
	       "cpu_seconds=%.3f profiles_per_s=%.1f compressed_mb_per_s=%.2f "
	       "decompressed_mb_per_s=%.2f\n",
	    nf, rounds, (unsigned long long)profiles, wall, cpu,
	    (double)profiles / cpu, (double)in_bytes / cpu / 1e6,
	    (double)raw_bytes / cpu / 1e6);
	if (convert && bench_convert(a, files, nf, secs) != 0)
		goto out;
	rc = 0;
out:
	for (i = 0; i < nf; i++)
		free(files[i].data);
	free(files);
	hearth_arena_free(a);
	return rc;
}

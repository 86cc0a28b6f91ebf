#include "gzip.h"

#include <string.h>
#include <zlib.h>

/* Deflate's best case is a 258-byte match coded in 2 bits, i.e. about
 * 1032:1, so an ISIZE above this multiple of the compressed bytes is a lie
 * and must not size a buffer. */
#define GZIP_MAX_RATIO 1032u
/* First buffer when the trailer gives no usable hint. */
#define GZIP_MIN_BUF (64u * 1024u)
/* zlib counts in uInt; feed and drain it in pieces no larger than this.
 * (Not UINT_MAX: common/limits.h shadows <limits.h> on hearth's include
 * path.) */
#define GZIP_STEP ((size_t) (uInt) -1)

typedef struct gzip_state {
	hearth_arena *a;
	uint8_t      *buf;
	size_t        cap;
	size_t        len;
	size_t        max_out;
} gzip_state;

bool
hearth_gzip_is_gzip(const void *p, size_t n)
{
	const uint8_t *b = p;
	return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static voidpf
gzip_zalloc(voidpf opaque, uInt items, uInt size)
{
	return hearth_arena_calloc(opaque, items, size);
}

static void
gzip_zfree(voidpf opaque, voidpf p)
{
	(void) opaque;
	(void) p; /* arena memory is released with the arena */
}

static int
gzip_nomem(hearth_arena *a, hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached (%zu bytes in use while "
	    "decompressing the body)",
	    hearth_arena_used(a));
}

/* Initial output size: the last member's ISIZE (size mod 2^32) when it is
 * plausible, clamped by rule (2) of gzip.h. One byte over max_out is kept
 * so that "exactly max_out" and "more than max_out" can be told apart. */
static size_t
gzip_first_cap(const uint8_t *in, size_t n, size_t max_out)
{
	size_t hint = GZIP_MIN_BUF;
	if (n >= 18) {
		const uint8_t *t     = in + n - 4;
		uint32_t       isize = (uint32_t) t[0] | (uint32_t) t[1] << 8
		    | (uint32_t) t[2] << 16 | (uint32_t) t[3] << 24;
		size_t bound = n > SIZE_MAX / GZIP_MAX_RATIO
		    ? SIZE_MAX
		    : n * GZIP_MAX_RATIO;
		if (isize > 0 && isize <= bound)
			hint = isize;
	}
	size_t hard = max_out < SIZE_MAX ? max_out + 1 : max_out;
	return hint < hard ? hint : hard;
}

/* Make room for more output: double, but never past max_out + 1. */
static int
gzip_grow(gzip_state *s)
{
	size_t hard = s->max_out < SIZE_MAX ? s->max_out + 1 : s->max_out;
	if (s->cap >= hard)
		return HEARTH_ETOOLARGE;
	size_t ncap = s->cap > SIZE_MAX / 2 ? SIZE_MAX : s->cap * 2;
	if (ncap < GZIP_MIN_BUF)
		ncap = GZIP_MIN_BUF;
	if (ncap > hard)
		ncap = hard;
	uint8_t *nb = hearth_arena_realloc(s->a, s->buf, s->len, ncap);
	if (nb == NULL)
		return HEARTH_ELIMIT;
	s->buf = nb;
	s->cap = ncap;
	return 0;
}

int
hearth_gzip_decode(hearth_arena *a, const void *in, size_t n, size_t max_out,
    uint8_t **out, size_t *out_len, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && out != NULL && out_len != NULL);
	HEARTH_ASSERT(max_out > 0);
	*out     = NULL;
	*out_len = 0;
	if (n == 0 || in == NULL)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "gzip: truncated stream");

	const uint8_t *src = in;
	gzip_state     s   = { .a = a, .max_out = max_out };
	s.cap              = gzip_first_cap(src, n, max_out);
	s.buf              = hearth_arena_alloc(a, s.cap);
	if (s.buf == NULL)
		return gzip_nomem(a, err);

	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = gzip_zalloc;
	zs.zfree  = gzip_zfree;
	zs.opaque = a;
	/* 16 + MAX_WBITS: gzip wrapper only (zlib-wrapped or raw deflate
	 * bodies are not gzip and are reported as corrupt). */
	int zrc = inflateInit2(&zs, 16 + MAX_WBITS);
	if (zrc == Z_MEM_ERROR)
		return gzip_nomem(a, err);
	if (zrc != Z_OK)
		return hearth_err_set(
		    err, HEARTH_EINTERNAL, "gzip: zlib init failed (%d)", zrc);

	size_t in_off = 0;
	int    rc     = 0;
	for (;;) {
		if (zs.avail_in == 0 && in_off < n) {
			size_t step
			    = n - in_off < GZIP_STEP ? n - in_off : GZIP_STEP;
			zs.next_in  = (Bytef *) (uintptr_t) (src + in_off);
			zs.avail_in = (uInt) step;
			in_off += step;
		}
		if (s.len == s.cap) {
			rc = gzip_grow(&s);
			if (rc == HEARTH_ETOOLARGE)
				goto toolarge;
			if (rc != 0)
				goto nomem;
		}
		size_t room  = s.cap - s.len;
		zs.next_out  = s.buf + s.len;
		zs.avail_out = (uInt) (room < GZIP_STEP ? room : GZIP_STEP);
		uInt before  = zs.avail_out;
		zrc          = inflate(&zs, Z_NO_FLUSH);
		s.len += before - zs.avail_out;
		if (s.len > max_out)
			goto toolarge;
		if (zrc == Z_STREAM_END) {
			size_t left = zs.avail_in + (n - in_off);
			if (left == 0)
				break;
			/* Another member must follow: anything else is
			 * trailing garbage. */
			const uint8_t *next = src + (n - left);
			if (!hearth_gzip_is_gzip(next, left)) {
				rc = hearth_err_set(err, HEARTH_EINVAL,
				    "gzip: corrupt data: %zu unexpected bytes "
				    "after the end of the gzip stream",
				    left);
				goto done;
			}
			inflateReset(&zs);
			continue;
		}
		if (zrc == Z_MEM_ERROR)
			goto nomem;
		if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT
		    || zrc == Z_STREAM_ERROR) {
			rc = hearth_err_set(err, HEARTH_EINVAL,
			    "gzip: corrupt data: %s",
			    zs.msg != NULL ? zs.msg
			                   : "invalid deflate stream");
			goto done;
		}
		/* Z_OK or Z_BUF_ERROR: no progress is possible only when both
		 * input is used up and output had room. */
		if (zs.avail_in == 0 && in_off == n && zs.avail_out > 0) {
			rc = hearth_err_set(
			    err, HEARTH_EINVAL, "gzip: truncated stream");
			goto done;
		}
	}
	*out     = s.buf;
	*out_len = s.len;
	rc       = 0;
	goto done;
toolarge:
	rc = hearth_err_set(err, HEARTH_ETOOLARGE,
	    "decompressed body exceeds %zu bytes", max_out);
	goto done;
nomem:
	rc = gzip_nomem(a, err);
done:
	inflateEnd(&zs);
	return rc;
}

#include "arena.h"

#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer the memory of a reset arena is poisoned until it
 * is handed out again, so a pointer kept past its request still faults
 * although the chunk is reused instead of freed. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n)   ((void) (p), (void) (n))
#define ARENA_UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define ARENA_ALIGN	   16
#define ARENA_FIRST_CHUNK  (8 * 1024)
#define ARENA_MAX_CHUNK	   (1024 * 1024)
/* Chunks a reset keeps for the next use, in bytes: enough for decoding
 * a large profile (a 100 KB pprof needs ~1 MiB), so an arena reused per
 * request stops paying malloc, page faults and munmap for the same
 * memory every time (that was ~18 % of decoding a profile), while the
 * long-lived arenas (HTTP and RPC workers, ~20 in a process) hold at most
 * a few tens of MiB when idle. */
#define ARENA_RETAIN	   (2 * 1024 * 1024)

typedef struct arena_chunk {
	struct arena_chunk *prev;
	size_t		    size; /* usable bytes after the header */
	size_t		    off;
	/* data follows, aligned */
} arena_chunk;

struct hearth_arena {
	arena_chunk *head;  /* newest chunk */
	arena_chunk *first; /* kept across reset */
	/* Chunks kept by the last reset, smallest first (linked through
	 * prev), handed out again before malloc is asked. */
	arena_chunk *spare;
	size_t	     spare_bytes;
	size_t	     cap;
	size_t	     used;
	size_t	     reserved;
};

#define CHUNK_HDR (((sizeof(arena_chunk) + ARENA_ALIGN - 1) / ARENA_ALIGN) * ARENA_ALIGN)

static arena_chunk *
arena_chunk_new(size_t size)
{
	arena_chunk *c = malloc(CHUNK_HDR + size);
	if (c == NULL)
		return NULL;
	c->prev = NULL;
	c->size = size;
	c->off	= 0;
	ARENA_POISON((char *) c + CHUNK_HDR, size);
	return c;
}

static void
arena_chunk_free(arena_chunk *c)
{
	ARENA_UNPOISON((char *) c + CHUNK_HDR, c->size);
	free(c);
}

/* A spare chunk with room for need bytes, or NULL. Only the top one is
 * looked at: spares come back in the order they were first opened in. */
static arena_chunk *
arena_spare_take(hearth_arena *a, size_t need)
{
	arena_chunk *c = a->spare;
	if (c == NULL || c->size < need)
		return NULL;
	a->spare = c->prev;
	a->spare_bytes -= c->size;
	c->off = 0;
	return c;
}

hearth_arena *
hearth_arena_new(size_t cap_bytes)
{
	hearth_arena *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->first = arena_chunk_new(ARENA_FIRST_CHUNK);
	if (a->first == NULL) {
		free(a);
		return NULL;
	}
	a->head	    = a->first;
	a->cap	    = cap_bytes;
	a->reserved = ARENA_FIRST_CHUNK;
	return a;
}

void
hearth_arena_reset(hearth_arena *a)
{
	if (a == NULL)
		return;
	/* Newest (largest) first: pushing each onto the spare list leaves
	 * the smallest on top, the order the next use asks for them in.
	 * Past ARENA_RETAIN the rest goes back to malloc. */
	arena_chunk *c = a->head;
	while (c != a->first) {
		arena_chunk *prev = c->prev;
		if (a->spare_bytes + c->size <= ARENA_RETAIN) {
			c->prev = a->spare;
			a->spare = c;
			a->spare_bytes += c->size;
		} else {
			arena_chunk_free(c);
		}
		c = prev;
	}
	a->head	       = a->first;
	a->first->off  = 0;
	a->first->prev = NULL;
	a->used	       = 0;
	a->reserved    = a->first->size + a->spare_bytes;
	for (arena_chunk *sc = a->spare; sc != NULL; sc = sc->prev) {
#ifdef HEARTH_DEBUG_POISON
		ARENA_UNPOISON((char *) sc + CHUNK_HDR, sc->size);
		memset((char *) sc + CHUNK_HDR, 0xa5, sc->size);
#endif
		ARENA_POISON((char *) sc + CHUNK_HDR, sc->size);
	}
#ifdef HEARTH_DEBUG_POISON
	ARENA_UNPOISON((char *) a->first + CHUNK_HDR, a->first->size);
	memset((char *) a->first + CHUNK_HDR, 0xa5, a->first->size);
#endif
	ARENA_POISON((char *) a->first + CHUNK_HDR, a->first->size);
}

void
hearth_arena_free(hearth_arena *a)
{
	if (a == NULL)
		return;
	hearth_arena_reset(a);
	while (a->spare != NULL) {
		arena_chunk *c = a->spare;
		a->spare       = c->prev;
		arena_chunk_free(c);
	}
	arena_chunk_free(a->first);
	free(a);
}

void *
hearth_arena_alloc(hearth_arena *a, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		return NULL;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	if (a->cap > 0 && a->used + need > a->cap)
		return NULL;
	arena_chunk *c = a->head;
	if (c->size - c->off < need) {
		size_t size = c->size * 2;
		if (size > ARENA_MAX_CHUNK)
			size = ARENA_MAX_CHUNK;
		if (size < need)
			size = need;
		arena_chunk *nc = arena_spare_take(a, need);
		if (nc == NULL) {
			if ((nc = arena_chunk_new(size)) == NULL)
				return NULL;
			a->reserved += size;
		}
		nc->prev = c;
		a->head	 = nc;
		c	 = nc;
	}
	void *p = (char *) c + CHUNK_HDR + c->off;
	c->off += need;
	a->used += need;
	ARENA_UNPOISON(p, need);
	return p;
}

void *
hearth_arena_calloc(hearth_arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	void *p = hearth_arena_alloc(a, n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void *
hearth_arena_realloc(hearth_arena *a, void *old, size_t old_n, size_t new_n)
{
	/* The newest allocation grows in place when its chunk has room:
	 * growth arrays (doubling) are usually the last thing allocated,
	 * and copying them at every doubling was most of their cost. */
	arena_chunk *c = a->head;
	size_t	     o = (old_n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	if (old != NULL && new_n >= old_n && new_n <= SIZE_MAX / 2
	    && (char *) old + o == (char *) c + CHUNK_HDR + c->off) {
		size_t n    = (new_n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
		size_t more = n - o;
		if (c->size - c->off >= more
		    && (a->cap == 0 || a->used + more <= a->cap)) {
			ARENA_UNPOISON((char *) old + o, more);
			c->off += more;
			a->used += more;
			return old;
		}
	}
	void *p = hearth_arena_alloc(a, new_n);
	if (p != NULL && old != NULL)
		memcpy(p, old, old_n < new_n ? old_n : new_n);
	return p;
}

char *
hearth_arena_strndup(hearth_arena *a, const char *s, size_t len)
{
	char *p = hearth_arena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
hearth_arena_strdup(hearth_arena *a, const char *s)
{
	return hearth_arena_strndup(a, s, strlen(s));
}

size_t
hearth_arena_used(const hearth_arena *a)
{
	return a->used;
}

size_t
hearth_arena_reserved(const hearth_arena *a)
{
	return a->reserved;
}

int
hearth_arena_grow(hearth_arena *a, void **arr, size_t *cap, size_t need,
    size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -1;
		ncap *= 2;
	}
	void *p = hearth_arena_realloc(a, *arr, *cap * elem, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

void *
hearth_arena_pb_alloc(void *arena, size_t size)
{
	return hearth_arena_alloc(arena, size);
}

void
hearth_arena_pb_free(void *arena, void *ptr)
{
	(void) arena;
	(void) ptr;
}

#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN	   16
#define ARENA_FIRST_CHUNK  (8 * 1024)
#define ARENA_MAX_CHUNK	   (1024 * 1024)

typedef struct arena_chunk {
	struct arena_chunk *prev;
	size_t		    size; /* usable bytes after the header */
	size_t		    off;
	/* data follows, aligned */
} arena_chunk;

struct hearth_arena {
	arena_chunk *head;  /* newest chunk */
	arena_chunk *first; /* kept across reset */
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
	arena_chunk *c = a->head;
	while (c != a->first) {
		arena_chunk *prev = c->prev;
		free(c);
		c = prev;
	}
	a->head	       = a->first;
	a->first->off  = 0;
	a->first->prev = NULL;
	a->used	       = 0;
	a->reserved    = a->first->size;
#ifdef HEARTH_DEBUG_POISON
	memset((char *) a->first + CHUNK_HDR, 0xa5, a->first->size);
#endif
}

void
hearth_arena_free(hearth_arena *a)
{
	if (a == NULL)
		return;
	hearth_arena_reset(a);
	free(a->first);
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
		arena_chunk *nc = arena_chunk_new(size);
		if (nc == NULL)
			return NULL;
		nc->prev = c;
		a->head	 = nc;
		a->reserved += size;
		c = nc;
	}
	void *p = (char *) c + CHUNK_HDR + c->off;
	c->off += need;
	a->used += need;
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

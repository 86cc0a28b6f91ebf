/*
 * arena: request-scoped bump allocator.
 *
 * An arena is a singly linked list of chunks; allocation bumps a pointer in
 * the newest chunk and opens a new chunk (doubling, up to 1 MiB, or exactly
 * the request when it is larger) when it runs out. Nothing is freed
 * individually: hearth_arena_reset() rewinds to the first chunk and keeps
 * up to 2 MiB of the others as spares that later allocations reuse before
 * calling malloc (an arena reused per request then costs no malloc, page
 * faults or munmap once warm); hearth_arena_free() drops everything.
 *
 * Invariants:
 *  (1) used <= cap whenever cap > 0: an allocation that would pass the cap
 *      fails (returns NULL) instead of growing, so input-driven sizes give
 *      -HEARTH_ELIMIT rather than an out-of-memory kill;
 *  (2) every pointer returned is aligned to 16 bytes.
 *
 * Ownership: memory handed out belongs to the arena; a long-lived structure
 * must never keep an arena pointer past the request. One arena is used by
 * one thread at a time.
 */
#ifndef HEARTH_ARENA_H
#define HEARTH_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_arena hearth_arena;

/* New arena; cap_bytes 0 = unlimited. NULL on out of memory. */
hearth_arena *hearth_arena_new(size_t cap_bytes);
void	      hearth_arena_free(hearth_arena *a); /* NULL is a no-op */
void	      hearth_arena_reset(hearth_arena *a);

/* Aligned allocation; NULL when out of memory or over the cap. */
void *hearth_arena_alloc(hearth_arena *a, size_t n);
/* Zeroed allocation of n * size with overflow check. */
void *hearth_arena_calloc(hearth_arena *a, size_t n, size_t size);
/* Grow an allocation of old_n bytes made from this arena to new_n: in
 * place when it is the newest allocation and its chunk has room, else a
 * copy (old stays valid either way; the result may equal old). */
void *hearth_arena_realloc(hearth_arena *a, void *old, size_t old_n,
    size_t new_n);
/* Grow the arena array *arr of *cap elements of elem bytes to hold at
 * least need: capacity doubles (from 16), so the copies left behind add up
 * to less than the final array. 0, or -1 when the size overflows or the
 * cap is reached (*arr and *cap unchanged). */
int hearth_arena_grow(hearth_arena *a, void **arr, size_t *cap, size_t need,
    size_t elem);
/* Copy of s[0..len) with a NUL terminator. */
char *hearth_arena_strndup(hearth_arena *a, const char *s, size_t len);
char *hearth_arena_strdup(hearth_arena *a, const char *s);

/* Bytes handed out so far (what the cap is compared against). */
size_t hearth_arena_used(const hearth_arena *a);
/* Bytes currently reserved from malloc (chunks, spares included). */
size_t hearth_arena_reserved(const hearth_arena *a);

/* A ProtobufCAllocator-compatible triple: allocator_data = the arena,
 * alloc = hearth_arena_pb_alloc, free = hearth_arena_pb_free (no-op).
 * Declared with void* so this header needs no protobuf-c include. */
void *hearth_arena_pb_alloc(void *arena, size_t size);
void  hearth_arena_pb_free(void *arena, void *ptr);

#endif

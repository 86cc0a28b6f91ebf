/*
 * utf8: the small text codecs every parser shares (labels, selectors,
 * JSON readers, JFR): validating UTF-8, writing a code point as UTF-8,
 * the value of a hex digit, where a symbol cut to a length limit starts.
 * No state, no allocation.
 */
#ifndef HEARTH_UTF8_H
#define HEARTH_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
int hearth_utf8_valid(const char *s, size_t n);

/* Code point cp (<= 0x10FFFF) as UTF-8 at o (room for 4 bytes); returns
 * the byte count, 1 to 4. Surrogates are the caller's to replace. */
size_t hearth_utf8_put(char *o, uint32_t cp);

/* The value of hex digit c (either case), or -1. */
int hearth_hex_digit(char c);

/* Where the tail of s[0..len) that max_symbol_length keeps starts: the
 * last max bytes (the most specific part of a long symbol), from a
 * character boundary; when max is smaller than the last character, that
 * whole character. len - start > 0 for len > 0. 0 (all) when max is 0 or
 * len <= max. */
size_t hearth_utf8_tail(const char *s, size_t len, size_t max);

#endif

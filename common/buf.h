/*
 * buf: a growable byte buffer (malloc-backed) for building responses,
 * JSON and encoded messages.
 *
 * Invariants: (1) len <= cap; (2) when cap > 0, data[len] == '\0', so a
 * buffer holding text is always a C string. After an allocation failure
 * the buffer is marked failed: later appends do nothing and
 * hearth_buf_failed() reports it, so builders can append freely and check
 * once at the end.
 *
 * Ownership: the buffer owns data; hearth_buf_take() hands it to the caller
 * (who frees it with free()) and leaves the buffer empty.
 */
#ifndef HEARTH_BUF_H
#define HEARTH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hearth_buf {
	char  *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0 = unlimited; growth past it marks the buffer failed */
	int    failed;
} hearth_buf;

void  hearth_buf_init(hearth_buf *b);
void  hearth_buf_fini(hearth_buf *b);
void  hearth_buf_reset(hearth_buf *b); /* len = 0, keeps memory */
int   hearth_buf_reserve(hearth_buf *b, size_t extra); /* 0 or HEARTH_ENOMEM */
void  hearth_buf_append(hearth_buf *b, const void *p, size_t n);
void  hearth_buf_puts(hearth_buf *b, const char *s);
void  hearth_buf_putc(hearth_buf *b, char c);
void  hearth_buf_printf(hearth_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void  hearth_buf_vprintf(hearth_buf *b, const char *fmt, va_list ap);
void  hearth_buf_put_i64(hearth_buf *b, int64_t v);
void  hearth_buf_put_u64(hearth_buf *b, uint64_t v);
/* Append s[0..n) as a JSON string literal, quotes included; invalid UTF-8
 * bytes are replaced by U+FFFD so the output is always valid JSON. */
void  hearth_buf_put_json_str(hearth_buf *b, const char *s, size_t n);
int   hearth_buf_failed(const hearth_buf *b);
char *hearth_buf_take(hearth_buf *b, size_t *len);

#endif

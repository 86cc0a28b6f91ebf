#include "buf.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hearth_buf_init(hearth_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
hearth_buf_fini(hearth_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
hearth_buf_reset(hearth_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
hearth_buf_reserve(hearth_buf *b, size_t extra)
{
	if (b->failed)
		return HEARTH_ENOMEM;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return HEARTH_ENOMEM;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	if (b->limit > 0 && need > b->limit + 1) {
		b->failed = 1;
		return HEARTH_ETOOLARGE;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = 1;
		return HEARTH_ENOMEM;
	}
	b->data = p;
	b->cap	= cap;
	return 0;
}

void
hearth_buf_append(hearth_buf *b, const void *p, size_t n)
{
	if (hearth_buf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
hearth_buf_puts(hearth_buf *b, const char *s)
{
	hearth_buf_append(b, s, strlen(s));
}

void
hearth_buf_putc(hearth_buf *b, char c)
{
	if (hearth_buf_reserve(b, 1) != 0)
		return;
	b->data[b->len++] = c;
	b->data[b->len]	  = '\0';
}

void
hearth_buf_vprintf(hearth_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || hearth_buf_reserve(b, (size_t) n) != 0)
		return;
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	b->len += (size_t) n;
}

void
hearth_buf_printf(hearth_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hearth_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
hearth_buf_put_u64(hearth_buf *b, uint64_t v)
{
	char tmp[24];
	int  i = (int) sizeof(tmp);
	do {
		tmp[--i] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	hearth_buf_append(b, tmp + i, sizeof(tmp) - (size_t) i);
}

void
hearth_buf_put_i64(hearth_buf *b, int64_t v)
{
	if (v < 0) {
		hearth_buf_putc(b, '-');
		hearth_buf_put_u64(b, (uint64_t) 0 - (uint64_t) v);
	} else {
		hearth_buf_put_u64(b, (uint64_t) v);
	}
}

/* Length of the valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static size_t
buf_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t	      len;
	uint32_t      cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp  = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp  = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp  = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void
hearth_buf_put_json_str(hearth_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p	= (const unsigned char *) s;
	if (hearth_buf_reserve(b, n + 2) != 0)
		return;
	hearth_buf_putc(b, '"');
	size_t run = 0; /* start of a run of bytes copied verbatim */
	size_t i   = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t l = buf_utf8_seq(p + i, n - i);
			if (l > 0) {
				i += l;
				continue;
			}
		}
		hearth_buf_append(b, s + run, i - run);
		switch (c) {
		case '"': hearth_buf_puts(b, "\\\""); break;
		case '\\': hearth_buf_puts(b, "\\\\"); break;
		case '\n': hearth_buf_puts(b, "\\n"); break;
		case '\r': hearth_buf_puts(b, "\\r"); break;
		case '\t': hearth_buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20) {
				char e[6] = { '\\', 'u', '0', '0', hex[c >> 4],
					hex[c & 15] };
				hearth_buf_append(b, e, 6);
			} else {
				hearth_buf_puts(b, "\xef\xbf\xbd");
			}
		}
		i++;
		run = i;
	}
	hearth_buf_append(b, s + run, n - run);
	hearth_buf_putc(b, '"');
}

int
hearth_buf_failed(const hearth_buf *b)
{
	return b->failed;
}

char *
hearth_buf_take(hearth_buf *b, size_t *len)
{
	char *d = b->data;
	if (len != NULL)
		*len = b->len;
	if (d == NULL)
		d = calloc(1, 1);
	memset(b, 0, sizeof(*b));
	return d;
}

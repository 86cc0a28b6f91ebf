#include "json.h"

#include "utf8.h"

int
hearth_json_hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hearth_hex_digit(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t) d;
	}
	*out = v;
	return 0;
}

/* Store b at out[m] (nothing when only checking) and count it. */
#define JSON_PUT(b)                                                       \
	do {                                                              \
		if (out != NULL)                                          \
			out[m] = (b);                                     \
		m++;                                                      \
	} while (0)

int
hearth_json_unescape(const char *raw, size_t n, unsigned flags, char *out,
    size_t *out_len, size_t *bad_at)
{
	size_t i = 0, m = 0;
	*bad_at	 = 0;
	while (i < n) {
		unsigned char c = (unsigned char) raw[i];
		if (c < 0x20) {
			*bad_at = i;
			return HEARTH_JSON_STR_CONTROL;
		}
		if (c != '\\') {
			JSON_PUT((char) c);
			i++;
			continue;
		}
		if (++i == n) {
			*bad_at = n;
			return HEARTH_JSON_STR_ESCAPE;
		}
		char e = raw[i++];
		switch (e) {
		case '"':
		case '\\':
		case '/':
			JSON_PUT(e);
			continue;
		case 'b':
			JSON_PUT('\b');
			continue;
		case 'f':
			JSON_PUT('\f');
			continue;
		case 'n':
			JSON_PUT('\n');
			continue;
		case 'r':
			JSON_PUT('\r');
			continue;
		case 't':
			JSON_PUT('\t');
			continue;
		case 'u':
			break;
		default:
			*bad_at = i - 1;
			return HEARTH_JSON_STR_ESCAPE;
		}
		uint32_t cp, lo;
		if (n - i < 4 || hearth_json_hex4(raw + i, &cp) != 0) {
			*bad_at = i - 1;
			return HEARTH_JSON_STR_UNICODE;
		}
		i += 4;
		/* A high surrogate joins the low one right after it; any
		 * other next escape stands on its own. */
		if (cp >= 0xd800 && cp <= 0xdbff && n - i >= 6
		    && raw[i] == '\\' && raw[i + 1] == 'u'
		    && hearth_json_hex4(raw + i + 2, &lo) == 0 && lo >= 0xdc00
		    && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			cp = 0xfffd;
		}
		if (cp == 0 && (flags & HEARTH_JSON_NO_NUL) != 0) {
			*bad_at = i;
			return HEARTH_JSON_STR_NUL;
		}
		/* A \u escape (6 bytes) is never more than 3 bytes of
		 * UTF-8, a pair (12) never more than 4: out keeps up with raw. */
		char tmp[4];
		m += hearth_utf8_put(out != NULL ? out + m : tmp, cp);
	}
	if (out != NULL)
		out[m] = '\0';
	*out_len = m;
	return HEARTH_JSON_STR_OK;
}

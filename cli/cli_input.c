#include "cli_input.h"

#include "folded.h"
#include "gzip.h"
#include "jfr.h"
#include "pprof.h"
#include "speedscope.h"

#include <stdint.h>
#include <string.h>

const char *
hearth_cli_input_name(hearth_cli_format f)
{
	switch (f) {
	case HEARTH_CLI_FORMAT_PPROF:
		return "pprof";
	case HEARTH_CLI_FORMAT_FOLDED:
		return "folded";
	case HEARTH_CLI_FORMAT_LINES:
		return "lines";
	case HEARTH_CLI_FORMAT_JFR:
		return "jfr";
	case HEARTH_CLI_FORMAT_SPEEDSCOPE:
		return "speedscope";
	case HEARTH_CLI_FORMAT_TRIE:
		return "trie";
	case HEARTH_CLI_FORMAT_TREE:
		return "tree";
	default:
		return "auto";
	}
}

int
hearth_cli_input_format(const char *s, hearth_cli_format *out, hearth_err *err)
{
	for (int f = HEARTH_CLI_FORMAT_AUTO; f <= HEARTH_CLI_FORMAT_TREE; f++)
		if (strcmp(s, hearth_cli_input_name((hearth_cli_format) f))
		    == 0) {
			*out = (hearth_cli_format) f;
			return 0;
		}
	return hearth_err_set(err, HEARTH_EINVAL,
	    "unknown format \"%s\" (choose pprof, jfr, speedscope, folded, "
	    "lines, trie, tree or auto)",
	    s);
}

static int
input_is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n'
		        && p[i] != '\r')
		    || p[i] == 0x7f)
			return 0;
	return 1;
}

/* A JSON object naming speedscope's schema (where exporters put it:
 * near the start; the whole file is parsed afterwards anyway). */
static int
input_is_speedscope(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
		   p[i] == '\r'))
		i++;
	if (i == n || p[i] != '{')
		return 0;
	static const char url[] = "speedscope.app/file-format-schema.json";
	size_t		  lim	= n < 4096 ? n : 4096;
	return memmem(p, lim, url, sizeof(url) - 1) != NULL;
}

static int
input_speedscope(hearth_arena *a, const uint8_t *p, size_t n,
    hearth_cli_input *out, hearth_err *err)
{
	hearth_speedscope_result r;
	if (hearth_speedscope_parse(a, (const char *) p, n, NULL, &r, err) != 0)
		return err->code;
	out->types = r.n_profiles;
	for (size_t i = 0; i < r.n_profiles; i++)
		out->samples += r.profiles[i].samples;
	if (out->samples == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "no samples: the speedscope file has no profile with a "
		    "weighted sample or a timed event");
	return 0;
}

static int
input_text(hearth_arena *a, const uint8_t *p, size_t n, hearth_cli_input *out,
    hearth_err *err)
{
	int mode = out->format == HEARTH_CLI_FORMAT_LINES ? HEARTH_FOLDED_LINES
	    : out->format == HEARTH_CLI_FORMAT_TRIE	  ? HEARTH_FOLDED_TRIE
	    : out->format == HEARTH_CLI_FORMAT_TREE	  ? HEARTH_FOLDED_TREE
							  : HEARTH_FOLDED_GROUPS;
	hearth_upload *u = NULL;
	if (hearth_folded_parse(a, (const char *) p, n, mode, NULL, &u, err)
	    != 0)
		return err->code;
	out->types   = 1;
	out->samples = u->n_groups > 0 ? u->groups[0].n_rows : 0;
	if (out->samples > 0)
		return 0;
	switch (mode) {
	case HEARTH_FOLDED_LINES:
		return hearth_err_set(
		    err, HEARTH_EINVAL, "no samples: the file has no stack lines");
	case HEARTH_FOLDED_TRIE:
	case HEARTH_FOLDED_TREE:
		return hearth_err_set(err, HEARTH_EINVAL,
		    "no samples: the %s holds no node with a value above 0",
		    hearth_cli_input_name(out->format));
	default:
		return hearth_err_set(err, HEARTH_EINVAL,
		    "no samples: folded lines look like \"a;b;c 12\" (stack, "
		    "space, count above 0); use --format lines for one stack "
		    "per line without counts");
	}
}

int
hearth_cli_input_check(hearth_arena *a, const void *data, size_t n,
    hearth_cli_format forced, hearth_cli_input *out, hearth_err *err)
{
	memset(out, 0, sizeof(*out));
	out->format = forced;
	if (n == 0)
		return hearth_err_set(err, HEARTH_EINVAL, "the file is empty");
	const uint8_t *inner     = data;
	size_t         inner_len = n;
	out->gzip                = hearth_gzip_is_gzip(data, n);
	if (out->gzip) {
		uint8_t *plain = NULL;
		if (hearth_gzip_decode(a, data, n, HEARTH_CLI_INPUT_MAX_GUNZIP,
		        &plain, &inner_len, err)
		    != 0)
			return hearth_err_prefix(err, "not a valid gzip file");
		inner = plain;
	}
	int sniffed = forced == HEARTH_CLI_FORMAT_AUTO;
	if (sniffed)
		out->format = inner_len >= 4 && memcmp(inner, "FLR", 4) == 0
		    ? HEARTH_CLI_FORMAT_JFR
		    : input_is_speedscope(inner, inner_len)
		    ? HEARTH_CLI_FORMAT_SPEEDSCOPE
		    : input_is_text(inner, inner_len) ? HEARTH_CLI_FORMAT_FOLDED
						      : HEARTH_CLI_FORMAT_PPROF;
	if (out->format == HEARTH_CLI_FORMAT_SPEEDSCOPE)
		return input_speedscope(a, inner, inner_len, out, err);
	if (out->format == HEARTH_CLI_FORMAT_JFR) {
		hearth_jfr_result jr;
		if (hearth_jfr_decode(a, inner, inner_len, NULL, &jr, err) != 0)
			return err->code;
		out->types = jr.n_profiles;
		for (size_t i = 0; i < jr.n_profiles; i++)
			out->samples += jr.profiles[i].samples;
		if (out->samples == 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "no samples: the recording holds no execution, "
			    "allocation, lock or wall-clock events");
		return 0;
	}
	if (out->format != HEARTH_CLI_FORMAT_PPROF)
		return input_text(a, inner, inner_len, out, err);
	hearth_pprof_result res;
	if (hearth_pprof_decode(a, inner, inner_len, NULL, &res, err) != 0) {
		if (sniffed && err->code == HEARTH_EINVAL)
			return hearth_err_prefix(
			    err, "not a pprof profile nor folded text");
		return err->code;
	}
	out->samples = res.n_samples;
	out->types   = res.upload->n_sample_types;
	return 0;
}

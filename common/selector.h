/*
 * selector: PromQL metric selectors over label sets (model.md §6,
 * render-http.md §2.1).
 *
 *   process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="shop",
 *       env=~"prod|staging", "process.runtime.name"!="go",}
 *
 * A hearth_selector is a list of matchers that are ANDed. An optional
 * metric name before `{` (colons allowed: the render API puts the profile
 * type id there) becomes a `__name__` EQ matcher, first in the list. Inside
 * the braces: label names bare ([a-zA-Z_][a-zA-Z0-9_]*) or quoted (any
 * UTF-8, Prometheus 3), operators = != =~ !~, values in "..." or '...'
 * (Go escapes: \a \b \f \n \r \t \v \\ \" \' \xHH \ooo \uXXXX \UXXXXXXXX)
 * or `raw`, whitespace between tokens, a trailing comma before `}`. `{}`
 * selects everything. A quoted string alone in the braces (`{"a.b"}`) is
 * the metric name, as in Prometheus 3. An empty (or all-blank) input is an
 * error, like in Prometheus: callers that want "everything" pass "{}".
 *
 * Semantics:
 *  (1) a label that a series does not have has the value "": `l=""`
 *      matches series without l, `l!=""` requires l, `l=~".+"` requires l;
 *  (2) =~ and !~ are fully anchored: `=~"us-.*"` means ^(?s:us-.*)$ on the
 *      whole value (dot matches newline, as in Prometheus >= 2.47); !~ is
 *      exactly the negation of =~;
 *  (3) regexes are PCRE2 in UTF mode, ASCII \w \d \s and $ only at the end
 *      (RE2's defaults). PCRE2 accepts a superset of RE2 (backreferences,
 *      lookaround); the match limits below keep those from hanging a query;
 *  (4) a regex that hits a match limit on some value counts as not
 *      matching that value (so !~ matches it). Limits: 1,000,000 match
 *      steps, depth 10,000, 16 MiB of heap per match; label values are
 *      at most 2048 bytes, so honest patterns never come close.
 *
 * Ownership and threads: a selector, its matchers and their strings are
 * malloc-owned by the selector; hearth_selector_free() releases all of it.
 * The compiled regexes are read-only after parse/add, and every match call
 * uses its own match data, so any number of threads may evaluate the same
 * selector at the same time (building it is single-threaded). Evaluating
 * allocates one small match block per regex test: measured 14 ns for the
 * block next to 32 ns for the JIT match of a short value (60 ns per call
 * in all), cheaper than any locking or per-thread cache would be.
 *
 * Errors (-HEARTH_EINVAL) start with "selector: " and name the 0-based byte
 * position and what was expected, e.g.
 *   selector: position 14: expected "=", "!=", "=~" or "!~" after label
 *       name "env"
 *   selector: position 20: invalid regex "(": missing closing parenthesis
 *   selector: unterminated string starting at position 9
 */
#ifndef HEARTH_SELECTOR_H
#define HEARTH_SELECTOR_H

#include "buf.h"
#include "err.h"
#include "labels.h"

#include <stddef.h>

typedef enum {
	HEARTH_MATCH_EQ,
	HEARTH_MATCH_NEQ,
	HEARTH_MATCH_RE,
	HEARTH_MATCH_NRE
} hearth_match_op;

/* Fields are read-only for callers. name and value are NUL-terminated and
 * never contain a NUL byte; re is the pcre2_code* for RE/NRE, else NULL;
 * priv is private (match limits and fast-path data of the regex). */
typedef struct hearth_matcher {
	hearth_match_op op;
	char	       *name;
	char	       *value;
	void	       *re;
	void	       *priv;
} hearth_matcher;

typedef struct hearth_selector {
	hearth_matcher *matchers;
	size_t		n;
	size_t		cap; /* private */
} hearth_selector;

/* An empty selector (matches everything). NULL on out of memory. */
hearth_selector *hearth_selector_new(void);

/* Parse s[0..len). On success *out is a new selector the caller frees with
 * hearth_selector_free(). On error *out is NULL and err says where and
 * what (-HEARTH_EINVAL) or -HEARTH_ENOMEM. */
int hearth_selector_parse(const char *s, size_t len, hearth_selector **out,
    hearth_err *err);

/* NULL is a no-op. */
void hearth_selector_free(hearth_selector *s);

/* Append a matcher (copies name and value, compiles regexes). Used to AND
 * in `__profile_type__="..."` and similar. name must be non-empty, name
 * and value valid UTF-8. On error s is unchanged: -HEARTH_EINVAL with a
 * message naming the label (bad regex, empty name, invalid UTF-8), or
 * -HEARTH_ENOMEM. */
int hearth_selector_add(hearth_selector *s, hearth_match_op op,
    const char *name, const char *value, hearth_err *err);

/* 1 when value[0..len) satisfies m, else 0. Pass "" (len 0) for a label
 * the series does not have. Thread-safe. */
int hearth_matcher_match(const hearth_matcher *m, const char *value,
    size_t len);

/* 1 when every matcher matches the label set ls[0..n), which must be
 * sorted by name (hearth_labels_sort); a missing label has value "".
 * An empty selector matches every set. Thread-safe. */
int hearth_selector_match(const hearth_selector *s, const hearth_label *ls,
    size_t n);

/* 1 when m matches the empty string, i.e. series WITHOUT the label match
 * (semantics (1)): an index must then not restrict the candidates to the
 * postings of m's label. */
int hearth_matcher_matches_empty(const hearth_matcher *m);

/* Append the canonical text form `{a="b",c=~"d"}` to out: every matcher
 * in order, `__name__` included, names bare when legal else quoted, values
 * double-quoted with Go escapes. hearth_selector_parse(format(s)) gives
 * the same matchers in the same order. Returns 0, or -HEARTH_ENOMEM when
 * the buffer failed. */
int hearth_selector_format(const hearth_selector *s, hearth_buf *out);

#endif

/*
 * selector_impl.h: what selector.c and selector_parse.c share; included
 * only by those two files.
 */
#ifndef HEARTH_SELECTOR_IMPL_H
#define HEARTH_SELECTOR_IMPL_H

#include "selector.h"

#include <stddef.h>

/* Label names and values quoted back in error messages are cut to this. */
#define SELECTOR_MSG_QUOTE 64

/* Append a matcher for name[0..nlen) and value[0..vlen) (copied; neither
 * may contain NUL), compiling the regex of RE/NRE. Returns 0;
 * -HEARTH_EINVAL for a bad regex with PCRE2's reason in why[0..whylen);
 * or -HEARTH_ENOMEM. On error s is unchanged. */
int hearth_selector_push(hearth_selector *s, hearth_match_op op,
    const char *name, size_t nlen, const char *value, size_t vlen, char *why,
    size_t whylen);

#endif

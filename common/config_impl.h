/*
 * config_impl.h: what config.c (table, values, flags, help, dump) and
 * config_yaml.c (the YAML loader) share. Include only from those two.
 *
 * hearth_config_rows is THE table of settings (STYLE rule 11): every
 * default, flag, YAML key and help text is one row. A row's field lives at
 * hearth_config_rows[i].off bytes into a hearth_config; rows flagged
 * HEARTH_CFG_TENANT lie inside hearth_config.limits, so the same row also
 * addresses a bare hearth_limits once offsetof(hearth_config, limits) is
 * subtracted.
 */
#ifndef HEARTH_CONFIG_IMPL_H
#define HEARTH_CONFIG_IMPL_H

#include "config.h"

enum {
	HEARTH_CFG_STRING,
	HEARTH_CFG_INT,
	HEARTH_CFG_BOOL,
	HEARTH_CFG_DURATION
};

#define HEARTH_CFG_TENANT 1u /* a per-tenant limit (inside .limits) */
#define HEARTH_CFG_HIDDEN 2u /* left out of -help */

typedef struct hearth_config_row {
	const char *yaml; /* path: "section.key" or "key" */
	const char *flag; /* without the leading dash */
	int         type;
	size_t      off;  /* offset in hearth_config */
	size_t      size; /* strings: capacity including the NUL */
	const char *def;  /* default, in the same syntax as YAML and flags */
	const char *help;
	int64_t     min, max; /* int and duration range */
	int (*check)(const char *v, hearth_err *err); /* strings, optional */
	unsigned flags;
} hearth_config_row;

/* Checked against the table with a static assertion in config.c. */
#define HEARTH_CONFIG_N_ROWS 65

extern const hearth_config_row hearth_config_rows[HEARTH_CONFIG_N_ROWS];

/* Parse v[0..len) for row r and store it at base + r->off. Errors say
 * what was expected, without saying where: callers prefix that. */
int hearth_config_set_value(void *base, const hearth_config_row *r,
    const char *v, size_t len, hearth_err *err);

/* Row by YAML path, or NULL. */
const hearth_config_row *hearth_config_find_yaml(const char *path, size_t len);

/* The row name (YAML path, or flag when use_flag) closest to name, for a
 * "did you mean" hint; NULL when nothing is close. */
const char *hearth_config_suggest(const char *name, size_t len, int use_flag);

#endif

/*
 * setting: which of two versions of a client setting (settings.v1 over
 * Connect; Hearth__Ingester__Setting of ingester.proto) wins. Ingesters
 * keep the winner of the writes they get, queriers pick the winner among
 * the ingesters' answers: one rule for both, so that every replica and
 * every read agree whatever order writes arrived in.
 *
 * Stateless; nothing is allocated.
 */
#ifndef HEARTH_SETTING_H
#define HEARTH_SETTING_H

#include "ingester.pb-c.h"

/* Bounds both roles enforce: a tenant's names, and the bytes of one
 * setting's name and value. */
#define HEARTH_SETTINGS_MAX	  1000
#define HEARTH_SETTINGS_MAX_BYTES (64 * 1024)

/* 1 when a wins over b: the later modified_at_ms, then a delete over a
 * value, then the bytewise greater value; 0 otherwise (equal ones: 0). */
int hearth_setting_newer(const Hearth__Ingester__Setting *a,
    const Hearth__Ingester__Setting *b);

#endif

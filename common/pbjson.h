/*
 * pbjson: the proto3 JSON mapping (connect-apis.md §1.5) for any
 * protobuf-c message, driven by the message's descriptor, so every message
 * of proto/ gets a JSON form without per-message code. The Connect codec
 * `application/json` (connect.h) is its main user.
 *
 * Decoding (client -> server), what Go's protojson accepts with
 * DiscardUnknown, which is what connect-go servers use:
 *  - keys: the field's JSON name (protoc's rule: each `_` dropped and the
 *    next character upper-cased, so `profile_typeID` -> `profileTypeID`)
 *    or its original proto name, mixed freely in one object;
 *  - integers as JSON numbers or strings, both in the JSON number grammar
 *    (`"1e3"` and `1.0` are integral and accepted; `1.5` is not); 64-bit
 *    values are exact when written without fraction or exponent;
 *  - double/float as numbers, numeric strings, or "NaN", "Infinity",
 *    "-Infinity"; bool as true/false; enums as value name or number (an
 *    unknown name leaves the field unset, as DiscardUnknown does);
 *  - bytes as standard or URL-safe base64, padded or not;
 *  - null means "not set" (an empty list for repeated fields);
 *  - unknown keys are skipped with their whole value;
 *  - a one-field oneof (hearth's spelling of proto3 `optional`) records
 *    presence; two members of one oneof in one object are an error, as is
 *    the same field twice;
 *  - an empty (or all-blank) body is `{}` (connect-go rejects it; the spec
 *    allows accepting it).
 * Strings must be valid UTF-8 (escapes included) and may not contain
 * U+0000 (protobuf-c strings are C strings). Nesting deeper than
 * HEARTH_PBJSON_MAX_DEPTH objects/arrays is refused, so hostile input
 * cannot exhaust the stack. Map fields are not supported (hearth's protos
 * have none): a map-shaped value for a repeated message field is an
 * error.
 *
 * Encoding (server -> client), as Go's protojson writes it by default:
 * compact, fields in field-number order under their JSON names, default
 * values omitted (0, "", false, empty lists, unset messages, enum 0)
 * except oneof members, which are written whenever set; 64-bit integers
 * as strings, 32-bit ones as numbers; double/float in the shortest form
 * that reads back exactly (exponent form below 1e-6 and from 1e21, like
 * Go), NaN and infinities as strings; enums by name (number when the
 * value has no name); bytes as padded standard base64.
 *
 * Errors (HEARTH_EINVAL) start with "json: " and give the 0-based byte
 * offset and the field path, e.g.
 *   json: offset 31: field "start": "12x" is not an integer
 * HEARTH_ELIMIT when the arena cap is reached.
 *
 * Threading and memory: pure functions. A decoded message and everything
 * it points to live in the arena; it is never freed with
 * protobuf_c_message_free_unpacked. Encoding only reads the message.
 */
#ifndef HEARTH_PBJSON_H
#define HEARTH_PBJSON_H

#include "arena.h"
#include "buf.h"
#include "err.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define HEARTH_PBJSON_MAX_DEPTH 64

typedef struct hearth_pbjson_opts {
	/* Decode `bytes` fields written as hex (OTLP/JSON's trace and span
	 * ids) when the value is an even number of hex digits; base64
	 * otherwise. */
	int bytes_hex;
} hearth_pbjson_opts;

/* Decode json[0..len) as a message of type d into arena memory. opts may
 * be NULL. On error *out is NULL and err says where and what. */
int hearth_pbjson_decode(hearth_arena *a, const ProtobufCMessageDescriptor *d,
    const char *json, size_t len, const hearth_pbjson_opts *opts,
    ProtobufCMessage **out, hearth_err *err);

/* Append m as JSON to out. Memory failures show in hearth_buf_failed(out);
 * returns 0 or -HEARTH_ENOMEM accordingly. */
int hearth_pbjson_encode(const ProtobufCMessage *m, hearth_buf *out);

/* The JSON name of a proto field name (protoc's ToJsonName) into
 * out[0..outsz), NUL-terminated and truncated to fit; returns the full
 * length. */
size_t hearth_pbjson_name(const char *field, char *out, size_t outsz);

#endif

/*
 * The Avro codec for Strata's four record kinds (see strata/task.h and
 * docs/WIRE-FORMAT.md).
 *
 * Wire form: Avro single-object encoding. Every record value is
 *   C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer
 *   schema's Parsing Canonical Form | Avro binary body.
 * Decoding resolves the writer schema from the fingerprint against an
 * allow-list (the current schemas/<kind>.avsc plus schemas/history/, all
 * compiled into the library) and reads the body into the current C struct:
 * fields the writer lacks take their schema default, fields the reader does
 * not know are skipped. An unknown fingerprint is STRATA_ERR_UNKNOWN_SCHEMA.
 *
 * Untrusted input: decode never trusts a length prefix or block count beyond
 * the bytes that remain, never allocates more than a small multiple of the
 * input length, rejects inputs above the max record size
 * (STRATA_ERR_TOO_LARGE), and reports failures as
 *   "<Record>.<field path>: <what> at offset <n>".
 * Decode checks the wire form only; strata_task_validate() checks meaning.
 *
 * Thread-safety: all functions may be called from any thread at once. The
 * schema registry is built once (on first use, or by strata_codec_init()) and
 * is read-only afterwards except for strata_codec_register_schema(), which is
 * safe against concurrent decoders. No per-call state is shared.
 */
#ifndef STRATA_CODEC_H
#define STRATA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strata/err.h"
#include "strata/task.h"

/* Bytes before the Avro body: the C3 01 marker and the 8-byte fingerprint. */
#define STRATA_CODEC_HEADER_LEN 10

/* Default for strata_codec_set_max_record_size(): 1 MiB. */
#define STRATA_CODEC_DEFAULT_MAX_RECORD (1024 * 1024)

typedef enum {
  STRATA_RECORD_UNKNOWN = 0,
  STRATA_RECORD_TASK = 1,
  STRATA_RECORD_EVENT = 2,
  STRATA_RECORD_CONTROL = 3,
  STRATA_RECORD_DEADLETTER = 4,
} strata_record_kind_t;

/*
 * Builds the schema registry now rather than on first use, so a broken build
 * shows at start-up. Idempotent. Returns STRATA_OK, or an error with errstr
 * naming the schema file and the problem.
 */
strata_err_t strata_codec_init(char *errstr, size_t size);

/*
 * Largest accepted record, header included, for encode and decode; inputs
 * above it are STRATA_ERR_TOO_LARGE. Process-wide; 0 restores the default.
 */
void strata_codec_set_max_record_size(size_t bytes);
size_t strata_codec_max_record_size(void);

/*
 * Which record kind `data` holds, from its header alone; STRATA_RECORD_UNKNOWN
 * when the header is missing, malformed or carries an unknown fingerprint.
 */
strata_record_kind_t strata_codec_peek_kind(const void *data, size_t len);

/* The fingerprint the current schema of `kind` writes; 0 for UNKNOWN. */
uint64_t strata_codec_fingerprint(strata_record_kind_t kind);

/* The current .avsc text of `kind` (static, NUL-terminated), or NULL. */
const char *strata_codec_schema_json(strata_record_kind_t kind);

/* "Task", "TaskEvent", "Control", "DeadLetter", or "unknown". */
const char *strata_record_kind_name(strata_record_kind_t kind);

/*
 * Adds one more writer schema to the allow-list, e.g. a newer version that
 * producers deploy before this binary is rebuilt. `json` is an .avsc text
 * from a trusted file (never from a message); its top-level record name picks
 * the kind. Every field the current reader has and the writer lacks needs a
 * default, and shared fields must resolve, or STRATA_ERR_CONFIG. A schema
 * already known is accepted again without effect.
 */
strata_err_t strata_codec_register_schema(const char *json, size_t len,
                                          char *errstr, size_t size);

/*
 * Parsing Canonical Form of an .avsc text, and its CRC-64-AVRO fingerprint.
 * `*canonical` (may be NULL if not wanted) is malloc'd, caller frees.
 */
strata_err_t strata_codec_canonical_form(const char *json, size_t len,
                                         char **canonical,
                                         uint64_t *fingerprint, char *errstr,
                                         size_t size);

/* CRC-64-AVRO (Rabin) of `len` bytes. */
uint64_t strata_codec_crc64_avro(const void *data, size_t len);

/*
 * Encode: writes the single-object encoding of `in` with the current schema.
 * On STRATA_OK, `*out` is malloc'd and owned by the caller (free()), with
 * `*outlen` bytes. On error `*out` is NULL and errstr names the field
 * (STRATA_ERR_ENCODE: invalid UTF-8 or a NUL byte in a string, an enum value
 * out of range; STRATA_ERR_TOO_LARGE; STRATA_ERR_NOMEM). Encode does not run
 * the semantic validation of strata_task_validate().
 *
 * Decode: reads a single-object encoding into `out`, which must have been
 * initialised; it is cleared first, and holds the record on STRATA_OK. On
 * error `out` is left cleared (init state) and nothing leaks. Errors:
 * STRATA_ERR_DECODE (bad magic, truncation, impossible length, trailing
 * bytes, ...), STRATA_ERR_UNKNOWN_SCHEMA (fingerprint named in hex, or the
 * buffer is a different record kind), STRATA_ERR_TOO_LARGE, STRATA_ERR_NOMEM.
 */
strata_err_t strata_task_encode(const strata_task_t *in, void **out,
                                size_t *outlen, char *errstr, size_t size);
strata_err_t strata_task_decode(const void *data, size_t len,
                                strata_task_t *out, char *errstr, size_t size);

strata_err_t strata_event_encode(const strata_event_t *in, void **out,
                                 size_t *outlen, char *errstr, size_t size);
strata_err_t strata_event_decode(const void *data, size_t len,
                                 strata_event_t *out, char *errstr,
                                 size_t size);

strata_err_t strata_control_encode(const strata_control_t *in, void **out,
                                   size_t *outlen, char *errstr, size_t size);
strata_err_t strata_control_decode(const void *data, size_t len,
                                   strata_control_t *out, char *errstr,
                                   size_t size);

strata_err_t strata_deadletter_encode(const strata_deadletter_t *in, void **out,
                                      size_t *outlen, char *errstr,
                                      size_t size);
strata_err_t strata_deadletter_decode(const void *data, size_t len,
                                      strata_deadletter_t *out, char *errstr,
                                      size_t size);

/* The largest record value Strata writes to a topic (a dispatch, a retry, a
 * dead letter): the codec's maximum record size less 1 KiB, which leaves
 * room for the record's key and Kafka's per-record overhead within a
 * topic's max.message.bytes (Kafka's default, 1 MiB + 12, matches the
 * default maximum record size). A task record above it is dead-lettered at
 * intake instead of dispatched. */
size_t strata_record_budget(void);

/* Longest task id a dead letter carries whole (and its Kafka key): a longer
 * one is shortened to a prefix and a hash (strata_deadletter_key()). */
#define STRATA_DLQ_ID_MAX 512

/* As strata_deadletter_encode(), but never too large: when the dead letter
 * would exceed `max` bytes (0 or above strata_record_budget(): that budget),
 * it is written without its decoded task, with texts, the id and
 * the attempt list shortened, and if need be with only a prefix of the
 * original (original_truncated true). The reason and where the original
 * is (topic, partition, offset) are always kept, and bytes of the detail
 * and error texts that are not valid UTF-8 are written as '?'. Errors:
 * STRATA_ERR_NOMEM, and those of strata_deadletter_encode() other than
 * TOO_LARGE and a text's invalid UTF-8. */
strata_err_t strata_deadletter_encode_bounded(const strata_deadletter_t *in,
                                              size_t max, void **out,
                                              size_t *outlen, char *errstr,
                                              size_t size);

/* The Kafka key (and task_id) of a dead letter for `task_id`: the id when it
 * has at most STRATA_DLQ_ID_MAX bytes, else a prefix and a hash of it
 * written to `buf` (at least STRATA_DLQ_ID_MAX + 1 bytes). "" for NULL. */
const char *strata_deadletter_key(const char *task_id, char *buf, size_t size);

/* Longest error or reason text kept in a history header, in bytes (cut on
 * a UTF-8 boundary). */
#define STRATA_HISTORY_TEXT_MAX 512

/* {"outcome":..,"started_ms":..,"ended_ms":..,"error":..|null} of a failed
 * or timed-out attempt, malloc'd; NULL on OOM. */
char *strata_attempt_history_json(const char *outcome,
                                  strata_epoch_ms_t started,
                                  strata_epoch_ms_t ended, const char *error);

/* {"started_ms":..|null (0: never started),"ended_ms":..,"reason":..} of a
 * yielded attempt, malloc'd; NULL on OOM. */
char *strata_yield_history_json(strata_epoch_ms_t started,
                                strata_epoch_ms_t ended, const char *reason);

/*
 * Turns `t` (the ended attempt, a copy the caller owns) into its next
 * attempt: sets header <header_prefix><attempt> to `history` (replacing one
 * already there), then attempt + 1 and enqueued_ms = now. Retry policy,
 * not-before time and checkpoint are the caller's. STRATA_ERR_NOMEM.
 */
strata_err_t strata_task_next_attempt(strata_task_t *t,
                                      const char *header_prefix,
                                      const char *history,
                                      strata_epoch_ms_t now);

/*
 * Fills d->attempts (which must be empty) with the history of `task`: one
 * record per earlier attempt i < task->attempt that left a
 * STRATA_HEADER_ATTEMPT_PREFIX<i> header (outcome and error from its JSON)
 * or a STRATA_HEADER_YIELD_PREFIX<i> one (outcome "YIELDED", error = its
 * reason); headers that are missing or do not parse are skipped. Then a copy
 * of `last` (this attempt) when it is not NULL. STRATA_ERR_NOMEM, or
 * STRATA_OK; either way d owns what was filled (strata_deadletter_clear).
 */
strata_err_t strata_deadletter_set_history(strata_deadletter_t *d,
                                           const strata_task_t *task,
                                           const strata_attempt_record_t *last);

/*
 * JSON form (used by the CLI's --jsonl and the cross-language vectors):
 * one object per record with the Avro field names; absent optionals are
 * null; enums are their symbol strings; maps are objects; bytes are standard
 * padded base64 strings; longs are JSON integers (exact to 2^63). See
 * docs/WIRE-FORMAT.md.
 *
 * _to_json returns a new reference (caller json_decref()s), NULL on NOMEM.
 * _from_json fills an initialised `out` (cleared first). Fields with a schema
 * default may be left out; unknown keys and wrong types are
 * STRATA_ERR_INVALID_ARG naming the field. On error `out` is left cleared.
 */
json_t *strata_task_to_json(const strata_task_t *t);
strata_err_t strata_task_from_json(const json_t *j, strata_task_t *out,
                                   char *errstr, size_t size);
json_t *strata_event_to_json(const strata_event_t *e);
strata_err_t strata_event_from_json(const json_t *j, strata_event_t *out,
                                    char *errstr, size_t size);
json_t *strata_control_to_json(const strata_control_t *c);
strata_err_t strata_control_from_json(const json_t *j, strata_control_t *out,
                                      char *errstr, size_t size);
json_t *strata_deadletter_to_json(const strata_deadletter_t *d);
strata_err_t strata_deadletter_from_json(const json_t *j,
                                         strata_deadletter_t *out, char *errstr,
                                         size_t size);

#endif /* STRATA_CODEC_H */

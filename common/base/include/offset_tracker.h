/*
 * Offset tracker: what may be committed on one consumed partition.
 *
 * Records arrive in increasing offset order and finish (dispatched,
 * dead-lettered, skipped, their outcome written) in any order. The
 * committable offset is the first unfinished record: everything below it is
 * finished, or was never delivered (transaction markers occupy offsets too),
 * so a restart that resumes there loses nothing. With nothing unfinished it
 * is one past the last record pushed.
 *
 * Each entry also keeps a caller-defined "mark" taken when the record was
 * consumed (the scheduler keeps the events partition position there: any
 * event it writes about that record or a later one lies at or after it), and
 * the mark of the first unfinished record is what goes with the commit.
 *
 * Pure data structure: no Kafka, no clock, no locking (one thread owns a
 * tracker). A tracker_t is the caller's (embedded or allocated); it owns
 * only its ring.
 */
#ifndef STRATA_OFFSET_TRACKER_H
#define STRATA_OFFSET_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int64_t offset;
  int64_t mark;
  bool done;
} tracker_entry_t;

/* Fields are readable by the owner; change them only through the functions
 * below, except start_offset (the owner's to set) and dirty (the owner
 * clears it once it has committed). */
typedef struct {
  tracker_entry_t *ring;
  uint64_t cap, head, count; /* ring indices; seq = head_seq + i */
  uint64_t head_seq;         /* sequence number of ring[head] */
  int64_t next_offset;       /* last pushed offset + 1; -1 before any */
  int64_t start_offset;      /* committed offset at assignment; -1: none */
  bool dirty;                /* committable position moved since commit */
} tracker_t;

/* tracker_push() results that are not a sequence number. */
#define TRACKER_NOMEM UINT64_MAX
#define TRACKER_STALE (UINT64_MAX - 1)

/* Makes `t` empty: no ring, next_offset and start_offset -1, not dirty.
 * `t` is caller-owned memory; anything it held before is not freed. */
void tracker_init(tracker_t *t);

/* Frees the ring and makes `t` empty again, as tracker_init() does
 * (start_offset included: a new assignment sets it anew). */
void tracker_clear(tracker_t *t);

/*
 * Appends the consumed record at `offset` with its `mark`. Returns its
 * sequence number (for tracker_done()), TRACKER_STALE when `offset` is not
 * above the last one pushed (a refetched duplicate: the original is tracked;
 * nothing changes), or TRACKER_NOMEM when the ring cannot grow (nothing
 * changes). Sequence numbers start at 0 and grow by one per record pushed
 * since the last tracker_clear(), so they never reach the two error values.
 */
uint64_t tracker_push(tracker_t *t, int64_t offset, int64_t mark);

/* Marks record `seq` finished and drops the finished records at the head
 * (setting dirty when any was dropped). A seq already dropped, or never
 * returned, is ignored: finishing twice is harmless. */
void tracker_done(tracker_t *t, uint64_t seq);

/* Marks the record at `offset` finished, like tracker_done(); found by
 * binary search. Returns false when no record at `offset` is tracked (never
 * pushed, refused, or already dropped); true when it is, even if it was
 * finished before. */
bool tracker_done_offset(tracker_t *t, int64_t offset);

/* The offset to commit: the first unfinished record's, else next_offset
 * (-1 when nothing was pushed since tracker_init() or tracker_clear();
 * start_offset is not used: committing it again would change nothing). */
int64_t tracker_commit_offset(const tracker_t *t);

/* The mark to commit with tracker_commit_offset(): the first unfinished
 * record's, else `current_mark` (the caller's position now, since nothing
 * tracked is unfinished). */
int64_t tracker_commit_mark(const tracker_t *t, int64_t current_mark);

/* Records pushed and not yet finished. O(records tracked). */
size_t tracker_inflight(const tracker_t *t);

#endif /* STRATA_OFFSET_TRACKER_H */

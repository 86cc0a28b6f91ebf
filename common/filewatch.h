/*
 * filewatch: reload a small file when it changes, without a restart (the
 * per-tenant overrides file and the tokens file).
 *
 * A watch remembers the identity of the file it last loaded: device,
 * inode, size, mtime and ctime (nanoseconds). A poll stat()s the path and,
 * when any of them differ, reads the whole file (at most max_bytes) and
 * hands it to the caller's apply function. So both ways of updating a file
 * are seen: writing it in place (mtime, size) and renaming a new file over
 * it (inode), which is how configuration managers and Kubernetes ConfigMap
 * volumes do it.
 *
 *   new ── first load (must succeed: a bad file fails start-up) ──▶ idle
 *   start ── thread: every period_ms, hearth_filewatch_poll ──▶ polling
 *   stop ── wakes and joins the thread ──▶ idle;  free
 *
 * A failed reload (unreadable, too large, or apply said no) keeps what
 * was loaded before, is logged once per change of the file, and is
 * retried when the file changes again. A file that disappears keeps the
 * last version too (a rename-over leaves a short gap).
 *
 * Metrics (when a registry is given), with what = the caller's name:
 *   hearth_runtime_file_reloads_total{what,result="success|failure"}
 *   hearth_runtime_file_last_reload_successful{what}   1 or 0
 *
 * Threading: apply runs on the thread that polls (the watch's own thread
 * after start, the caller's in new and hearth_filewatch_poll), never on
 * two threads at once. new/start/stop/free belong to the owner.
 * Ownership: path, what and log are copied; ctx is borrowed.
 */
#ifndef HEARTH_FILEWATCH_H
#define HEARTH_FILEWATCH_H

#include "err.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

/* Apply the file's content data[0..len) (NUL-terminated, not counted).
 * Return 0 when it was taken, else a negative code with err filled (the
 * message is logged; it must not quote secrets). */
typedef int (*hearth_filewatch_fn)(
    void *ctx, const char *data, size_t len, hearth_err *err);

typedef struct hearth_filewatch hearth_filewatch;

/* Load path once (errors name the file: cannot open, too large, or the
 * apply error) and return a watch that is not polling yet. period_ms > 0. */
int hearth_filewatch_new(const char *path, const char *what, int64_t period_ms,
    size_t max_bytes, hearth_filewatch_fn apply, void *ctx,
    const hearth_log *log, hearth_metrics *m, hearth_filewatch **out,
    hearth_err *err);

/* Start the polling thread. HEARTH_EINTERNAL when it cannot be made. */
int hearth_filewatch_start(hearth_filewatch *w, hearth_err *err);
/* Stop polling (idempotent); apply is not running when this returns. */
void hearth_filewatch_stop(hearth_filewatch *w);
/* Stop and free; NULL is a no-op. */
void hearth_filewatch_free(hearth_filewatch *w);

/* One poll now: 1 when the file changed and was applied, 0 when it is
 * unchanged (or gone), negative with err when a changed file could not be
 * read or applied. Must not race with the thread (tests call it on a watch
 * that is not started). */
int hearth_filewatch_poll(hearth_filewatch *w, hearth_err *err);

#endif

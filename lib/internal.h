/*
 * internal.h - what the files of lib/ share.  Not installed.
 *
 * Every .c file of lib/ includes this header, never a module header on
 * its own: it first sets what must come before any system or liburcu
 * header (config.h, _LGPL_SOURCE), detects ThreadSanitizer, and then
 * includes the module headers, each of which declares what one file
 * offers the others and includes the module headers it builds on.
 *
 * Module map (file, its header, what it does):
 *   alloc.c    alloc.h     the one allocation seam (every byte the
 *                          library allocates)
 *   entry.c    entry.h     entries: key and value checks, staged
 *                          entries, value destructors
 *              snapshot.h  the snapshot layout as the rest sees it;
 *                          layout.h is how it is stored, for:
 *              keybytes.h    keys' bytes as big-endian integers (also
 *                            for batch.c's sort)
 *   search.c                 look-ups, seeks, iteration
 *   build.c                  building snapshots (merge, full build)
 *   retire.c   retire.h    retired chunks, pages and graves: which live
 *                          snapshot holds each, and freeing them
 *   map.c      map.h       struct snapmap; map creation, configuration,
 *                          destruction
 *   read.c     -           read side: snapshot, find, iterate, get,
 *                          pin/unpin
 *   write.c    write.h     writer mutex, publish, plain put/delete
 *   compound.c -           single-key compound writes (put_if_absent
 *                          ... add_i64)
 *   batch.c    batch.h     staged ops, their evaluation, batch commit
 *   reclaim.c  reclaim.h   deferred reclamation of retired snapshots
 *                          (call_rcu)
 *   context.c  context.h   what the calling thread is in, and whether it
 *                          may wait
 *   wait.c     wait.h      waiting for a version (snapmap_wait_version)
 *   stats.c    stats.h     the counters behind snapmap_stats()
 *   debug.c    debug.h     the --enable-debug checks
 * read.c and compound.c offer the other files nothing but the public API.
 *
 * Snapshot files, the text format and file watching have their own
 * internal header, persist.h, with their module map.
 */
#ifndef SNAPMAP_INTERNAL_H
#define SNAPMAP_INTERNAL_H

#include "config.h"

#define _LGPL_SOURCE	/* inline rcu_dereference/rcu_assign_pointer */

/* The liburcu primitives every part of lib/ may use. */
#include <urcu/pointer.h>
#include <urcu/uatomic.h>

/* ThreadSanitizer builds (gcc spells it __SANITIZE_THREAD__). */
#if defined(__SANITIZE_THREAD__)
# define SM_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define SM_TSAN 1
# endif
#endif

#ifdef SM_TSAN
# include <sanitizer/tsan_interface.h>
#endif

#include "alloc.h"
#include "entry.h"
#include "snapshot.h"
#include "retire.h"
#include "map.h"
#include "write.h"
#include "batch.h"
#include "reclaim.h"
#include "context.h"
#include "wait.h"
#include "stats.h"
#include "debug.h"

#endif /* SNAPMAP_INTERNAL_H */

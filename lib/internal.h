/*
 * internal.h - what the files of lib/ share.  Not installed.
 *
 * Module map:
 *   alloc.c    the one allocation seam (every byte the library allocates)
 *   entry.c    immutable key/value entries and their reference counts
 *   layout.h   the snapshot layout (chunks, pages, key prefixes), for:
 *   search.c     look-ups, seeks, iteration
 *   build.c      building snapshots (merge, full build), freeing them
 *   map.c      map creation, configuration, destruction
 *   read.c     read side: snapshot, find, iterate, get, pin/unpin
 *   write.c    writer mutex, publish, plain put/delete
 *   compound.c single-key compound writes (put_if_absent ... add_i64)
 *   batch.c    staged ops, their evaluation, batch commit
 *   reclaim.c  deferred reclamation of retired snapshots (call_rcu)
 *   context.c  what the calling thread is in, and whether it may wait
 *   wait.c     waiting for a version (snapmap_wait_version)
 *
 * Snapshot files, the text format and file watching have their own
 * internal header, persist.h, with their module map.
 */
#ifndef SNAPMAP_INTERNAL_H
#define SNAPMAP_INTERNAL_H

#include "config.h"

#define _LGPL_SOURCE	/* inline rcu_dereference/rcu_assign_pointer */

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/call-rcu.h>
#include <urcu/compiler.h>
#include <urcu/pointer.h>
#include <urcu/ref.h>
#include <urcu/uatomic.h>

#include "snapmap.h"

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

/* ------------------------------------------------------------------ */
/* alloc.c                                                             */
/* ------------------------------------------------------------------ */
void *sm_alloc(size_t size);
/* Aligned to a cache line (SM_LINE bytes); freed by sm_free_line(). */
void *sm_alloc_line(size_t size);
void sm_free_line(void *p);
#define SM_LINE	64
void *sm_calloc(size_t nmemb, size_t size);
void sm_free(void *p);

#ifdef SM_TESTING
/*
 * alloc.c: fault injection, in the test build only (-DSM_TESTING, see
 * lib/libsnapmap-test.la in tests/local.mk); not exported, not installed.
 * Counters are process-wide.
 *
 * sm_alloc_fail_at - make the @k-th allocation (sm_alloc or sm_calloc
 *   call) from now return NULL, once; later ones succeed again.  0
 *   disarms a failure that has not happened yet.
 * sm_alloc_calls - allocation calls so far, failed ones included: the
 *   difference around an operation is the number of allocations it makes.
 * sm_alloc_injected - allocations failed by sm_alloc_fail_at so far.
 * sm_alloc_live - blocks allocated and not yet given to sm_free().
 */
void sm_alloc_fail_at(unsigned long k);
unsigned long sm_alloc_calls(void);
unsigned long sm_alloc_injected(void);
long sm_alloc_live(void);
#endif

/* ------------------------------------------------------------------ */
/* entry.c                                                             */
/* ------------------------------------------------------------------ */

/*
 * An entry: a key and its value, in one of two places.  A write stages
 * its entries on their own (sm_entry_new); a snapshot stores them as
 * records in the arena of the chunk that holds them (layout.h), and a
 * write that rebuilds a chunk copies its records.  Both have this
 * header, the value after it and the key after the value.  The value is
 * aligned for any object that fits in it (sm_value_align).
 */
struct sm_entry {
	uint32_t klen;
	uint32_t vlen;
	unsigned char data[];
};

static inline const void *sm_entry_key(const struct sm_entry *e)
{
	return e->data + e->vlen;
}

static inline const void *sm_entry_val(const struct sm_entry *e)
{
	return e->data;
}

/* An entry as readers see it. */
static inline struct snapmap_kv sm_entry_kv(const struct sm_entry *e)
{
	return (struct snapmap_kv){
		sm_entry_key(e), e->klen, sm_entry_val(e), e->vlen,
	};
}

/* Bytes of an entry's record, header included, without padding. */
static inline size_t sm_entry_span(const struct sm_entry *e)
{
	return sizeof(*e) + (size_t)e->vlen + e->klen;
}

/*
 * The alignment a value of @vlen bytes is stored at: the largest power of
 * two <= @vlen, at most alignof(max_align_t).  Any object type of at most
 * @vlen bytes needs no more (an alignment divides the size), so a struct
 * with a flexible array member is aligned too; a 3-byte string costs 2.
 */
static inline size_t sm_value_align(size_t vlen)
{
	size_t a = alignof(max_align_t);

	while (a > 1 && a > vlen)
		a /= 2;
	return vlen ? a : alignof(max_align_t);
}

/* Checks lengths against @map's limits; -EINVAL, -E2BIG. */
int sm_check_key(const struct snapmap *map, const void *key, size_t klen);
int sm_check_value(const struct snapmap *map, const void *val, size_t vlen);

/* A staged entry of the caller's; NULL on ENOMEM.  Its value is aligned
 * to alignof(max_align_t). */
struct sm_entry *sm_entry_new(const void *key, size_t klen,
			      const void *val, size_t vlen);
/* Frees a staged entry; its value is the caller's business. */
void sm_entry_free(struct sm_entry *e);
/*
 * Runs @map's value destructor, if any, on @e's value: a value handed to
 * the map that no snapshot can show any more, or that no snapshot will
 * ever show (the write failed, or a later value of the same write
 * replaced it).  Every value handed to a write is destroyed exactly once.
 */
void sm_value_destroy(const struct snapmap *map, const struct sm_entry *e);
void sm_value_destroy_bytes(const struct snapmap *map, const void *val,
			    size_t vlen);
/* The same for a value a write refused before copying it (bad arguments,
 * too long, no memory): the caller's own bytes, if it gave any. */
void sm_value_refused(const struct snapmap *map, const void *val,
		      size_t vlen);

/* Buffers a writer reuses from one build to the next (build.c), so that
 * a publish does not return big arrays to the kernel and fault them back
 * in.  Under the writer mutex. */
struct sm_run_seg;
struct sm_pend;
struct sm_topent;
struct sm_dpos;
struct sm_chunk;
struct sm_scratch {
	uint64_t *run_prefix;
	size_t caprunp;
	struct sm_entry **run_entry;
	size_t caprune;
	struct sm_run_seg *seg;
	size_t capseg;
	struct sm_pend *pend;
	size_t cappend;
	struct sm_topent *top;
	size_t captop;
	struct sm_chunk **fresh;
	size_t capfresh;
	struct sm_dpos *pos;
	size_t cappos;
};
void sm_scratch_free(struct sm_scratch *scratch);

/* ------------------------------------------------------------------ */
/* map.c                                                               */
/* ------------------------------------------------------------------ */

/* Counters behind snapmap_stats(), updated with uatomic by writers and
 * by reclamation; readers keep none. */
struct sm_counters {
	unsigned long publishes;
	unsigned long live_bytes;
	unsigned long reclaim_snapshots;
	unsigned long reclaim_bytes;
	unsigned long failed_nomem;
	unsigned long failed_invalid;
	unsigned long failed_conflict;
	unsigned long failed_deadlock;
	unsigned long failed_other;
	unsigned long reclaim_waits;
	unsigned long reclaim_over_limit;
	unsigned long acquisitions;
	unsigned long wait_ns;
	unsigned long hold_ns;
};

/* How a destroyed map's memory is freed (reclaim.c). */
enum sm_teardown {
	SM_TEARDOWN_NONE,	/* not destroyed */
	SM_TEARDOWN_WAITING,	/* by snapmap_destroy(), which waits */
	SM_TEARDOWN_DEFERRED,	/* by the last call_rcu callback */
};

#define SM_MAGIC_LIVE	0x534e4150u	/* "SNAP" */
#define SM_MAGIC_DEAD	0xdeadbeefu

struct snapmap {
	/*
	 * Read-mostly part: everything a reader touches, on cache lines no
	 * writer stores to while the map is in use.
	 */
	struct snapmap_snapshot *current;	/* RCU-protected */
	unsigned int magic;		/* SM_MAGIC_LIVE until destroyed */
	bool debug;			/* --enable-debug checks are on */
	const struct rcu_flavor_struct *flavor;
	snapmap_compare_fn compare;
	void *compare_ctx;
	size_t max_key_len;
	size_t max_value_len;
	snapmap_value_destroy_fn value_destroy;
	void *destroy_ctx;

	/*
	 * Writer part.  The padding keeps it off the readers' cache lines
	 * whatever the allocation's alignment, so taking the writer mutex
	 * does not invalidate lines every reader needs.
	 */
	char pad[CAA_CACHE_LINE_SIZE];
	pthread_mutex_t writer_lock;
	long pins;	/* outstanding snapmap_pin() references (uatomic) */
	long batches;	/* live batches (uatomic) */
	long watches;	/* live file watches (uatomic) */
	struct sm_scratch scratch;	/* under writer_lock */
	size_t reclaim_limit;
	uint64_t locked_at;		/* ns, under writer_lock */
	struct sm_counters stats;

	/*
	 * reclaim.c: the live-snapshot list and retired objects, and the
	 * count of this map's call_rcu callbacks, which writers over the
	 * reclaim limit and snapmap_destroy() wait for (under reclaim_lock).
	 */
	pthread_mutex_t reclaim_lock;
	pthread_cond_t reclaim_cond;	/* a callback of this map ran */
	unsigned long retired;		/* snapshots handed to call_rcu */
	unsigned long reclaimed;	/* of those, callbacks finished */
	unsigned long reclaim_waiters;
	enum sm_teardown teardown;	/* set by snapmap_destroy() */
	struct snapmap_snapshot *last_snapshot;	/* current at destroy */
	bool last_ready;		/* its grace period is over, and it
					 * waits for older callbacks */

	/* wait.c: the last published version, for snapmap_wait_version. */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;	/* CLOCK_MONOTONIC */
	uint64_t published;		/* under wait_lock */
	unsigned long waiters;		/* under wait_lock */
};

/* Key order of @map. */
static inline int sm_compare(const struct snapmap *map,
			     const void *a, size_t alen,
			     const void *b, size_t blen)
{
	extern int sm_bytewise_compare(const void *a, size_t alen,
				       const void *b, size_t blen);

	if (map->compare)
		return map->compare(a, alen, b, blen, map->compare_ctx);
	return sm_bytewise_compare(a, alen, b, blen);
}

int sm_bytewise_compare(const void *a, size_t alen,
			const void *b, size_t blen);

/* ------------------------------------------------------------------ */
/* The snapshot layout (layout.h, search.c, build.c).  Only those files */
/* know how a snapshot stores its entries; the rest uses these.         */
/* ------------------------------------------------------------------ */

/*
 * Chunk sizes: a build cuts runs into chunks of SM_CHUNK_TARGET entries,
 * a chunk that grows past SM_CHUNK_MAX is split, and one that shrinks
 * below SM_CHUNK_MIN absorbs its neighbour.  A write copies the chunk it
 * falls into, records included, and two small directory levels (layout.h),
 * so smaller chunks make writes cheaper: a batch of 1,000 random puts at
 * a million entries rebuilds most of the chunks it touches either way.
 * 128 made single puts and batches faster than 256 and 512, with look-ups
 * unchanged (the index inside a chunk keeps its depth).
 */
#define SM_CHUNK_TARGET	128u
#define SM_CHUNK_MAX	(2 * SM_CHUNK_TARGET)
#define SM_CHUNK_MIN	(SM_CHUNK_TARGET / 4)

/*
 * A static search tree over a sorted array of 8-byte key prefixes (its
 * leaves), inside the chunk, page or snapshot that holds it, at byte
 * offsets from that object's address (layout.h).
 */
#define SM_TREE_MAX_UP	4	/* index levels: 16^5 leaves */
struct sm_tree {
	uint32_t nup;			/* index levels above the leaves */
	uint32_t top;			/* entries in the top level */
	uint32_t up_off[SM_TREE_MAX_UP];	/* the levels, top first */
	uint32_t leaf_off;		/* the leaves */
};
/*
 * A chunk's records are copied whenever the chunk is rebuilt, so chunks
 * of big values hold fewer entries: a run is also cut where its records
 * pass SM_ARENA_MAX bytes (into pieces of about SM_ARENA_TARGET), and one
 * of SM_ARENA_MIN bytes counts as big enough to stand alone.
 */
#define SM_ARENA_TARGET	((size_t)32 << 10)
#define SM_ARENA_MAX	(2 * SM_ARENA_TARGET)
#define SM_ARENA_MIN	(SM_ARENA_TARGET / 4)

struct sm_chunk;
struct sm_page;
struct sm_dropblock;

/*
 * A snapshot: a directory of immutable chunks, each a sorted run of
 * entries stored in the chunk.  The directory has two levels: pages of
 * chunks, and the snapshot's own list of pages.  Chunks and pages are
 * shared with neighbouring versions; the list belongs to this snapshot.
 */
struct snapmap_snapshot {
	struct rcu_head rcu;		/* retirement (reclaim.c) */
	struct urcu_ref ref;		/* 1 for the map (until reclaimed) + pins */
	struct snapmap *map;
	uint64_t version;
	size_t count;			/* entries */
	size_t own_bytes;		/* this snapshot's own memory */
	size_t retire_bytes;		/* freed by its grace period: own memory
					 * and what its successor dropped */
#ifdef SNAPMAP_DEBUG
	long pins;			/* snapmap_pin() references (uatomic),
					 * for the debug checks only */
#endif

	/* Reclamation (reclaim.c), under map->reclaim_lock; readers never
	 * look at these. */
	struct snapmap_snapshot *older, *newer;	/* live snapshots */
	struct sm_dropblock *dropped;	/* objects this one is the newest
					 * live holder of, not in ->newer */

	/* Directory (layout.h): the top level, a list of pages. */
	size_t npages;
	size_t dir_skip;		/* bytes the pages' first keys share */
	const unsigned char *dir_shared;	/* those bytes */
	const uint64_t *dir_prefix;	/* their prefixes after them */
	struct sm_tree dir_tree;	/* over dir_prefix, from this struct */
	struct sm_page *const *pages;
	const struct sm_search *search;	/* the map's search path */
};



/*
 * Objects retired by a publish: the chunks and pages of the old snapshot
 * that the new one no longer holds.  Each is freed when no live snapshot holds it
 * any more (reclaim.c), with the values that died in it (build.c).
 */
struct sm_dropblock {
	struct sm_dropblock *next;
	size_t n;
	uintptr_t items[];
};

/* What a build changes, for publishing and statistics. */
struct sm_delta {
	struct sm_dropblock *dropped;	/* what the old snapshot loses */
	size_t dropped_bytes;		/* their memory */
	size_t added_bytes;		/* new chunks */
};

/*
 * One change to apply: @entry becomes the entry for its key, or, with
 * @entry NULL, the key @key/@klen is removed.  Arrays of changes given to
 * sm_layout_merge() are sorted by key with no key twice.
 */
struct sm_change {
	const void *key;
	size_t klen;
	struct sm_entry *entry;
};

/* A position in a snapshot: entry @index of chunk @slot of page @page. */
struct sm_cursor {
	size_t page;
	size_t slot;
	size_t index;
};

struct snapmap_snapshot *sm_layout_empty(struct snapmap *map,
					 uint64_t version);
/*
 * A new snapshot: @old with @changes applied, at @version.  @delta
 * receives what @old holds that the new snapshot does not (for
 * sm_reclaim_link()) and the bytes that come and go.  The snapshot stores
 * copies of the changes' entries.  Nothing is changed when it returns
 * NULL (ENOMEM).  The values the changes replace or delete are destroyed
 * when no snapshot older than @version is left.
 */
struct snapmap_snapshot *sm_layout_merge(const struct snapmap_snapshot *old,
					 const struct sm_change *changes,
					 size_t nchanges, uint64_t version,
					 struct sm_delta *delta);
/*
 * A new snapshot holding exactly @entries (sorted by key, unique), at
 * @version; like sm_layout_merge(), @delta->dropped receives all of @old.
 */
struct snapmap_snapshot *sm_layout_build(const struct snapmap_snapshot *old,
					 struct sm_entry *const *entries,
					 size_t n, uint64_t version,
					 struct sm_delta *delta);
/* The entry with @key, or NULL; it lives as long as @snap. */
const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen);
/* Cursor on the first entry >= @key (past the end when none). */
void sm_layout_seek(const struct snapmap_snapshot *snap,
		    const void *key, size_t klen, struct sm_cursor *cur);
void sm_layout_first(const struct snapmap_snapshot *snap,
		     struct sm_cursor *cur);
/* Moves @cur to the next entry and returns it, or NULL past the end. */
const struct sm_entry *sm_layout_next(const struct snapmap_snapshot *snap,
				      struct sm_cursor *cur);
/* Fills @kv[0..max) with the entries after @cur and moves @cur to the
 * last one filled; returns how many (0 past the end). */
size_t sm_layout_next_n(const struct snapmap_snapshot *snap,
			struct sm_cursor *cur, struct snapmap_kv *kv,
			size_t max);
/* The entry under @cur, or NULL past the end. */
const struct sm_entry *sm_layout_at(const struct snapmap_snapshot *snap,
				    const struct sm_cursor *cur);
/* For tests of the layout: how many chunks @snap has, and how many
 * entries the chunk that @key falls into holds (0 if the map is empty). */
size_t sm_layout_nchunks(const struct snapmap_snapshot *snap);
size_t sm_layout_chunk_size_of(const struct snapmap_snapshot *snap,
			       const void *key, size_t klen);
/* Whether @snap holds the retired object @item. */
bool sm_layout_holds(const struct snapmap_snapshot *snap, uintptr_t item);
/* Frees a retired object no live snapshot holds (after a grace period),
 * and destroys the values that died in it. */
void sm_reclaim_free_item(struct snapmap *map, uintptr_t item);
/* Every object @snap holds and its values, for the last snapshot of a
 * destroyed map. */
void sm_reclaim_free_all(struct snapmap_snapshot *snap);
/* Frees the snapshot's own memory (its directory), not what it holds. */
void sm_layout_free(struct snapmap_snapshot *snap);

/* ------------------------------------------------------------------ */
/* reclaim.c                                                           */
/* ------------------------------------------------------------------ */

/*
 * With the writer mutex held, when @next replaces @old: links @next into
 * the live list and gives @old the objects @next dropped.
 */
void sm_reclaim_link(struct snapmap_snapshot *old, struct snapmap_snapshot *next,
		     struct sm_dropblock *dropped);
/* Hands a snapshot that readers may still hold to call_rcu. */
void sm_retire(struct snapmap_snapshot *snap);
int sm_reclaim_init(struct snapmap *map);
void sm_reclaim_fini(struct snapmap *map);
/*
 * Makes sure the call_rcu worker of @flavor exists, so that liburcu
 * never has to create it (and abort when it cannot) in the middle of a
 * write: 0, or -EAGAIN when no thread can be created.
 */
int sm_reclaim_prepare(const struct rcu_flavor_struct *flavor);
/* Waits until the snapshots retired so far have been reclaimed.  Only
 * after sm_wait_enter() said yes. */
void sm_reclaim_wait(struct snapmap *map);
/*
 * For snapmap_destroy(): retires the current snapshot as the map's last.
 * With @wait (sm_wait_enter() said yes), the caller then waits with
 * sm_reclaim_wait() and frees the map (sm_map_free); without, the last
 * callback frees the map and the caller must not touch it again.
 */
void sm_reclaim_teardown(struct snapmap *map, bool wait);
/* Frees a destroyed map whose snapshots are all reclaimed (map.c). */
void sm_map_free(struct snapmap *map);
void sm_snapshot_get(struct snapmap_snapshot *snap);
void sm_snapshot_put(struct snapmap_snapshot *snap);

/* The kinds of write; see batch.c. */
enum sm_op_kind {
	SM_OP_PUT,
	SM_OP_DELETE,		/* batch delete: absent is fine */
	SM_OP_DELETE_PRESENT,	/* snapmap_delete: absent is -ENOENT */
	SM_OP_PUT_IF_ABSENT,
	SM_OP_REPLACE,
	SM_OP_CAS,
};

/* ------------------------------------------------------------------ */
/* context.c: what this thread is in, and whether it may wait          */
/* ------------------------------------------------------------------ */

/* Marks the calling thread as inside an update callback of @map. */
struct sm_update_frame {
	const struct snapmap *map;
	struct sm_update_frame *outer;
};
void sm_update_frame_enter(struct sm_update_frame *frame,
			   const struct snapmap *map);
void sm_update_frame_leave(struct sm_update_frame *frame);
/* Whether this thread is inside an update callback of @map: then it
 * holds @map's writer mutex, and must not wait for anything that needs
 * it (-EDEADLK). */
bool sm_in_update_of(const struct snapmap *map);
/* Around value destructor calls. */
void sm_destructor_enter(void);
void sm_destructor_leave(void);
/* Called by each of the library's call_rcu callbacks. */
void sm_mark_call_rcu_worker(void);

/* Why a thread may not wait (sm_wait_enter). */
enum sm_nowait {
	SM_NOWAIT_NONE,
	SM_NOWAIT_CALLBACK,	/* call_rcu worker, value destructor or
				 * update callback */
	SM_NOWAIT_READ_SIDE,	/* inside a read-side critical section */
};
struct sm_waiting {
	bool offline;		/* a qsbr thread put offline for the wait */
	enum sm_nowait why;
};
/*
 * The one rule for "may this thread wait for a grace period, for
 * reclamation, or for a thread that may wait for them" (context.c says
 * why each case may not).  0: it may, and an online qsbr thread is now
 * offline: call sm_wait_leave() after the wait.  -EDEADLK: it may not,
 * @w->why says why; nothing to undo.
 */
int sm_wait_enter(const struct rcu_flavor_struct *flavor,
		  struct sm_waiting *w);
void sm_wait_leave(const struct rcu_flavor_struct *flavor,
		   const struct sm_waiting *w);

/* ------------------------------------------------------------------ */
/* wait.c                                                              */
/* ------------------------------------------------------------------ */
/* A mutex and a CLOCK_MONOTONIC condition variable: 0 or -ENOMEM. */
int sm_lock_cond_init(pthread_mutex_t *lock, pthread_cond_t *cond);
void sm_lock_cond_fini(pthread_mutex_t *lock, pthread_cond_t *cond);
int sm_wait_init(struct snapmap *map);
void sm_wait_fini(struct snapmap *map);
/* Called by the publisher after each publish of @version. */
void sm_wait_notify(struct snapmap *map, uint64_t version);

/* ------------------------------------------------------------------ */
/* write.c                                                             */
/* ------------------------------------------------------------------ */

/*
 * Takes the writer mutex for a write: -EDEADLK from inside an update
 * callback of @map; waits first while reclamation is over the limit;
 * counts the mutex profile.
 */
int sm_writer_lock(struct snapmap *map);
void sm_writer_unlock(struct snapmap *map);
/* Takes the writer mutex without the above; release with
 * pthread_mutex_unlock.  -EDEADLK from inside an update callback. */
int sm_writer_lock_plain(struct snapmap *map);
/* The current snapshot; call with the writer mutex held. */
struct snapmap_snapshot *sm_current_locked(struct snapmap *map);
/*
 * With the writer mutex held: build the next snapshot from @changes,
 * publish it and retire the old one.  0 or -ENOMEM (nothing changed).
 */
int sm_publish_locked(struct snapmap *map, const struct sm_change *changes,
		      size_t nchanges, uint64_t *version);
/*
 * With the writer mutex held: publish a snapshot holding exactly
 * @entries (sorted by key under the map's order, unique), replacing the
 * whole content, as the next version.  0 or -ENOMEM (nothing changed).
 * The snapshot stores copies: the caller still frees @entries.
 */
int sm_replace_all_locked(struct snapmap *map, struct sm_entry *const *entries,
			  size_t n, uint64_t *version);

/*
 * Where a single-key write copies the value that made it fail
 * (put_if_absent's "existing" buffer), snprintf-style.
 */
struct sm_copy_out {
	void *buf;
	size_t size;
	size_t *len;
};

/*
 * One op, one publish: what every single-key write shares.  Validates,
 * copies, takes the writer mutex, applies, publishes.  On -EEXIST, copies
 * the present value to @existing (may be NULL).
 */
int sm_write_one(struct snapmap *map, enum sm_op_kind kind,
		 const void *key, size_t klen, const void *val, size_t vlen,
		 const void *expected, size_t elen,
		 const struct sm_copy_out *existing);

/* ------------------------------------------------------------------ */
/* batch.c: ops, shared by single-key writes and batches               */
/* ------------------------------------------------------------------ */



struct sm_op {
	enum sm_op_kind kind;
	size_t seq;			/* staging index */
	struct sm_entry *entry;		/* key (+ new value, except deletes) */
	void *expected;			/* CAS only, owned */
	size_t elen;
	bool stored;			/* the commit stores @entry's value
					 * (no later op of the batch replaced
					 * it) */
};

static inline bool sm_kind_has_value(enum sm_op_kind kind)
{
	return kind != SM_OP_DELETE && kind != SM_OP_DELETE_PRESENT;
}

static inline bool sm_op_has_value(const struct sm_op *op)
{
	return sm_kind_has_value(op->kind);
}

/*
 * Fills @op (validating and copying key, value and expected value).
 * 0, -EINVAL, -E2BIG or -ENOMEM; on error @op owns nothing.
 */
int sm_op_init(struct sm_op *op, const struct snapmap *map,
	       enum sm_op_kind kind, const void *key, size_t klen,
	       const void *val, size_t vlen,
	       const void *expected, size_t elen);
/*
 * Releases what @op holds.  @committed: the write succeeded, so the map
 * owned @op's value: a snapshot stored a copy (whose destructor runs when
 * the last snapshot holding it goes), or, replaced within its batch, it
 * is destroyed now; otherwise the value is dropped without the
 * destructor.
 */
void sm_op_release(struct snapmap *map, struct sm_op *op, bool committed);

/*
 * With the writer mutex held: apply @ops (sorted by key, then seq, by
 * this function) to the current snapshot in one publish.  On a failed
 * condition returns its error, sets *@failed to the smallest failing seq
 * and *@conflict to the entry that made it fail (NULL if absent), valid
 * while the mutex is held.
 */
int sm_commit_ops_locked(struct snapmap *map, struct sm_op *ops, size_t nops,
			 uint64_t *version, size_t *failed,
			 const struct sm_entry **conflict);

/* ------------------------------------------------------------------ */
/* debug.c: --enable-debug checks, and statistics                      */
/* ------------------------------------------------------------------ */

/*
 * With --enable-debug, misuse aborts with a message instead of being
 * undefined behaviour or an error code: a destroyed map, read-side calls
 * outside a read-side critical section, unbalanced pins, writes from an
 * update callback.  The checks are on for every map of a debug build
 * unless SNAPMAP_DEBUG=0 is in the environment when the map is created.
 */
#ifdef SNAPMAP_DEBUG
void sm_debug_fail(const char *what, const char *func);
# define SM_DEBUG_CHECK(map, cond, what) \
	do { \
		if ((map)->debug && !(cond)) \
			sm_debug_fail((what), __func__); \
	} while (0)
#else
# define SM_DEBUG_CHECK(map, cond, what) do { } while (0)
#endif
bool sm_debug_enabled(void);
#ifdef SNAPMAP_DEBUG
/* A map must be live (not destroyed). */
void sm_check_map(const struct snapmap *map, const char *func);
/* Read-side calls on @snap: inside a critical section, or pinned. */
void sm_check_read(const struct snapmap_snapshot *snap, const char *func);
#else
/* Without --enable-debug the checks cost nothing, not even a call. */
static inline void sm_check_map(const struct snapmap *map, const char *func)
{
	(void)map;
	(void)func;
}

static inline void sm_check_read(const struct snapmap_snapshot *snap,
				 const char *func)
{
	(void)snap;
	(void)func;
}
#endif
/* Destroy: poison the map (debug builds keep it, poisoned, until exit). */
void sm_map_bury(struct snapmap *map);

/* Counts a failed write by its cause (the rule: stats.c); returns @rc. */
int sm_count_failure(struct snapmap *map, int rc);
uint64_t sm_now_ns(void);

#endif /* SNAPMAP_INTERNAL_H */

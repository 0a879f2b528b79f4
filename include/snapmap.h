/*
 * snapmap.h - an RCU-protected map of immutable, sorted snapshots.
 *
 * A snapmap maps byte-string keys to byte-string values.  Every version of
 * the map (a snapshot) is immutable and sorted by key.  The map holds one
 * pointer to the current snapshot.  Readers enter an RCU read-side critical
 * section of the flavor the map was created with, load that pointer and
 * search: no lock, no atomic read-modify-write, no store to shared memory.
 * Writers serialize on one writer mutex, build the next snapshot with their
 * change applied (the parts it does not touch, chunks of entries and
 * directory pages, are shared between versions, never modified),
 * publish it, and hand the old snapshot to call_rcu, which frees it after a
 * grace period.
 *
 * Flavor headers, as with cds_lfht_new(): snapmap_new_flavor(cfg, flavor)
 * takes the flavor explicitly (&urcu_memb_flavor, &urcu_qsbr_flavor,
 * &urcu_bp_flavor, &urcu_mb_flavor, all declared below) and works with
 * any flavor header, included before or after this one, and with several
 * flavors in one file.  snapmap_new(cfg) binds to the flavor of the
 * generic names (rcu_flavor, rcu_read_lock...) and so exists only where
 * they do: when a header that maps them, <urcu.h> (memb; mb with RCU_MB
 * defined), <urcu-qsbr.h> or <urcu-bp.h>, is included BEFORE this one
 * (URCU_API_MAP).  This header includes <urcu/flavor.h> (the struct) and
 * no flavor header, so it defines and undefines none of those names.
 * Link the program with the runtime of the flavor it uses (e.g.
 * pkg-config liburcu-qsbr); the library itself needs none (see README,
 * "Building against libsnapmap").
 *
 * Return values: functions returning int return 0 on success or a negative
 * errno value.  Functions returning a pointer return NULL and set errno.
 *
 * Synchronization table.  "RCS" means "inside an RCU read-side critical
 * section of the map's flavor (rcu_read_lock held)"; "registered" means
 * the calling thread is a registered RCU thread of that flavor (bp
 * registers threads on first use; under qsbr the thread must also be
 * online).  No row needs a lock of the caller's own.
 *
 *   operation                         | must hold RCS | may block          | registered
 *   ----------------------------------+---------------+--------------------+-----------
 *   snapmap_snapshot                  | yes           | no                 | yes
 *   find / count / version / iter_*   | yes, or pin   | no                 | if RCS
 *   snapmap_get                       | no (takes it) | no                 | yes
 *   snapmap_pin                       | no (takes it) | no                 | yes
 *   snapmap_unpin                     | no            | briefly: the last  | no
 *                                     |               | frees the snapshot |
 *                                     |               | (and runs value    |
 *                                     |               | destructors)       |
 *   put / delete / compound writes    | no (allowed)  | on writer mutex;   | yes
 *                                     |               | over reclaim_limit,|
 *                                     |               | for reclamation    |
 *                                     |               | (see Waiting)      |
 *   snapmap_update callback           | runs with the writer mutex held       |
 *   batch stage (batch_put, ...)      | no            | no                 | no
 *   snapmap_batch_commit              | no (allowed)  | as put             | yes
 *   batch_new / free / count / abort /| no            | no                 | no
 *   require_version                   |               |                    |
 *   snapmap_stats                     | no (allowed)  | on writer mutex    | no
 *   snapmap_new / snapmap_new_flavor  | no            | creates and joins  | no
 *                                     |               | a thread (first map|
 *                                     |               | of a flavor)       |
 *   save / save_text / write_text     | yes, or pin   | file I/O           | if RCS
 *   load / load_text / load_text_fd   | no (allowed)  | file I/O, writer   | yes
 *                                     |               | mutex              |
 *   file_stat / strerror              | no            | file I/O (stat)    | no
 *   watch_file / watch_stats          | no            | no                 | no
 *   snapmap_unwatch                   | must NOT hold | joins the watcher  | no
 *                                     |               | (qsbr: offline)    |
 *   snapmap_wait_version              | must NOT hold | sleeps (qsbr: the  | no
 *                                     |               | thread is offline) |
 *   snapmap_destroy                   | must NOT hold | waits for the map's| yes
 *                                     |               | reclamation (see   |
 *                                     |               | Waiting)           |
 *
 * A batch is not thread-safe: stage and commit it from one thread at a
 * time.
 *
 * Waiting.  Reclamation is deferred with call_rcu, so a writer waits for
 * it only when retired snapshots hold more than the map's reclaim_limit
 * (see struct snapmap_config), and only before it takes the writer
 * mutex: no holder of a writer mutex ever waits for a grace period, so a
 * thread may block on the mutex inside its read-side critical section.
 * One rule decides whether a thread may wait for a grace period or for
 * reclamation (or, in snapmap_unwatch(), for a thread that may): it may
 * not on a call_rcu worker (a value destructor or any call_rcu callback,
 * the library's or the application's: what it would wait for is queued
 * behind it), in a value destructor, in a snapmap_update() callback of
 * any map (it holds that map's writer mutex), or inside a read-side
 * critical section (memb, mb, bp).  (A call_rcu worker is recognized
 * once it has run one of the library's callbacks: the default worker
 * runs one as soon as the first map of its flavor is created; a
 * per-CPU or per-thread worker of the application's, from its first
 * reclamation of a map's snapshot.)  There a write goes over the limit
 * (counted in snapmap_stats()), snapmap_destroy() tears the map down
 * without waiting (inside a read-side critical section it returns
 * -EDEADLK), and snapmap_unwatch() and snapmap_wait_version() return
 * -EDEADLK.  An online qsbr thread that may wait is put offline for the
 * wait.  A qsbr thread must therefore not hold pointers obtained from
 * the map across a write call (pin instead).  A qsbr thread that blocks
 * on the writer mutex stays online, which delays grace periods by at
 * most the time the mutex is held.
 *
 * fork(): call snapmap_atfork() once before forking if the child uses
 * maps; watcher threads do not survive into the child.
 *
 * Lifetimes: a pointer returned by snapmap_snapshot(), snapmap_find() or
 * the iterators is valid until the read-side critical section that
 * obtained it ends.  A pinned snapshot (snapmap_pin()) and everything read
 * from it stay valid until snapmap_unpin().
 *
 * Debug builds: a library configured with --enable-debug aborts with a
 * message on misuse instead of returning an error or leaving behaviour
 * undefined: a map used after snapmap_destroy(), read-side calls on an
 * unpinned snapshot outside a read-side critical section, more unpins
 * than pins, and a write to a map from inside its own update callback
 * (-EDEADLK in other builds).  SNAPMAP_DEBUG=0 in the environment when a
 * map is created turns the checks off for that map.
 */
#ifndef SNAPMAP_H
#define SNAPMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urcu/flavor.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SNAPMAP_API __attribute__((visibility("default")))
#else
#define SNAPMAP_API
#endif

/*
 * liburcu's flavors, declared here as well: <urcu/flavor.h> declares only
 * the flavor mapped to rcu_flavor when a file first includes it, so a
 * flavor header included after this one, or a second flavor header,
 * would otherwise leave its flavor undeclared.  The declarations match
 * liburcu's, so they coexist with every flavor header.
 */
extern const struct rcu_flavor_struct urcu_memb_flavor;
extern const struct rcu_flavor_struct urcu_mb_flavor;
extern const struct rcu_flavor_struct urcu_signal_flavor;
extern const struct rcu_flavor_struct urcu_qsbr_flavor;
extern const struct rcu_flavor_struct urcu_bp_flavor;

/* Opaque types. */
struct snapmap;
struct snapmap_snapshot;
struct snapmap_batch;
struct snapmap_update;

/*
 * Limits.  Key and value lengths are stored in 32 bits; the configured
 * maxima may not exceed SNAPMAP_LEN_LIMIT.
 */
#define SNAPMAP_DEFAULT_MAX_KEY_LEN	4096u
#define SNAPMAP_DEFAULT_MAX_VALUE_LEN	(16u << 20)
#define SNAPMAP_LEN_LIMIT		UINT32_MAX

/*
 * The first snapshot of a new map is empty and has this version; every
 * publish increments the version by exactly one.
 */
#define SNAPMAP_INITIAL_VERSION		0

/*
 * snapmap_compare_fn - a total order on keys.
 * Returns <0, 0 or >0 as a sorts before, equal to or after b.  Must be a
 * pure function of its arguments: it is called by readers concurrently
 * with writers, inside read-side critical sections or on pinned
 * snapshots, and by writers under the map's writer mutex.
 */
typedef int (*snapmap_compare_fn)(const void *a, size_t alen,
				  const void *b, size_t blen, void *ctx);

/*
 * snapmap_value_destroy_fn - release what a value handed to the map owns.
 *
 * The contract: every value handed to a write of a map with a destructor
 * (put, a compound write, snapmap_update_set(), a staged batch op) is
 * destroyed exactly once, whether it was published or not, the way
 * jansson's *_new functions steal a reference even when they fail.  The
 * caller never frees what a value owns after handing it over:
 *  - a stored value, when no snapshot can show it any more: after the
 *    write that replaced or deleted it, the grace period of every
 *    snapshot older than that write, and the release of their pins (or
 *    at snapmap_destroy());
 *  - a value of a write that fails (any error, -EEXIST, -ENOENT,
 *    -EAGAIN and -E2BIG included), before the write returns;
 *  - a value set in a snapmap_update() callback and then replaced by
 *    another set or a delete in the same callback, by the call that
 *    replaced it; one set in an update that then fails, when
 *    snapmap_update() returns;
 *  - a staged batch value: at snapmap_batch_commit() if a later op of the
 *    same batch replaced it, else at snapmap_batch_abort() or
 *    snapmap_batch_free() if it was never committed (a failed commit
 *    keeps the ops staged).
 * Not destroyed: anything when @map (or the batch, or the update handle)
 * is NULL, a value given as NULL with a nonzero length (there is none),
 * and values a load (snapmap_load(), snapmap_load_text()) read from a
 * file but did not publish; values a load published are stored values.
 *
 * @val points at a copy of the value bytes the map made, aligned like
 * the values readers see (the map copies values as it rebuilds its
 * chunks: compare contents, not addresses), or, for a value the write
 * refused before copying it (bad arguments, too long, no memory), at
 * the caller's own buffer: treat it as read-only.  With a destructor, a
 * write that replaces or deletes a value first copies it (the copy waits
 * for the older snapshots and goes to the destructor), so it allocates
 * the old value's size and can fail with -ENOMEM, changing nothing.
 *
 * Called from the call_rcu thread, from snapmap_unpin(), from
 * snapmap_destroy(), or from the write, commit, abort, free or update
 * call named above (then possibly with the map's writer mutex held).  It
 * must not call into the same map.  Writes it makes to other maps never
 * wait for reclamation (they may go over their reclaim limit), and
 * snapmap_destroy() of another map (a map stored as a value) does not
 * wait either: see Waiting at the top.
 */
typedef void (*snapmap_value_destroy_fn)(void *val, size_t vlen, void *ctx);

/*
 * struct snapmap_config - creation parameters.  Zero-initialize, then set
 * what you need; a zero field means its default.
 * @max_key_len:    longest key accepted (default SNAPMAP_DEFAULT_MAX_KEY_LEN).
 * @max_value_len:  longest value accepted (default
 *                  SNAPMAP_DEFAULT_MAX_VALUE_LEN).
 * @compare:        key order; NULL means bytewise (memcmp order, and on a
 *                  common prefix the shorter key first).
 * @compare_ctx:    passed to @compare.
 * @value_destroy:  optional destructor for stored values.
 * @destroy_ctx:    passed to @value_destroy.
 * @reclaim_limit:  bytes that retired snapshots may hold while they wait
 *                  for their grace period (default
 *                  SNAPMAP_DEFAULT_RECLAIM_LIMIT; SIZE_MAX: no limit).
 *                  A write that finds more waiting first waits until
 *                  the map's reclamation pending at that moment has run
 *                  (a grace period and the map's callbacks), before it
 *                  takes the writer mutex: backpressure instead of
 *                  unbounded memory under a write storm.  A writer that
 *                  may not wait (see Waiting at the top) writes over the
 *                  limit, and snapmap_stats() counts it.  Bytes kept by
 *                  pins do not count (no wait can free them).
 */
struct snapmap_config {
	size_t max_key_len;
	size_t max_value_len;
	snapmap_compare_fn compare;
	void *compare_ctx;
	snapmap_value_destroy_fn value_destroy;
	void *destroy_ctx;
	size_t reclaim_limit;
};

/*
 * Default reclaim_limit: 64 MiB.  A write retires the chunk it rebuilt
 * (about 128 entries with their keys and values), one directory page and
 * the snapshot's list of pages: some 8 KiB for 14-byte keys and 8-byte
 * values, at any size up to a million entries, so thousands of writes
 * can wait for one grace period before a writer is held back.
 */
#define SNAPMAP_DEFAULT_RECLAIM_LIMIT	((size_t)64 << 20)

/*
 * struct snapmap_kv - one entry as seen by a reader.  The pointers point
 * into the snapshot.  @val is aligned for any object that fits in @vlen
 * bytes: to the largest power of two <= @vlen, at most
 * alignof(max_align_t).  A stored struct (with or without a flexible array
 * member), integer, double or pointer can be read in place.
 */
struct snapmap_kv {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};

/*
 * struct snapmap_iter - a position in a snapshot.  Its fields are private
 * and may change; allocate it on the stack and use the snapmap_iter_*
 * functions only.
 */
struct snapmap_iter {
	uintptr_t priv[4];
};

/* ------------------------------------------------------------------ */
/* Creation and destruction                                            */
/* ------------------------------------------------------------------ */

/*
 * snapmap_new_flavor - create an empty map bound to an RCU flavor.
 * @cfg:     creation parameters, or NULL for all defaults.  Copied.
 * @flavor:  the liburcu flavor readers and writers use (e.g.
 *           &urcu_qsbr_flavor).
 *
 * Returns the map, or NULL with errno set to EINVAL (NULL flavor, a
 * maximum above SNAPMAP_LEN_LIMIT), ENOMEM, or EAGAIN when no thread can
 * be created.  The map's first snapshot is empty, with version
 * SNAPMAP_INITIAL_VERSION.
 *
 * The first map of a flavor in a process makes liburcu create that
 * flavor's call_rcu worker thread, after checking that a thread can be
 * created: liburcu aborts the process (urcu_die) when it fails to create
 * it, and would otherwise do so at the map's first write.  What liburcu
 * still aborts on: memory exhaustion inside its own calls (rcu_barrier,
 * per-CPU call_rcu data, thread registration).  libsnapmap never calls
 * rcu_barrier().
 *
 * Threads calling this function are NOT required to be registered RCU
 * threads.
 */
SNAPMAP_API
struct snapmap *snapmap_new_flavor(const struct snapmap_config *cfg,
				   const struct rcu_flavor_struct *flavor);

#ifdef URCU_API_MAP
/*
 * snapmap_new - create an empty map bound to the flavor whose mapping
 * header (<urcu.h>, <urcu-qsbr.h>, <urcu-bp.h>) was included before this
 * one.  Defined only then: the <urcu/urcu-*.h> headers alone undefine
 * rcu_flavor, so with them call snapmap_new_flavor().  Returns as
 * snapmap_new_flavor().
 *
 * Threads calling this function are NOT required to be registered RCU
 * threads.
 */
static inline
struct snapmap *snapmap_new(const struct snapmap_config *cfg)
{
	return snapmap_new_flavor(cfg, &rcu_flavor);
}
#endif /* URCU_API_MAP */

/*
 * snapmap_atfork - make fork() safe for the maps of the flavor whose
 * mapping header was included before this one (defined, like
 * snapmap_new(), only then).
 *
 * Registers liburcu's call_rcu fork handlers (call_rcu_before_fork,
 * call_rcu_after_fork_parent, call_rcu_after_fork_child) with
 * pthread_atfork(3).  Without them the child has no call_rcu worker: the
 * snapshots it retires are never reclaimed, and a write over the reclaim
 * limit waits for reclamation forever.  With them the child gets a new
 * worker, which also runs what the parent had queued.  Call it once per
 * process and flavor, before any thread forks; applications that
 * register these handlers themselves (or with other liburcu users) must
 * not register them twice.  With a <urcu/urcu-*.h> header alone, pass
 * the flavor's own urcu_<flavor>_call_rcu_before_fork (and the two
 * others) to pthread_atfork() instead.
 *
 * What does not survive a fork: the watcher threads of
 * snapmap_watch_file() (the child's copies of the parent's watches never
 * reload; see snapmap_unwatch()), and any thread of the application.
 * liburcu keeps a registered thread's reader state in that thread's own
 * storage, which glibc reuses for the child's new threads: a child
 * whose parent had other registered RCU threads than the forking one
 * and the call_rcu workers (a watcher thread is one) cannot complete
 * grace periods (its writes over the limit, snapmap_destroy() and its
 * reclamation stall or crash).  Such a child should only exec or exit.
 *
 * Returns 0, or a negative errno value from pthread_atfork() (-ENOMEM).
 * Threads calling this function are NOT required to be registered RCU
 * threads.
 */
#ifdef URCU_API_MAP
static inline int snapmap_atfork(void)
{
	return -pthread_atfork(call_rcu_before_fork,
			       call_rcu_after_fork_parent,
			       call_rcu_after_fork_child);
}
#endif /* URCU_API_MAP */

/*
 * snapmap_destroy - free a map and everything it holds.
 * @map: the map; no other thread may use it during or after the call.
 *
 * Retires the current snapshot and waits until every snapshot of the map
 * has been reclaimed (a grace period, then the map's call_rcu callbacks;
 * not rcu_barrier()), so that when it returns every value destructor has
 * run and the map's memory is freed.
 *
 * Where the calling thread may not wait (see "Waiting" below): from a
 * value destructor (a map stored in a map), a call_rcu callback or a
 * snapmap_update() callback of another map, the map is torn down without
 * waiting: it is unusable at once, and its values are destroyed and its
 * memory freed on the call_rcu worker after the grace period.  Returns 0
 * then too.
 *
 * Returns 0, -EINVAL for a NULL map, -EBUSY while snapshots of the map
 * are pinned, batches of the map exist or files are watched for it, or
 * -EDEADLK inside a read-side critical section (memb, mb, bp) or from an
 * update callback of the same map.  On error the map is left intact.
 *
 * Must NOT be called inside a read-side critical section.  The calling
 * thread must be a registered RCU thread (call_rcu); an online qsbr
 * caller is put offline while it waits.
 */
SNAPMAP_API
int snapmap_destroy(struct snapmap *map);

/* ------------------------------------------------------------------ */
/* Read side                                                           */
/* ------------------------------------------------------------------ */

/*
 * snapmap_snapshot - the map's current snapshot.
 * @map: the map (must not be NULL).
 *
 * Returns the snapshot, valid until the read-side critical section ends.
 * All reads through it see one consistent version of the map.
 *
 * Call with rcu_read_lock held.
 */
SNAPMAP_API
const struct snapmap_snapshot *snapmap_snapshot(struct snapmap *map);

/*
 * snapmap_find - look a key up in a snapshot, without copying.
 * @snap: a snapshot from snapmap_snapshot() or snapmap_pin().
 * @key, @klen: the key (@key may be NULL when @klen is 0).
 * @val, @vlen: out, the value's address and length; either may be NULL.
 *
 * Returns 0 when found, -ENOENT when absent, -EINVAL for a NULL snapshot
 * or a NULL key with nonzero length.
 *
 * Call with rcu_read_lock held, or on a pinned snapshot.
 */
SNAPMAP_API
int snapmap_find(const struct snapmap_snapshot *snap,
		 const void *key, size_t klen,
		 const void **val, size_t *vlen);

/*
 * snapmap_count - number of entries in a snapshot (0 for NULL).
 * Call with rcu_read_lock held, or on a pinned snapshot.
 */
SNAPMAP_API
size_t snapmap_count(const struct snapmap_snapshot *snap);

/*
 * snapmap_version - the snapshot's version (0 for NULL).  Versions of one
 * map increase by one with every publish.
 * Call with rcu_read_lock held, or on a pinned snapshot.
 */
SNAPMAP_API
uint64_t snapmap_version(const struct snapmap_snapshot *snap);

/*
 * snapmap_iter_first - position @it on the snapshot's first (smallest) key.
 * @kv: out, the entry there (required).
 * Returns 0, -ENOENT when the snapshot is empty, -EINVAL for NULL args.
 * Call with rcu_read_lock held, or on a pinned snapshot.
 */
SNAPMAP_API
int snapmap_iter_first(const struct snapmap_snapshot *snap,
		       struct snapmap_iter *it, struct snapmap_kv *kv);

/*
 * snapmap_iter_seek - position @it on the first key >= @key.
 * Range scans start here; a prefix scan stops at the first key that does
 * not start with the prefix.
 * Returns 0, -ENOENT when every key is smaller, -EINVAL for bad args.
 * Call with rcu_read_lock held, or on a pinned snapshot.
 */
SNAPMAP_API
int snapmap_iter_seek(const struct snapmap_snapshot *snap,
		      struct snapmap_iter *it, const void *key, size_t klen,
		      struct snapmap_kv *kv);

/*
 * snapmap_iter_next - advance @it to the next key, in key order.
 * Returns 0, -ENOENT past the last key (then again on every call),
 * -EINVAL for NULL args.
 * Call with rcu_read_lock held, or on a pinned snapshot; in the same
 * critical section (or pin) as the snapmap_iter_first/seek that set @it.
 */
SNAPMAP_API
int snapmap_iter_next(struct snapmap_iter *it, struct snapmap_kv *kv);

/*
 * snapmap_iter_next_n - advance @it by up to @max keys at once, for scans.
 * @kv:  out, an array of @max entries: the keys after the current one, in
 *       key order.
 * @n:   out, how many were filled (required).
 * The same as up to @max calls of snapmap_iter_next(), at a fraction of
 * the cost per entry: @it is left on the last entry filled.
 * Returns 0 with *@n >= 1, -ENOENT with *@n = 0 past the last key (then
 * again on every call), -EINVAL for NULL args or @max == 0.
 * Call with rcu_read_lock held, or on a pinned snapshot; in the same
 * critical section (or pin) as the snapmap_iter_first/seek that set @it.
 */
SNAPMAP_API
int snapmap_iter_next_n(struct snapmap_iter *it, struct snapmap_kv *kv,
			size_t max, size_t *n);

/*
 * snapmap_get - copy a value out of the current snapshot.
 * @buf, @bufsize: where to copy (@buf may be NULL when @bufsize is 0).
 * @vlen: out, the value's length (also set on -ERANGE); may be NULL.
 *
 * Returns 0, -ENOENT when absent, -ERANGE when @bufsize is smaller than
 * the value (nothing copied, *vlen says how much is needed), -EINVAL for
 * bad args.
 *
 * Takes and releases the read lock itself: the calling thread must be a
 * registered RCU thread (online, under qsbr).  May be called inside a
 * read-side critical section (read locks nest).
 */
SNAPMAP_API
int snapmap_get(struct snapmap *map, const void *key, size_t klen,
		void *buf, size_t bufsize, size_t *vlen);

/*
 * snapmap_pin - take a reference on the current snapshot.
 *
 * Returns a snapshot that stays valid, with every key and value read from
 * it, outside any read-side critical section and in any thread until
 * snapmap_unpin().  A pin keeps that snapshot alive, not later ones: the
 * parts of it that later writes replace (a chunk of about 128 entries and
 * a directory page per write) wait for the unpin, and so, in a map with a
 * value destructor, do the values later writes replace or delete (their
 * destructors run after it).  Returns NULL with errno EINVAL for a NULL
 * map.
 *
 * Takes the read lock itself: the calling thread must be a registered RCU
 * thread (online, under qsbr).
 */
SNAPMAP_API
const struct snapmap_snapshot *snapmap_pin(struct snapmap *map);

/*
 * snapmap_unpin - release a snapshot returned by snapmap_pin().
 * Frees the snapshot (and runs value destructors) if it was the last
 * reference.  NULL is ignored.  It waits for no other thread; the last
 * unpin takes the map's reclamation mutex briefly and its frees and
 * destructors take their time.  Calling threads are NOT required to be
 * registered RCU threads.
 */
SNAPMAP_API
void snapmap_unpin(const struct snapmap_snapshot *snap);

/* ------------------------------------------------------------------ */
/* Write side                                                          */
/* ------------------------------------------------------------------ */

/*
 * Common to every write below.  Each write takes the map's writer mutex,
 * builds the next snapshot, publishes it with one rcu_assign_pointer (a
 * release: everything written to the snapshot before is visible to readers
 * that load it) and retires the old snapshot with call_rcu.  Keys and
 * values are copied; the caller's buffers may be reused on return.
 *
 * Common errors: -EINVAL (NULL map, NULL key or value with nonzero
 * length), -E2BIG (key or value longer than the configured maximum),
 * -ENOMEM, -EDEADLK (called from inside a snapmap_update() callback on the
 * same map).  A write that fails changes nothing: same contents, same
 * version.  Over the reclaim limit a write first waits for reclamation
 * where the calling thread may (see Waiting at the top).
 *
 * Threads calling writers need to be registered RCU threads (call_rcu
 * requires it).  They do not need to hold the read lock, and may.
 */

/*
 * snapmap_put - insert or overwrite @key with @val.
 * Returns 0 or a common error.
 */
SNAPMAP_API
int snapmap_put(struct snapmap *map, const void *key, size_t klen,
		const void *val, size_t vlen);

/*
 * snapmap_delete - remove @key.
 * Returns 0, -ENOENT when absent (nothing published), or a common error.
 */
SNAPMAP_API
int snapmap_delete(struct snapmap *map, const void *key, size_t klen);

/*
 * snapmap_put_if_absent - insert @key only if it is absent (Go's
 * LoadOrStore).
 * @existing, @existing_size, @existing_len: optional (NULL/0/NULL) buffer
 *   that receives the present value on -EEXIST; like snprintf, at most
 *   @existing_size bytes are copied and *existing_len is the full length.
 * Returns 0 when inserted, -EEXIST when present, or a common error.
 */
SNAPMAP_API
int snapmap_put_if_absent(struct snapmap *map, const void *key, size_t klen,
			  const void *val, size_t vlen,
			  void *existing, size_t existing_size,
			  size_t *existing_len);

/*
 * snapmap_replace - overwrite @key only if it is present.
 * Returns 0, -ENOENT when absent, or a common error.
 */
SNAPMAP_API
int snapmap_replace(struct snapmap *map, const void *key, size_t klen,
		    const void *val, size_t vlen);

/*
 * snapmap_compare_and_swap - overwrite @key with @val only if its current
 * value equals @expected byte for byte (same length, same bytes).
 * Returns 0, -ENOENT when absent, -EAGAIN when the value differs
 * (re-read and retry), or a common error.
 */
SNAPMAP_API
int snapmap_compare_and_swap(struct snapmap *map, const void *key, size_t klen,
			     const void *expected, size_t elen,
			     const void *val, size_t vlen);

/*
 * snapmap_update_fn - decides the new value of one key.
 * @cur, @curlen: the current value (valid during the call), or NULL/0.
 * @present: whether the key is present.
 * @u: pass to snapmap_update_set() or snapmap_update_delete() to change
 *     the key; call neither to keep it as it is.
 * Returns 0 to publish the decision, or a negative errno to abandon it
 * (snapmap_update() then returns that value and publishes nothing).
 *
 * Runs with the map's writer mutex held: keep it short, and do not call
 * write functions of the same map (they return -EDEADLK).
 */
typedef int (*snapmap_update_fn)(const void *key, size_t klen,
				 const void *cur, size_t curlen, bool present,
				 struct snapmap_update *u, void *ctx);

/*
 * snapmap_update - read-modify-write one key atomically with respect to
 * every other writer; readers see the old value or the new one.
 * Returns 0 (whatever @fn decided), what @fn returned if negative, or a
 * common error.  Nothing is published when @fn keeps the value.
 */
SNAPMAP_API
int snapmap_update(struct snapmap *map, const void *key, size_t klen,
		   snapmap_update_fn fn, void *ctx);

/*
 * snapmap_update_set - from inside a snapmap_update_fn: make @val the new
 * value (copied now).  A later set or delete in the same call wins.
 * Returns 0, -EINVAL, -E2BIG or -ENOMEM.
 */
SNAPMAP_API
int snapmap_update_set(struct snapmap_update *u, const void *val, size_t vlen);

/*
 * snapmap_update_delete - from inside a snapmap_update_fn: delete the key
 * (a no-op if it is absent).  Returns 0 or -EINVAL.
 */
SNAPMAP_API
int snapmap_update_delete(struct snapmap_update *u);

/*
 * snapmap_add_i64 - add @delta to the counter at @key.  A counter is an
 * 8-byte value holding an int64_t in native byte order; it is created
 * with value @delta when absent.
 * @result: out, the new value; may be NULL.
 * Returns 0, -EINVAL when the present value is not 8 bytes long,
 * -EOVERFLOW when the sum overflows (nothing changed), or a common error.
 */
SNAPMAP_API
int snapmap_add_i64(struct snapmap *map, const void *key, size_t klen,
		    int64_t delta, int64_t *result);

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

/*
 * A batch stages changes and commits them as ONE new snapshot: readers
 * see all of it or none of it.  Ops on the same key apply in staging
 * order (the last one wins).  Conditional ops (put_if_absent, replace,
 * compare_and_swap) are checked at commit against the map as the batch's
 * earlier ops leave it; if any fails, the whole commit fails and nothing
 * changes.  A batch may also require that the map's version still equals
 * a given one (optimistic transaction: read a snapshot, compute, commit
 * only if nothing was published since).
 *
 * Staging copies keys and values into the batch and validates them; it
 * never touches the map, so stage functions need no registration and
 * take no lock.  A batch belongs to one map and must be used by one
 * thread at a time.  After a successful commit or snapmap_batch_abort()
 * the batch is empty and may be reused (a batch that staged more than
 * 1024 ops gives its staging memory back); after a failed commit its ops
 * stay staged (inspect, then abort or commit again).  Using a batch after
 * snapmap_batch_free() is undefined.
 *
 * Cost: a commit of k ops sorts them (k log k, skipped when they were
 * staged in key order), looks each key up, rebuilds every chunk a change
 * falls into once and copies the directory once: one publish.
 */

/*
 * snapmap_batch_new - create an empty batch for @map.
 * Returns the batch, or NULL with errno EINVAL (NULL map) or ENOMEM.
 * While a batch exists, snapmap_destroy() of its map returns -EBUSY.
 */
SNAPMAP_API
struct snapmap_batch *snapmap_batch_new(struct snapmap *map);

/*
 * snapmap_batch_free - free a batch and its staged ops (NULL is ignored).
 */
SNAPMAP_API
void snapmap_batch_free(struct snapmap_batch *batch);

/*
 * Staging functions.  Each returns 0, -EINVAL (NULL batch, NULL key or
 * value with nonzero length), -E2BIG (longer than the map's maxima) or
 * -ENOMEM; a failed stage leaves the batch as it was.
 */
SNAPMAP_API
int snapmap_batch_put(struct snapmap_batch *batch, const void *key,
		      size_t klen, const void *val, size_t vlen);
SNAPMAP_API
int snapmap_batch_delete(struct snapmap_batch *batch, const void *key,
			 size_t klen);
SNAPMAP_API
int snapmap_batch_put_if_absent(struct snapmap_batch *batch, const void *key,
				size_t klen, const void *val, size_t vlen);
SNAPMAP_API
int snapmap_batch_replace(struct snapmap_batch *batch, const void *key,
			  size_t klen, const void *val, size_t vlen);
SNAPMAP_API
int snapmap_batch_compare_and_swap(struct snapmap_batch *batch,
				   const void *key, size_t klen,
				   const void *expected, size_t elen,
				   const void *val, size_t vlen);

/*
 * snapmap_batch_require_version - make the commit fail with -ESTALE
 * unless the map's current version equals @version.  Returns 0 or
 * -EINVAL.
 */
SNAPMAP_API
int snapmap_batch_require_version(struct snapmap_batch *batch,
				  uint64_t version);

/*
 * snapmap_batch_count - number of ops staged (0 for NULL).
 */
SNAPMAP_API
size_t snapmap_batch_count(const struct snapmap_batch *batch);

/*
 * snapmap_batch_abort - drop every staged op and the version condition.
 * Returns 0 or -EINVAL.
 */
SNAPMAP_API
int snapmap_batch_abort(struct snapmap_batch *batch);

/*
 * SNAPMAP_BATCH_VERSION_OP - the *failed_op reported when the version
 * condition failed.
 */
#define SNAPMAP_BATCH_VERSION_OP	SIZE_MAX

/*
 * snapmap_batch_commit - apply every staged op in one publish.
 * @version: out, optional: the version that now holds the batch.
 * @failed_op: out, optional: on a condition failure, the staging index
 *   (0-based) of the first failing op, or SNAPMAP_BATCH_VERSION_OP.
 *
 * Returns 0 (the batch is then empty), or, changing nothing:
 *   -ESTALE   the required version is no longer current;
 *   -EEXIST   a put_if_absent found its key present;
 *   -ENOENT   a replace or compare_and_swap found its key absent;
 *   -EAGAIN   a compare_and_swap found another value;
 *   -EALREADY the batch was committed and nothing was staged since;
 *   -EINVAL, -ENOMEM, -EDEADLK as for every write.
 * A batch with no op and no version condition commits without publishing
 * (*version is the current version).  A batch whose ops leave the map
 * unchanged still publishes a new version.
 *
 * Threads calling this function need to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_batch_commit(struct snapmap_batch *batch, uint64_t *version,
			 size_t *failed_op);

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

/*
 * struct snapmap_stats - what a map is doing.  Counters count from the
 * map's creation.
 * @version, @entries:      of the current snapshot.
 * @live_bytes:             bytes the current snapshot holds (directory,
 *                          chunks, entries with their keys and values).
 * @reclaim_snapshots:      retired snapshots waiting for their grace period.
 * @reclaim_bytes:          bytes only they hold (freed after the period).
 * @pinned_snapshots:       outstanding snapmap_pin() references.
 * @publishes:              versions published.
 * @failed_nomem:           writes failed with -ENOMEM,
 * @failed_invalid:         with -EINVAL or -E2BIG (bad arguments: a
 *                          NULL pointer with a nonzero length, a NULL
 *                          update function, a key or value over the
 *                          map's limits),
 * @failed_conflict:        on a condition (-EEXIST, -ENOENT, -EAGAIN,
 *                          -ESTALE, -EALREADY),
 * @failed_deadlock:        with -EDEADLK (from an update callback),
 * @failed_other:           for any other errno (an update function's own
 *                          error is counted by its value).  Every failed
 *                          call of a write on a map (put, delete, the
 *                          compound writes, update, batch staging and
 *                          commit, loads) counts once in exactly one of
 *                          these, argument checks included.  A load's
 *                          verdict on its file (open, syntax, checksum,
 *                          limits) is not counted: the file failed, not
 *                          the map; failing to publish it is.
 * @reclaim_waits:          writes held back by the reclaim limit,
 * @reclaim_over_limit:     writes that could not wait (inside a read-side
 *                          critical section) and went over it.
 * @writer_acquisitions:    times the writer mutex was taken,
 * @writer_wait_ns:         total time writers waited for it,
 * @writer_hold_ns:         total time it was held: with acquisitions, the
 *                          "mutex profile" of the map's writers.
 */
struct snapmap_stats {
	uint64_t version;
	uint64_t entries;
	uint64_t live_bytes;
	uint64_t reclaim_snapshots;
	uint64_t reclaim_bytes;
	uint64_t pinned_snapshots;
	uint64_t publishes;
	uint64_t failed_nomem;
	uint64_t failed_invalid;
	uint64_t failed_conflict;
	uint64_t failed_deadlock;
	uint64_t failed_other;
	uint64_t reclaim_waits;
	uint64_t reclaim_over_limit;
	uint64_t writer_acquisitions;
	uint64_t writer_wait_ns;
	uint64_t writer_hold_ns;
};

/*
 * snapmap_stats - read a map's statistics.
 * Returns 0, or -EINVAL for a NULL argument.  Takes the writer mutex
 * briefly (the counters are kept by writers and by reclamation; readers
 * keep none, so reading statistics costs readers nothing).  The fields
 * are read one by one, not as one atomic picture.
 *
 * Must NOT be called from inside an update callback of the same map
 * (-EDEADLK).  Calling threads are NOT required to be registered RCU
 * threads.
 */
SNAPMAP_API
int snapmap_stats(struct snapmap *map, struct snapmap_stats *stats);

/* ------------------------------------------------------------------ */
/* Waiting for changes                                                 */
/* ------------------------------------------------------------------ */

/*
 * snapmap_wait_version - sleep until the map's version is greater than
 * @after (e.g. the version of the snapshot you last read).
 * @timeout_ms: how long to wait at most; 0 checks without sleeping, a
 *   negative value waits without limit.
 * @version: out, optional: the current version when the call returns.
 *
 * Returns 0 once the version is greater than @after, -ETIMEDOUT when the
 * time ran out first, -EINVAL for a NULL map, -EDEADLK with a nonzero
 * @timeout_ms where the calling thread may not wait (see Waiting at the
 * top: inside a read-side critical section of memb, mb or bp, on a
 * call_rcu worker, in a value destructor or in an update callback).
 * Sleeps on a condition variable (no busy waiting); every publish wakes
 * the waiters.
 *
 * Must NOT be called inside a read-side critical section.  Under qsbr an
 * online caller is put offline while it sleeps and back online before
 * returning, so it must not hold pointers obtained from the map across
 * the call (use a pin).  Calling threads are NOT required to be
 * registered RCU threads.
 */
SNAPMAP_API
int snapmap_wait_version(struct snapmap *map, uint64_t after, int timeout_ms,
			 uint64_t *version);

/* ------------------------------------------------------------------ */
/* Persistence: snapshot files, the text format, hot reload            */
/* ------------------------------------------------------------------ */

/*
 * A snapshot can be saved to a file and a file loaded as a map's next
 * version.  Two formats:
 *
 * - binary (snapmap_save, snapmap_load): a versioned file with a magic,
 *   a format version, flags, the entry count, the version of the saved
 *   snapshot, the entries in key order, and CRC32C checksums over the
 *   header and over the whole file.  Integers are little-endian.
 * - text (snapmap_save_text, snapmap_load_text, snapmap_write_text,
 *   snapmap_load_text_fd), for people: one entry per line, the key, a
 *   TAB, the value.  In keys and values, \t \n \\ and \xHH (two hex
 *   digits) stand for TAB, newline, backslash and any byte, so every key
 *   and value round-trips; raw control bytes other than the separating
 *   TAB are an error.  Empty lines and lines starting with '#' are
 *   skipped.  Keys may come in any order.  The text format has no
 *   checksum.
 *
 * Saving is crash-safe: the content goes to a temporary file in the
 * target's directory, which is fsync'ed and renamed over the target, and
 * the directory is fsync'ed.  A crash or a kill at any moment leaves the
 * old file or the new one under the name, never a torn one.  The
 * temporary file is unnamed while it is written (O_TMPFILE) where the
 * file system allows, and gets a random name (".NAME.PID.RANDOM.tmp")
 * only for the rename, so a kill rarely leaves one behind; where
 * O_TMPFILE is not available, it has that name from the start.  Every
 * successful save of NAME removes the ".NAME.PID.*.tmp" files whose
 * writer is provably gone: no process has that PID, and nobody holds the
 * lock (flock) that a writer keeps on its temporary file until it closes
 * it, just before the rename.  The target, if it exists, must be a
 * regular file or a symbolic link to one: a FIFO or a device node is not
 * replaced (-EINVAL).  A symbolic link to a regular file is replaced by
 * the new file, not followed.  The new file keeps the old one's owner
 * and group where the caller may set them (root may; others keep the
 * group when they belong to it), as `sed -i` does, and its permission
 * bits without set-user-ID and set-group-ID.  Saving reads the snapshot
 * and takes no lock: writers and readers of the map are not delayed at
 * all.
 *
 * Loading reads only regular files (after symbolic links): a FIFO, a
 * device or a socket is refused before it is read (-EINVAL), and the
 * open never blocks.  A binary file's header is read and checked first;
 * then exactly the length it declares is read, and no more than its
 * entry count can hold within the map's limits, so a file that is not a
 * snapshot costs one small read however large it is.  All of it is
 * validated before its entries are published as the map's whole
 * content, in one publish, as the next version (the version stored in
 * the file is informational, see snapmap_file_stat).  A load that fails
 * changes nothing: same content, same version.
 *
 * struct snapmap_error - details of a failure.  Every function below
 * that takes one fills it when it is not NULL: on success @code is 0 and
 * @message empty.
 * @code:    the negative errno the function returned.
 * @line:    text format: the 1-based line of the defect; 0 otherwise.
 * @offset:  the byte offset of the defect in the file, when there is one
 *           (0 otherwise).
 * @message: what went wrong, in words, NUL-terminated, without the path
 *           (e.g. "line 3, column 7: unknown escape \q (use \t, \n, \\
 *           or \xHH)", "checksum mismatch: stored 0x..., computed ...").
 *
 * Errors of the loaders (snapmap_load, snapmap_load_text,
 * snapmap_file_stat):
 *   -ENOENT, -EACCES, -ENOTDIR, -ELOOP, -ENAMETOOLONG, ...
 *                     from open(2): the path cannot be opened;
 *   -EISDIR           the path is a directory;
 *   -EINVAL           the path is not a regular file (a FIFO, a device,
 *                     a socket; @message says which);
 *   -ENODATA, -EBADMSG the file changed size while it was read;
 *   -EIO, ...         from read(2);
 *   -EMEDIUMTYPE      binary: not a snapshot file (bad magic);
 *   -EPROTONOSUPPORT  binary: written in a newer (or unknown) format
 *                     version, or with flags this library does not know;
 *   -ENODATA          binary: truncated, shorter than its header says;
 *   -EBADMSG          binary: corrupt: a checksum mismatch, or entries
 *                     that do not match the header (trailing bytes,
 *                     lengths that overrun);
 *                     text: a syntax error (no TAB, a second TAB, a bad
 *                     escape, a raw control byte), at @line;
 *   -EILSEQ           binary: keys out of order under the map's order;
 *   -ENOTUNIQ         the same key twice (text: @message names both
 *                     lines);
 *   -E2BIG            a key or value longer than the map's maximum, or
 *                     a binary header declaring more bytes of entries
 *                     than its count of entries within them can hold;
 *   -ENOMEM;
 *   -EINVAL           a NULL map or path;
 *   -EDEADLK          called from inside a snapmap_update() callback on
 *                     the same map.
 * Errors of the savers: -EINVAL (NULL snapshot or path, or a target
 * that is not a regular file), -ENOMEM, and the errno of creating,
 * writing, syncing or renaming the file (-EACCES, -ENOENT for a missing
 * directory, -ENOSPC, -EIO, -EROFS, -EISDIR when the target is a
 * directory, ...).
 */
#define SNAPMAP_ERROR_MESSAGE_LEN	256

struct snapmap_error {
	int code;
	unsigned long line;
	unsigned long long offset;
	char message[SNAPMAP_ERROR_MESSAGE_LEN];
};

/*
 * snapmap_strerror - a description of an error code of this library.
 * @code: a negative (or positive) errno value.
 *
 * Returns a static string: for the codes the loaders give a meaning of
 * their own (-EMEDIUMTYPE, -ENODATA, -EBADMSG, ...), that meaning ("not a
 * snapmap file (bad magic)"); for the others the system's description.
 * Never NULL.  Thread-safe.
 */
SNAPMAP_API
const char *snapmap_strerror(int code);

/*
 * snapmap_save - save a snapshot to a binary file, crash-safely.
 * @snap: the snapshot (from snapmap_pin(), or snapmap_snapshot() inside
 *        the caller's read-side critical section).
 * @path: the file to create or replace.
 * @err:  out, optional: details on failure.
 *
 * Returns 0 once the new file and its directory entry are on disk
 * (fsync), or a saver error (see above); on failure @path is unchanged
 * and the temporary file removed, except when only the final fsync of
 * the directory fails: the new file is then in place, but its name may
 * not survive a crash.  Takes no lock.
 *
 * Call with rcu_read_lock held, or on a pinned snapshot.  Pin rather
 * than hold the read lock across the file I/O: under qsbr a long
 * critical section delays every grace period.  Calling threads are NOT
 * required to be registered RCU threads when @snap is pinned.
 */
SNAPMAP_API
int snapmap_save(const struct snapmap_snapshot *snap, const char *path,
		 struct snapmap_error *err);

/*
 * snapmap_load - replace the map's content with a binary file's.
 * @map:     the map.
 * @path:    a file written by snapmap_save().
 * @version: out, optional: the version now holding the file's content.
 * @err:     out, optional: details on failure.
 *
 * Validates the whole file first: magic, format version, header and
 * file checksums, length, and every entry against the map (lengths
 * within its maxima, keys strictly increasing in its order: a file saved
 * from a map with another comparator fails with -EILSEQ).  Then
 * publishes the entries as the map's next version in one publish; the
 * values are copied and the map owns them (the value destructor runs for
 * them as for any write).
 *
 * Returns 0, or a loader error (see above) with the map unchanged.
 *
 * Threads calling this function need to be registered RCU threads (it
 * publishes with call_rcu).  It takes the writer mutex only to publish;
 * it does not need the read lock, and may be called inside a read-side
 * critical section.
 */
SNAPMAP_API
int snapmap_load(struct snapmap *map, const char *path, uint64_t *version,
		 struct snapmap_error *err);

/*
 * struct snapmap_file_stat - what snapmap_file_stat() found.
 * @format_version: the file's format version.
 * @flags:          the file's flags (0 in version 1).
 * @entries:        the number of entries.
 * @version:        the map version of the snapshot when it was saved.
 * @file_bytes:     the file's size.
 * @key_bytes, @value_bytes: the sums of key and value lengths.
 * @longest_key, @longest_value: the largest key and value lengths, to
 *                  compare with a map's maxima before loading.
 */
struct snapmap_file_stat {
	uint32_t format_version;
	uint32_t flags;
	uint64_t entries;
	uint64_t version;
	uint64_t file_bytes;
	uint64_t key_bytes;
	uint64_t value_bytes;
	uint64_t longest_key;
	uint64_t longest_value;
};

/*
 * snapmap_file_stat - check a binary file and describe it, without a map.
 * @path: the file.
 * @st:   out: its description (filled only on success).
 * @err:  out, optional: details on failure.
 *
 * Checks what does not depend on a map: magic, format version,
 * checksums, length, and that the entries fill the body exactly.  Key
 * order and length limits belong to a map: snapmap_load() checks them.
 *
 * Returns 0, -EINVAL for a NULL @path or @st, or a loader error.
 *
 * Calling threads are NOT required to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_file_stat(const char *path, struct snapmap_file_stat *st,
		      struct snapmap_error *err);

/*
 * snapmap_save_text - save a snapshot in the text format, crash-safely.
 * The file starts with a "# snapmap text format 1: ..." comment line and
 * holds one line per entry, in key order; every byte outside printable
 * ASCII is escaped, so the file is plain ASCII.  Otherwise as
 * snapmap_save(): same returns, same crash safety.
 *
 * Call with rcu_read_lock held, or on a pinned snapshot.  Calling
 * threads are NOT required to be registered RCU threads when @snap is
 * pinned.
 */
SNAPMAP_API
int snapmap_save_text(const struct snapmap_snapshot *snap, const char *path,
		      struct snapmap_error *err);

/*
 * snapmap_write_text - write a snapshot in the text format to an open
 * file descriptor (a pipe, a socket, standard output), at its current
 * position.  No temporary file and no fsync: crash safety is the
 * caller's.  Returns 0, -EINVAL (NULL @snap, negative @fd), -ENOMEM or
 * the negative errno of write(2) (e.g. -EPIPE).  A pipe or socket whose
 * reader is gone gives -EPIPE, never a SIGPIPE that would kill the
 * process: the call blocks SIGPIPE in the calling thread while it
 * writes, takes back the one its write raised, and restores the mask.
 * A SIGPIPE already pending before the call stays pending.
 *
 * Call with rcu_read_lock held, or on a pinned snapshot.  Calling
 * threads are NOT required to be registered RCU threads when @snap is
 * pinned.
 */
SNAPMAP_API
int snapmap_write_text(const struct snapmap_snapshot *snap, int fd,
		       struct snapmap_error *err);

/*
 * snapmap_load_text - replace the map's content with a text file's.
 * Parses every line, checks lengths against the map's maxima and that no
 * key appears twice, sorts the entries in the map's order, then
 * publishes them in one publish.  Errors carry the line number in
 * @err->line.  Returns and threading as snapmap_load(): 0, or a loader
 * error with the map unchanged.
 *
 * Threads calling this function need to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_load_text(struct snapmap *map, const char *path,
		      uint64_t *version, struct snapmap_error *err);

/*
 * snapmap_load_text_fd - replace the map's content with the text read
 * from an open file descriptor.
 * @fd: read from its current position to its end: a pipe, a socket,
 *      standard input, or a file.  Unlike the loaders that take a path,
 *      it reads whatever @fd is, and blocks as read(2) on @fd does: the
 *      caller chose it.  It is not closed.
 *
 * As snapmap_load_text() otherwise: the same checks, one publish, the
 * map unchanged on failure.  Returns 0, -EINVAL for a NULL @map or a
 * negative @fd, -ENOMEM, the negative errno of read(2), or a loader
 * error of the text format.
 *
 * Threads calling this function need to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_load_text_fd(struct snapmap *map, int fd, uint64_t *version,
			 struct snapmap_error *err);

/*
 * Hot reload.  snapmap_watch_file() starts a background thread that
 * reloads the map from a file whenever the file is replaced or
 * rewritten.  It watches the file's directory with inotify, so it sees
 * a rename onto the name (replace-by-rename, as snapmap_save does), a
 * writer closing the file after writing it (rewrite in place) and a file
 * deleted then created again under the name.  Symbolic links on the
 * path are followed and watched too, link by link: a link swapped to
 * point elsewhere reloads the file it now leads to, whether the link is
 * the file (conf.snap -> ..data/conf.snap, with a Kubernetes ConfigMap
 * renaming a new "..data" over the old one) or a directory on the way
 * (current -> releases/N).  A change of attributes (chmod, chown)
 * reloads when the last reload failed, so a chmod that makes an
 * unreadable file readable loads it.  Only regular files are loaded: a
 * FIFO or a device renamed over the name is reported (-EINVAL) without
 * being opened in a way that could block.  Events that arrive together
 * give one reload.  Writers should replace by rename: a file
 * rewritten in place can be read while it is half written; a binary file
 * then fails its checksum, is reported and skipped, and the reload that
 * follows the writer's close loads the whole file.  Text files have no
 * checksum: replace them by rename only.
 *
 * A reload that fails keeps the map as it is, is counted, and is reported
 * to the callback.  The watch does not load the file when it starts:
 * start the watch first, then call snapmap_load() yourself, so that no
 * change can fall between the two.
 *
 * The thread registers itself with the map's RCU flavor (a reload
 * publishes), and under qsbr is offline while it waits, so it never
 * holds up grace periods.  It blocks every signal.
 */

/* Load the watched file with snapmap_load_text() instead of snapmap_load(). */
#define SNAPMAP_WATCH_TEXT	(1u << 0)

struct snapmap_watch;

/*
 * snapmap_watch_fn - called by the watcher thread after each reload.
 * @path:    the path given to snapmap_watch_file().
 * @result:  0 when the file was loaded, or the loader error; -ENOENT
 *           also when a directory on the path was removed or moved, or
 *           a link on it leads nowhere: the watch then waits for the
 *           missing name to come back (it watches the directory above
 *           it) and reloads once the path leads to a file again.
 * @version: on success, the version now holding the file's content;
 *           0 on failure.
 * @err:     the details (@err->code is @result); valid during the call.
 * @ctx:     as given to snapmap_watch_file().
 *
 * Runs in the watcher thread, a registered RCU thread of the map's
 * flavor (online, under qsbr), outside any read-side critical section.
 * It may read and write the map; it must not call snapmap_unwatch() on
 * its own watch (-EDEADLK).  Reloads wait for it to return: keep it
 * short.
 */
typedef void (*snapmap_watch_fn)(const char *path, int result,
				 uint64_t version,
				 const struct snapmap_error *err, void *ctx);

/*
 * snapmap_watch_file - reload @map from @path whenever it changes.
 * @map:   the map; it must outlive the watch (snapmap_unwatch() first,
 *         then snapmap_destroy()).
 * @path:  the file; its directory must exist, the file need not yet.
 *         Symbolic links on the path are resolved and watched.
 * @flags: 0 (binary format) or SNAPMAP_WATCH_TEXT.
 * @fn:    optional: called after each reload.
 * @ctx:   passed to @fn.
 * @watch: out: the watch, for snapmap_unwatch() and snapmap_watch_stats().
 *
 * Returns 0, -EINVAL (NULL @map, @path or @watch, unknown flags), -EISDIR
 * (@path ends with '/', "." or ".."), -ENOMEM, or the negative errno of
 * resolving the path or watching its directories (-ENOENT, -ENOTDIR,
 * -ELOOP, -ENAMETOOLONG, -EACCES, -EMFILE, -ENOSPC for too many inotify
 * watches) or of starting the thread (-EAGAIN).
 *
 * Calling threads are NOT required to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_watch_file(struct snapmap *map, const char *path, unsigned flags,
		       snapmap_watch_fn fn, void *ctx,
		       struct snapmap_watch **watch);

/*
 * snapmap_watch_stats - counters of a watch.
 * @reloads:    out, optional: reloads that succeeded.
 * @failures:   out, optional: reloads that failed (each was reported).
 * @last_error: out, optional: the error of the last failure, 0 if none.
 * Returns 0, or -EINVAL for a NULL watch.  Calling threads are NOT
 * required to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_watch_stats(struct snapmap_watch *watch, uint64_t *reloads,
			uint64_t *failures, int *last_error);

/*
 * snapmap_unwatch - stop a watch and free it.
 * Wakes the watcher thread (an eventfd in its poll set), waits for it to
 * finish a reload it may be doing, and releases every descriptor and
 * byte of the watch.  Returns 0, -EINVAL for a NULL watch, or -EDEADLK
 * when called from the watch's own callback or where the calling thread
 * may not wait (see Waiting at the top): the watcher's reload may wait
 * for reclamation (the reclaim limit), so waiting for the watcher there
 * could wait for ourselves.  Nothing is stopped then.
 *
 * After fork(), the child's copy of a watch has no watcher thread (it
 * stayed in the parent) and never reloads: in the child, unwatch just
 * releases the copy's descriptors and memory and returns 0 at once.  The
 * parent's watch goes on.  (Grace periods in such a child: see
 * snapmap_atfork().)
 *
 * Must NOT be called inside a read-side critical section.  Calling
 * threads are NOT required to be registered RCU threads; an online qsbr
 * caller is put offline while it waits for the watcher.  A map refuses
 * snapmap_destroy() (-EBUSY) while it has watches.
 */
SNAPMAP_API
int snapmap_unwatch(struct snapmap_watch *watch);

#ifdef __cplusplus
}
#endif

#endif /* SNAPMAP_H */

/*
 * write.c - the writer mutex, publishing, and the plain writes.
 *
 * Writers serialize on map->writer_lock.  Under it they read the current
 * snapshot, build the next one (sharing untouched entries), publish it
 * with one pointer store and hand the old one to call_rcu.  A writer
 * waits for reclamation only over the reclaim limit, before it takes the
 * mutex, and only where sm_wait_enter() allows it (below).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

int sm_writer_lock_plain(struct snapmap *map)
{
	if (sm_in_update_of(map))
		return -EDEADLK;
	pthread_mutex_lock(&map->writer_lock);
	return 0;
}

/*
 * Backpressure: while retired snapshots hold more than the reclaim limit,
 * wait until the reclamation pending so far has run, before taking the
 * mutex (a grace period cannot end while an online qsbr writer waits for
 * a mutex whose holder waits for the grace period).  A writer that may
 * not wait (sm_wait_enter) goes over the limit, counted.
 */
static void reclaim_throttle(struct snapmap *map)
{
	struct sm_waiting w;

	if (map->reclaim_limit == SIZE_MAX ||
	    uatomic_read(&map->stats.reclaim_bytes) <= map->reclaim_limit)
		return;
	if (sm_wait_enter(map->flavor, &w)) {
		uatomic_inc(&map->stats.reclaim_over_limit);
		return;
	}
	uatomic_inc(&map->stats.reclaim_waits);
	sm_reclaim_wait(map);
	sm_wait_leave(map->flavor, &w);
}

int sm_writer_lock(struct snapmap *map)
{
	uint64_t asked, got;

	if (sm_in_update_of(map)) {
		SM_DEBUG_CHECK(map, false, "write to a map from inside its "
			       "own update callback");
		return -EDEADLK;
	}
	reclaim_throttle(map);
	asked = sm_now_ns();
	pthread_mutex_lock(&map->writer_lock);
	got = sm_now_ns();
	map->locked_at = got;
	uatomic_inc(&map->stats.acquisitions);
	uatomic_add(&map->stats.wait_ns, got - asked);
	return 0;
}

void sm_writer_unlock(struct snapmap *map)
{
	uatomic_add(&map->stats.hold_ns, sm_now_ns() - map->locked_at);
	pthread_mutex_unlock(&map->writer_lock);
}

struct snapmap_snapshot *sm_current_locked(struct snapmap *map)
{
	/* Only writers store map->current, under the mutex we hold: the
	 * mutex orders us after the last store, so a plain load is enough. */
	return map->current;
}

static void publish(struct snapmap *map, struct snapmap_snapshot *next)
{
	/*
	 * Release store: the snapshot's header, its entry array and every
	 * entry it points to were written before this store and are visible
	 * to any reader whose rcu_dereference() (read.c, load_current) loads
	 * the new pointer.  ThreadSanitizer does not understand liburcu
	 * 0.13's rcu_assign_pointer (a barrier plus a volatile store), so in
	 * TSan builds the same release is spelled as a C11 atomic store.
	 */
#ifdef SM_TSAN
	__atomic_store_n(&map->current, next, __ATOMIC_RELEASE);
#else
	rcu_assign_pointer(map->current, next);
#endif
}

/*
 * Makes @next (built at old version + 1, or NULL when building failed)
 * current and retires @old, which keeps what @next dropped.
 */
static int publish_next(struct snapmap *map, struct snapmap_snapshot *old,
			struct snapmap_snapshot *next,
			const struct sm_delta *delta, uint64_t *version)
{
	size_t retired;

	if (!next)	/* then @delta was not filled in */
		return -ENOMEM;
	retired = old->own_bytes + delta->dropped_bytes;
	old->retire_bytes = retired;
	sm_reclaim_link(old, next, delta->dropped);
	publish(map, next);
	/* From here on @old belongs to reclamation: do not touch it. */
	sm_retire(old);
	sm_wait_notify(map, next->version);

	uatomic_inc(&map->stats.publishes);
	uatomic_add(&map->stats.live_bytes, next->own_bytes + delta->added_bytes);
	uatomic_sub(&map->stats.live_bytes, retired);
	if (version)
		*version = next->version;
	return 0;
}

int sm_publish_locked(struct snapmap *map, const struct sm_change *changes,
		      size_t nchanges, uint64_t *version)
{
	struct snapmap_snapshot *old = sm_current_locked(map), *next;
	struct sm_delta delta;

	next = sm_layout_merge(old, changes, nchanges, old->version + 1,
			       &delta);
	return publish_next(map, old, next, &delta, version);
}

int sm_replace_all_locked(struct snapmap *map, struct sm_entry *const *entries,
			  size_t n, uint64_t *version)
{
	struct snapmap_snapshot *old = sm_current_locked(map), *next;
	struct sm_delta delta;

	next = sm_layout_build(old, entries, n, old->version + 1, &delta);
	return publish_next(map, old, next, &delta, version);
}

static void copy_out(const struct sm_copy_out *out, const struct sm_entry *e)
{
	if (!out || !e)
		return;
	if (out->buf && out->size)
		memcpy(out->buf, sm_entry_val(e),
		       e->vlen < out->size ? e->vlen : out->size);
	if (out->len)
		*out->len = e->vlen;
}

int sm_write_one(struct snapmap *map, enum sm_op_kind kind,
		 const void *key, size_t klen, const void *val, size_t vlen,
		 const void *expected, size_t elen,
		 const struct sm_copy_out *existing)
{
	const struct sm_entry *conflict = NULL;
	struct sm_op op;
	size_t failed;
	int rc;

	if (!map)
		return -EINVAL;
	sm_check_map(map, __func__);
	rc = sm_op_init(&op, map, kind, key, klen, val, vlen, expected, elen);
	if (rc) {
		if (sm_kind_has_value(kind))
			sm_value_refused(map, val, vlen);
		sm_count_failure(map, rc);
		return rc;
	}
	rc = sm_writer_lock(map);
	if (rc == 0) {
		rc = sm_commit_ops_locked(map, &op, 1, NULL, &failed,
					  &conflict);
		/* The conflicting entry belongs to the current snapshot, which
		 * cannot be retired while we hold the mutex. */
		if (rc == -EEXIST)
			copy_out(existing, conflict);
		sm_writer_unlock(map);
	}
	sm_op_release(map, &op, rc == 0);
	sm_count_failure(map, rc);
	return rc;
}

int snapmap_put(struct snapmap *map, const void *key, size_t klen,
		const void *val, size_t vlen)
{
	return sm_write_one(map, SM_OP_PUT, key, klen, val, vlen, NULL, 0,
			    NULL);
}

int snapmap_delete(struct snapmap *map, const void *key, size_t klen)
{
	return sm_write_one(map, SM_OP_DELETE_PRESENT, key, klen, NULL, 0,
			    NULL, 0, NULL);
}

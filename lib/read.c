/*
 * read.c - the read side.
 *
 * Readers load map->current once and do every read of one operation
 * through that pointer, never through map->current again: that single
 * load is what makes a scan see one consistent version.  Nothing here
 * takes a lock, does an atomic read-modify-write or stores to shared
 * memory, except snapmap_pin (one reference) and snapmap_get (the read
 * lock the caller asked it to take).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/*
 * Pairs with the publish in write.c: the snapshot and the entries it
 * points to were fully written before the pointer was published, and the
 * dependent loads through the pointer see them.
 */
static struct snapmap_snapshot *load_current(struct snapmap *map)
{
	return rcu_dereference(map->current);
}

/*
 * Ends every read of @snap (its header, pages, chunks and entries) for
 * ThreadSanitizer, which cannot see a grace period: the release pairs
 * with the acquire on the same snapshot in the call_rcu callback
 * (reclaim.c, sm_reclaim_cb), which runs only after the critical section
 * around this read has ended, and before anything @snap holds is freed.
 * An object held by several snapshots is freed with the last of them to
 * die, after the reads through each: callbacks run one after another in
 * the flavor's call_rcu thread, and an object passed on to an older,
 * pinned snapshot goes through reclaim_lock.
 * A pinned snapshot is read outside any critical section: there the
 * edge is the reference, released by snapmap_unpin (sm_snapshot_put).
 * What the caller reads through the pointers it was handed after the
 * last call (value bytes) is the caller's to annotate the same way.
 */
static void read_done(const struct snapmap_snapshot *snap)
{
#ifdef SM_TSAN
	__tsan_release((void *)snap);
#else
	(void)snap;
#endif
}

const struct snapmap_snapshot *snapmap_snapshot(struct snapmap *map)
{
	sm_check_map(map, __func__);
	SM_DEBUG_CHECK(map, map->flavor->read_ongoing(),
		       "called outside a read-side critical section");
	return load_current(map);
}

int snapmap_find(const struct snapmap_snapshot *snap,
		 const void *key, size_t klen,
		 const void **val, size_t *vlen)
{
	const struct sm_entry *e;

	if (!snap || (!key && klen))
		return -EINVAL;
	sm_check_read(snap, __func__);
	e = sm_layout_find(snap, key, klen);
	if (e) {
		if (val)
			*val = sm_entry_val(e);
		if (vlen)
			*vlen = e->vlen;
	}
	read_done(snap);
	return e ? 0 : -ENOENT;
}

size_t snapmap_count(const struct snapmap_snapshot *snap)
{
	size_t count;

	if (!snap)
		return 0;
	sm_check_read(snap, __func__);
	count = snap->count;
	read_done(snap);
	return count;
}

uint64_t snapmap_version(const struct snapmap_snapshot *snap)
{
	uint64_t version;

	if (!snap)
		return 0;
	sm_check_read(snap, __func__);
	version = snap->version;
	read_done(snap);
	return version;
}

/* Iterator state: priv[0] the snapshot, priv[1..3] the cursor. */
static void iter_store(struct snapmap_iter *it, const struct sm_cursor *cur)
{
	it->priv[1] = cur->page;
	it->priv[2] = cur->slot;
	it->priv[3] = cur->index;
}

static void iter_cursor(const struct snapmap_iter *it, struct sm_cursor *cur)
{
	cur->page = it->priv[1];
	cur->slot = it->priv[2];
	cur->index = it->priv[3];
}

/* Positions @it on @cur of @snap; @e is the entry there.  Ends the read. */
static int iter_set(struct snapmap_iter *it, const struct snapmap_snapshot *snap,
		    const struct sm_cursor *cur, const struct sm_entry *e,
		    struct snapmap_kv *kv)
{
	it->priv[0] = (uintptr_t)snap;
	iter_store(it, cur);
	if (e)
		*kv = sm_entry_kv(e);
	read_done(snap);
	return e ? 0 : -ENOENT;
}

int snapmap_iter_first(const struct snapmap_snapshot *snap,
		       struct snapmap_iter *it, struct snapmap_kv *kv)
{
	struct sm_cursor cur;

	if (!snap || !it || !kv)
		return -EINVAL;
	sm_check_read(snap, __func__);
	sm_layout_first(snap, &cur);
	return iter_set(it, snap, &cur, sm_layout_at(snap, &cur), kv);
}

int snapmap_iter_seek(const struct snapmap_snapshot *snap,
		      struct snapmap_iter *it, const void *key, size_t klen,
		      struct snapmap_kv *kv)
{
	struct sm_cursor cur;

	if (!snap || !it || !kv || (!key && klen))
		return -EINVAL;
	sm_check_read(snap, __func__);
	sm_layout_seek(snap, key, klen, &cur);
	return iter_set(it, snap, &cur, sm_layout_at(snap, &cur), kv);
}

int snapmap_iter_next(struct snapmap_iter *it, struct snapmap_kv *kv)
{
	const struct snapmap_snapshot *snap;
	struct sm_cursor cur;

	if (!it || !kv || !it->priv[0])
		return -EINVAL;
	snap = (const struct snapmap_snapshot *)it->priv[0];
	sm_check_read(snap, __func__);
	iter_cursor(it, &cur);
	return iter_set(it, snap, &cur, sm_layout_next(snap, &cur), kv);
}

int snapmap_iter_next_n(struct snapmap_iter *it, struct snapmap_kv *kv,
			size_t max, size_t *n)
{
	const struct snapmap_snapshot *snap;
	struct sm_cursor cur;

	if (n)
		*n = 0;
	if (!it || !kv || !n || !max || !it->priv[0])
		return -EINVAL;
	snap = (const struct snapmap_snapshot *)it->priv[0];
	sm_check_read(snap, __func__);
	iter_cursor(it, &cur);
	*n = sm_layout_next_n(snap, &cur, kv, max);
	iter_store(it, &cur);
	read_done(snap);
	return *n ? 0 : -ENOENT;
}

int snapmap_get(struct snapmap *map, const void *key, size_t klen,
		void *buf, size_t bufsize, size_t *vlen)
{
	const struct snapmap_snapshot *snap;
	const void *val;
	size_t len;
	int rc;

	if (!map || (!buf && bufsize))
		return -EINVAL;
	sm_check_map(map, __func__);
	map->flavor->read_lock();
	snap = load_current(map);
	rc = snapmap_find(snap, key, klen, &val, &len);
	if (rc == 0) {
		if (vlen)
			*vlen = len;
		if (len > bufsize)
			rc = -ERANGE;
		else if (len)
			memcpy(buf, val, len);
	}
	read_done(snap);	/* the copy, too */
	map->flavor->read_unlock();
	return rc;
}

const struct snapmap_snapshot *snapmap_pin(struct snapmap *map)
{
	struct snapmap_snapshot *snap;

	if (!map) {
		errno = EINVAL;
		return NULL;
	}
	sm_check_map(map, __func__);
	map->flavor->read_lock();
	snap = load_current(map);
	/*
	 * The map's own reference is dropped only by the call_rcu callback,
	 * after a grace period, so it cannot reach zero while we are inside
	 * this critical section: taking another reference is safe.
	 */
	sm_snapshot_get(snap);
#ifdef SNAPMAP_DEBUG
	uatomic_inc(&snap->pins);
#endif
	map->flavor->read_unlock();
	uatomic_inc(&map->pins);
	return snap;
}

void snapmap_unpin(const struct snapmap_snapshot *csnap)
{
	struct snapmap_snapshot *snap = (struct snapmap_snapshot *)csnap;
	struct snapmap *map;

	if (!snap)
		return;
	map = snap->map;
	sm_check_map(map, __func__);
#ifdef SNAPMAP_DEBUG
	SM_DEBUG_CHECK(map, uatomic_read(&snap->pins) > 0,
		       "snapshot unpinned more often than pinned");
	uatomic_dec(&snap->pins);
#endif
	sm_snapshot_put(snap);
	/* Pairs with the barrier in snapmap_destroy(): our use of the map
	 * (the release above) happens before it sees the count drop. */
	cmm_smp_mb__before_uatomic_dec();
	uatomic_dec(&map->pins);
}

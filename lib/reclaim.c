/*
 * reclaim.c - deferred reclamation.
 *
 * A snapshot's reference count holds one reference for the map, dropped
 * by the call_rcu callback once a grace period has passed since the
 * snapshot stopped being current (so no reader can still hold it from
 * snapmap_snapshot()), plus one per pin.  When it reaches zero the
 * snapshot dies.
 *
 * Chunks and entries are shared by consecutive versions, so they are not
 * freed with a snapshot.  Each publish hands the old snapshot what the new
 * one dropped; a retired object always sits with the newest live snapshot
 * that holds it.  When a snapshot dies, each of its objects moves to the
 * next older live snapshot if that one holds it too (a pinned old
 * version), and is freed otherwise.  Since an object is held by one
 * unbroken range of versions, no other live snapshot can hold it then.
 * Without pins, snapshots die oldest first and every object is freed by
 * the death of the last version that held it: no reference counting per
 * entry on the write path.
 *
 * Live snapshots form a list in version order, under map->reclaim_lock.
 */
#include "internal.h"

void sm_reclaim_link(struct snapmap_snapshot *old, struct snapmap_snapshot *next,
		     struct sm_dropblock *dropped)
{
	struct snapmap *map = old->map;

	pthread_mutex_lock(&map->reclaim_lock);
	next->older = old;
	next->newer = NULL;
	old->newer = next;
	if (dropped) {
		dropped->next = old->dropped;
		old->dropped = dropped;
	}
	pthread_mutex_unlock(&map->reclaim_lock);
}

/*
 * Passes on to the next older live snapshot what it still holds, and
 * unlinks @snap.  Blocks none of whose objects is held any more go to
 * *@unheld, to be freed after the lock is dropped (freeing a big
 * snapshot's objects, and running value destructors, must not hold up
 * publishers, who take the lock).  Call with reclaim_lock held.
 */
static void pass_on(struct snapmap_snapshot *snap,
		    struct sm_dropblock **unheld)
{
	struct snapmap_snapshot *older = snap->older;
	struct sm_dropblock *block;

	while ((block = snap->dropped) != NULL) {
		size_t kept = 0;

		snap->dropped = block->next;
		for (size_t i = 0; older && i < block->n; i++)
			if (sm_layout_holds(older, block->items[i]))
				kept++;
		if (!kept) {
			block->next = *unheld;
			*unheld = block;
			continue;
		}
		/* An older snapshot is pinned: keep what it holds in the
		 * block, which moves to it; free the rest now (rare). */
		kept = 0;
		for (size_t i = 0; i < block->n; i++) {
			uintptr_t item = block->items[i];

			if (sm_layout_holds(older, item))
				block->items[kept++] = item;
			else
				sm_reclaim_free_item(snap->map, item);
		}
		block->n = kept;
		block->next = older->dropped;
		older->dropped = block;
	}
	if (older)
		older->newer = snap->newer;
	if (snap->newer)
		snap->newer->older = older;
}

static void free_unheld(struct snapmap *map, struct sm_dropblock *block)
{
	while (block) {
		struct sm_dropblock *next = block->next;

		for (size_t i = 0; i < block->n; i++)
			sm_reclaim_free_item(map, block->items[i]);
		sm_free(block);
		block = next;
	}
}

static void snapshot_release(struct urcu_ref *ref)
{
	struct snapmap_snapshot *snap =
		caa_container_of(ref, struct snapmap_snapshot, ref);
	struct snapmap *map = snap->map;
	struct sm_dropblock *unheld = NULL;
	bool last;

#ifdef SM_TSAN
	/* See sm_snapshot_put(). */
	__tsan_acquire(&snap->ref);
#endif
	pthread_mutex_lock(&map->reclaim_lock);
	last = !snap->newer;
	pass_on(snap, &unheld);
	pthread_mutex_unlock(&map->reclaim_lock);
	/* No live snapshot holds these: nobody else can reach them. */
	free_unheld(map, unheld);
	/* The last snapshot of a destroyed map holds everything, and every
	 * older snapshot is gone (snapmap_destroy). */
	if (last)
		sm_reclaim_free_all(snap);
	sm_layout_free(snap);
}

void sm_snapshot_get(struct snapmap_snapshot *snap)
{
	urcu_ref_get(&snap->ref);
}

void sm_snapshot_put(struct snapmap_snapshot *snap)
{
#ifdef SM_TSAN
	/*
	 * urcu_ref_put's atomic (a full barrier) is inline asm that
	 * ThreadSanitizer cannot see: tell it that each put releases and
	 * that the last one acquires before freeing.
	 */
	__tsan_release(&snap->ref);
#endif
	urcu_ref_put(&snap->ref, snapshot_release);
}

/*
 * Runs in the flavor's call_rcu thread after a grace period: every reader
 * that could have loaded this snapshot from map->current has left its
 * read-side critical section.
 */
static void sm_reclaim_cb(struct rcu_head *head)
{
	struct snapmap_snapshot *snap =
		caa_container_of(head, struct snapmap_snapshot, rcu);

#ifdef SM_TSAN
	/*
	 * The grace period and the call_rcu queue, for ThreadSanitizer:
	 * pairs with the release in sm_retire() (the writer's use of the
	 * snapshot) and with the release ending each read of it (read.c,
	 * read_done), all of which happened before the grace period ended.
	 */
	__tsan_acquire(snap);
#endif
	/* The grace period is over: only pins can keep it now. */
	uatomic_sub(&snap->map->stats.reclaim_bytes, snap->retire_bytes);
	uatomic_dec(&snap->map->stats.reclaim_snapshots);
	sm_snapshot_put(snap);
}

void sm_retire(struct snapmap_snapshot *snap)
{
	const struct rcu_flavor_struct *flavor = snap->map->flavor;

	uatomic_add(&snap->map->stats.reclaim_bytes, snap->retire_bytes);
	uatomic_inc(&snap->map->stats.reclaim_snapshots);

#ifdef SM_TSAN
	/*
	 * call_rcu hands the snapshot to the call_rcu thread through
	 * liburcu's wait-free queue, whose ordering ThreadSanitizer cannot
	 * see: everything written to the snapshot before this call happens
	 * before the callback (sm_reclaim_cb acquires).
	 */
	__tsan_release(snap);
#endif
	/*
	 * Pairs with the readers' rcu_read_unlock: the callback runs only
	 * after every critical section that began before this call ended.
	 */
	flavor->update_call_rcu(&snap->rcu, sm_reclaim_cb);
}

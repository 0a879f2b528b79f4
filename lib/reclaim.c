/*
 * reclaim.c - deferred reclamation of retired snapshots.
 *
 * A snapshot's reference count holds one reference for the map, dropped
 * by the call_rcu callback once a grace period has passed since the
 * snapshot stopped being current (so no reader can still hold it from
 * snapmap_snapshot()), plus one per pin.  The last reference frees the
 * snapshot and drops its entry references.
 */
#include "internal.h"

static void snapshot_release(struct urcu_ref *ref)
{
	struct snapmap_snapshot *snap =
		caa_container_of(ref, struct snapmap_snapshot, ref);

#ifdef SM_TSAN
	/* See sm_snapshot_put(). */
	__tsan_acquire(&snap->ref);
#endif
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
	sm_snapshot_put(caa_container_of(head, struct snapmap_snapshot, rcu));
}

void sm_retire(struct snapmap_snapshot *snap)
{
	/*
	 * Pairs with the readers' rcu_read_unlock: the callback runs only
	 * after every critical section that began before this call ended.
	 */
	snap->map->flavor->update_call_rcu(&snap->rcu, sm_reclaim_cb);
}

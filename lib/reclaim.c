/*
 * reclaim.c - deferred reclamation.
 *
 * A snapshot's reference count holds one reference for the map, dropped
 * by the call_rcu callback once a grace period has passed since the
 * snapshot stopped being current (so no reader can still hold it from
 * snapmap_snapshot()), plus one per pin.  When it reaches zero the
 * snapshot dies.  The chunks and pages it shares with other versions are
 * not freed with it: they are retired objects (retire.c), kept with the
 * newest live snapshot that holds them.
 *
 * Live snapshots form a list in version order, under map->reclaim_lock.
 *
 * The library never calls rcu_barrier(): it counts its own callbacks
 * (retired, reclaimed) and waits for them on a condition variable.  That
 * wait allocates nothing (rcu_barrier aborts the process when it cannot
 * allocate), and waits for this map's reclamation only.
 */
#include "internal.h"

#include <errno.h>

void sm_reclaim_link(struct snapmap_snapshot *old, struct snapmap_snapshot *next,
		     struct sm_dropblock *dropped)
{
	struct snapmap *map = old->map;

	pthread_mutex_lock(&map->reclaim_lock);
	map->retired++;		/* @old goes to call_rcu next */
	next->older = old;
	next->newer = NULL;
	old->newer = next;
	if (dropped) {
		dropped->next = old->dropped;
		old->dropped = dropped;
	}
	pthread_mutex_unlock(&map->reclaim_lock);
}

/* Takes @snap out of the live list.  Call with reclaim_lock held. */
static void live_unlink(struct snapmap_snapshot *snap)
{
	struct snapmap_snapshot *older = snap->older;

	if (older)
		older->newer = snap->newer;
	if (snap->newer)
		snap->newer->older = older;
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
	last = snap == map->last_snapshot;
	sm_retired_pass_on(snap, &unheld);
	live_unlink(snap);
	pthread_mutex_unlock(&map->reclaim_lock);
	/* No live snapshot holds these: nobody else can reach them. */
	sm_retired_free(map, unheld);
	/* The last snapshot of a destroyed map holds everything, and every
	 * older snapshot is gone (sm_reclaim_cb releases it last). */
	if (last)
		sm_retired_free_all(snap);
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
 * After each of this map's callbacks: counts it, wakes waiters, and
 * releases the last snapshot of a destroyed map once it is the only one
 * left.  Frees the map when its destroy did not wait for this.
 */
static void reclaim_done(struct snapmap *map)
{
	struct snapmap_snapshot *last = NULL;
	bool free_map;

	pthread_mutex_lock(&map->reclaim_lock);
	map->reclaimed++;
	if (map->last_ready && map->reclaimed + 1 == map->retired) {
		map->last_ready = false;
		last = map->last_snapshot;
	}
	if (map->reclaim_waiters)
		pthread_cond_broadcast(&map->reclaim_cond);
	free_map = map->teardown == SM_TEARDOWN_DEFERRED &&
		   map->reclaimed == map->retired;
	pthread_mutex_unlock(&map->reclaim_lock);
	/* A waiting snapmap_destroy() may free the map from here on. */
	if (last) {
		sm_snapshot_put(last);
		reclaim_done(map);
	} else if (free_map) {
		sm_map_free(map);
	}
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
	struct snapmap *map;
	bool wait_for_older;

	sm_mark_call_rcu_worker();
#ifdef SM_TSAN
	/*
	 * The grace period and the call_rcu queue, for ThreadSanitizer:
	 * pairs with the release in sm_retire() (the writer's use of the
	 * snapshot) and with the release ending each read of it (read.c,
	 * read_done), all of which happened before the grace period ended.
	 */
	__tsan_acquire(snap);
#endif
	/* Not before the acquire: TSan would see the read race the write. */
	map = snap->map;
	/* The grace period is over: only pins can keep it now. */
	uatomic_sub(&map->stats.reclaim_bytes, snap->retire_bytes);
	uatomic_dec(&map->stats.reclaim_snapshots);
	/*
	 * The last snapshot of a destroyed map frees everything it holds,
	 * so it must die after every older one: their callbacks may run on
	 * other call_rcu workers, in any order.  The last of them releases
	 * it (reclaim_done).
	 */
	pthread_mutex_lock(&map->reclaim_lock);
	wait_for_older = snap == map->last_snapshot &&
			 map->reclaimed + 1 != map->retired;
	if (wait_for_older)
		map->last_ready = true;
	pthread_mutex_unlock(&map->reclaim_lock);
	if (wait_for_older)
		return;
	sm_snapshot_put(snap);
	reclaim_done(map);
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

int sm_reclaim_init(struct snapmap *map)
{
	return sm_lock_cond_init(&map->reclaim_lock, &map->reclaim_cond);
}

void sm_reclaim_fini(struct snapmap *map)
{
	sm_lock_cond_fini(&map->reclaim_lock, &map->reclaim_cond);
}

/*
 * Waits until every snapshot retired before the call has been reclaimed
 * (its callback ran).  Callbacks may run out of order on several call_rcu
 * workers: the count reaches the target no later than the last of those
 * snapshots is reclaimed.
 */
void sm_reclaim_wait(struct snapmap *map)
{
	unsigned long target;

	pthread_mutex_lock(&map->reclaim_lock);
	target = map->retired;
	map->reclaim_waiters++;
	while ((long)(map->reclaimed - target) < 0)
		pthread_cond_wait(&map->reclaim_cond, &map->reclaim_lock);
	map->reclaim_waiters--;
	pthread_mutex_unlock(&map->reclaim_lock);
}

void sm_reclaim_teardown(struct snapmap *map, bool wait)
{
	struct snapmap_snapshot *last = map->current;

	map->current = NULL;
	pthread_mutex_lock(&map->reclaim_lock);
	map->teardown = wait ? SM_TEARDOWN_WAITING : SM_TEARDOWN_DEFERRED;
	map->last_snapshot = last;
	map->retired++;
	pthread_mutex_unlock(&map->reclaim_lock);
	last->retire_bytes = 0;
	/*
	 * A reader that has just left its critical section is separated
	 * from the snapshot's free only by the grace period.  Without
	 * @wait, the map may be gone as soon as this returns.
	 */
	sm_retire(last);
}

/*
 * liburcu creates a flavor's call_rcu worker at the first call_rcu and
 * aborts the process (urcu_die) when pthread_create fails, which would be
 * the first publish of a map.  So a map's creation checks that a thread
 * can be created and then makes liburcu create the worker, with a
 * callback of its own.  Once per flavor (the worker is never destroyed;
 * after a fork, see snapmap_atfork() in the header); past
 * PREPARED_FLAVORS flavors, only the check is made.
 */
#define PREPARED_FLAVORS	8

static pthread_mutex_t prepare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prepared_flavor {
	const struct rcu_flavor_struct *flavor;
	struct rcu_head head;		/* queued once, never reused */
} prepared[PREPARED_FLAVORS];

static void *probe_thread(void *arg)
{
	return arg;
}

static void probe_cb(struct rcu_head *head)
{
	(void)head;
	sm_mark_call_rcu_worker();
}

int sm_reclaim_prepare(const struct rcu_flavor_struct *flavor)
{
	pthread_t probe;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&prepare_lock);
	for (i = 0; i < PREPARED_FLAVORS && prepared[i].flavor; i++)
		if (prepared[i].flavor == flavor)
			goto out;
	rc = -pthread_create(&probe, NULL, probe_thread, NULL);
	if (rc)
		goto out;
	pthread_join(probe, NULL);
	if (i < PREPARED_FLAVORS) {
		prepared[i].flavor = flavor;
		/* call_rcu takes the read lock around its choice of worker,
		 * which is harmless on a thread that is not registered. */
		flavor->update_call_rcu(&prepared[i].head, probe_cb);
	}
out:
	pthread_mutex_unlock(&prepare_lock);
	return rc;
}

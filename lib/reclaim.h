/*
 * reclaim.h - deferred reclamation of retired snapshots (reclaim.c):
 * the live-snapshot list a publish links the new snapshot into, handing
 * the old one to call_rcu, the references pins hold, waiting for this
 * map's callbacks, and a destroyed map's teardown.
 */
#ifndef SNAPMAP_RECLAIM_H
#define SNAPMAP_RECLAIM_H

#include <stdbool.h>

#include "snapmap.h"
#include "retire.h"
#include "snapshot.h"

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
void sm_snapshot_get(struct snapmap_snapshot *snap);
void sm_snapshot_put(struct snapmap_snapshot *snap);

#endif /* SNAPMAP_RECLAIM_H */

/*
 * map.h - struct snapmap, which map.c creates and destroys: the part
 * every reader touches, kept off the cache lines of the writer's,
 * reclamation's and waiters' parts; and the map's key order.
 */
#ifndef SNAPMAP_MAP_H
#define SNAPMAP_MAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/compiler.h>

#include "snapmap.h"
#include "snapshot.h"
#include "stats.h"

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

/* Frees a destroyed map whose snapshots are all reclaimed (map.c). */
void sm_map_free(struct snapmap *map);

#endif /* SNAPMAP_MAP_H */

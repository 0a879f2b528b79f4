/*
 * map.c - creating and destroying maps.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static int resolve_limit(size_t configured, size_t fallback, size_t *out)
{
	if (configured > SNAPMAP_LEN_LIMIT)
		return -EINVAL;
	*out = configured ? configured : fallback;
	return 0;
}

struct snapmap *snapmap_new_flavor(const struct snapmap_config *cfg,
				   const struct rcu_flavor_struct *flavor)
{
	static const struct snapmap_config defaults;
	struct snapmap *map;
	size_t max_key, max_value;

	int rc;

	if (!cfg)
		cfg = &defaults;
	if (!flavor ||
	    resolve_limit(cfg->max_key_len, SNAPMAP_DEFAULT_MAX_KEY_LEN,
			  &max_key) ||
	    resolve_limit(cfg->max_value_len, SNAPMAP_DEFAULT_MAX_VALUE_LEN,
			  &max_value)) {
		errno = EINVAL;
		return NULL;
	}
	rc = sm_reclaim_prepare(flavor);
	if (rc) {
		errno = -rc;
		return NULL;
	}

	map = sm_calloc(1, sizeof(*map));
	if (!map)
		goto nomem;
	map->flavor = flavor;
	map->compare = cfg->compare;
	map->compare_ctx = cfg->compare_ctx;
	map->max_key_len = max_key;
	map->max_value_len = max_value;
	map->value_destroy = cfg->value_destroy;
	map->destroy_ctx = cfg->destroy_ctx;
	map->reclaim_limit = cfg->reclaim_limit ? cfg->reclaim_limit :
			     SNAPMAP_DEFAULT_RECLAIM_LIMIT;
	map->magic = SM_MAGIC_LIVE;
	map->debug = sm_debug_enabled();
	if (pthread_mutex_init(&map->writer_lock, NULL))
		goto nomem_map;
	if (sm_reclaim_init(map))
		goto nomem_mutex;
	if (sm_wait_init(map))
		goto nomem_reclaim;
	/* Not yet shared with any thread: a plain store is enough. */
	map->current = sm_layout_empty(map, SNAPMAP_INITIAL_VERSION);
	if (!map->current)
		goto nomem_wait;
	map->stats.live_bytes = map->current->own_bytes;
	return map;

nomem_wait:
	sm_wait_fini(map);
nomem_reclaim:
	sm_reclaim_fini(map);
nomem_mutex:
	pthread_mutex_destroy(&map->writer_lock);
nomem_map:
	sm_free(map);
nomem:
	errno = ENOMEM;
	return NULL;
}

void sm_map_free(struct snapmap *map)
{
	sm_reclaim_fini(map);
	sm_scratch_free(&map->scratch);
	sm_wait_fini(map);
	pthread_mutex_destroy(&map->writer_lock);
	sm_map_bury(map);
}

int snapmap_destroy(struct snapmap *map)
{
	struct sm_waiting w;
	bool wait;

	if (!map)
		return -EINVAL;
	sm_check_map(map, __func__);
	if (sm_in_update_of(map))
		return -EDEADLK;
	if (uatomic_read(&map->pins) || uatomic_read(&map->batches) ||
	    uatomic_read(&map->watches))
		return -EBUSY;
	/*
	 * Pairs with the barrier before the decrement in snapmap_unpin(),
	 * snapmap_batch_free() and snapmap_unwatch(): whatever they did with
	 * the map happened before the counts we just read as zero, so
	 * before we free it.
	 */
	cmm_smp_mb();

	/*
	 * Inside a read-side critical section the caller can move the call
	 * out; a value destructor (a map stored in a map), a call_rcu
	 * callback or an update callback cannot, so there the map is torn
	 * down without waiting and freed by its last callback.
	 */
	wait = sm_wait_enter(map->flavor, &w) == 0;
	if (!wait && w.why == SM_NOWAIT_READ_SIDE)
		return -EDEADLK;
	/* call_rcu wants a qsbr thread online: offline only to wait. */
	sm_wait_leave(map->flavor, &w);
	map->magic = SM_MAGIC_DEAD;
	sm_reclaim_teardown(map, wait);
	if (!wait)	/* the map's last callback frees it */
		return 0;
	sm_wait_enter(map->flavor, &w);
	sm_reclaim_wait(map);
	sm_wait_leave(map->flavor, &w);
	sm_map_free(map);
	return 0;
}

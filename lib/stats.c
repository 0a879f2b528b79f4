/*
 * stats.c - snapmap_stats and the counters behind it.
 *
 * Writers and reclamation keep the counters (liburcu uatomic); readers
 * keep none, so nothing here costs the read path anything.
 */
#include "internal.h"

#include <errno.h>
#include <time.h>

uint64_t sm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The one rule for the failed_* counters: every call of a write (put,
 * delete, the compound writes, update, add_i64, batch staging and commit,
 * load, load_text) that fails on a map it was given (directly or through
 * its batch) is counted exactly once, by its errno, whatever step failed:
 * argument checks included, so the counters see every call the caller
 * sees fail.  Each entry point passes its result here once, on the way
 * out.  A call without a map (NULL map or batch) has nowhere to be
 * counted.  A load's verdict on the file it read (its syntax, checksum,
 * limits, or the open) is the file's failure, reported in struct
 * snapmap_error, not the map's: only what fails once the file is accepted
 * (publishing it) and bad arguments count.
 */
int sm_count_failure(struct snapmap *map, int rc)
{
	unsigned long *counter;

	if (!map || rc >= 0)
		return rc;
	switch (-rc) {
	case ENOMEM:
		counter = &map->stats.failed_nomem;
		break;
	case EINVAL:
	case E2BIG:
		counter = &map->stats.failed_invalid;
		break;
	case EEXIST:
	case ENOENT:
	case EAGAIN:
	case ESTALE:
	case EALREADY:
		counter = &map->stats.failed_conflict;
		break;
	case EDEADLK:
		counter = &map->stats.failed_deadlock;
		break;
	default:
		counter = &map->stats.failed_other;
		break;
	}
	uatomic_inc(counter);
	return rc;
}

int snapmap_stats(struct snapmap *map, struct snapmap_stats *st)
{
	const struct sm_counters *c;
	struct snapmap_snapshot *cur;
	int rc;

	if (!map || !st)
		return -EINVAL;
	sm_check_map(map, __func__);
	/* The mutex (not sm_writer_lock: this is no write) keeps the
	 * current snapshot from being retired while we look at it. */
	rc = sm_writer_lock_plain(map);
	if (rc)
		return rc;
	cur = sm_current_locked(map);
	c = &map->stats;
	*st = (struct snapmap_stats){
		.version = cur->version,
		.entries = cur->count,
		.live_bytes = uatomic_read(&c->live_bytes),
		.reclaim_snapshots = uatomic_read(&c->reclaim_snapshots),
		.reclaim_bytes = uatomic_read(&c->reclaim_bytes),
		.pinned_snapshots = (uint64_t)uatomic_read(&map->pins),
		.publishes = uatomic_read(&c->publishes),
		.failed_nomem = uatomic_read(&c->failed_nomem),
		.failed_invalid = uatomic_read(&c->failed_invalid),
		.failed_conflict = uatomic_read(&c->failed_conflict),
		.failed_deadlock = uatomic_read(&c->failed_deadlock),
		.failed_other = uatomic_read(&c->failed_other),
		.reclaim_waits = uatomic_read(&c->reclaim_waits),
		.reclaim_over_limit = uatomic_read(&c->reclaim_over_limit),
		.writer_acquisitions = uatomic_read(&c->acquisitions),
		.writer_wait_ns = uatomic_read(&c->wait_ns),
		.writer_hold_ns = uatomic_read(&c->hold_ns),
	};
	pthread_mutex_unlock(&map->writer_lock);
	return 0;
}

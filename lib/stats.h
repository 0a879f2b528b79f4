/*
 * stats.h - the counters behind snapmap_stats() (stats.c), kept by
 * writers and by reclamation, never by readers; the one rule that counts
 * a failed write; and the monotonic clock of the writer-mutex profile.
 */
#ifndef SNAPMAP_STATS_H
#define SNAPMAP_STATS_H

#include <stdint.h>

#include "snapmap.h"

/* Counters behind snapmap_stats(), updated with uatomic by writers and
 * by reclamation; readers keep none. */
struct sm_counters {
	unsigned long publishes;
	unsigned long live_bytes;
	unsigned long reclaim_snapshots;
	unsigned long reclaim_bytes;
	unsigned long failed_nomem;
	unsigned long failed_invalid;
	unsigned long failed_conflict;
	unsigned long failed_deadlock;
	unsigned long failed_other;
	unsigned long reclaim_waits;
	unsigned long reclaim_over_limit;
	unsigned long acquisitions;
	unsigned long wait_ns;
	unsigned long hold_ns;
};

/* Counts a failed write by its cause (the rule: stats.c); returns @rc. */
int sm_count_failure(struct snapmap *map, int rc);
uint64_t sm_now_ns(void);

#endif /* SNAPMAP_STATS_H */

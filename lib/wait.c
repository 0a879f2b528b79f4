/*
 * wait.c - waiting for the map to move past a version.
 *
 * Publishers record each version under wait_lock and wake waiters; a
 * waiter sleeps on a condition variable, so nobody spins.  The lock costs
 * a publish one uncontended mutex round trip; it keeps the version a
 * plain field that needs no atomics and no read-side critical section.
 */
#include "internal.h"

#include <errno.h>
#include <time.h>

int sm_lock_cond_init(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_mutex_init(lock, NULL))
		return -ENOMEM;
	rc = pthread_condattr_init(&attr);
	if (!rc) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!rc)
			rc = pthread_cond_init(cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc) {
		pthread_mutex_destroy(lock);
		return -ENOMEM;
	}
	return 0;
}

void sm_lock_cond_fini(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_cond_destroy(cond);
	pthread_mutex_destroy(lock);
}

int sm_wait_init(struct snapmap *map)
{
	int rc = sm_lock_cond_init(&map->wait_lock, &map->wait_cond);

	if (rc)
		return rc;
	map->published = SNAPMAP_INITIAL_VERSION;
	map->waiters = 0;
	return 0;
}

void sm_wait_fini(struct snapmap *map)
{
	sm_lock_cond_fini(&map->wait_lock, &map->wait_cond);
}

void sm_wait_notify(struct snapmap *map, uint64_t version)
{
	pthread_mutex_lock(&map->wait_lock);
	map->published = version;
	if (map->waiters)
		pthread_cond_broadcast(&map->wait_cond);
	pthread_mutex_unlock(&map->wait_lock);
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int snapmap_wait_version(struct snapmap *map, uint64_t after, int timeout_ms,
			 uint64_t *version)
{
	struct timespec deadline;
	struct sm_waiting w;
	int rc = 0;

	if (!map)
		return -EINVAL;
	sm_check_map(map, __func__);
	/* A check that does not sleep may be made anywhere. */
	w = (struct sm_waiting){ .offline = false };
	if (timeout_ms != 0) {
		rc = sm_wait_enter(map->flavor, &w);
		if (rc)
			return rc;
	}
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);

	pthread_mutex_lock(&map->wait_lock);
	map->waiters++;
	while (map->published <= after && rc == 0) {
		if (timeout_ms == 0)
			rc = ETIMEDOUT;
		else if (timeout_ms < 0)
			rc = pthread_cond_wait(&map->wait_cond, &map->wait_lock);
		else
			rc = pthread_cond_timedwait(&map->wait_cond,
						    &map->wait_lock, &deadline);
	}
	map->waiters--;
	if (version)
		*version = map->published;
	if (map->published > after)
		rc = 0;
	pthread_mutex_unlock(&map->wait_lock);

	sm_wait_leave(map->flavor, &w);
	return -rc;
}

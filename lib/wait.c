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

int sm_wait_init(struct snapmap *map)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_mutex_init(&map->wait_lock, NULL))
		return -ENOMEM;
	rc = pthread_condattr_init(&attr);
	if (!rc) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!rc)
			rc = pthread_cond_init(&map->wait_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc) {
		pthread_mutex_destroy(&map->wait_lock);
		return -ENOMEM;
	}
	map->published = SNAPMAP_INITIAL_VERSION;
	map->waiters = 0;
	return 0;
}

void sm_wait_fini(struct snapmap *map)
{
	pthread_cond_destroy(&map->wait_cond);
	pthread_mutex_destroy(&map->wait_lock);
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

/*
 * Whether the calling thread is inside a read-side critical section it
 * may not sleep in.  read_ongoing() alone cannot tell: under qsbr it means
 * "online".  Going offline is a no-op for every flavor but qsbr, so if
 * read_ongoing() still holds after thread_offline(), the thread really is
 * inside rcu_read_lock().  Returns whether the thread was put offline.
 */
int sm_offline_for_wait(const struct rcu_flavor_struct *flavor, bool *offline)
{
	*offline = false;
	if (!flavor->read_ongoing())
		return 0;
	flavor->thread_offline();
	if (flavor->read_ongoing())
		return -EDEADLK;
	*offline = true;
	return 0;
}

int snapmap_wait_version(struct snapmap *map, uint64_t after, int timeout_ms,
			 uint64_t *version)
{
	struct timespec deadline;
	bool offline;
	int rc;

	if (!map)
		return -EINVAL;
	sm_check_map(map, __func__);
	/* Inside an update callback of @map, no publish can come. */
	if (sm_in_update_of(map))
		return -EDEADLK;
	rc = sm_offline_for_wait(map->flavor, &offline);
	if (rc)
		return rc;
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

	if (offline)
		map->flavor->thread_online();
	return -rc;
}

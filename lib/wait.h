/*
 * wait.h - waiting for a version (wait.c): what a publish tells the
 * waiters of snapmap_wait_version(), and the mutex and CLOCK_MONOTONIC
 * condition variable pairs that this wait and reclamation's sleep on.
 */
#ifndef SNAPMAP_WAIT_H
#define SNAPMAP_WAIT_H

#include <pthread.h>
#include <stdint.h>

#include "snapmap.h"

/* A mutex and a CLOCK_MONOTONIC condition variable: 0 or -ENOMEM. */
int sm_lock_cond_init(pthread_mutex_t *lock, pthread_cond_t *cond);
void sm_lock_cond_fini(pthread_mutex_t *lock, pthread_cond_t *cond);
int sm_wait_init(struct snapmap *map);
void sm_wait_fini(struct snapmap *map);
/* Called by the publisher after each publish of @version. */
void sm_wait_notify(struct snapmap *map, uint64_t version);

#endif /* SNAPMAP_WAIT_H */

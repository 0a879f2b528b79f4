/*
 * tsan.h - ThreadSanitizer in the tests that use threads (the stress
 * tests and the soak).
 *
 * ST_TSAN is defined in ThreadSanitizer builds.
 *
 * st_tsan_read_done(snap) - call after this thread's last read of bytes
 * of @snap (a value read through the pointer snapmap_find handed out),
 * before rcu_read_unlock.  TSan cannot see a grace period, so it cannot
 * see that the reads in a read-side critical section happen before the
 * call_rcu callback that frees what the snapshot held.  The library ends
 * each of its own reads with a release on the snapshot (lib/read.c,
 * read_done) that pairs with the acquire on the same snapshot in that
 * callback (lib/reclaim.c, sm_reclaim_cb); reads the caller makes after
 * the library's last call need this release on the same address.
 */
#ifndef SNAPMAP_TESTS_STRESS_TSAN_H
#define SNAPMAP_TESTS_STRESS_TSAN_H

#include "snapmap.h"

/* gcc spells it __SANITIZE_THREAD__. */
#if defined(__SANITIZE_THREAD__)
# define ST_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define ST_TSAN 1
# endif
#endif

#ifdef ST_TSAN
# include <sanitizer/tsan_interface.h>
#endif

static inline void st_tsan_read_done(const struct snapmap_snapshot *snap)
{
#ifdef ST_TSAN
	__tsan_release((void *)snap);
#else
	(void)snap;
#endif
}

#endif /* SNAPMAP_TESTS_STRESS_TSAN_H */

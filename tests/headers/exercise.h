/*
 * exercise.h - what each header-pattern program does once its includes
 * are in place: check that the map it was given works with the flavor it
 * was given (register, write, read inside a read-side critical section,
 * destroy).  Included by every pattern after <snapmap.h> and the flavor
 * headers, so it uses nothing but the flavor struct: the pattern decides
 * which names exist.  Must stay valid C99, C11 and C++11.
 */
#include <stdio.h>
#include <string.h>

static int exercise(struct snapmap *map,
		    const struct rcu_flavor_struct *flavor)
{
	const struct snapmap_snapshot *snap;
	const void *val = NULL;
	size_t vlen = 0;
	int ok, rc, destroyed;

	if (!map) {
		perror("snapmap_new");
		return 1;
	}
	flavor->register_thread();
	rc = snapmap_put(map, "key", 3, "value", 5);
	flavor->read_lock();
	snap = snapmap_snapshot(map);
	ok = rc == 0 && snapmap_find(snap, "key", 3, &val, &vlen) == 0 &&
	     vlen == 5 && memcmp(val, "value", 5) == 0;
	flavor->read_unlock();
	destroyed = snapmap_destroy(map);
	flavor->unregister_thread();
	if (!ok)
		fprintf(stderr, "put/find through the flavor failed (put: %d)\n",
			rc);
	if (destroyed)
		fprintf(stderr, "snapmap_destroy: %d\n", destroyed);
	return ok && destroyed == 0 ? 0 : 1;
}

/*
 * generic.c - a header that maps the generic names (URCU_API_MAP),
 * MAP_HEADER: <urcu.h> (memb, or mb with RCU_MB), <urcu-qsbr.h> or
 * <urcu-bp.h>, set by check.sh.  Before <snapmap.h>, snapmap_new() binds
 * to it and the generic names still work after <snapmap.h>; after it
 * (SNAPMAP_FIRST), snapmap_new() does not exist and &rcu_flavor is passed
 * explicitly.
 */
#ifdef SNAPMAP_FIRST
#include <snapmap.h>
#include MAP_HEADER
#else
#include MAP_HEADER
#include <snapmap.h>
#endif

#include "exercise.h"

int main(void)
{
#ifdef SNAPMAP_FIRST
	struct snapmap *map = snapmap_new_flavor(NULL, &rcu_flavor);
#else
	struct snapmap *map = snapmap_new(NULL);
#endif

	/* The generic names, which <snapmap.h> must leave alone. */
	rcu_register_thread();
	rcu_read_lock();
	rcu_read_unlock();
	rcu_unregister_thread();
	return exercise(map, &rcu_flavor);
}

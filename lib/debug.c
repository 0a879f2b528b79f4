/*
 * debug.c - the --enable-debug checks.
 *
 * In a debug build every map checks that it is used as documented and
 * aborts with a message when it is not; in other builds these functions
 * check nothing (the calls compile to empty functions the compiler can
 * drop).  SNAPMAP_DEBUG=0 in the environment at map creation turns the
 * checks off for that map, so that a debug build can also run tests of
 * the release behaviour (an update callback writing to its own map gets
 * -EDEADLK there).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SNAPMAP_DEBUG

void sm_debug_fail(const char *what, const char *func)
{
	fprintf(stderr, "libsnapmap: %s: %s\n", func, what);
	abort();
}

bool sm_debug_enabled(void)
{
	const char *env = getenv("SNAPMAP_DEBUG");

	return !(env && strcmp(env, "0") == 0);
}

void sm_check_map(const struct snapmap *map, const char *func)
{
	if (map && map->magic != SM_MAGIC_LIVE)
		sm_debug_fail(map->magic == SM_MAGIC_DEAD ?
			      "map used after snapmap_destroy" :
			      "not a snapmap (corrupt or never created)", func);
}

void sm_check_read(const struct snapmap_snapshot *snap, const char *func)
{
	const struct snapmap *map;

	if (!snap)
		return;
	map = snap->map;
	sm_check_map(map, func);
	if (map->debug && !map->flavor->read_ongoing() &&
	    uatomic_read(&snap->pins) == 0)
		sm_debug_fail("snapshot read outside a read-side critical "
			      "section and not pinned", func);
}

/*
 * A destroyed map stays allocated, poisoned, until the process exits, so
 * that a later use is a well-defined check rather than a read of freed
 * memory.  (Debug builds only; freed at exit, before LeakSanitizer looks.)
 */
static struct snapmap **graveyard;
static size_t graves, grave_cap;
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;

static void empty_graveyard(void)
{
	for (size_t i = 0; i < graves; i++)
		sm_free(graveyard[i]);
	sm_free(graveyard);
	graveyard = NULL;
	graves = grave_cap = 0;
}

void sm_map_bury(struct snapmap *map)
{
	bool keep = map->debug;

	map->magic = SM_MAGIC_DEAD;
	if (keep) {
		pthread_mutex_lock(&graveyard_lock);
		if (graves == grave_cap) {
			size_t cap = grave_cap ? 2 * grave_cap : 16;
			struct snapmap **grown = sm_alloc(cap * sizeof(*grown));

			if (grown) {
				if (graves)
					memcpy(grown, graveyard,
					       graves * sizeof(*grown));
				sm_free(graveyard);
				if (!grave_cap)
					atexit(empty_graveyard);
				graveyard = grown;
				grave_cap = cap;
			}
		}
		keep = graves < grave_cap;
		if (keep)
			graveyard[graves++] = map;
		pthread_mutex_unlock(&graveyard_lock);
	}
	if (!keep)
		sm_free(map);
}

#else /* !SNAPMAP_DEBUG */

bool sm_debug_enabled(void)
{
	return false;
}

void sm_map_bury(struct snapmap *map)
{
	sm_free(map);
}

#endif

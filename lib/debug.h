/*
 * debug.h - the --enable-debug checks (debug.c), which abort on misuse
 * in a debug build and cost nothing in others, and the burial of a
 * destroyed map.
 */
#ifndef SNAPMAP_DEBUG_H
#define SNAPMAP_DEBUG_H

#include <stdbool.h>

#include "snapmap.h"

/*
 * With --enable-debug, misuse aborts with a message instead of being
 * undefined behaviour or an error code: a destroyed map, read-side calls
 * outside a read-side critical section, unbalanced pins, writes from an
 * update callback.  The checks are on for every map of a debug build
 * unless SNAPMAP_DEBUG=0 is in the environment when the map is created.
 */
#ifdef SNAPMAP_DEBUG
void sm_debug_fail(const char *what, const char *func);
# define SM_DEBUG_CHECK(map, cond, what) \
	do { \
		if ((map)->debug && !(cond)) \
			sm_debug_fail((what), __func__); \
	} while (0)
#else
# define SM_DEBUG_CHECK(map, cond, what) do { } while (0)
#endif
bool sm_debug_enabled(void);
#ifdef SNAPMAP_DEBUG
/* A map must be live (not destroyed). */
void sm_check_map(const struct snapmap *map, const char *func);
/* Read-side calls on @snap: inside a critical section, or pinned. */
void sm_check_read(const struct snapmap_snapshot *snap, const char *func);
#else
/* Without --enable-debug the checks cost nothing, not even a call. */
static inline void sm_check_map(const struct snapmap *map, const char *func)
{
	(void)map;
	(void)func;
}

static inline void sm_check_read(const struct snapmap_snapshot *snap,
				 const char *func)
{
	(void)snap;
	(void)func;
}
#endif
/* Destroy: poison the map (debug builds keep it, poisoned, until exit). */
void sm_map_bury(struct snapmap *map);

#endif /* SNAPMAP_DEBUG_H */

/*
 * one_flavor.c - one flavor header without the generic names,
 * <urcu/urcu-FLAVOR.h>, before <snapmap.h>, or after it with
 * SNAPMAP_FIRST.  check.sh defines FLAVOR_HEADER (the header) and FLAVOR
 * (its struct rcu_flavor_struct).  The flavor header undefines the
 * generic names (urcu/map/clear.h), so only snapmap_new_flavor() exists.
 */
#ifdef SNAPMAP_FIRST
#include <snapmap.h>
#include FLAVOR_HEADER
#else
#include FLAVOR_HEADER
#include <snapmap.h>
#endif

#include "exercise.h"

int main(void)
{
	return exercise(snapmap_new_flavor(NULL, &FLAVOR), &FLAVOR);
}

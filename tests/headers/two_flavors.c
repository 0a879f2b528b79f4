/*
 * two_flavors.c - two flavors in one file, a memb map and a qsbr map,
 * each bound explicitly; <snapmap.h> between the flavor headers, or
 * before both with SNAPMAP_FIRST.
 */
#ifdef SNAPMAP_FIRST
#include <snapmap.h>
#endif
#include <urcu/urcu-memb.h>
#ifndef SNAPMAP_FIRST
#include <snapmap.h>
#endif
#include <urcu/urcu-qsbr.h>

#include "exercise.h"

int main(void)
{
	return exercise(snapmap_new_flavor(NULL, &urcu_memb_flavor),
			&urcu_memb_flavor) ||
	       exercise(snapmap_new_flavor(NULL, &urcu_qsbr_flavor),
			&urcu_qsbr_flavor);
}

/*
 * flavor_memb.c - thread hooks of the memb flavor, for the subjects
 * bound to it (snapmap-memb, lfht, cow).
 */
#include "config.h"

#define _LGPL_SOURCE
#include <urcu.h>		/* memb flavor, with the rcu_* names */

#include "bench.h"

void memb_enter(void)
{
	rcu_register_thread();
}

void memb_leave(void)
{
	rcu_unregister_thread();
}

void memb_barrier(void)
{
	rcu_barrier();
}

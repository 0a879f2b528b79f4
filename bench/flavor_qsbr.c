/*
 * flavor_qsbr.c - thread hooks of the qsbr flavor (snapmap-qsbr).  A qsbr
 * reader announces quiescent states itself and must be offline while it
 * blocks; the harness calls these hooks for that.
 */
#include "config.h"

#define _LGPL_SOURCE
#include <urcu-qsbr.h>	/* qsbr flavor, with the rcu_* names */

#include "bench.h"

void qsbr_enter(void)
{
	rcu_register_thread();
}

void qsbr_leave(void)
{
	rcu_unregister_thread();
}

void qsbr_barrier(void)
{
	rcu_barrier();
}

void qsbr_quiescent(void)
{
	rcu_quiescent_state();
}

void qsbr_offline(void)
{
	rcu_thread_offline();
}

void qsbr_online(void)
{
	rcu_thread_online();
}

/*
 * subj_snapmap_memb.c - subject "snapmap-memb": libsnapmap bound to the
 * memb flavor (sys_membarrier; readers' rcu_read_lock is a few plain
 * loads and stores).  The adapter body is snapmap_adapter.h.
 */
#include "config.h"

#define _LGPL_SOURCE	/* inline rcu_read_lock/unlock, as lib/ does */
#include <urcu.h>		/* memb flavor, with the rcu_* names */

#define SUBJ_VAR	subj_snapmap_memb
#define SUBJ_NAME	"snapmap-memb"
#define SUBJ_FLAVOR	"memb"
#define SUBJ_HOOKS	.enter = memb_enter, .leave = memb_leave, \
			.barrier = memb_barrier,
#include "snapmap_adapter.h"

/*
 * subj_snapmap_qsbr.c - subject "snapmap-qsbr": libsnapmap bound to the
 * qsbr flavor (rcu_read_lock is free; readers announce quiescent states,
 * which the harness does every 1024 ops, and go offline while blocked).
 * The adapter body is snapmap_adapter.h.
 */
#include "config.h"

#define _LGPL_SOURCE	/* inline rcu_read_lock/unlock, as lib/ does */
#include <urcu-qsbr.h>	/* qsbr flavor, with the rcu_* names */

#define SUBJ_VAR	subj_snapmap_qsbr
#define SUBJ_NAME	"snapmap-qsbr"
#define SUBJ_FLAVOR	"qsbr"
#define SUBJ_HOOKS	.enter = qsbr_enter, .leave = qsbr_leave, \
			.barrier = qsbr_barrier, .quiescent = qsbr_quiescent, \
			.offline = qsbr_offline, .online = qsbr_online,
#include "snapmap_adapter.h"

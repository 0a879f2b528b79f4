/*
 * subj_snapmap_norcu.c - floor "snapmap-norcu": the libsnapmap layout and
 * search on a pinned snapshot, with no RCU call per look-up.  Beside
 * snapmap-memb it shows what the read-side critical section costs.
 */
#include "config.h"

#define _LGPL_SOURCE
#include <urcu.h>

#define SUBJ_VAR	subj_snapmap_norcu
#define SUBJ_NAME	"snapmap-norcu"
#define SUBJ_FLAVOR	"memb"
#define SUBJ_NORCU	1
#define SUBJ_WHAT	"floor: libsnapmap search on a pinned snapshot, no RCU"
#define SUBJ_HOOKS	.enter = memb_enter, .leave = memb_leave, \
			.barrier = memb_barrier,
#include "snapmap_adapter.h"

/*
 * subj_snapmap_step.c - "snapmap-step": snapmap-memb's map, in the
 * ordered-scan workloads only, stepping with one snapmap_iter_next() per
 * key where the other libsnapmap subjects read blocks with
 * snapmap_iter_next_n(): what the per-call cost of an iterator step is.
 */
#include "config.h"

#define _LGPL_SOURCE
#include <urcu.h>

#define SUBJ_VAR	subj_snapmap_step
#define SUBJ_NAME	"snapmap-step"
#define SUBJ_FLAVOR	"memb"
#define SUBJ_SCAN_STEP	1
#define SUBJ_WHAT	"libsnapmap, memb, scans with one iterator call per key"
#define SUBJ_HOOKS	.enter = memb_enter, .leave = memb_leave, \
			.barrier = memb_barrier,
#include "snapmap_adapter.h"

/*
 * subj_snapmap_nolimit.c - subject "snapmap-nolimit": libsnapmap, memb
 * flavor, with no reclaim limit (reclaim_limit = SIZE_MAX), so the write
 * storm shows peak RSS without backpressure beside the default's.
 */
#include "config.h"

#define _LGPL_SOURCE
#include <urcu.h>
#include <stdint.h>

#include "snapmap.h"

static const struct snapmap_config nolimit_cfg = {
	.reclaim_limit = SIZE_MAX,
};

#define SUBJ_VAR	subj_snapmap_nolimit
#define SUBJ_NAME	"snapmap-nolimit"
#define SUBJ_FLAVOR	"memb"
#define SUBJ_CFG	(&nolimit_cfg)
#define SUBJ_WHAT	"libsnapmap, memb, no reclaim limit (backpressure off)"
#define SUBJ_HOOKS	.enter = memb_enter, .leave = memb_leave, \
			.barrier = memb_barrier,
#include "snapmap_adapter.h"

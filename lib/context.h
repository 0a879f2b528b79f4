/*
 * context.h - what the calling thread is in the middle of (context.c):
 * an update callback, a value destructor, a call_rcu callback; and the
 * one rule, sm_wait_enter(), that decides from it whether the thread may
 * wait for a grace period or for reclamation.
 */
#ifndef SNAPMAP_CONTEXT_H
#define SNAPMAP_CONTEXT_H

#include <stdbool.h>

#include "snapmap.h"

/* Marks the calling thread as inside an update callback of @map. */
struct sm_update_frame {
	const struct snapmap *map;
	struct sm_update_frame *outer;
};
void sm_update_frame_enter(struct sm_update_frame *frame,
			   const struct snapmap *map);
void sm_update_frame_leave(struct sm_update_frame *frame);
/* Whether this thread is inside an update callback of @map: then it
 * holds @map's writer mutex, and must not wait for anything that needs
 * it (-EDEADLK). */
bool sm_in_update_of(const struct snapmap *map);
/* Around value destructor calls. */
void sm_destructor_enter(void);
void sm_destructor_leave(void);
/* Called by each of the library's call_rcu callbacks. */
void sm_mark_call_rcu_worker(void);

/* Why a thread may not wait (sm_wait_enter). */
enum sm_nowait {
	SM_NOWAIT_NONE,
	SM_NOWAIT_CALLBACK,	/* call_rcu worker, value destructor or
				 * update callback */
	SM_NOWAIT_READ_SIDE,	/* inside a read-side critical section */
};
struct sm_waiting {
	bool offline;		/* a qsbr thread put offline for the wait */
	enum sm_nowait why;
};
/*
 * The one rule for "may this thread wait for a grace period, for
 * reclamation, or for a thread that may wait for them" (context.c says
 * why each case may not).  0: it may, and an online qsbr thread is now
 * offline: call sm_wait_leave() after the wait.  -EDEADLK: it may not,
 * @w->why says why; nothing to undo.
 */
int sm_wait_enter(const struct rcu_flavor_struct *flavor,
		  struct sm_waiting *w);
void sm_wait_leave(const struct rcu_flavor_struct *flavor,
		   const struct sm_waiting *w);

#endif /* SNAPMAP_CONTEXT_H */

/*
 * context.c - what the calling thread is in the middle of, and the one
 * rule that decides whether it may wait for a grace period or for
 * reclamation.
 *
 * Every wait of the library asks sm_wait_enter(): the backpressure in the
 * write path, snapmap_destroy(), snapmap_unwatch() (which waits for a
 * watcher thread that may itself be waiting for reclamation) and
 * snapmap_wait_version().  What each does when the answer is no is its
 * own business (go over the limit, defer, or -EDEADLK); the answer is
 * decided here only.
 */
#include "internal.h"

#include <errno.h>

/*
 * The update callbacks this thread is running, innermost first.  Each
 * holds its map's writer mutex, which other threads may be waiting for
 * inside their read-side critical sections.
 */
static __thread struct sm_update_frame *update_frames;

/* Value destructors this thread is running (nested calls count). */
static __thread unsigned in_destructor;

/*
 * Set on a thread the first time it runs one of the library's call_rcu
 * callbacks: the flavor's call_rcu worker.  Callbacks queued behind the
 * one it is running (ours, or the application's) run on it too, so it
 * must never wait for them.
 */
static __thread bool on_call_rcu_worker;

void sm_update_frame_enter(struct sm_update_frame *frame,
			   const struct snapmap *map)
{
	frame->map = map;
	frame->outer = update_frames;
	update_frames = frame;
}

void sm_update_frame_leave(struct sm_update_frame *frame)
{
	update_frames = frame->outer;
}

bool sm_in_update_of(const struct snapmap *map)
{
	for (const struct sm_update_frame *f = update_frames; f; f = f->outer)
		if (f->map == map)
			return true;
	return false;
}

void sm_destructor_enter(void)
{
	in_destructor++;
}

void sm_destructor_leave(void)
{
	in_destructor--;
}

void sm_mark_call_rcu_worker(void)
{
	on_call_rcu_worker = true;
}

/*
 * The rule.  A thread may not wait:
 *  - on a call_rcu worker: what it would wait for is queued behind it;
 *  - in a value destructor: it runs on the worker, or under a pin's last
 *    release, or at a commit, where the caller holds state it released;
 *  - in an update callback of any map: it holds that map's writer mutex,
 *    and a reader of that map may be blocked on the mutex inside its
 *    read-side critical section, so a grace period cannot end;
 *  - inside a read-side critical section (memb, mb, bp): a grace period
 *    would wait for this very thread.
 * read_ongoing() alone cannot tell the last case under qsbr, where it
 * means "online".  Going offline is a no-op for every other flavor, so
 * if read_ongoing() still holds after thread_offline(), the thread really
 * is inside rcu_read_lock(); under qsbr it is now offline, as a thread
 * that blocks must be.
 */
int sm_wait_enter(const struct rcu_flavor_struct *flavor,
		  struct sm_waiting *w)
{
	w->offline = false;
	w->why = SM_NOWAIT_NONE;
	if (on_call_rcu_worker || in_destructor || update_frames) {
		w->why = SM_NOWAIT_CALLBACK;
		return -EDEADLK;
	}
	if (!flavor->read_ongoing())
		return 0;
	flavor->thread_offline();
	if (flavor->read_ongoing()) {
		w->why = SM_NOWAIT_READ_SIDE;
		return -EDEADLK;
	}
	w->offline = true;
	return 0;
}

void sm_wait_leave(const struct rcu_flavor_struct *flavor,
		   const struct sm_waiting *w)
{
	if (w->offline)
		flavor->thread_online();
}

/*
 * alloc.c - the one allocation seam.
 *
 * Every byte the library allocates or frees goes through these three
 * functions, so that allocation-failure tests and alternative allocators
 * have exactly one place to hook into.
 *
 * Fault injection.  The test build of the library (lib/libsnapmap-test.la,
 * compiled from the same sources with -DSM_TESTING, never installed) also
 * counts allocations and can fail the k-th one from now (alloc.h).
 * Without SM_TESTING none of it is compiled: the installed library's
 * seam is malloc, calloc and free, nothing else.
 */
#include "internal.h"

#include <stdlib.h>

#ifdef SM_TESTING
/*
 * Process-wide counters, updated with uatomic so that a test may also
 * allocate from other threads.  @fail_at is the value of @calls whose
 * allocation fails (0: none); the thread whose call reaches it disarms it
 * with a compare-and-swap, so exactly one allocation fails.
 */
static unsigned long calls;	/* sm_alloc + sm_calloc calls, failed ones too */
static unsigned long fail_at;
static unsigned long injected;	/* allocations failed on purpose */
static long live;		/* blocks allocated and not yet freed */

static bool inject_failure(void)
{
	unsigned long n = uatomic_add_return(&calls, 1);
	unsigned long at = uatomic_read(&fail_at);

	if (at == 0 || n != at || uatomic_cmpxchg(&fail_at, at, 0) != at)
		return false;
	uatomic_inc(&injected);
	return true;
}

static void *count_block(void *p)
{
	if (p)
		uatomic_inc(&live);
	return p;
}

void sm_alloc_fail_at(unsigned long k)
{
	uatomic_set(&fail_at, k ? uatomic_read(&calls) + k : 0);
}

unsigned long sm_alloc_calls(void)
{
	return uatomic_read(&calls);
}

unsigned long sm_alloc_injected(void)
{
	return uatomic_read(&injected);
}

long sm_alloc_live(void)
{
	return uatomic_read(&live);
}
#endif /* SM_TESTING */

void *sm_alloc(size_t size)
{
#ifdef SM_TESTING
	if (inject_failure())
		return NULL;
	return count_block(malloc(size));
#else
	return malloc(size);
#endif
}

/*
 * Nodes are searched with aligned SIMD loads, and a chunk's or page's
 * header is read as one cache line: both start on a line.  A line more
 * from sm_alloc, with the block's address kept just before the aligned
 * one: glibc's posix_memalign cost 900 instructions a call more, and
 * every write makes two of these.
 */
void *sm_alloc_line(size_t size)
{
	unsigned char *mem = sm_alloc(size + SM_LINE);
	void **aligned;

	if (!mem)
		return NULL;
	/* malloc aligns to at least a pointer: the slot fits before. */
	aligned = (void **)((uintptr_t)(mem + SM_LINE) &
			    ~(uintptr_t)(SM_LINE - 1));
	aligned[-1] = mem;
	return aligned;
}

void sm_free_line(void *p)
{
	if (p)
		sm_free(((void **)p)[-1]);
}

void *sm_calloc(size_t nmemb, size_t size)
{
#ifdef SM_TESTING
	if (inject_failure())
		return NULL;
	return count_block(calloc(nmemb, size));
#else
	return calloc(nmemb, size);
#endif
}

void sm_free(void *p)
{
#ifdef SM_TESTING
	if (p)
		uatomic_dec(&live);
#endif
	free(p);
}

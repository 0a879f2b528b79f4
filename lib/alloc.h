/*
 * alloc.h - the allocation seam (alloc.c).  Every byte the library
 * allocates comes from sm_alloc() or sm_calloc() and goes back through
 * sm_free(), so that allocation-failure tests have one place to hook
 * into; the test build adds the fault injection below.
 */
#ifndef SNAPMAP_ALLOC_H
#define SNAPMAP_ALLOC_H

#include <stddef.h>

void *sm_alloc(size_t size);
/* Aligned to a cache line (SM_LINE bytes); freed by sm_free_line(). */
void *sm_alloc_line(size_t size);
void sm_free_line(void *p);
#define SM_LINE	64
void *sm_calloc(size_t nmemb, size_t size);
void sm_free(void *p);

#ifdef SM_TESTING
/*
 * alloc.c: fault injection, in the test build only (-DSM_TESTING, see
 * lib/libsnapmap-test.la in tests/local.mk); not exported, not installed.
 * Counters are process-wide.
 *
 * sm_alloc_fail_at - make the @k-th allocation (sm_alloc or sm_calloc
 *   call) from now return NULL, once; later ones succeed again.  0
 *   disarms a failure that has not happened yet.
 * sm_alloc_calls - allocation calls so far, failed ones included: the
 *   difference around an operation is the number of allocations it makes.
 * sm_alloc_injected - allocations failed by sm_alloc_fail_at so far.
 * sm_alloc_live - blocks allocated and not yet given to sm_free().
 */
void sm_alloc_fail_at(unsigned long k);
unsigned long sm_alloc_calls(void);
unsigned long sm_alloc_injected(void);
long sm_alloc_live(void);
#endif

#endif /* SNAPMAP_ALLOC_H */

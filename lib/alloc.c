/*
 * alloc.c - the one allocation seam.
 *
 * Every byte the library allocates or frees goes through these three
 * functions, so that allocation-failure tests and alternative allocators
 * have exactly one place to hook into.
 */
#include "internal.h"

#include <stdlib.h>

void *sm_alloc(size_t size)
{
	return malloc(size);
}

void *sm_calloc(size_t nmemb, size_t size)
{
	return calloc(nmemb, size);
}

void sm_free(void *p)
{
	free(p);
}

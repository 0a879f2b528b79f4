/*
 * contract.h - what include/snapmap.h promises about keys and values,
 * written out here independently of lib/, for the unit and stress tests
 * to check the library against (tests/unit/util.h, tests/stress/util.h).
 */
#ifndef SNAPMAP_TESTS_CONTRACT_H
#define SNAPMAP_TESTS_CONTRACT_H

#include <stdalign.h>
#include <stddef.h>
#include <string.h>

/* The default key order: memcmp, and on a common prefix the shorter key
 * first. */
static inline int contract_bytewise_cmp(const void *a, size_t alen,
					const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

/*
 * The alignment of a stored value of @vlen bytes, enough for any object
 * that fits in it: the largest power of two <= @vlen, at most
 * alignof(max_align_t).
 */
static inline size_t contract_value_align(size_t vlen)
{
	size_t a = 1;

	while (a * 2 <= vlen && a * 2 <= alignof(max_align_t))
		a *= 2;
	return vlen ? a : alignof(max_align_t);
}

#endif /* SNAPMAP_TESTS_CONTRACT_H */

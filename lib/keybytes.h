/*
 * keybytes.h - a key's bytes as big-endian integers, for comparing keys
 * 8 bytes at a time: the layout's prefixes (layout.h) and the order of a
 * batch's ops (batch.c).  Not installed.
 */
#ifndef SNAPMAP_KEYBYTES_H
#define SNAPMAP_KEYBYTES_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t load_be64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline uint32_t load_be32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

/*
 * The 8 bytes of @key after its first @skip, zero-padded, as a
 * big-endian integer.  Integer order of prefixes agrees with bytewise
 * order of keys that share their first @skip bytes; equal prefixes need a
 * full comparison.
 */
static inline uint64_t key_bytes8(const unsigned char *k, size_t klen,
				  size_t skip)
{
	size_t rest = klen > skip ? klen - skip : 0;
	uint64_t v = 0;

	if (rest >= 8)
		return load_be64(k + skip);
	if (rest == 0)
		return 0;
	/* A short tail: the 8 bytes that end the key, shifted so the tail
	 * comes first (no variable-length copy). */
	if (klen >= 8)
		return load_be64(k + klen - 8) << (64 - 8 * rest);
	memcpy(&v, k + skip, rest);
	return be64toh(v);
}

#endif /* SNAPMAP_KEYBYTES_H */

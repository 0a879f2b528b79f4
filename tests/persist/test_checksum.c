/*
 * test_checksum.c - CRC32C (lib/checksum.c): the catalogue check value,
 * and that calls chain.
 */
#include "util.h"

#include <stdlib.h>

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final
 * XOR 0xFFFFFFFF): the CRC of the ASCII bytes "123456789" is 0xE3069283
 * (the "check" value in the CRC catalogues, and RFC 3720's tests).
 */
Test(checksum, check_value)
{
	cr_assert_eq(sm_crc32c(0, "123456789", 9), 0xE3069283u);
}

/* RFC 3720 B.4: 32 bytes of zeros, and of 0xff. */
Test(checksum, rfc3720_vectors)
{
	unsigned char buf[32];

	memset(buf, 0, sizeof(buf));
	cr_assert_eq(sm_crc32c(0, buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(sm_crc32c(0, buf, sizeof(buf)), 0x62A8AB43u);
}

Test(checksum, empty_is_zero)
{
	cr_assert_eq(sm_crc32c(0, NULL, 0), 0);
}

/* Any split of the input gives the CRC of the whole. */
Test(checksum, calls_chain)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	size_t n = strlen(s);
	uint32_t whole = sm_crc32c(0, s, n);

	for (size_t cut = 0; cut <= n; cut++)
		cr_assert_eq(sm_crc32c(sm_crc32c(0, s, cut), s + cut, n - cut),
			     whole, "split at %zu", cut);
}

/*
 * checksum.c - CRC32C, the checksum of snapshot files.
 *
 * CRC32C is the CRC with the Castagnoli polynomial 0x1EDC6F41 (RFC 3720,
 * iSCSI; also ext4, Btrfs, SCTP).  It detects every burst error up to 32
 * bits and, unlike the zlib CRC32, has hardware support on x86 and ARM
 * should this ever need to be faster.  Parameters (the "CRC-32C" entry of
 * the usual CRC catalogues): reflected input and output, so the table
 * uses the bit-reversed polynomial 0x82F63B78; initial value and final
 * XOR 0xFFFFFFFF.  Check value: the CRC of the nine ASCII bytes
 * "123456789" is 0xE3069283 (tests/persist/test_checksum.c checks it).
 *
 * Table-driven, one byte per step: about a gigabyte a second, far faster
 * than the fsync that follows every save, so nothing fancier is needed.
 */
#include "persist.h"

#include <pthread.h>

#define CRC32C_POLY_REFLECTED	0x82F63B78u

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* Entry i is the CRC of the single byte i: eight shift-and-reduce steps. */
static void crc32c_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t crc = i;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & -(crc & 1));
		crc32c_table[i] = crc;
	}
}

uint32_t sm_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* pthread_once orders the table's initialization before every use,
	 * in any thread. */
	pthread_once(&crc32c_once, crc32c_init_table);
	/* The inversions at both ends make calls chain: the running value
	 * between calls is the finished CRC of the bytes so far. */
	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[(crc ^ *p++) & 0xff];
	return ~crc;
}

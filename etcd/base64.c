/*
 * base64.c - see base64.h.  Neither libcurl nor json-c exports a base64
 * codec, and the alphabet is too small to justify another dependency.
 */
#include "base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *src, size_t len)
{
	const unsigned char *s = src;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (n > 2)
			v |= s[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = n > 1 ? alphabet[v >> 6 & 63] : '=';
		*o++ = n > 2 ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *src, size_t len, unsigned char **out,
		    size_t *outlen)
{
	unsigned char *buf;
	size_t n = 0;

	if (len % 4)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int c[4];
		int pad = 0;

		for (int j = 0; j < 4; j++) {
			if (src[i + j] == '=' && i + 4 == len && j >= 2) {
				c[j] = 0;
				pad++;
				continue;
			}
			c[j] = pad ? -1 : sextet(src[i + j]);
			if (c[j] < 0) {
				free(buf);
				return -EINVAL;
			}
		}
		uint32_t v = (uint32_t)c[0] << 18 | (uint32_t)c[1] << 12 |
			     (uint32_t)c[2] << 6 | (uint32_t)c[3];
		buf[n++] = v >> 16 & 255;
		if (pad < 2)
			buf[n++] = v >> 8 & 255;
		if (pad < 1)
			buf[n++] = v & 255;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

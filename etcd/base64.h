/*
 * base64.h - the standard alphabet with padding, as etcd's JSON gateway
 * encodes keys and values (protobuf bytes in JSON).  Shared by the
 * mirror and the tests.
 */
#ifndef SNAPMAP_ETCD_BASE64_H
#define SNAPMAP_ETCD_BASE64_H

#include <stddef.h>

/* Returns a NUL-terminated encoding (malloc), or NULL on ENOMEM. */
char *etcd_b64_encode(const void *src, size_t len);

/*
 * Decodes @len characters of @src into a malloc'ed buffer (*out, NUL
 * terminated for convenience, *outlen bytes).  Returns 0, -EINVAL for
 * bad input, -ENOMEM.
 */
int etcd_b64_decode(const char *src, size_t len, unsigned char **out,
		    size_t *outlen);

#endif

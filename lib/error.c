/*
 * error.c - error codes as words, and error details.
 *
 * The library reports every failure as a negative errno.  Several of the
 * codes the file loaders use have a system description that would mislead
 * ("Wrong medium type" for a file that is not a snapshot), so
 * snapmap_strerror() says what each means here, and falls back to the
 * system's words for the rest.
 */
#include "persist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *snapmap_strerror(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case 0:
		return "success";
	case EMEDIUMTYPE:
		return "not a snapmap file (bad magic)";
	case EPROTONOSUPPORT:
		return "unsupported snapshot file format version or flags";
	case ENODATA:
		return "snapshot file truncated";
	case EBADMSG:
		return "corrupt or malformed data";
	case EILSEQ:
		return "keys out of order";
	case ENOTUNIQ:
		return "duplicate key";
	case E2BIG:
		return "key or value longer than the map allows";
	case EDEADLK:
		return "called from inside an update callback of the same map";
	}
	/* glibc 2.32 and later: the static description, thread-safe unlike
	 * strerror(). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	{
		const char *s = strerrordesc_np(code);

		return s ? s : "unknown error";
	}
#else
	return strerror(code);
#endif
}

void sm_error_clear(struct snapmap_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->line = 0;
	err->offset = 0;
	err->message[0] = '\0';
}

int sm_error(struct snapmap_error *err, int code, unsigned long line,
	     unsigned long long offset, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	err->line = line;
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

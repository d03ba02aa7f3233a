/* status: error messages carried in caller-owned buffers, assertion, logging. */
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int floe_fail(struct floe_err *err, int status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->status = status;
	}
	return status;
}

int floe_fail_prefix(struct floe_err *err, const char *fmt, ...)
{
	char old[FLOE_ERR_LEN];
	va_list ap;
	int n;

	if (!err)
		return FLOE_EINTERNAL;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(err->msg))
		strncat(err->msg, old, sizeof(err->msg) - (size_t)n - 1);
	return err->status;
}

void floe_err_clear(struct floe_err *err)
{
	err->status = FLOE_OK;
	err->msg[0] = '\0';
}

_Noreturn void floe_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "floe: internal error: assertion '%s' failed at %s:%d\n", what, file, line);
	abort();
}

/* The only process-wide mutable state in the library: how chatty logs are. */
static int log_level = 1;

void floe_log_set_level(int level) { log_level = level; }
int floe_log_level(void) { return log_level; }

void floe_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

const char *floe_status_str(int status)
{
	switch (status) {
	case FLOE_OK: return "ok";
	case FLOE_EARG: return "invalid argument";
	case FLOE_EIO: return "i/o error";
	case FLOE_EFORMAT: return "bad file format";
	case FLOE_EUNSUPPORTED: return "unsupported";
	case FLOE_ENOMEM: return "out of memory";
	case FLOE_EBUDGET: return "memory budget too small";
	case FLOE_ECONTEXT: return "context full";
	case FLOE_EINTERNAL: return "internal error";
	}
	return "unknown status";
}

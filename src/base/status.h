/* status: error codes, per-handle error messages, and the always-on assertion.
 *
 * Functions that act return an int status: 0 (FLOE_OK) or a negative FLOE_E*
 * code from include/floe.h.  The detail a user needs (path, offset, errno,
 * expected vs actual) goes into a struct floe_err that the caller owns,
 * usually embedded in the handle the function works on. */
#ifndef FLOE_BASE_STATUS_H
#define FLOE_BASE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#include "floe.h"

#define FLOE_ERR_LEN 512

struct floe_err {
	int status;             /* last failing status, FLOE_OK if none */
	char msg[FLOE_ERR_LEN]; /* NUL-terminated, "" if none */
};

/* Record status and a printf-style message in err (if non-NULL); returns status
 * so callers can write `return floe_fail(err, FLOE_EFORMAT, "...", ...)`. */
int floe_fail(struct floe_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the message already in err with more context ("reading foo.gguf: ").
 * Returns err->status. */
int floe_fail_prefix(struct floe_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void floe_err_clear(struct floe_err *err);

/* Internal contract check, always on: prints file:line and aborts.  Only for
 * bugs in floe itself, never for bad input. */
#define FLOE_ASSERT(cond)                                                       \
	do {                                                                    \
		if (!(cond))                                                    \
			floe_assert_fail(#cond, __FILE__, __LINE__);            \
	} while (0)

_Noreturn void floe_assert_fail(const char *what, const char *file, int line);

/* Logging to stderr.  Level 0 = errors only, 1 = info (default), 2 = debug. */
void floe_log_set_level(int level);
int floe_log_level(void);
void floe_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define floe_info(...) floe_log(1, __VA_ARGS__)
#define floe_debug(...) floe_log(2, __VA_ARGS__)

#endif

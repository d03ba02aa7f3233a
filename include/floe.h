/* floe.h: the one public header of floe, an inference engine for
 * Mixture-of-Experts models larger than the memory it is given.
 *
 * Two opaque handles:
 *   floe_model    an opened GGUF model: resident dense weights, the expert
 *                 cache and its I/O backend, the thread pool.
 *   floe_session  one conversation on a model: KV cache, position, logits.
 *
 * Errors: every function that can fail returns an int status, FLOE_OK (0) or
 * a negative FLOE_E* code.  floe_model_open writes a message into the
 * caller's buffer; afterwards floe_model_error / floe_session_error return the
 * message of the last failure on that handle (valid until the next call on it).
 *
 * Threads: a model and its sessions are used by one thread at a time (floe
 * uses its own worker threads inside calls).  Several sessions may share one
 * model but not run concurrently.
 *
 * Untrusted input: model files are untrusted; every offset, size and shape is
 * validated before use and a bad file gives FLOE_EFORMAT with a message. */
#ifndef FLOE_H
#define FLOE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum floe_status {
	FLOE_OK = 0,
	FLOE_EARG = -1,         /* invalid argument from the caller */
	FLOE_EIO = -2,          /* a read or open failed, or came back short */
	FLOE_EFORMAT = -3,      /* corrupt, truncated or hostile file */
	FLOE_EUNSUPPORTED = -4, /* valid but not supported: architecture, type */
	FLOE_ENOMEM = -5,       /* allocation failed */
	FLOE_EBUDGET = -6,      /* --mem too small for the fixed part */
	FLOE_ECONTEXT = -7,     /* context window full */
	FLOE_EINTERNAL = -8,    /* bug in floe */
};

/* Short name of a status ("io error", ...); never NULL. */
const char *floe_status_str(int status);

#ifdef __cplusplus
}
#endif

#endif

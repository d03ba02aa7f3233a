/* io: the read interface that expert streaming goes through.
 *
 * One small interface (SQLite's VFS idea) with a backend file per OS
 * facility: io_uring.c (liburing, the default), io_pread.c (a pool of threads
 * doing pread, the fallback when io_uring is unavailable or by request), and
 * io_fault.c (wraps another backend and makes the N-th read fail with EIO,
 * come back short, or be interrupted, for tests).
 *
 * Reads are asynchronous: submit a batch, then reap completions.  With
 * O_DIRECT (the default) offset, len and buf must be multiples of / aligned
 * to FLOE_IO_ALIGN; the backend opens the file with O_DIRECT and falls back
 * to buffered reads plus posix_fadvise(DONTNEED) when the filesystem refuses
 * it (tmpfs, some overlays), reporting that in floe_io_describe.
 *
 * Backends retry short reads (reading the rest) and EINTR/EAGAIN themselves;
 * a request completes with result 0 when all len bytes arrived, or a negative
 * FLOE_E* status with the message in the request's err (path, offset, errno).
 * A read past end of file is an error (FLOE_EIO, "short read at EOF"). */
#ifndef FLOE_EXPERTS_IO_H
#define FLOE_EXPERTS_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

#define FLOE_IO_ALIGN 4096

enum floe_io_kind {
	FLOE_IO_AUTO = 0,  /* io_uring if it works here, else pread */
	FLOE_IO_URING = 1,
	FLOE_IO_PREAD = 2,
};

struct floe_io_req {
	uint64_t offset; /* file offset */
	uint64_t len;    /* bytes */
	void *buf;       /* destination, len bytes */
	uint64_t user;   /* caller's cookie, untouched */
	int result;      /* on completion: FLOE_OK or negative status */
	/* private to the backend: bytes done so far (short-read resumption) */
	uint64_t done;
};

struct floe_io;

struct floe_io_ops {
	const char *name;
	/* Queue n requests (the backend keeps the pointers until each completes).
	 * Fails only if the backend itself is broken. */
	int (*submit)(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err);
	/* Reap completed requests into done[0..max), waiting until at least
	 * min_done have completed (0 = poll).  Returns the count (>= 0) or a
	 * negative status. */
	int (*reap)(struct floe_io *io, struct floe_io_req **done, int max, int min_done,
		    struct floe_err *err);
	void (*close)(struct floe_io *io);
};

/* Common header every backend's struct begins with. */
struct floe_io {
	const struct floe_io_ops *ops;
	char path[256];
	bool direct;     /* O_DIRECT in effect */
	int queue_depth; /* max requests in flight */
	uint64_t file_size;
	/* statistics, updated by the backend */
	uint64_t n_reads;
	uint64_t bytes_read;
	uint64_t n_retries; /* short reads resumed and EINTR/EAGAIN retried */
	/* Message of the last failed request (the request's own status is in
	 * req->result). */
	struct floe_err err;
};

struct floe_io_params {
	enum floe_io_kind kind;
	int queue_depth; /* 0 = default (16) */
	bool buffered;   /* true: do not even try O_DIRECT (page-cache tier) */
};

/* Open path for reading with the chosen backend.  Owner closes with
 * floe_io_close. */
int floe_io_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		 struct floe_err *err);
void floe_io_close(struct floe_io *io);

/* "io_uring, O_DIRECT, depth 16" style summary for the startup plan. */
const char *floe_io_describe(const struct floe_io *io, char *buf, int buflen);

/* Fault injection (io_fault.c): wrap `inner` (taking ownership).  The
 * fault_at-th read request (1-based, counting every request submitted) gets
 * the fault; 0 disables. */
enum floe_io_fault {
	FLOE_FAULT_EIO = 1,   /* the read fails with EIO: request fails */
	FLOE_FAULT_SHORT = 2, /* the read returns half the bytes: backend resumes */
	FLOE_FAULT_EINTR = 3, /* the read is interrupted: backend retries */
};
int floe_io_fault_wrap(struct floe_io *inner, enum floe_io_fault kind, uint64_t fault_at,
		       struct floe_io **out, struct floe_err *err);

/* Backend constructors, used by floe_io_open. */
int floe_io_uring_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err);
int floe_io_pread_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err);

#endif

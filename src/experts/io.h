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
 * Every backend runs the same retry rules (floe_io_attempt_begin/end in
 * io.c): a short read resumes with the rest, EINTR/EAGAIN are retried (at
 * most FLOE_IO_MAX_AGAIN times in a row), anything else fails the request with
 * FLOE_EIO.  A request completes with result 0 when all its bytes arrived, or
 * a negative FLOE_E* status; floe_io_req_error formats its message ("read of
 * <path> at offset N (len M) failed: <strerror> (errno E)").
 *
 * End of file: a request may extend past the end of the file (the aligned
 * superset of the file's last bytes does); it succeeds when every byte up to
 * the end of the file arrived, and the bytes past the end are zeroed.  A read
 * that stops before the end of the file as it was at open (the file shrank),
 * or a request that starts at or past the end, fails with FLOE_EIO. */
#ifndef FLOE_EXPERTS_IO_H
#define FLOE_EXPERTS_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

#define FLOE_IO_ALIGN 4096

enum floe_io_kind {
	FLOE_IO_AUTO = 0, /* io_uring if it works here, else pread */
	FLOE_IO_URING = 1,
	FLOE_IO_PREAD = 2,
};

struct floe_io_req {
	uint64_t offset; /* file offset */
	uint64_t len;	 /* bytes */
	void *buf;	 /* destination, len bytes */
	uint64_t user;	 /* caller's cookie, untouched */
	bool low_prio;	 /* queued behind normal requests (prefetch) */
	int result;	 /* on completion: FLOE_OK or negative status */
	/* Private to the backends (io.c's retry rules): */
	uint64_t done;		  /* bytes in place so far */
	uint64_t attempt;	  /* length asked of the current attempt */
	struct floe_io_req *next; /* backend queues (intrusive, no allocation) */
	uint32_t n_retries;	  /* attempts resumed or retried */
	uint16_t n_again;	  /* EINTR/EAGAIN in a row */
	uint8_t fault;		  /* enum floe_io_fault armed by io_fault.c, 0 = none */
	uint8_t why;		  /* enum floe_io_why: why the request failed */
	int err_no;		  /* errno of the failure */
};

struct floe_io;

struct floe_io_ops {
	const char *name;
	/* Queue n requests (the backend keeps the pointers until each completes).
	 * Fails only if the backend itself is broken. */
	int (*submit)(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err);
	/* Reap completed requests into done[0..max), waiting until at least
	 * min_done have completed (0 = poll), or fewer if fewer are
	 * outstanding (it never waits for nothing).  Returns the count (>= 0)
	 * or a negative status. */
	int (*reap)(struct floe_io *io, struct floe_io_req **done, int max, int min_done,
		    struct floe_err *err);
	void (*close)(struct floe_io *io);
};

/* Common header every backend's struct begins with. */
struct floe_io {
	const struct floe_io_ops *ops;
	char path[256];
	int fd;		 /* -1 for wrappers */
	bool direct;	 /* O_DIRECT in effect */
	bool refused;	 /* O_DIRECT was refused by the filesystem: buffered + DONTNEED */
	bool drop_cache; /* posix_fadvise(DONTNEED) each completed range */
	int queue_depth; /* max reads in flight (pread: its threads, at most 8) */
	uint64_t file_size;
	/* statistics, updated by the backend */
	uint64_t n_reads;
	uint64_t bytes_read;
	uint64_t n_retries; /* short reads resumed and EINTR/EAGAIN retried */
	/* Message of the last failed request (the request's own status is in
	 * req->result). */
	struct floe_err err;
	char note[FLOE_ERR_LEN]; /* why AUTO fell back to pread, "" if it did not */
};

struct floe_io_params {
	enum floe_io_kind kind;
	int queue_depth; /* 0 = default (16) */
	bool buffered;	 /* true: do not even try O_DIRECT (page-cache tier) */
};

/* Open path for reading with the chosen backend (params NULL = defaults).
 * O_DIRECT is checked at open with a one-page probe read.  Owner closes with
 * floe_io_close, after reaping every request it submitted (close waits for
 * reads still in the kernel but does not report them). */
int floe_io_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		 struct floe_err *err);
void floe_io_close(struct floe_io *io);

/* "io_uring, O_DIRECT, depth 16" style summary for the startup plan. */
const char *floe_io_describe(const struct floe_io *io, char *buf, int buflen);

/* Submit n requests / reap completions through io->ops (see struct
 * floe_io_ops). */
int floe_io_submit(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err);
int floe_io_reap(struct floe_io *io, struct floe_io_req **done, int max, int min_done, struct floe_err *err);

/* The message of a failed request (req->result < 0) into err; returns
 * req->result. */
int floe_io_req_error(const struct floe_io *io, const struct floe_io_req *req, struct floe_err *err);

/* Fault injection (io_fault.c): wrap `inner` (taking ownership, also on
 * failure).  The fault_at-th read request (1-based, counting every request
 * submitted) gets the fault at its first attempt, inside the inner backend's
 * own retry path; 0 disables.  The wrapper's statistics mirror the inner's
 * after each reap. */
enum floe_io_fault {
	FLOE_FAULT_EIO = 1,   /* the attempt reports EIO: the request fails */
	FLOE_FAULT_SHORT = 2, /* the attempt reads half the bytes (whole pages under
			       * O_DIRECT, so a one-page read is not cut): backend resumes */
	FLOE_FAULT_EINTR = 3, /* the attempt reports EINTR: backend retries */
};
int floe_io_fault_wrap(struct floe_io *inner, enum floe_io_fault kind, uint64_t fault_at,
		       struct floe_io **out, struct floe_err *err);

/* ---- For the backends (io.c) ---------------------------------------- */

#define FLOE_IO_DEFAULT_DEPTH 16
#define FLOE_IO_MAX_AGAIN     16	 /* EINTR/EAGAIN retries in a row before failing */
#define FLOE_IO_MAX_ATTEMPT   (1u << 30) /* longest single read syscall */

enum floe_io_why {
	FLOE_IO_WHY_NONE = 0,
	FLOE_IO_WHY_ERRNO, /* the read failed with err_no */
	FLOE_IO_WHY_EOF,   /* end of file before the file's size at open */
	FLOE_IO_WHY_AGAIN, /* too many EINTR/EAGAIN in a row */
	FLOE_IO_WHY_RANGE, /* request starts at or past the end of the file */
	FLOE_IO_WHY_ALIGN, /* offset/len/buf not aligned under O_DIRECT */
};

enum floe_io_step {
	FLOE_IO_STEP_READ = 0, /* issue the read *off, *len into *buf */
	FLOE_IO_STEP_DONE,     /* request complete (req->result says how) */
};

/* The one place the retry rules live.  A backend calls attempt_begin before
 * each read syscall: it either returns FLOE_IO_STEP_READ with the range to
 * read now (the rest of the request), or FLOE_IO_STEP_DONE if the request
 * finished without a syscall (an armed fault, a bad range).  After the
 * syscall the backend calls attempt_end with its result (bytes >= 0 or
 * -errno): FLOE_IO_STEP_READ means issue another attempt (begin again),
 * FLOE_IO_STEP_DONE means the request is complete.  Both only touch req, so
 * worker threads may call them; floe_io_finish (on the reaping thread)
 * updates io's statistics and error and drops the page cache when asked. */
enum floe_io_step floe_io_attempt_begin(const struct floe_io *io, struct floe_io_req *req, uint64_t *off,
					uint64_t *len, void **buf);
enum floe_io_step floe_io_attempt_end(const struct floe_io *io, struct floe_io_req *req, int64_t res);
void floe_io_finish(struct floe_io *io, struct floe_io_req *req);
/* Reset a request's private fields before its first attempt. */
void floe_io_req_start(struct floe_io_req *req);

/* An intrusive FIFO of requests (through req->next), the backends' queues:
 * no allocation per read. */
struct floe_io_list {
	struct floe_io_req *head, *tail;
};
void floe_io_list_push(struct floe_io_list *l, struct floe_io_req *r);
void floe_io_list_push_front(struct floe_io_list *l, struct floe_io_req *r);
struct floe_io_req *floe_io_list_pop(struct floe_io_list *l);

/* Open path read-only for a backend: O_DIRECT unless params->buffered or
 * the filesystem refuses it (checked at open and with a probe read), and
 * fill io's path, fd, direct, refused, drop_cache, file_size, queue_depth. */
int floe_io_open_file(struct floe_io *io, const char *path, const struct floe_io_params *params,
		      struct floe_err *err);

/* Switch an open backend to buffered reads + DONTNEED, as when the
 * filesystem refuses O_DIRECT (open does this by itself).  Only with no read
 * in flight.  Exposed so tests can exercise the fallback on kernels whose
 * tmpfs accepts O_DIRECT (Linux 6.6 and later). */
int floe_io_refuse_direct(struct floe_io *io, struct floe_err *err);

/* Backend constructors, used by floe_io_open. */
int floe_io_uring_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err);
int floe_io_pread_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err);

#endif

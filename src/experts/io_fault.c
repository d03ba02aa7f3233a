/* io_fault: fault injection for tests, SQLite style.
 *
 * Wraps any backend and counts the requests submitted through it; the
 * fault_at-th one is armed (req->fault) before the inner backend sees it.
 * The shared retry rules (io.c, floe_io_attempt_begin) act on the arming at
 * that request's first attempt, inside the real backend:
 *   EIO    the attempt reports EIO instead of reading: the request fails;
 *   EINTR  the attempt reports EINTR: the backend retries it for real;
 *   SHORT  the attempt reads only half the length: the backend sees a short
 *          read and resumes with the rest, through its own submission path.
 * So what the tests check is the code production runs, not a simulation. */
#include "experts/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_fault {
	struct floe_io io; /* first: the common header */
	struct floe_io *inner;
	enum floe_io_fault kind;
	uint64_t fault_at;  /* 1-based request number, 0 = never */
	uint64_t submitted; /* requests seen so far */
};

/* Mirror the inner backend's statistics and last error in the wrapper's
 * header, which is what callers look at. */
static void sync_stats(struct io_fault *f)
{
	f->io.n_reads = f->inner->n_reads;
	f->io.bytes_read = f->inner->bytes_read;
	f->io.n_retries = f->inner->n_retries;
	f->io.err = f->inner->err;
}

static int fault_submit(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err)
{
	struct io_fault *f = (struct io_fault *)io;

	for (int i = 0; i < n; i++) {
		reqs[i]->fault = 0;
		if (++f->submitted == f->fault_at)
			reqs[i]->fault = (uint8_t)f->kind;
	}
	return f->inner->ops->submit(f->inner, reqs, n, err);
}

static int fault_reap(struct floe_io *io, struct floe_io_req **done, int max, int min_done,
		      struct floe_err *err)
{
	struct io_fault *f = (struct io_fault *)io;
	int n = f->inner->ops->reap(f->inner, done, max, min_done, err);

	sync_stats(f);
	return n;
}

static void fault_close(struct floe_io *io)
{
	struct io_fault *f = (struct io_fault *)io;

	floe_io_close(f->inner);
	free(f);
}

static const struct floe_io_ops fault_ops = {
    .name = "fault",
    .submit = fault_submit,
    .reap = fault_reap,
    .close = fault_close,
};

static const char *fault_name(enum floe_io_fault kind)
{
	switch (kind) {
	case FLOE_FAULT_EIO:
		return "EIO";
	case FLOE_FAULT_SHORT:
		return "short read";
	case FLOE_FAULT_EINTR:
		return "EINTR";
	}
	return "?";
}

int floe_io_fault_wrap(struct floe_io *inner, enum floe_io_fault kind, uint64_t fault_at,
		       struct floe_io **out, struct floe_err *err)
{
	struct io_fault *f;

	*out = NULL;
	if (kind != FLOE_FAULT_EIO && kind != FLOE_FAULT_SHORT && kind != FLOE_FAULT_EINTR) {
		floe_io_close(inner);
		return floe_fail(err, FLOE_EARG, "unknown fault kind %d", (int)kind);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		floe_io_close(inner);
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the fault wrapper");
	}
	f->inner = inner;
	f->kind = kind;
	f->fault_at = fault_at;
	f->io = *inner; /* path, mode, depth, size, statistics */
	f->io.ops = &fault_ops;
	f->io.fd = -1;
	snprintf(f->io.note, sizeof(f->io.note), "%s at request %llu injected over %s", fault_name(kind),
		 (unsigned long long)fault_at, inner->ops->name);
	*out = &f->io;
	return FLOE_OK;
}

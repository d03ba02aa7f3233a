/* io_uring: the default backend, one ring per open file (liburing).
 *
 * At most queue_depth reads are in the kernel at once; requests beyond that
 * wait in a pending list (intrusive, req->next) and enter the ring as earlier
 * ones complete, normal requests before low-priority ones (prefetch).  A batch of submitted requests costs
 * one io_uring_submit. Each completion goes through the shared retry rules (io.c): a short read or EINTR puts
 * the request back at the front of the pending list for another attempt, so resumption is a real second read
 * through the ring.  Requests that complete without reaching the kernel (an armed fault, a bad range) and
 * completions beyond what the caller asked to reap wait in a done list.
 *
 * Only the thread that submits and reaps touches the ring: no locks. */
#include "experts/io.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct io_uring_be {
	struct floe_io io; /* first: the common header */
	struct io_uring ring;
	struct floe_io_list pending[2]; /* need a read attempt, not in the ring: [low_prio] */
	struct floe_io_list done;	    /* complete, not yet reaped */
	int inflight;		    /* attempts in the ring */
	int outstanding;	    /* submitted and not yet reaped */
};

/* Move pending requests into the ring while it has room, then submit them
 * with one system call. */
static int flush_pending(struct io_uring_be *u, struct floe_err *err)
{
	int queued = 0, r;

	while (u->inflight < u->io.queue_depth && (u->pending[0].head || u->pending[1].head)) {
		struct floe_io_list *from = u->pending[0].head ? &u->pending[0] : &u->pending[1];
		struct floe_io_req *req = from->head;
		struct io_uring_sqe *sqe;
		uint64_t off, len;
		void *buf;

		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			break; /* submission ring full: submit what we have */
		floe_io_list_pop(from);
		if (floe_io_attempt_begin(&u->io, req, &off, &len, &buf) == FLOE_IO_STEP_DONE) {
			/* The SQE is handed back as a no-op so the ring stays
			 * consistent; its completion is ignored. */
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, NULL);
			floe_io_list_push(&u->done, req);
		} else {
			io_uring_prep_read(sqe, u->io.fd, buf, (unsigned)len, off);
			io_uring_sqe_set_data(sqe, req);
		}
		u->inflight++;
		queued++;
	}
	if (queued == 0)
		return FLOE_OK;
	do
		r = io_uring_submit(&u->ring);
	while (r == -EINTR);
	/* EAGAIN/EBUSY: the kernel is short of resources or completions; the
	 * SQEs stay queued and the next io_uring_submit_and_wait sends them. */
	if (r < 0 && r != -EAGAIN && r != -EBUSY)
		return floe_fail(err, FLOE_EIO, "io_uring_submit on %s: %s (errno %d)", u->io.path,
				 strerror(-r), -r);
	return FLOE_OK;
}

/* Run every available completion through the retry rules. */
static void drain_cqes(struct io_uring_be *u)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct floe_io_req *req = io_uring_cqe_get_data(cqe);
		int64_t res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		if (!req)
			continue; /* a no-op placeholder */
		if (floe_io_attempt_end(&u->io, req, res) == FLOE_IO_STEP_READ)
			floe_io_list_push_front(&u->pending[req->low_prio ? 1 : 0], req);
		else
			floe_io_list_push(&u->done, req);
	}
}

static int uring_submit(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err)
{
	struct io_uring_be *u = (struct io_uring_be *)io;

	for (int i = 0; i < n; i++) {
		floe_io_req_start(reqs[i]);
		floe_io_list_push(&u->pending[reqs[i]->low_prio ? 1 : 0], reqs[i]);
	}
	u->outstanding += n;
	return flush_pending(u, err);
}

static int uring_reap(struct floe_io *io, struct floe_io_req **done, int max, int min_done,
		      struct floe_err *err)
{
	struct io_uring_be *u = (struct io_uring_be *)io;
	int n = 0, st;

	if (min_done > max)
		min_done = max;
	for (;;) {
		struct floe_io_req *req;

		drain_cqes(u);
		st = flush_pending(u, err);
		if (st < 0)
			return st;
		while (n < max && (req = floe_io_list_pop(&u->done))) {
			done[n++] = req;
			u->outstanding--;
			floe_io_finish(io, req);
		}
		if (n >= min_done || u->outstanding == 0)
			break;
		if (u->inflight > 0) {
			/* Also submits SQEs an earlier submit left queued. */
			int r = io_uring_submit_and_wait(&u->ring, 1);
			if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
				return floe_fail(err, FLOE_EIO, "io_uring wait on %s: %s (errno %d)",
						 io->path, strerror(-r), -r);
		}
	}
	return n;
}

static void uring_close(struct floe_io *io)
{
	struct io_uring_be *u = (struct io_uring_be *)io;

	/* Reads still in the kernel would write into buffers the caller is
	 * about to free: wait for them first. */
	while (u->inflight > 0) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&u->ring, &cqe);
		if (r < 0 && r != -EINTR && r != -EAGAIN)
			break;
		if (r == 0) {
			io_uring_cqe_seen(&u->ring, cqe);
			u->inflight--;
		}
	}
	io_uring_queue_exit(&u->ring);
	if (io->fd >= 0)
		close(io->fd);
	free(u);
}

static const struct floe_io_ops uring_ops = {
    .name = "io_uring",
    .submit = uring_submit,
    .reap = uring_reap,
    .close = uring_close,
};

/* FLOE_EUNSUPPORTED when this kernel or container cannot do io_uring reads,
 * so floe_io_open(AUTO) knows to fall back. */
static int ring_init(struct io_uring_be *u, int depth, struct floe_err *err)
{
	struct io_uring_probe *probe;
	bool can_read;
	int r = io_uring_queue_init((unsigned)depth, &u->ring, 0);

	if (r < 0)
		return floe_fail(err, FLOE_EUNSUPPORTED,
				 "io_uring unavailable: io_uring_queue_init: %s (errno %d)", strerror(-r),
				 -r);
	probe = io_uring_get_probe_ring(&u->ring);
	can_read = probe && io_uring_opcode_supported(probe, IORING_OP_READ);
	if (probe)
		io_uring_free_probe(probe);
	if (!can_read) {
		io_uring_queue_exit(&u->ring);
		return floe_fail(err, FLOE_EUNSUPPORTED,
				 "io_uring unavailable: the kernel lacks IORING_OP_READ");
	}
	return FLOE_OK;
}

int floe_io_uring_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err)
{
	struct io_uring_be *u = calloc(1, sizeof(*u));
	int st;

	*out = NULL;
	if (!u)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the io_uring backend");
	u->io.ops = &uring_ops;
	u->io.fd = -1;
	st = ring_init(u, params->queue_depth > 0 ? params->queue_depth : FLOE_IO_DEFAULT_DEPTH, err);
	if (st < 0) {
		free(u);
		return st;
	}
	st = floe_io_open_file(&u->io, path, params, err);
	if (st < 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return st;
	}
	*out = &u->io;
	return FLOE_OK;
}

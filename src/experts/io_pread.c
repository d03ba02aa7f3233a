/* io_pread: the portable backend, a small pool of threads doing pread.
 *
 * Used when io_uring is unavailable (old kernels, containers that forbid it)
 * or asked for.  The threads are started at open and live until close;
 * requests travel through two intrusive lists (req->next) guarded by one
 * mutex, so a read allocates nothing and creates no thread.  Workers take
 * normal requests before low-priority ones (prefetch).  A worker takes a
 * request, runs the shared retry rules (io.c) around pread until the request
 * is complete, and moves it to the completion list; the reaping thread waits
 * on a condition variable for it and does the bookkeeping (floe_io_finish). */
#include "experts/io.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREAD_MAX_THREADS 8

struct io_pread {
	struct floe_io io; /* first: the common header */
	pthread_mutex_t lock;
	pthread_cond_t work;	  /* queue gained a request, or stop */
	pthread_cond_t complete;  /* done gained a request */
	struct floe_io_list queue[2]; /* submitted, not yet taken by a worker: [low_prio] */
	struct floe_io_list done;	  /* complete, not yet reaped */
	int outstanding;	  /* submitted and not yet reaped */
	bool stop;
	int n_threads;
	pthread_t threads[PREAD_MAX_THREADS];
};

/* Read one request to completion (success or failure) with the shared rules. */
static void read_request(const struct floe_io *io, struct floe_io_req *req)
{
	uint64_t off, len;
	void *buf;

	while (floe_io_attempt_begin(io, req, &off, &len, &buf) == FLOE_IO_STEP_READ) {
		ssize_t r = pread(io->fd, buf, (size_t)len, (off_t)off);
		if (floe_io_attempt_end(io, req, r < 0 ? -(int64_t)errno : (int64_t)r) == FLOE_IO_STEP_DONE)
			break;
	}
}

static void *worker_main(void *arg)
{
	struct io_pread *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct floe_io_req *req;
		while (!p->stop && !p->queue[0].head && !p->queue[1].head)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		req = floe_io_list_pop(&p->queue[0]);
		if (!req)
			req = floe_io_list_pop(&p->queue[1]);
		pthread_mutex_unlock(&p->lock);
		read_request(&p->io, req);
		pthread_mutex_lock(&p->lock);
		floe_io_list_push(&p->done, req);
		pthread_cond_signal(&p->complete);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int pread_submit(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err)
{
	struct io_pread *p = (struct io_pread *)io;

	(void)err;
	for (int i = 0; i < n; i++)
		floe_io_req_start(reqs[i]);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < n; i++)
		floe_io_list_push(&p->queue[reqs[i]->low_prio ? 1 : 0], reqs[i]);
	p->outstanding += n;
	if (n == 1)
		pthread_cond_signal(&p->work);
	else if (n > 1)
		pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	return FLOE_OK;
}

static int pread_reap(struct floe_io *io, struct floe_io_req **done, int max, int min_done,
		      struct floe_err *err)
{
	struct io_pread *p = (struct io_pread *)io;
	int n = 0;

	(void)err;
	if (min_done > max)
		min_done = max;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct floe_io_req *req;
		while (n < max && (req = floe_io_list_pop(&p->done))) {
			done[n++] = req;
			p->outstanding--;
		}
		if (n >= min_done || p->outstanding == 0)
			break;
		pthread_cond_wait(&p->complete, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < n; i++)
		floe_io_finish(io, done[i]);
	return n;
}

static void stop_workers(struct io_pread *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
}

static void pread_close(struct floe_io *io)
{
	struct io_pread *p = (struct io_pread *)io;

	stop_workers(p);
	pthread_cond_destroy(&p->complete);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	if (io->fd >= 0)
		close(io->fd);
	free(p);
}

static const struct floe_io_ops pread_ops = {
    .name = "pread",
    .submit = pread_submit,
    .reap = pread_reap,
    .close = pread_close,
};

int floe_io_pread_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		       struct floe_err *err)
{
	struct io_pread *p = calloc(1, sizeof(*p));
	int st, want;

	*out = NULL;
	if (!p)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for the pread backend");
	p->io.ops = &pread_ops;
	st = floe_io_open_file(&p->io, path, params, err);
	if (st < 0) {
		free(p);
		return st;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->complete, NULL);
	/* One thread per read in flight, capped: past a few, threads add
	 * switching, not bandwidth (io_uring is the deep-queue path). */
	want = p->io.queue_depth < PREAD_MAX_THREADS ? p->io.queue_depth : PREAD_MAX_THREADS;
	p->io.queue_depth = want;
	for (int i = 0; i < want; i++) {
		int e = pthread_create(&p->threads[i], NULL, worker_main, p);
		if (e != 0) {
			pread_close(&p->io);
			return floe_fail(err, FLOE_ENOMEM, "cannot start pread thread %d of %d: %s", i + 1,
					 want, strerror(e));
		}
		p->n_threads++;
	}
	*out = &p->io;
	return FLOE_OK;
}

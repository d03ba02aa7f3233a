/* io: opening the model file for expert reads, choosing a backend, and the
 * retry rules every backend shares.
 *
 * The backends (io_uring.c, io_pread.c) only move bytes: what to do with a
 * short read, an EINTR, an error or the end of the file is decided here, in
 * floe_io_attempt_begin/end, so one code path is tested by the fault wrapper
 * whichever backend runs underneath.  Those two functions touch nothing but
 * the request, so the pread workers can call them; floe_io_finish runs on the
 * thread that reaps and updates the shared statistics. */
#include "experts/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

/* ---- Opening the file ------------------------------------------------ */

/* Some filesystems accept O_DIRECT at open and refuse it at the first read
 * (EINVAL), so one aligned page is read to find out before any real read. */
static int probe_direct(int fd, int *err_no)
{
	void *page = floe_alloc_aligned(FLOE_IO_ALIGN);
	ssize_t r;

	if (!page) {
		*err_no = ENOMEM;
		return -1;
	}
	do
		r = pread(fd, page, FLOE_IO_ALIGN, 0);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	*err_no = r < 0 ? errno : 0;
	floe_free_aligned(page);
	return r < 0 ? -1 : 0;
}

static int open_buffered(struct floe_io *io, const char *path, struct floe_err *err)
{
	io->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (io->fd < 0)
		return floe_fail(err, FLOE_EIO, "cannot open %s: %s (errno %d)", path, strerror(errno),
				 errno);
	io->direct = false;
	return FLOE_OK;
}

/* O_DIRECT first; EINVAL at open or at the probe read means the filesystem
 * refuses it, so reopen buffered and drop each range from the page cache
 * after reading it (the budget does not control the page cache). */
static int open_direct(struct floe_io *io, struct floe_err *err)
{
	const char *path = io->path;
	int err_no = 0;

	io->fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (io->fd < 0 && errno != EINVAL)
		return floe_fail(err, FLOE_EIO, "cannot open %s: %s (errno %d)", path, strerror(errno),
				 errno);
	if (io->fd >= 0 && probe_direct(io->fd, &err_no) == 0) {
		io->direct = true;
		return FLOE_OK;
	}
	if (io->fd >= 0 && err_no != EINVAL) {
		close(io->fd);
		io->fd = -1;
		return floe_fail(err, FLOE_EIO, "first read of %s failed: %s (errno %d)", path,
				 strerror(err_no), err_no);
	}
	return floe_io_refuse_direct(io, err);
}

int floe_io_refuse_direct(struct floe_io *io, struct floe_err *err)
{
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	floe_info("io: %s: O_DIRECT refused by the filesystem, using buffered reads + DONTNEED\n", io->path);
	io->refused = true;
	io->drop_cache = true;
	return open_buffered(io, io->path, err);
}

int floe_io_open_file(struct floe_io *io, const char *path, const struct floe_io_params *params,
		      struct floe_err *err)
{
	struct stat st;
	int st_ok;

	if (strlen(path) >= sizeof(io->path))
		return floe_fail(err, FLOE_EARG, "path too long (%zu bytes): %s", strlen(path), path);
	snprintf(io->path, sizeof(io->path), "%s", path);
	io->queue_depth = params->queue_depth > 0 ? params->queue_depth : FLOE_IO_DEFAULT_DEPTH;
	io->fd = -1;
	st_ok = params->buffered ? open_buffered(io, path, err) : open_direct(io, err);
	if (st_ok < 0)
		return st_ok;
	if (fstat(io->fd, &st) != 0) {
		int e = errno;
		close(io->fd);
		io->fd = -1;
		return floe_fail(err, FLOE_EIO, "cannot stat %s: %s (errno %d)", path, strerror(e), e);
	}
	io->file_size = (uint64_t)st.st_size;
	return FLOE_OK;
}

/* ---- Choosing a backend ---------------------------------------------- */

int floe_io_open(const char *path, const struct floe_io_params *params, struct floe_io **out,
		 struct floe_err *err)
{
	static const struct floe_io_params defaults = {0};
	struct floe_err uring_err = {0};
	int st;

	*out = NULL;
	if (!params)
		params = &defaults;
	if (params->queue_depth < 0 || params->queue_depth > 4096)
		return floe_fail(err, FLOE_EARG, "io queue depth %d out of range [0, 4096]",
				 params->queue_depth);
	switch (params->kind) {
	case FLOE_IO_URING:
		return floe_io_uring_open(path, params, out, err);
	case FLOE_IO_PREAD:
		return floe_io_pread_open(path, params, out, err);
	case FLOE_IO_AUTO:
		break;
	default:
		return floe_fail(err, FLOE_EARG, "unknown io backend kind %d", (int)params->kind);
	}
	st = floe_io_uring_open(path, params, out, &uring_err);
	if (st == FLOE_OK)
		return FLOE_OK;
	/* A file that cannot be opened fails the same way with pread; only an
	 * unavailable io_uring is a reason to fall back. */
	if (st != FLOE_EUNSUPPORTED)
		return floe_fail(err, st, "%s", uring_err.msg);
	floe_info("io: %s; falling back to pread threads\n", uring_err.msg);
	st = floe_io_pread_open(path, params, out, err);
	if (st == FLOE_OK)
		snprintf((*out)->note, sizeof((*out)->note), "%s", uring_err.msg);
	return st;
}

void floe_io_close(struct floe_io *io)
{
	if (io)
		io->ops->close(io);
}

const char *floe_io_describe(const struct floe_io *io, char *buf, int buflen)
{
	const char *mode = io->direct	 ? "O_DIRECT"
			   : io->refused ? "buffered (O_DIRECT refused by the filesystem)"
					 : "buffered (page cache by request)";

	snprintf(buf, (size_t)buflen, "%s, %s, depth %d%s%s", io->ops->name, mode, io->queue_depth,
		 io->note[0] ? "; " : "", io->note);
	return buf;
}

int floe_io_submit(struct floe_io *io, struct floe_io_req **reqs, int n, struct floe_err *err)
{
	return io->ops->submit(io, reqs, n, err);
}

int floe_io_reap(struct floe_io *io, struct floe_io_req **done, int max, int min_done, struct floe_err *err)
{
	return io->ops->reap(io, done, max, min_done, err);
}

/* ---- Retry rules ----------------------------------------------------- */

void floe_io_req_start(struct floe_io_req *req)
{
	req->result = FLOE_OK;
	req->done = 0;
	req->attempt = 0;
	req->next = NULL;
	req->n_retries = 0;
	req->n_again = 0;
	req->why = FLOE_IO_WHY_NONE;
	req->err_no = 0;
}

static enum floe_io_step req_fail(struct floe_io_req *req, enum floe_io_why why, int err_no)
{
	req->result = FLOE_EIO;
	req->why = (uint8_t)why;
	req->err_no = err_no;
	return FLOE_IO_STEP_DONE;
}

/* Bytes of the request that lie inside the file: the request is complete once
 * these arrived. */
static uint64_t req_want(const struct floe_io *io, const struct floe_io_req *req)
{
	uint64_t end = io->file_size - req->offset;
	return req->len < end ? req->len : end;
}

static enum floe_io_step req_complete(const struct floe_io *io, struct floe_io_req *req)
{
	uint64_t want = req_want(io, req);

	/* The aligned superset of the file's last bytes reaches past its end. */
	if (want < req->len)
		memset((char *)req->buf + want, 0, req->len - want);
	req->done = req->len;
	req->result = FLOE_OK;
	return FLOE_IO_STEP_DONE;
}

static bool misaligned(const struct floe_io_req *req)
{
	return req->offset % FLOE_IO_ALIGN || req->len % FLOE_IO_ALIGN || (uintptr_t)req->buf % FLOE_IO_ALIGN;
}

enum floe_io_step floe_io_attempt_begin(const struct floe_io *io, struct floe_io_req *req, uint64_t *off,
					uint64_t *len, void **buf)
{
	uint64_t rest;
	int fault = req->fault;

	/* An armed fault acts on the first attempt only, so the retry that
	 * follows is a real read through the backend. */
	req->fault = 0;
	if (req->done == 0 && req->n_retries == 0) {
		if (req->len == 0)
			return req_complete(io, req);
		if (req->offset >= io->file_size)
			return req_fail(req, FLOE_IO_WHY_RANGE, 0);
		if (io->direct && misaligned(req))
			return req_fail(req, FLOE_IO_WHY_ALIGN, EINVAL);
	}
	if (fault == FLOE_FAULT_EIO || fault == FLOE_FAULT_EINTR) {
		int e = fault == FLOE_FAULT_EIO ? EIO : EINTR;
		if (floe_io_attempt_end(io, req, -e) == FLOE_IO_STEP_DONE)
			return FLOE_IO_STEP_DONE;
	}
	rest = req->len - req->done;
	if (rest > FLOE_IO_MAX_ATTEMPT)
		rest = FLOE_IO_MAX_ATTEMPT;
	req->attempt = rest;
	if (fault == FLOE_FAULT_SHORT) {
		/* Read only half of what the attempt stands for: the result
		 * is a short read the backend must resume (aligned under
		 * O_DIRECT; a single page cannot be halved there, so it is
		 * read whole). */
		uint64_t half = rest / 2;
		if (io->direct)
			half -= half % FLOE_IO_ALIGN;
		if (half > 0)
			rest = half;
	}
	*off = req->offset + req->done;
	*len = rest;
	*buf = (char *)req->buf + req->done;
	return FLOE_IO_STEP_READ;
}

enum floe_io_step floe_io_attempt_end(const struct floe_io *io, struct floe_io_req *req, int64_t res)
{
	uint64_t want = req_want(io, req), before = req->done;

	if (res == -EINTR || res == -EAGAIN) {
		req->n_retries++;
		if (++req->n_again > FLOE_IO_MAX_AGAIN)
			return req_fail(req, FLOE_IO_WHY_AGAIN, (int)-res);
		return FLOE_IO_STEP_READ;
	}
	if (res < 0)
		return req_fail(req, FLOE_IO_WHY_ERRNO, (int)-res);
	if (res == 0 && req->done < want)
		return req_fail(req, FLOE_IO_WHY_EOF, 0);
	req->done += (uint64_t)res;
	if (req->done >= want)
		return req_complete(io, req);
	/* Short read inside the file: resume with the rest.  Under O_DIRECT
	 * the next offset must stay aligned, so a partial page is read again. */
	if ((uint64_t)res < req->attempt)
		req->n_retries++;
	if (io->direct)
		req->done -= req->done % FLOE_IO_ALIGN;
	if (req->done > before)
		req->n_again = 0;
	else if (++req->n_again > FLOE_IO_MAX_AGAIN)
		return req_fail(req, FLOE_IO_WHY_AGAIN, 0);
	return FLOE_IO_STEP_READ;
}

void floe_io_finish(struct floe_io *io, struct floe_io_req *req)
{
	io->n_reads++;
	io->n_retries += req->n_retries;
	if (req->result < 0) {
		floe_io_req_error(io, req, &io->err);
		return;
	}
	io->bytes_read += req_want(io, req);
	if (io->drop_cache)
		(void)posix_fadvise(io->fd, (off_t)req->offset, (off_t)req->len, POSIX_FADV_DONTNEED);
}

int floe_io_req_error(const struct floe_io *io, const struct floe_io_req *req, struct floe_err *err)
{
	int e = req->err_no;

	switch (req->why) {
	case FLOE_IO_WHY_ERRNO:
		return floe_fail(
		    err, req->result, "read of %s at offset %llu (len %llu) failed: %s (errno %d)", io->path,
		    (unsigned long long)req->offset, (unsigned long long)req->len, strerror(e), e);
	case FLOE_IO_WHY_AGAIN:
		if (e == 0)
			return floe_fail(err, req->result,
					 "read of %s at offset %llu (len %llu) failed: no progress after %d "
					 "short reads",
					 io->path, (unsigned long long)req->offset,
					 (unsigned long long)req->len, FLOE_IO_MAX_AGAIN + 1);
		return floe_fail(
		    err, req->result,
		    "read of %s at offset %llu (len %llu) failed: %s (errno %d) %d times in a row", io->path,
		    (unsigned long long)req->offset, (unsigned long long)req->len, strerror(e), e,
		    FLOE_IO_MAX_AGAIN + 1);
	case FLOE_IO_WHY_EOF:
		return floe_fail(err, req->result,
				 "read of %s at offset %llu (len %llu) failed: end of file after %llu bytes "
				 "(file was %llu bytes at open)",
				 io->path, (unsigned long long)req->offset, (unsigned long long)req->len,
				 (unsigned long long)(req->offset + req->done),
				 (unsigned long long)io->file_size);
	case FLOE_IO_WHY_RANGE:
		return floe_fail(err, req->result,
				 "read of %s at offset %llu (len %llu) failed: starts past the end of the "
				 "file (%llu bytes)",
				 io->path, (unsigned long long)req->offset, (unsigned long long)req->len,
				 (unsigned long long)io->file_size);
	case FLOE_IO_WHY_ALIGN:
		return floe_fail(err, req->result,
				 "read of %s at offset %llu (len %llu) failed: offset, length or buffer "
				 "not aligned to %d for O_DIRECT",
				 io->path, (unsigned long long)req->offset, (unsigned long long)req->len,
				 FLOE_IO_ALIGN);
	default:
		return floe_fail(err, req->result, "read of %s at offset %llu (len %llu) failed: status %d",
				 io->path, (unsigned long long)req->offset, (unsigned long long)req->len,
				 req->result);
	}
}

/* ---- Request lists ---------------------------------------------------- */

void floe_io_list_push(struct floe_io_list *l, struct floe_io_req *r)
{
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

void floe_io_list_push_front(struct floe_io_list *l, struct floe_io_req *r)
{
	r->next = l->head;
	l->head = r;
	if (!l->tail)
		l->tail = r;
}

struct floe_io_req *floe_io_list_pop(struct floe_io_list *l)
{
	struct floe_io_req *r = l->head;

	if (r) {
		l->head = r->next;
		if (!l->head)
			l->tail = NULL;
		r->next = NULL;
	}
	return r;
}

/* Tests for src/experts/io*: both backends read the right bytes, the end of
 * the file, deep queues, the shared retry rules under injected EIO, short
 * reads and EINTR, the tmpfs (O_DIRECT refused) fallback, open errors. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "experts_testfile.h"

#include "base/alloc.h"
#include "experts/io.h"

/* Not a multiple of 4096, so the last aligned page reaches past the end. */
#define FILE_SIZE (3u * 1024 * 1024 + 1234)

static char g_path[256];

static const enum floe_io_kind g_kinds[] = {FLOE_IO_PREAD, FLOE_IO_URING};
static const char *kind_name(enum floe_io_kind k)
{
	return k == FLOE_IO_PREAD ? "pread" : "io_uring";
}

static struct floe_io *open_kind(const char *path, enum floe_io_kind kind, int depth, bool buffered)
{
	struct floe_io_params p = {.kind = kind, .queue_depth = depth, .buffered = buffered};
	struct floe_err e = {0};
	struct floe_io *io = NULL;

	if (floe_io_open(path, &p, &io, &e) < 0)
		fprintf(stderr, "  open %s (%s): %s\n", path, kind_name(kind), e.msg);
	return io;
}

/* Submit reqs[0..n) and reap them all (min_done 1 at a time). */
static int run_all(struct floe_io *io, struct floe_io_req *reqs, int n)
{
	struct floe_io_req *ptrs[64], *done[64];
	struct floe_err e = {0};
	int got = 0;

	for (int i = 0; i < n; i++)
		ptrs[i] = &reqs[i];
	if (floe_io_submit(io, ptrs, n, &e) < 0)
		return -1;
	while (got < n) {
		int r = floe_io_reap(io, done, 64, 1, &e);
		if (r <= 0)
			return -1;
		got += r;
	}
	return got;
}

/* A pseudo-random aligned request set over the whole file, including the
 * page that reaches past the end. */
static int make_reqs(struct floe_io_req *reqs, int n, unsigned char *arena, uint64_t seed)
{
	uint64_t pages = (FILE_SIZE + FLOE_IO_ALIGN - 1) / FLOE_IO_ALIGN;

	for (int i = 0; i < n; i++) {
		uint64_t r = testfile_mix(seed + (uint64_t)i);
		uint64_t npg = 1 + r % 8, first = (r >> 8) % (pages - npg + 1);
		if (i == n - 1)
			first = pages - npg; /* the last one ends past EOF */
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].offset = first * FLOE_IO_ALIGN;
		reqs[i].len = npg * FLOE_IO_ALIGN;
		reqs[i].buf = arena + (size_t)i * 8 * FLOE_IO_ALIGN;
		reqs[i].user = (uint64_t)i;
		memset(reqs[i].buf, 0xAB, reqs[i].len);
	}
	return n;
}

static bool req_correct(const struct floe_io_req *r)
{
	uint64_t in_file = r->offset + r->len > FILE_SIZE ? FILE_SIZE - r->offset : r->len;
	const unsigned char *b = r->buf;

	if (r->result != FLOE_OK || !testfile_matches(r->buf, r->offset, in_file))
		return false;
	for (uint64_t i = in_file; i < r->len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void test_backends_read_correct_bytes(void)
{
	enum { N = 24 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 4, false);
		char desc[256];
		CHECK(io != NULL);
		if (!io)
			continue;
		CHECK(strcmp(io->ops->name, kind_name(g_kinds[k])) == 0);
		CHECK(io->file_size == FILE_SIZE);
		fprintf(stderr, "  %s\n", floe_io_describe(io, desc, sizeof(desc)));
		for (int round = 0; round < 3; round++) {
			make_reqs(reqs, N, arena, 1000u * (unsigned)round + (unsigned)k);
			CHECK(run_all(io, reqs, N) == N);
			for (int i = 0; i < N; i++)
				CHECKF(req_correct(&reqs[i]), "%s req %d at %llu len %llu result %d",
				       kind_name(g_kinds[k]), i, (unsigned long long)reqs[i].offset,
				       (unsigned long long)reqs[i].len, reqs[i].result);
		}
		CHECK(io->n_reads == 3 * N);
		CHECK(io->n_retries == 0);
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

/* More requests than the queue depth: they wait and go in as others finish. */
static void test_queue_deeper_than_depth(void)
{
	enum { N = 40 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 2, false);
		CHECK(io != NULL);
		if (!io)
			continue;
		make_reqs(reqs, N, arena, 77);
		CHECK(run_all(io, reqs, N) == N);
		for (int i = 0; i < N; i++)
			CHECK(req_correct(&reqs[i]));
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

/* Reaping one at a time keeps the rest for later calls. */
static void test_reap_one_at_a_time(void)
{
	enum { N = 12 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N], *ptrs[N];
	bool seen[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 3, false);
		struct floe_err e = {0};
		int got = 0;
		CHECK(io != NULL);
		if (!io)
			continue;
		make_reqs(reqs, N, arena, 31);
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < N; i++)
			ptrs[i] = &reqs[i];
		CHECK(floe_io_submit(io, ptrs, N, &e) == FLOE_OK);
		for (int round = 0; round < 2 * N && got < N; round++) {
			struct floe_io_req *one[1];
			int r = floe_io_reap(io, one, 1, 1, &e);
			CHECK(r == 1);
			if (r != 1)
				break;
			CHECK(!seen[one[0]->user] && req_correct(one[0]));
			seen[one[0]->user] = true;
			got++;
		}
		CHECK(got == N);
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

/* Normal requests overtake queued low-priority ones (prefetch): with one read
 * in flight at a time, a normal request submitted after five low-priority
 * ones completes no later than second. */
static void test_low_priority_goes_last(void)
{
	enum { N = 6 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N], *ptrs[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 1, false);
		struct floe_err e = {0};
		int pos = -1;
		CHECK(io != NULL);
		if (!io)
			continue;
		make_reqs(reqs, N, arena, 55);
		for (int i = 0; i < N; i++) {
			reqs[i].low_prio = i < N - 1;
			ptrs[i] = &reqs[i];
		}
		CHECK(floe_io_submit(io, ptrs, N - 1, &e) == FLOE_OK);
		CHECK(floe_io_submit(io, ptrs + N - 1, 1, &e) == FLOE_OK);
		for (int i = 0; i < N; i++) {
			struct floe_io_req *one[1];
			if (floe_io_reap(io, one, 1, 1, &e) != 1) {
				CHECK(0);
				break;
			}
			CHECK(req_correct(one[0]));
			if (one[0]->user == N - 1)
				pos = i;
		}
		CHECKF(pos >= 0 && pos <= 1, "%s: normal request completed at position %d",
		       kind_name(g_kinds[k]), pos);
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

static void test_reap_with_nothing_outstanding_returns(void)
{
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 0, false);
		struct floe_io_req *done[4];
		struct floe_err e = {0};
		CHECK(io != NULL);
		if (!io)
			continue;
		CHECK(io->queue_depth == (g_kinds[k] == FLOE_IO_PREAD ? 8 : 16));
		CHECK(floe_io_reap(io, done, 4, 1, &e) == 0);
		floe_io_close(io);
	}
}

static void test_read_past_end_fails_cleanly(void)
{
	unsigned char *buf = floe_alloc_aligned(FLOE_IO_ALIGN);
	REQUIRE(buf);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 4, false);
		struct floe_io_req r = {
		    .offset = floe_round_up(FILE_SIZE, FLOE_IO_ALIGN), .len = FLOE_IO_ALIGN, .buf = buf};
		struct floe_err e = {0};
		CHECK(io != NULL);
		if (!io)
			continue;
		CHECK(run_all(io, &r, 1) == 1);
		CHECK(r.result == FLOE_EIO);
		floe_io_req_error(io, &r, &e);
		CHECKF(strstr(e.msg, "past the end") && strstr(e.msg, g_path), "%s", e.msg);
		floe_io_close(io);
	}
	floe_free_aligned(buf);
}

/* The N-th request gets the fault; returns the io (wrapper) or NULL. */
static struct floe_io *open_fault(const char *path, enum floe_io_kind kind, bool buffered,
				  enum floe_io_fault f, uint64_t at)
{
	struct floe_io *inner = open_kind(path, kind, 4, buffered), *io = NULL;
	struct floe_err e = {0};

	if (!inner || floe_io_fault_wrap(inner, f, at, &io, &e) < 0)
		return NULL;
	return io;
}

static void test_fault_eio_fails_one_request_with_message(void)
{
	enum { N = 6 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_fault(g_path, g_kinds[k], false, FLOE_FAULT_EIO, 3);
		struct floe_err e = {0};
		char want[64];
		CHECK(io != NULL);
		if (!io)
			continue;
		make_reqs(reqs, N, arena, 5);
		CHECK(run_all(io, reqs, N) == N);
		for (int i = 0; i < N; i++)
			if (i != 2)
				CHECK(req_correct(&reqs[i]));
		CHECK(reqs[2].result == FLOE_EIO);
		CHECK(floe_io_req_error(io, &reqs[2], &e) == FLOE_EIO);
		snprintf(want, sizeof(want), "at offset %llu (len %llu)", (unsigned long long)reqs[2].offset,
			 (unsigned long long)reqs[2].len);
		CHECKF(strstr(e.msg, g_path) && strstr(e.msg, want) && strstr(e.msg, "(errno 5)") &&
			   strstr(e.msg, "Input/output error"),
		       "%s", e.msg);
		CHECK(io->err.status == FLOE_EIO && strcmp(io->err.msg, e.msg) == 0);
		/* The backend keeps working afterwards. */
		make_reqs(reqs, N, arena, 6);
		CHECK(run_all(io, reqs, N) == N);
		for (int i = 0; i < N; i++)
			CHECK(req_correct(&reqs[i]));
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

static void fault_recovers(const char *path, bool buffered, enum floe_io_fault f)
{
	enum { N = 6 };
	unsigned char *arena = floe_alloc_aligned((size_t)N * 8 * FLOE_IO_ALIGN);
	struct floe_io_req reqs[N];

	REQUIRE(arena);
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_fault(path, g_kinds[k], buffered, f, 2);
		CHECK(io != NULL);
		if (!io)
			continue;
		make_reqs(reqs, N, arena, 9);
		reqs[1].len = 6 * FLOE_IO_ALIGN; /* halvable on page boundaries */
		CHECK(run_all(io, reqs, N) == N);
		for (int i = 0; i < N; i++)
			CHECKF(req_correct(&reqs[i]), "%s fault %d req %d", kind_name(g_kinds[k]), (int)f, i);
		CHECKF(reqs[1].n_retries > 0 && io->n_retries > 0, "%s fault %d retries %u/%llu",
		       kind_name(g_kinds[k]), (int)f, reqs[1].n_retries, (unsigned long long)io->n_retries);
		CHECK(reqs[0].n_retries == 0);
		floe_io_close(io);
	}
	floe_free_aligned(arena);
}

static void test_fault_short_read_resumes(void)
{
	fault_recovers(g_path, false, FLOE_FAULT_SHORT);
}
static void test_fault_eintr_retries(void)
{
	fault_recovers(g_path, false, FLOE_FAULT_EINTR);
}
static void test_fault_short_buffered(void)
{
	fault_recovers(g_path, true, FLOE_FAULT_SHORT);
}

static void test_buffered_by_request(void)
{
	struct floe_io *io = open_kind(g_path, FLOE_IO_PREAD, 2, true);
	char desc[256];

	REQUIRE(io != NULL);
	CHECK(!io->direct && !io->refused && !io->drop_cache);
	CHECK(strstr(floe_io_describe(io, desc, sizeof(desc)), "buffered (page cache by request)"));
	floe_io_close(io);
}

/* Whether the filesystem under path takes O_DIRECT reads. */
static bool fs_takes_direct(const char *path)
{
	void *page = floe_alloc_aligned(FLOE_IO_ALIGN);
	int fd = open(path, O_RDONLY | O_DIRECT);
	bool ok = fd >= 0 && page && pread(fd, page, FLOE_IO_ALIGN, 0) >= 0;

	if (fd >= 0)
		close(fd);
	floe_free_aligned(page);
	return ok;
}

/* A backend in the refused-O_DIRECT mode says so and reads correctly (also
 * unaligned, which buffered reads allow), through the retry rules too. */
static void check_buffered_fallback(struct floe_io *io)
{
	unsigned char *buf = floe_alloc_aligned(10000);
	struct floe_io_req r = {.offset = 12345, .len = 9999, .buf = NULL};
	char desc[256];

	REQUIRE(buf);
	r.buf = buf + 1;
	CHECK(!io->direct && io->refused && io->drop_cache);
	CHECKF(
	    strstr(floe_io_describe(io, desc, sizeof(desc)), "buffered (O_DIRECT refused by the filesystem)"),
	    "%s", desc);
	CHECK(run_all(io, &r, 1) == 1);
	CHECK(r.result == FLOE_OK && testfile_matches(r.buf, r.offset, r.len));
	floe_free_aligned(buf);
}

/* tmpfs refused O_DIRECT before Linux 6.6 and takes it since.  Where it
 * refuses, open must fall back by itself; where it takes it, O_DIRECT must be
 * used, and the fallback is exercised by switching the open backend the way
 * open would (floe_io_refuse_direct). */
static void test_tmpfs_fallback(void)
{
	char path[256];
	bool takes;

	if (!dir_exists("/dev/shm")) {
		fprintf(stderr, "  /dev/shm missing: tmpfs fallback not tested\n");
		return;
	}
	REQUIRE(testfile_create("/dev/shm", "io", FILE_SIZE, path, sizeof(path)));
	takes = fs_takes_direct(path);
	fprintf(stderr, "  /dev/shm %s O_DIRECT\n", takes ? "takes" : "refuses");
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(path, g_kinds[k], 4, false);
		struct floe_err e = {0};
		CHECK(io != NULL);
		if (!io)
			continue;
		CHECK(io->direct == takes);
		if (takes)
			CHECK(floe_io_refuse_direct(io, &e) == FLOE_OK);
		check_buffered_fallback(io);
		floe_io_close(io);
	}
	if (!takes) {
		fault_recovers(path, false, FLOE_FAULT_SHORT);
		fault_recovers(path, false, FLOE_FAULT_EINTR);
	}
	unlink(path);
}

static void test_direct_rejects_unaligned(void)
{
	struct floe_io *io = open_kind(g_path, FLOE_IO_URING, 2, false);
	unsigned char *buf = floe_alloc_aligned(2 * FLOE_IO_ALIGN);
	struct floe_io_req r = {.offset = 100, .len = FLOE_IO_ALIGN, .buf = buf};
	struct floe_err e = {0};

	REQUIRE(io && buf);
	if (io->direct) {
		CHECK(run_all(io, &r, 1) == 1);
		CHECK(r.result == FLOE_EIO);
		floe_io_req_error(io, &r, &e);
		CHECKF(strstr(e.msg, "not aligned"), "%s", e.msg);
	} else {
		fprintf(stderr, "  %s: O_DIRECT not in effect here, alignment check skipped\n", g_path);
	}
	floe_io_close(io);
	floe_free_aligned(buf);
}

static void test_open_errors(void)
{
	struct floe_io_params p = {.kind = FLOE_IO_AUTO};
	struct floe_io *io = (struct floe_io *)1;
	struct floe_err e = {0};

	CHECK(floe_io_open("/var/tmp/floe-no-such-file", &p, &io, &e) == FLOE_EIO);
	CHECK(io == NULL);
	CHECKF(strstr(e.msg, "/var/tmp/floe-no-such-file") && strstr(e.msg, "errno 2"), "%s", e.msg);
	p.queue_depth = -1;
	CHECK(floe_io_open(g_path, &p, &io, &e) == FLOE_EARG);
	p.queue_depth = 0;
	p.kind = (enum floe_io_kind)9;
	CHECK(floe_io_open(g_path, &p, &io, &e) == FLOE_EARG);
}

/* AUTO picks io_uring where it works, and otherwise pread with the reason. */
static void test_auto_choice(void)
{
	struct floe_io_params p = {.kind = FLOE_IO_URING};
	struct floe_io *io = NULL;
	struct floe_err e = {0};
	int uring_ok = floe_io_open(g_path, &p, &io, &e) == FLOE_OK;

	floe_io_close(io);
	p.kind = FLOE_IO_AUTO;
	REQUIRE(floe_io_open(g_path, &p, &io, &e) == FLOE_OK);
	if (uring_ok) {
		CHECK(strcmp(io->ops->name, "io_uring") == 0 && io->note[0] == '\0');
	} else {
		CHECK(strcmp(io->ops->name, "pread") == 0 && strstr(io->note, "io_uring unavailable"));
	}
	floe_io_close(io);
}

/* Run fn in a child process under a seccomp filter; returns its exit status
 * (2 = seccomp unavailable), or -1 if it died. */
static int run_filtered(struct sock_filter *filter, unsigned short len, int (*fn)(void))
{
	struct sock_fprog prog = {.len = len, .filter = filter};
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(2);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The file opens (and probes) as a filesystem refusing O_DIRECT makes it:
 * both backends fall back to buffered reads, say so, and read correctly. */
static int refused_child(void)
{
	for (int k = 0; k < 2; k++) {
		struct floe_io *io = open_kind(g_path, g_kinds[k], 2, false);
		struct floe_io_req r = {.offset = 8192, .len = 3 * FLOE_IO_ALIGN};
		char desc[512];
		if (!io)
			return 3;
		floe_io_describe(io, desc, sizeof(desc));
		if (io->direct || !io->refused || !io->drop_cache ||
		    !strstr(desc, "buffered (O_DIRECT refused by the filesystem)"))
			return 4;
		r.buf = floe_alloc_aligned(r.len);
		if (!r.buf || run_all(io, &r, 1) != 1 || !req_correct(&r))
			return 5;
		floe_free_aligned(r.buf);
		floe_io_close(io);
	}
	return 0;
}

static void check_filtered(int st, const char *what)
{
	if (st == 2) {
		fprintf(stderr, "  seccomp unavailable: %s not tested\n", what);
		return;
	}
	CHECKF(st == 0, "%s: child exit %d", what, st);
}

/* EINVAL for open with O_DIRECT. */
static void test_direct_refused_at_open(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_DIRECT, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check_filtered(run_filtered(f, sizeof(f) / sizeof(f[0]), refused_child), "EINVAL at open");
}

/* EINVAL for the first read (the open-time probe: one page at offset 0). */
static void test_direct_refused_at_first_read(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pread64, 0, 5),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FLOE_IO_ALIGN, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check_filtered(run_filtered(f, sizeof(f) / sizeof(f[0]), refused_child), "EINVAL at first read");
}

/* Containers often forbid io_uring (seccomp: io_uring_setup fails with
 * EPERM).  A child process installs exactly such a filter and checks that
 * AUTO falls back to pread, says why, and reads correctly. */
static int auto_without_uring_child(void)
{
	struct floe_io_params p = {.kind = FLOE_IO_AUTO};
	struct floe_io_req r = {.offset = 0, .len = 2 * FLOE_IO_ALIGN};
	struct floe_io *io = NULL;
	struct floe_err e = {0};
	char desc[512];

	if (floe_io_uring_open(g_path, &p, &io, &e) != FLOE_EUNSUPPORTED)
		return 3;
	if (floe_io_open(g_path, &p, &io, &e) != FLOE_OK)
		return 4;
	floe_io_describe(io, desc, sizeof(desc));
	fprintf(stderr, "  without io_uring: %s\n", desc);
	if (strcmp(io->ops->name, "pread") != 0 || !strstr(desc, "io_uring unavailable") ||
	    !strstr(desc, "Operation not permitted"))
		return 5;
	r.buf = floe_alloc_aligned(r.len);
	if (!r.buf || run_all(io, &r, 1) != 1 || !req_correct(&r))
		return 6;
	floe_free_aligned(r.buf);
	floe_io_close(io);
	return 0;
}

static void test_auto_falls_back_without_io_uring(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check_filtered(run_filtered(f, sizeof(f) / sizeof(f[0]), auto_without_uring_child),
		       "io_uring fallback");
}

int main(void)
{
	if (!testfile_create("/var/tmp", "io", FILE_SIZE, g_path, sizeof(g_path))) {
		fprintf(stderr, "cannot create a test file under /var/tmp\n");
		return 1;
	}
	RUN(test_backends_read_correct_bytes);
	RUN(test_queue_deeper_than_depth);
	RUN(test_reap_one_at_a_time);
	RUN(test_low_priority_goes_last);
	RUN(test_reap_with_nothing_outstanding_returns);
	RUN(test_read_past_end_fails_cleanly);
	RUN(test_fault_eio_fails_one_request_with_message);
	RUN(test_fault_short_read_resumes);
	RUN(test_fault_eintr_retries);
	RUN(test_fault_short_buffered);
	RUN(test_buffered_by_request);
	RUN(test_tmpfs_fallback);
	RUN(test_direct_rejects_unaligned);
	RUN(test_open_errors);
	RUN(test_auto_choice);
	RUN(test_auto_falls_back_without_io_uring);
	RUN(test_direct_refused_at_open);
	RUN(test_direct_refused_at_first_read);
	unlink(g_path);
	return harness_finish();
}

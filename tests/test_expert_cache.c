/* Tests for src/experts/expert_cache: the index's validation, correct bytes
 * for unaligned slices through both backends at every cache size, LRU order
 * and pinning, in-flight hits, the budget error, failed reads (EIO) and
 * recovered ones (short, EINTR), the tmpfs fallback. */
#include "harness.h"

#include "experts_testfile.h"

#include "base/alloc.h"
#include "experts/expert_cache.h"

enum { N_LAYERS = 3, N_EXPERTS = 8, K = 4 };

static char g_path[256];
static uint64_t g_file_size;
static struct floe_expert_slice g_parts[N_LAYERS * FLOE_EXPERT_PARTS];

static const enum floe_io_kind g_kinds[] = {FLOE_IO_PREAD, FLOE_IO_URING};
static const char *kind_name(enum floe_io_kind k)
{
	return k == FLOE_IO_PREAD ? "pread" : "io_uring";
}

/* Stacked tensors at unaligned offsets with odd sizes; the last slice of the
 * last layer ends the file, whose size is then not a multiple of 4096. */
static void make_layout(void)
{
	static const uint64_t sizes[FLOE_EXPERT_PARTS] = {9000, 13000, 8300};
	uint64_t at = 1000;

	for (int l = 0; l < N_LAYERS; l++) {
		for (int p = 0; p < FLOE_EXPERT_PARTS; p++) {
			struct floe_expert_slice *s = &g_parts[l * FLOE_EXPERT_PARTS + p];
			s->offset = at;
			s->bytes = sizes[p] + (uint64_t)l * 111;
			s->stride = s->bytes;
			s->type = 0;
			s->rows = 1;
			s->cols = (int64_t)s->bytes;
			at += s->bytes * N_EXPERTS;
			if (!(l == N_LAYERS - 1 && p == FLOE_EXPERT_PARTS - 1))
				at += 333; /* gap between tensors */
		}
	}
	g_file_size = at;
}

static bool ref_correct(const struct floe_expert_ref *r)
{
	for (int p = 0; p < FLOE_EXPERT_PARTS; p++) {
		const struct floe_expert_slice *s = &g_parts[r->layer * FLOE_EXPERT_PARTS + p];
		if (!r->data[p] ||
		    !testfile_matches(r->data[p], s->offset + (uint64_t)r->expert * s->stride, s->bytes))
			return false;
	}
	return true;
}

struct fixture {
	struct floe_expert_index idx;
	struct floe_io *io;
	struct floe_expert_cache *cache;
};

static enum floe_policy g_policy = FLOE_EVICT_LRU;

static bool fixture_open_io(struct fixture *f, const char *path, struct floe_io *io, uint64_t n_slots)
{
	struct floe_cache_params cp = {.n_slots = n_slots, .policy = g_policy};
	struct floe_err e = {0};
	uint64_t size = io->file_size;

	(void)path;
	memset(f, 0, sizeof(*f));
	f->io = io;
	if (floe_expert_index_init(&f->idx, N_LAYERS, N_EXPERTS, g_parts, size, &e) < 0 ||
	    floe_cache_create(&f->idx, f->io, &cp, &f->cache, &e) < 0) {
		fprintf(stderr, "  fixture: %s\n", e.msg);
		return false;
	}
	return true;
}

static struct floe_io *open_io(const char *path, enum floe_io_kind kind)
{
	struct floe_io_params p = {.kind = kind, .queue_depth = 4};
	struct floe_io *io = NULL;
	struct floe_err e = {0};

	if (floe_io_open(path, &p, &io, &e) < 0)
		fprintf(stderr, "  open %s: %s\n", path, e.msg);
	return io;
}

static bool fixture_open(struct fixture *f, enum floe_io_kind kind, uint64_t n_slots)
{
	struct floe_io *io = open_io(g_path, kind);
	return io && fixture_open_io(f, g_path, io, n_slots);
}

static void fixture_close(struct fixture *f)
{
	floe_cache_destroy(f->cache);
	floe_io_close(f->io);
	floe_expert_index_free(&f->idx);
}

/* Request, wait (one by one or in completion order), check, release. */
static int use_layer(struct fixture *f, int layer, const int *ids, int n, bool any_order)
{
	struct floe_expert_ref refs[N_EXPERTS * 2];
	bool ready[N_EXPERTS * 2] = {0};
	struct floe_err e = {0};
	int bad = 0;

	if (floe_cache_request(f->cache, layer, ids, n, refs, &e) < 0) {
		fprintf(stderr, "  request: %s\n", e.msg);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int j = i;
		if (any_order)
			j = floe_cache_wait_any(f->cache, refs, ready, n, &e);
		else if (floe_cache_wait(f->cache, &refs[i], &e) < 0)
			j = -1;
		if (j < 0) {
			fprintf(stderr, "  wait: %s\n", e.msg);
			bad++;
			continue;
		}
		if (!ref_correct(&refs[j]))
			bad++;
	}
	floe_cache_release(f->cache, refs, n);
	return bad;
}

/* A pseudo-random routing trace: K distinct experts per layer, layers in
 * order, several tokens. */
static void trace_ids(uint64_t token, int layer, int *ids)
{
	int n = 0;
	for (uint64_t r = 0; n < K; r++) {
		int e = (int)(testfile_mix(token * 1000 + (uint64_t)layer * 37 + r) % N_EXPERTS);
		bool dup = false;
		for (int i = 0; i < n; i++)
			dup |= ids[i] == e;
		if (!dup)
			ids[n++] = e;
	}
}

static void test_correct_bytes_every_cache_size(void)
{
	static const uint64_t sizes[] = {K, N_EXPERTS, 13, N_LAYERS * N_EXPERTS};

	for (int k = 0; k < 2; k++) {
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			struct fixture f;
			const struct floe_cache_stats *st;
			int bad = 0;
			if (!fixture_open(&f, g_kinds[k], sizes[si])) {
				CHECK(0);
				fixture_close(&f);
				continue;
			}
			for (uint64_t t = 0; t < 8; t++) {
				for (int l = 0; l < N_LAYERS; l++) {
					int ids[K];
					trace_ids(t, l, ids);
					bad += use_layer(&f, l, ids, K, (t + (uint64_t)l) % 2 == 1);
				}
			}
			st = floe_cache_stats(f.cache);
			CHECKF(bad == 0, "%s, %llu slots: %d bad", kind_name(g_kinds[k]),
			       (unsigned long long)sizes[si], bad);
			CHECK(st->requests == 8 * N_LAYERS * K);
			CHECK(st->hits + st->misses == st->requests);
			CHECK(st->reads == st->misses * FLOE_EXPERT_PARTS);
			CHECK(st->bytes_read > 0 && st->bytes_read % FLOE_IO_ALIGN == 0);
			if (sizes[si] == N_LAYERS * N_EXPERTS) {
				CHECK(st->evictions == 0);
				CHECK(st->misses <= N_LAYERS * N_EXPERTS);
			} else {
				CHECK(st->evictions > 0);
				CHECK(st->misses - st->evictions <= sizes[si]);
			}
			fixture_close(&f);
		}
	}
}

/* Every eviction policy keeps the data right and never evicts a pinned or
 * in-flight slot (the cache asserts that), at tight and roomy sizes. */
static void test_every_policy(void)
{
	static const uint64_t sizes[] = {K, 7, 2 * N_EXPERTS};

	for (int pol = 0; pol < FLOE_POLICY_COUNT; pol++) {
		g_policy = (enum floe_policy)pol;
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			struct fixture f;
			int bad = 0;
			if (!fixture_open(&f, FLOE_IO_URING, sizes[si])) {
				CHECK(0);
				fixture_close(&f);
				continue;
			}
			for (uint64_t t = 0; t < 12; t++)
				for (int l = 0; l < N_LAYERS; l++) {
					int ids[K];
					trace_ids(t, l, ids);
					bad += use_layer(&f, l, ids, K, l == 1);
				}
			CHECKF(bad == 0, "policy %s, %llu slots", floe_policy_name(g_policy),
			       (unsigned long long)sizes[si]);
			CHECK(floe_cache_stats(f.cache)->evictions > 0);
			fixture_close(&f);
		}
	}
	g_policy = FLOE_EVICT_LRU;
}

/* Request and release one expert at a time. */
static bool touch(struct fixture *f, int layer, int e)
{
	return use_layer(f, layer, &e, 1, false) == 0;
}

static void test_lru_evicts_least_recently_used_never_pinned(void)
{
	struct fixture f;
	struct floe_expert_ref held;
	struct floe_err e = {0};
	int id0 = 0;

	REQUIRE(fixture_open(&f, FLOE_IO_PREAD, 3));
	CHECK(touch(&f, 0, 0) && touch(&f, 0, 1) && touch(&f, 0, 2));
	CHECK(touch(&f, 0, 0)); /* hit: 0 becomes the most recent; 1 is the oldest */
	CHECK(floe_cache_stats(f.cache)->hits == 1);
	CHECK(touch(&f, 0, 3)); /* evicts 1 */
	CHECK(!floe_cache_resident(f.cache, 0, 1));
	CHECK(floe_cache_resident(f.cache, 0, 0) && floe_cache_resident(f.cache, 0, 2) &&
	      floe_cache_resident(f.cache, 0, 3));
	/* Order now (oldest first): 2, 0, 3.  Pin 2, the oldest: the next
	 * eviction must take 0 instead. */
	id0 = 2;
	REQUIRE(floe_cache_request(f.cache, 0, &id0, 1, &held, &e) == FLOE_OK);
	CHECK(held.hit);
	CHECK(touch(&f, 0, 4));
	CHECK(floe_cache_resident(f.cache, 0, 2) && !floe_cache_resident(f.cache, 0, 0));
	CHECK(touch(&f, 0, 5)); /* 3 is now the oldest unpinned */
	CHECK(floe_cache_resident(f.cache, 0, 2) && !floe_cache_resident(f.cache, 0, 3));
	CHECK(floe_cache_wait(f.cache, &held, &e) == FLOE_OK && ref_correct(&held));
	floe_cache_release(f.cache, &held, 1);
	CHECK(floe_cache_stats(f.cache)->evictions == 3);
	fixture_close(&f);
}

/* dup_reads counts an expert read again within one chunk, and only then. */
static void test_dup_reads_within_a_chunk(void)
{
	struct fixture f;

	REQUIRE(fixture_open(&f, FLOE_IO_PREAD, 2));
	floe_cache_next_chunk(f.cache);
	CHECK(touch(&f, 0, 0) && touch(&f, 0, 1) && touch(&f, 0, 0)); /* a hit: no read */
	CHECK(floe_cache_stats(f.cache)->dup_reads == 0);
	CHECK(touch(&f, 0, 2) && touch(&f, 0, 3)); /* evict 0 and 1 */
	CHECK(touch(&f, 0, 1));                    /* 1 again in the same chunk */
	CHECK(floe_cache_stats(f.cache)->dup_reads == 1);
	floe_cache_next_chunk(f.cache);
	CHECK(touch(&f, 0, 0)); /* read in an earlier chunk only */
	CHECK(touch(&f, 1, 1)); /* another layer's expert 1 */
	CHECK(floe_cache_stats(f.cache)->dup_reads == 1);
	CHECK(floe_cache_stats(f.cache)->misses == 7);
	fixture_close(&f);
}

/* The hits of a request are pinned before its misses take slots, so a miss
 * never evicts an expert the same request is about to use. */
static void test_miss_never_evicts_a_hit_of_the_same_request(void)
{
	struct fixture f;
	int ids[2] = {3, 0};

	REQUIRE(fixture_open(&f, FLOE_IO_URING, 3));
	CHECK(touch(&f, 0, 0) && touch(&f, 0, 1) && touch(&f, 0, 2)); /* 0 is the oldest */
	CHECK(use_layer(&f, 0, ids, 2, false) == 0);
	CHECK(floe_cache_stats(f.cache)->reads == 4 * FLOE_EXPERT_PARTS);
	CHECK(floe_cache_stats(f.cache)->hits == 1 && floe_cache_stats(f.cache)->evictions == 1);
	CHECK(floe_cache_resident(f.cache, 0, 0) && !floe_cache_resident(f.cache, 0, 1));
	fixture_close(&f);
}

static void test_in_flight_hit_reads_once(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_expert_ref a[2], b[1];
		struct floe_err e = {0};
		int ids[2] = {5, 5}, one = 5;

		if (!fixture_open(&f, g_kinds[k], N_EXPERTS)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		/* The same expert twice in one request, then again while
		 * its reads are (possibly) still in flight. */
		CHECK(floe_cache_request(f.cache, 1, ids, 2, a, &e) == FLOE_OK);
		CHECK(!a[0].hit && a[1].hit);
		CHECK(floe_cache_request(f.cache, 1, &one, 1, b, &e) == FLOE_OK);
		CHECK(b[0].hit);
		CHECK(floe_cache_wait(f.cache, &b[0], &e) == FLOE_OK && ref_correct(&b[0]));
		CHECK(floe_cache_wait(f.cache, &a[1], &e) == FLOE_OK && ref_correct(&a[1]));
		CHECK(floe_cache_wait(f.cache, &a[0], &e) == FLOE_OK && ref_correct(&a[0]));
		CHECK(floe_cache_stats(f.cache)->reads == FLOE_EXPERT_PARTS);
		CHECK(floe_cache_stats(f.cache)->misses == 1 && floe_cache_stats(f.cache)->hits == 2);
		floe_cache_release(f.cache, a, 2);
		floe_cache_release(f.cache, b, 1);
		CHECK(floe_cache_resident(f.cache, 1, 5));
		fixture_close(&f);
	}
}

/* Releasing a ref whose reads are still in flight must not make the slot
 * evictable before they land. */
static void test_release_before_wait(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_expert_ref r[2];
		struct floe_err e = {0};
		int ids[2] = {1, 2};

		if (!fixture_open(&f, g_kinds[k], 2)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		CHECK(floe_cache_request(f.cache, 0, ids, 2, r, &e) == FLOE_OK);
		floe_cache_release(f.cache, r, 2);
		/* Both slots are unpinned but maybe still in flight: a miss
		 * waits for one to land and evicts it, never fails. */
		CHECK(touch(&f, 0, 3));
		CHECK(floe_cache_stats(f.cache)->evictions == 1);
		/* Exactly one of 1 and 2 is still cached, landed or maybe still in
		 * flight (so floe_cache_resident cannot tell): asking for both hits
		 * that one and reloads the other into 3's slot. */
		CHECK(floe_cache_request(f.cache, 0, ids, 2, r, &e) == FLOE_OK);
		CHECK(r[0].hit != r[1].hit);
		CHECK(floe_cache_wait(f.cache, &r[0], &e) == FLOE_OK && ref_correct(&r[0]));
		CHECK(floe_cache_wait(f.cache, &r[1], &e) == FLOE_OK && ref_correct(&r[1]));
		floe_cache_release(f.cache, r, 2);
		CHECK(floe_cache_stats(f.cache)->reads == 4 * FLOE_EXPERT_PARTS);
		CHECK(floe_cache_stats(f.cache)->hits == 1);
		CHECK(floe_cache_stats(f.cache)->evictions == 2);
		fixture_close(&f);
	}
}

static void test_all_pinned_is_budget_error(void)
{
	struct fixture f;
	struct floe_expert_ref held[2], more[3];
	struct floe_err e = {0};
	int two[2] = {0, 1}, three[3] = {2, 3, 4}, other = 6;

	REQUIRE(fixture_open(&f, FLOE_IO_URING, 2));
	REQUIRE(floe_cache_request(f.cache, 2, two, 2, held, &e) == FLOE_OK);
	CHECK(floe_cache_request(f.cache, 2, &other, 1, more, &e) == FLOE_EBUDGET);
	CHECKF(strstr(e.msg, "all 2 slots"), "%s", e.msg);
	/* Still usable: the held ones complete, and after release the slots
	 * serve new experts. */
	CHECK(floe_cache_wait(f.cache, &held[0], &e) == FLOE_OK && ref_correct(&held[0]));
	CHECK(floe_cache_wait(f.cache, &held[1], &e) == FLOE_OK && ref_correct(&held[1]));
	floe_cache_release(f.cache, held, 2);
	/* Three misses with two slots: fails whole, leaving nothing pinned. */
	CHECK(floe_cache_request(f.cache, 2, three, 3, more, &e) == FLOE_EBUDGET);
	CHECK(use_layer(&f, 2, three, 2, false) == 0);
	CHECK(use_layer(&f, 2, two, 2, true) == 0);
	fixture_close(&f);
}

static struct floe_io *open_fault(const char *path, enum floe_io_kind kind, enum floe_io_fault fk,
				  uint64_t at)
{
	struct floe_io *inner = open_io(path, kind), *io = NULL;
	struct floe_err e = {0};

	if (!inner || floe_io_fault_wrap(inner, fk, at, &io, &e) < 0)
		return NULL;
	return io;
}

static void test_failed_read_reports_and_recovers(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_io *io = open_fault(g_path, g_kinds[k], FLOE_FAULT_EIO, 5);
		struct floe_expert_ref r[3];
		bool ready[3] = {0};
		struct floe_err e = {0};
		int ids[3] = {0, 3, 7}, failed = 0, ok = 0;
		char want[64];

		/* Request 5 is the up part (index 1) of the second expert. */
		const struct floe_expert_slice *up = &g_parts[1 * FLOE_EXPERT_PARTS + FLOE_EXPERT_UP];
		uint64_t off = up->offset + 3 * up->stride;
		snprintf(want, sizeof(want), "at offset %llu ",
			 (unsigned long long)(off - off % FLOE_IO_ALIGN));
		if (!io || !fixture_open_io(&f, g_path, io, N_EXPERTS)) {
			CHECK(0);
			continue;
		}
		REQUIRE(floe_cache_request(f.cache, 1, ids, 3, r, &e) == FLOE_OK);
		for (int i = 0; i < 3; i++) {
			int j = floe_cache_wait_any(f.cache, r, ready, 3, &e);
			if (j >= 0) {
				ok++;
				CHECK(ref_correct(&r[j]));
				continue;
			}
			failed++;
			CHECK(j == FLOE_EIO);
			CHECKF(strstr(e.msg, g_path) && strstr(e.msg, want) && strstr(e.msg, "(errno 5)"),
			       "%s (want '%s')", e.msg, want);
		}
		CHECK(failed == 1 && ok == 2);
		CHECK(ready[0] && ready[1] && ready[2]);
		/* A plain wait on the failed ref reports the same error again. */
		CHECK(floe_cache_wait(f.cache, &r[1], &e) == FLOE_EIO);
		CHECK(!floe_cache_resident(f.cache, 1, 3));
		floe_cache_release(f.cache, r, 3);
		/* The expert is read again and the cache keeps working. */
		CHECK(use_layer(&f, 1, ids, 3, false) == 0);
		CHECK(floe_cache_resident(f.cache, 1, 3));
		/* Every slot is usable again: fill them all. */
		for (int l = 0; l < N_LAYERS; l++) {
			int all[N_EXPERTS];
			for (int i = 0; i < N_EXPERTS; i++)
				all[i] = i;
			CHECK(use_layer(&f, l, all, N_EXPERTS, l == 1) == 0);
		}
		fixture_close(&f);
	}
}

static void retried_fault_keeps_data(enum floe_io_fault fk)
{
	for (int k = 0; k < 2; k++) {
		for (uint64_t at = 1; at <= 6; at++) {
			struct fixture f;
			struct floe_io *io = open_fault(g_path, g_kinds[k], fk, at);
			int ids[2] = {2, 6};
			if (!io || !fixture_open_io(&f, g_path, io, N_EXPERTS)) {
				CHECK(0);
				continue;
			}
			CHECKF(use_layer(&f, 2, ids, 2, at % 2 == 0) == 0, "%s fault %d at %llu",
			       kind_name(g_kinds[k]), (int)fk, (unsigned long long)at);
			/* Halving needs two pages under O_DIRECT: each of these
			 * reads spans at least three (slices >= 8300 bytes). */
			CHECKF(f.io->n_retries > 0, "%s fault %d at %llu: no retry", kind_name(g_kinds[k]),
			       (int)fk, (unsigned long long)at);
			fixture_close(&f);
		}
	}
}

static void test_short_reads_resume(void)
{
	retried_fault_keeps_data(FLOE_FAULT_SHORT);
}
static void test_eintr_retried(void)
{
	retried_fault_keeps_data(FLOE_FAULT_EINTR);
}

/* Through a backend in buffered fallback mode (tmpfs where it refuses
 * O_DIRECT, or switched as open would). */
static void test_tmpfs_fallback(void)
{
	char path[256];

	if (!dir_exists("/dev/shm")) {
		fprintf(stderr, "  /dev/shm missing: tmpfs fallback not tested\n");
		return;
	}
	REQUIRE(testfile_create("/dev/shm", "cache", g_file_size, path, sizeof(path)));
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_io *io = open_io(path, g_kinds[k]);
		struct floe_err e = {0};
		if (!io) {
			CHECK(0);
			continue;
		}
		if (io->direct)
			CHECK(floe_io_refuse_direct(io, &e) == FLOE_OK);
		CHECK(!io->direct && io->refused);
		if (!fixture_open_io(&f, path, io, 5)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		for (uint64_t t = 0; t < 3; t++)
			for (int l = 0; l < N_LAYERS; l++) {
				int ids[K];
				trace_ids(t, l, ids);
				CHECK(use_layer(&f, l, ids, K, l == 2) == 0);
			}
		fixture_close(&f);
	}
	unlink(path);
}

static void test_index_validation(void)
{
	struct floe_expert_slice parts[N_LAYERS * FLOE_EXPERT_PARTS];
	struct floe_expert_index idx;
	struct floe_err e = {0};

	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, g_parts, g_file_size, &e) == FLOE_OK);
	CHECK(idx.slot_bytes % FLOE_IO_ALIGN == 0 && idx.slot_bytes >= 9000 + 13000 + 8300);
	floe_expert_index_free(&idx);
	/* One byte short of the last slice. */
	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, g_parts, g_file_size - 1, &e) ==
	      FLOE_EFORMAT);
	CHECKF(strstr(e.msg, "past the end of the file"), "%s", e.msg);
	CHECK(idx.parts == NULL);
	memcpy(parts, g_parts, sizeof(parts));
	parts[4].stride = parts[4].bytes - 1;
	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, parts, g_file_size, &e) == FLOE_EFORMAT);
	memcpy(parts, g_parts, sizeof(parts));
	parts[2].stride = UINT64_MAX / 4;
	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, parts, g_file_size, &e) == FLOE_EFORMAT);
	memcpy(parts, g_parts, sizeof(parts));
	parts[0].offset = UINT64_MAX - 10;
	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, parts, g_file_size, &e) == FLOE_EFORMAT);
	memcpy(parts, g_parts, sizeof(parts));
	parts[7].bytes = 0;
	CHECK(floe_expert_index_init(&idx, N_LAYERS, N_EXPERTS, parts, g_file_size, &e) == FLOE_EFORMAT);
	CHECK(floe_expert_index_init(&idx, 0, N_EXPERTS, g_parts, g_file_size, &e) == FLOE_EFORMAT);
	CHECK(floe_expert_index_init(&idx, N_LAYERS, 0, g_parts, g_file_size, &e) == FLOE_EFORMAT);
}

static void test_prefetch_then_request_hits(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_err e = {0};
		int guess[3] = {1, 4, 6}, need[3] = {4, 6, 2};
		const struct floe_cache_stats *st;

		if (!fixture_open(&f, g_kinds[k], N_EXPERTS)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		st = floe_cache_stats(f.cache);
		CHECK(floe_cache_prefetch(f.cache, 1, guess, 3, &e) == 3);
		CHECK(floe_cache_prefetch(f.cache, 1, guess, 3, &e) == 0); /* in flight already */
		CHECK(use_layer(&f, 1, need, 3, true) == 0);
		CHECK(st->reads == 4 * FLOE_EXPERT_PARTS);
		CHECK(st->prefetches == 3 && st->prefetch_hits == 2);
		CHECK(st->hits == 2 && st->misses == 1);
		CHECK(use_layer(&f, 1, guess, 1, false) == 0); /* 1 landed unused: now a hit */
		CHECK(st->prefetch_hits == 3 && st->reads == 4 * FLOE_EXPERT_PARTS);
		CHECK(floe_cache_prefetch(f.cache, N_LAYERS, guess, 1, &e) == FLOE_EARG);
		fixture_close(&f);
	}
}

/* poll lands finished reads without waiting: an expert whose reads are in
 * flight shows as loading until a reap (poll or wait) accounts for them,
 * and polling alone eventually makes it resident, on both backends. */
static void test_poll_lands_reads_without_waiting(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_expert_ref r[2];
		struct floe_err e = {0};
		int ids[2] = {3, 5};
		long polls = 0;

		if (!fixture_open(&f, g_kinds[k], N_EXPERTS)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		REQUIRE(floe_cache_request(f.cache, 2, ids, 2, r, &e) == FLOE_OK);
		/* Nothing was reaped since the submit: both still loading. */
		CHECK(floe_cache_loading(f.cache, r, 2) && floe_cache_loading(f.cache, &r[1], 1));
		CHECK(!floe_cache_resident(f.cache, 2, 3));
		while (floe_cache_loading(f.cache, r, 2) && polls < 100000000) {
			CHECK(floe_cache_poll(f.cache, &e) == FLOE_OK);
			polls++;
		}
		CHECKF(!floe_cache_loading(f.cache, r, 2), "still loading after %ld polls", polls);
		CHECK(floe_cache_resident(f.cache, 2, 3) && floe_cache_resident(f.cache, 2, 5));
		/* Landed by polling: wait returns at once with the data. */
		CHECK(floe_cache_wait(f.cache, &r[0], &e) == FLOE_OK && ref_correct(&r[0]));
		CHECK(floe_cache_wait(f.cache, &r[1], &e) == FLOE_OK && ref_correct(&r[1]));
		CHECK(floe_cache_poll(f.cache, &e) == FLOE_OK); /* nothing in flight: returns */
		floe_cache_release(f.cache, r, 2);
		CHECK(!floe_cache_loading(f.cache, r, 2)); /* released refs never load */
		fixture_close(&f);
	}
}

/* Prefetch takes only spare slots: never a pinned one, never waits, never
 * fails for lack of room; demand requests can take its slots back. */
static void test_prefetch_uses_only_spare_slots(void)
{
	struct fixture f;
	struct floe_expert_ref held[2];
	struct floe_err e = {0};
	int two[2] = {0, 1}, three[3] = {2, 3, 4}, five = 5;
	const struct floe_cache_stats *st;

	REQUIRE(fixture_open(&f, FLOE_IO_PREAD, 2));
	st = floe_cache_stats(f.cache);
	REQUIRE(floe_cache_request(f.cache, 0, two, 2, held, &e) == FLOE_OK);
	CHECK(floe_cache_prefetch(f.cache, 0, three, 3, &e) == 0);
	CHECK(floe_cache_wait(f.cache, &held[0], &e) == FLOE_OK && ref_correct(&held[0]));
	CHECK(floe_cache_wait(f.cache, &held[1], &e) == FLOE_OK && ref_correct(&held[1]));
	floe_cache_release(f.cache, held, 2);
	CHECK(floe_cache_prefetch(f.cache, 0, three, 3, &e) == 2); /* stops at the third */
	CHECK(st->prefetches == 2 && st->evictions == 2);
	/* Both slots hold unpinned prefetches, maybe in flight: a demand miss
	 * waits for one to land and evicts it. */
	CHECK(touch(&f, 0, five));
	CHECK(st->evictions == 3 && st->prefetch_hits == 0);
	fixture_close(&f);
}

/* Reads still in flight when the cache goes away land before its arena is
 * freed (the kernel would write into freed memory otherwise). */
static void test_destroy_with_reads_in_flight(void)
{
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct floe_expert_ref r[N_EXPERTS];
		struct floe_err e = {0};
		int all[N_EXPERTS];

		for (int i = 0; i < N_EXPERTS; i++)
			all[i] = i;
		if (!fixture_open(&f, g_kinds[k], N_EXPERTS)) {
			CHECK(0);
			fixture_close(&f);
			continue;
		}
		CHECK(floe_cache_request(f.cache, 2, all, N_EXPERTS, r, &e) == FLOE_OK);
		floe_cache_destroy(f.cache);
		f.cache = NULL;
		/* Every read was reaped by destroy, none left in the backend. */
		CHECK(f.io->n_reads == N_EXPERTS * FLOE_EXPERT_PARTS);
		fixture_close(&f);
	}
}

static void test_bad_arguments(void)
{
	struct fixture f;
	struct floe_expert_ref r[1];
	struct floe_err e = {0};
	struct floe_cache_params cp = {.n_slots = 0};
	struct floe_expert_cache *c = NULL;
	int bad = N_EXPERTS, ok = 0;

	REQUIRE(fixture_open(&f, FLOE_IO_PREAD, 2));
	CHECK(floe_cache_request(f.cache, N_LAYERS, &ok, 1, r, &e) == FLOE_EARG);
	CHECK(floe_cache_request(f.cache, 0, &bad, 1, r, &e) == FLOE_EARG);
	CHECK(floe_cache_create(&f.idx, f.io, &cp, &c, &e) == FLOE_EARG && c == NULL);
	cp.n_slots = 2;
	cp.policy = (enum floe_policy)FLOE_POLICY_COUNT;
	CHECK(floe_cache_create(&f.idx, f.io, &cp, &c, &e) == FLOE_EARG && c == NULL);
	CHECK(floe_cache_slots(f.cache) == 2);
	/* A released ref cannot be waited on. */
	CHECK(floe_cache_request(f.cache, 0, &ok, 1, r, &e) == FLOE_OK);
	floe_cache_release(f.cache, r, 1);
	CHECK(floe_cache_wait(f.cache, &r[0], &e) == FLOE_EARG);
	floe_cache_release(f.cache, r, 1); /* twice is harmless */
	CHECK(touch(&f, 0, 0));
	fixture_close(&f);
}

/* The read log (floe bench replays it) holds each submitted read's file
 * extent, demand and prefetch, in submission order: the aligned superset of
 * that expert part's slice.  Reads past the cap are counted, not stored;
 * hits log nothing; a NULL log stops. */
static bool extent_covers(const struct floe_read_extent *x, int layer, int expert, int part)
{
	const struct floe_expert_slice *s = &g_parts[layer * FLOE_EXPERT_PARTS + part];
	uint64_t off = s->offset + (uint64_t)expert * s->stride;

	return x->offset % FLOE_IO_ALIGN == 0 && x->offset <= off && x->offset + x->len >= off + s->bytes &&
	       x->offset + FLOE_IO_ALIGN > off && x->len < s->bytes + 2 * FLOE_IO_ALIGN;
}

static void test_read_log(void)
{
	struct fixture f;
	struct floe_read_extent log[5];
	struct floe_err e = {0};
	int one = 1, two[2] = {2, 3};

	if (!fixture_open(&f, FLOE_IO_AUTO, N_EXPERTS)) {
		CHECK(0);
		fixture_close(&f);
		return;
	}
	CHECK(floe_cache_logged(f.cache) == 0);
	floe_cache_log_reads(f.cache, log, 5);
	CHECK(floe_cache_prefetch(f.cache, 0, &one, 1, &e) == 1);
	CHECK(use_layer(&f, 1, two, 2, false) == 0);
	CHECK(floe_cache_logged(f.cache) == 3 * FLOE_EXPERT_PARTS);
	for (int p = 0; p < FLOE_EXPERT_PARTS; p++)
		CHECK(extent_covers(&log[p], 0, 1, p));
	CHECK(extent_covers(&log[3], 1, 2, 0) && extent_covers(&log[4], 1, 2, 1));
	CHECK(use_layer(&f, 1, two, 2, false) == 0); /* hits: nothing read */
	CHECK(floe_cache_logged(f.cache) == 3 * FLOE_EXPERT_PARTS);
	floe_cache_log_reads(f.cache, NULL, 0);
	CHECK(use_layer(&f, 2, two, 2, false) == 0);
	CHECK(floe_cache_logged(f.cache) == 0);
	fixture_close(&f);
}

int main(void)
{
	make_layout();
	if (!testfile_create("/var/tmp", "cache", g_file_size, g_path, sizeof(g_path))) {
		fprintf(stderr, "cannot create a test file under /var/tmp\n");
		return 1;
	}
	RUN(test_index_validation);
	RUN(test_correct_bytes_every_cache_size);
	RUN(test_every_policy);
	RUN(test_lru_evicts_least_recently_used_never_pinned);
	RUN(test_miss_never_evicts_a_hit_of_the_same_request);
	RUN(test_dup_reads_within_a_chunk);
	RUN(test_in_flight_hit_reads_once);
	RUN(test_release_before_wait);
	RUN(test_all_pinned_is_budget_error);
	RUN(test_failed_read_reports_and_recovers);
	RUN(test_short_reads_resume);
	RUN(test_eintr_retried);
	RUN(test_tmpfs_fallback);
	RUN(test_prefetch_then_request_hits);
	RUN(test_prefetch_uses_only_spare_slots);
	RUN(test_poll_lands_reads_without_waiting);
	RUN(test_destroy_with_reads_in_flight);
	RUN(test_bad_arguments);
	RUN(test_read_log);
	unlink(g_path);
	return harness_finish();
}

/* floe bench: measurements that print ratios from one run.
 *
 *   floe bench --policies [--trace FILE | --synth NAME] [--sizes 5,10,25,50] [--csv F] [--svg F]
 *       replay a routing trace (recorded with floe run --trace-out, or a
 *       calibrated synthetic one) through every eviction policy at cache sizes
 *       given as % of all experts, next to three oracles (a static top-N
 *       list; on synthetic traces, one that knows the generator's state but
 *       not its draws; Belady's MIN: the best any demand-fetch policy can do).
 *
 *   floe bench --synth NAME --write-trace FILE
 *       write a synthetic trace preset for floe run --trace-replay.
 *
 *   floe bench -m FILE [--mem 2G,4G,8G] [-p 64] [-n 32] [--csv F] [--svg F]
 *       for each budget: open the model, evaluate a prompt, decode greedily;
 *       print prompt and decode tok/s, time to first token, expert hit rate,
 *       bytes read per token, disk GB/s as a fraction of the disk's peak
 *       measured in the same run, and the share of decode time spent waiting
 *       for reads; then decode against the I/O ceiling, with the decode's own
 *       reads replayed back to back as one of its rates.  The plot shows
 *       tok/s and hit rate against --mem.
 *
 *   floe bench --io -m FILE [--seconds S] [--io uring|pread] [--buffered]
 *       read the file at random aligned offsets with O_DIRECT at several
 *       request sizes and queue depths and print GB/s for each and the peak,
 *       so every other figure can be given as a fraction of what this disk
 *       really does (throughput follows bytes in flight, not sequentiality).
 *
 * Speed numbers are never asserted anywhere: a benchmark reports. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "base/alloc.h"
#include "base/timer.h"
#include "chat/sampler.h"
#include "experts/evict.h"
#include "experts/io.h"
#include "experts/trace.h"
#include "plot.h"

/* Synthetic trace presets calibrated to published measurements (docs/perf.md
 * has the fit): consecutive-token overlap and per-layer LRU hit rates. */
struct synth_preset {
	const char *name;
	const char *what;
	struct floe_trace_synth p;
};

static const struct synth_preset synth_presets[] = {
	{"k4-512", "Qwen3.5-397B routing at K=4 of 512 (overlap 26-30%, LRU-16/32/64/128 49/59/68/71%)",
	 {.n_layers = 16, .n_experts = 512, .k = 4, .n_tokens = 2000, .zipf_s = 0.3, .keep_r = 0.2,
	  .ws_b = 0.6, .ws_m = 16, .drift_d = 0.01, .seed = 1}},
	{"k10-512", "Qwen3.5-397B routing at K=10 of 512 (LRU-64 ~67%, LRU-128 ~81%, static top-32 ~10%)",
	 {.n_layers = 16, .n_experts = 512, .k = 10, .n_tokens = 2000, .zipf_s = 0.3, .keep_r = 0.25,
	  .ws_b = 0.7, .ws_m = 48, .drift_d = 0.003, .seed = 1}},
	{"k8-128", "Qwen3-30B-A3B shape (K=8 of 128) with the k10-512 dynamics (not calibrated)",
	 {.n_layers = 48, .n_experts = 128, .k = 8, .n_tokens = 2000, .zipf_s = 0.3, .keep_r = 0.25,
	  .ws_b = 0.7, .ws_m = 24, .drift_d = 0.003, .seed = 1}},
};

static const struct synth_preset *find_preset(const char *name)
{
	for (size_t i = 0; i < sizeof(synth_presets) / sizeof(synth_presets[0]); i++)
		if (!strcmp(synth_presets[i].name, name))
			return &synth_presets[i];
	return NULL;
}

static int parse_list(const char *s, double *out, int max)
{
	int n = 0;
	char *end;
	while (*s && n < max) {
		out[n++] = strtod(s, &end);
		if (end == s)
			return -1;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

/* One layer's LRU hit rate at 16/32/64/128 entries, the published yardstick. */
static void print_calibration(const struct floe_trace *t)
{
	static const uint32_t sizes[] = {16, 32, 64, 128};
	struct floe_trace one;
	struct floe_err err = {0};
	uint16_t *row = malloc(t->k * sizeof(uint16_t));

	if (!row || floe_trace_init(&one, 1, t->n_experts, t->k, &err))
		return;
	for (uint64_t tok = 0; tok < t->n_tokens; tok++) {
		memcpy(row, floe_trace_at(t, tok, 0), t->k * sizeof(uint16_t));
		if (floe_trace_append(&one, row, &err))
			break;
	}
	printf("calibration: consecutive-token overlap %.1f%%; one layer's LRU hit rate:", 100 * floe_trace_overlap(t));
	for (int i = 0; i < 4; i++) {
		struct floe_sim_result r;
		if (sizes[i] < t->n_experts && !floe_evict_simulate(&one, FLOE_POLICY_LRU, sizes[i], &r, &err))
			printf(" %u: %.1f%%", sizes[i], 100.0 * (double)r.hits / (double)r.accesses);
	}
	struct floe_sim_result r;
	if (32 < t->n_experts && !floe_evict_simulate(&one, FLOE_SIM_STATIC, 32, &r, &err))
		printf("; static top-32: %.1f%%", 100.0 * (double)r.hits / (double)r.accesses);
	printf("\n");
	floe_trace_free(&one);
	free(row);
}

static int bench_policies(const char *trace_path, const char *synth, const char *sizes_arg, const char *csv,
			  const char *svg)
{
	enum { MAX_SIZES = 16, N_COL = FLOE_SIM_BELADY + 1 };
	double sizes[MAX_SIZES], x[MAX_SIZES], hit[N_COL][MAX_SIZES];
	struct floe_trace t;
	struct floe_err err = {0};
	int n_sizes = parse_list(sizes_arg, sizes, MAX_SIZES);
	FILE *cf = NULL;

	if (n_sizes <= 0) {
		fprintf(stderr, "floe bench: --sizes: expected a list of percentages like 5,10,25,50\n");
		return 2;
	}
	if (trace_path) {
		if (floe_trace_load(trace_path, &t, &err)) {
			fprintf(stderr, "floe bench: %s\n", err.msg);
			return 1;
		}
		printf("trace %s: %" PRIu64 " tokens, %u layers, %u experts, k=%u\n", trace_path, t.n_tokens,
		       t.n_layers, t.n_experts, t.k);
	} else {
		const struct synth_preset *sp = find_preset(synth);
		if (!sp) {
			fprintf(stderr, "floe bench: unknown --synth '%s' (k4-512, k10-512, k8-128)\n", synth);
			return 2;
		}
		if (floe_trace_synthesize(&sp->p, &t, &err)) {
			fprintf(stderr, "floe bench: %s\n", err.msg);
			return 1;
		}
		printf("synthetic trace %s: %s\n  %" PRIu64 " tokens, %u layers, %u experts, k=%u, s=%.2f r=%.2f "
		       "b=%.2f M=%u d=%.3f\n",
		       sp->name, sp->what, t.n_tokens, t.n_layers, t.n_experts, t.k, sp->p.zipf_s, sp->p.keep_r,
		       sp->p.ws_b, sp->p.ws_m, sp->p.drift_d);
	}
	print_calibration(&t);
	if (csv && !(cf = fopen(csv, "w"))) {
		fprintf(stderr, "floe bench: cannot write %s\n", csv);
		floe_trace_free(&t);
		return 1;
	}
	printf("%-8s %7s", "cache", "slots");
	if (cf)
		fprintf(cf, "cache_pct,slots");
	for (int p = 0; p < N_COL; p++) {
		printf(" %10s", floe_policy_name((enum floe_policy)p));
		if (cf)
			fprintf(cf, ",%s", floe_policy_name((enum floe_policy)p));
	}
	printf("\n");
	if (cf)
		fprintf(cf, "\n");
	for (int i = 0; i < n_sizes; i++) {
		uint32_t slots = (uint32_t)(sizes[i] / 100 * t.n_layers * t.n_experts + 0.5);
		x[i] = sizes[i];
		if (slots < t.k)
			slots = t.k;
		printf("%6.1f%% %7u", sizes[i], slots);
		if (cf)
			fprintf(cf, "%g,%u", sizes[i], slots);
		for (int p = 0; p < N_COL; p++) {
			struct floe_sim_result r;
			hit[p][i] = NAN;
			if (floe_evict_simulate(&t, p, slots, &r, &err) == FLOE_OK)
				hit[p][i] = 100.0 * (double)r.hits / (double)r.accesses;
			if (isnan(hit[p][i])) /* gen-oracle on a recorded trace */
				printf(" %10s", "-");
			else
				printf(" %9.1f%%", hit[p][i]);
			if (cf)
				fprintf(cf, ",%.2f", hit[p][i]);
		}
		printf("\n");
		if (cf)
			fprintf(cf, "\n");
		fflush(stdout);
	}
	if (cf)
		fclose(cf);
	if (svg) {
		struct plot_series series[N_COL];
		struct plot pl = {.title = "expert cache hit rate by eviction policy", .x_label = "cache size (% of all experts)",
				  .y_label = "hit rate (%)", .x = x, .n = n_sizes, .series = series, .n_series = N_COL};
		for (int p = 0; p < N_COL; p++)
			series[p] = (struct plot_series){floe_policy_name((enum floe_policy)p), hit[p], false};
		plot_write_svg(&pl, svg);
	}
	floe_trace_free(&t);
	return 0;
}

/* Write a synthetic trace preset to a file, for floe run --trace-replay. */
static int bench_write_trace(const char *synth, const char *path)
{
	const struct synth_preset *sp = find_preset(synth);
	struct floe_trace t;
	struct floe_err err = {0};
	int st;

	if (!sp) {
		fprintf(stderr, "floe bench: unknown --synth '%s' (k4-512, k10-512, k8-128)\n", synth);
		return 2;
	}
	if (floe_trace_synthesize(&sp->p, &t, &err) || floe_trace_save(&t, path, &err)) {
		fprintf(stderr, "floe bench: %s\n", err.msg);
		return 1;
	}
	printf("wrote %s: synthetic %s, %" PRIu64 " tokens, %u layers, %u experts, k=%u, overlap %.1f%%\n", path,
	       sp->name, t.n_tokens, t.n_layers, t.n_experts, t.k, 100 * floe_trace_overlap(&t));
	st = 0;
	floe_trace_free(&t);
	return st;
}

/* ---- disk peak ---------------------------------------------------------- */

/* Keep `depth` reads of `size` bytes in flight at random aligned offsets for
 * `seconds`; returns GB/s, or a negative status. */
static double io_cell(struct floe_io *io, uint64_t size, int depth, double seconds, uint64_t *rng,
		      unsigned char *arena, struct floe_io_req *reqs, struct floe_io_req **ptrs)
{
	uint64_t span = io->file_size > size ? (io->file_size - size) / FLOE_IO_ALIGN : 0, bytes = 0;
	struct floe_err err = {0};
	double t0 = floe_now_s(), t;
	int in_flight = 0;

	for (int i = 0; i < depth; i++) {
		*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
		reqs[i] = (struct floe_io_req){.offset = span ? *rng % span * FLOE_IO_ALIGN : 0, .len = size,
					       .buf = arena + (size_t)i * size, .user = (uint64_t)i};
		ptrs[i] = &reqs[i];
	}
	if (floe_io_submit(io, ptrs, depth, &err))
		return -1;
	in_flight = depth;
	while (in_flight) {
		struct floe_io_req *done[64];
		int n = floe_io_reap(io, done, 64, 1, &err);
		if (n < 0)
			return -1;
		t = floe_now_s();
		for (int i = 0; i < n; i++) {
			struct floe_io_req *r = done[i];
			in_flight--;
			if (r->result) {
				floe_io_req_error(io, r, &err);
				fprintf(stderr, "floe bench: %s\n", err.msg);
				return -1;
			}
			bytes += r->len;
			if (t - t0 < seconds) {
				*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
				r->offset = span ? *rng % span * FLOE_IO_ALIGN : 0;
				if (floe_io_submit(io, &r, 1, &err))
					return -1;
				in_flight++;
			}
		}
	}
	return (double)bytes / (floe_now_s() - t0) / 1e9;
}

/* The disk's peak over a few request sizes and depths, quietly, for the
 * sweep's "fraction of peak" column; negative on failure. */
static double disk_peak(const char *path, double seconds)
{
	static const uint64_t sizes[] = {1 << 20, 4 << 20};
	static const int depths[] = {8, 32};
	struct floe_io_params iop = {.kind = FLOE_IO_AUTO, .queue_depth = 32};
	struct floe_io_req reqs[32], *ptrs[32];
	struct floe_io *io;
	struct floe_err err = {0};
	uint64_t rng = 0x2545f4914f6cdd1dull;
	unsigned char *arena;
	double peak = -1;

	if (floe_io_open(path, &iop, &io, &err))
		return -1;
	arena = floe_alloc_aligned((size_t)32 * (4 << 20));
	for (int s = 0; arena && s < 2; s++)
		for (int d = 0; d < 2; d++) {
			double g = io_cell(io, sizes[s], depths[d], seconds, &rng, arena, reqs, ptrs);
			if (g > peak)
				peak = g;
		}
	floe_free_aligned(arena);
	floe_io_close(io);
	return peak;
}

/* Read log[0..n) again, back to back, `depth` reads in flight, in the
 * logged order: how long the disk needs for exactly the bytes a run read,
 * with no compute in between.  Run right after the run (the model closed),
 * so any cache below the guest (a VM host's) is as warm for these extents as
 * it can be: the ceiling this gives is, if anything, high.  Returns seconds,
 * or a negative value on failure. */
static double replay_reads(const char *path, const struct floe_read_extent *log, size_t n, int depth)
{
	struct floe_io_params iop = {.kind = FLOE_IO_AUTO, .queue_depth = depth};
	struct floe_io_req *reqs, **ptrs;
	struct floe_io *io;
	struct floe_err err = {0};
	unsigned char *arena = NULL;
	uint64_t max_len = 0;
	size_t next = 0, in_flight = 0;
	double t0, secs = -1;

	for (size_t i = 0; i < n; i++)
		if (log[i].len > max_len)
			max_len = log[i].len;
	if (floe_io_open(path, &iop, &io, &err)) {
		fprintf(stderr, "floe bench: %s\n", err.msg);
		return -1;
	}
	reqs = calloc((size_t)depth, sizeof(*reqs));
	ptrs = calloc((size_t)depth, sizeof(*ptrs));
	if (reqs && ptrs)
		arena = floe_alloc_aligned((size_t)depth * max_len);
	if (!arena)
		goto out;
	t0 = floe_now_s();
	for (; next < n && in_flight < (size_t)depth; next++, in_flight++) {
		reqs[in_flight] = (struct floe_io_req){.offset = log[next].offset, .len = log[next].len,
						       .buf = arena + in_flight * max_len};
		ptrs[in_flight] = &reqs[in_flight];
	}
	if (in_flight && floe_io_submit(io, ptrs, (int)in_flight, &err))
		goto fail;
	while (in_flight) {
		struct floe_io_req *done[64];
		int k = floe_io_reap(io, done, 64, 1, &err);
		if (k < 0)
			goto fail;
		for (int i = 0; i < k; i++) {
			struct floe_io_req *r = done[i];
			in_flight--;
			if (r->result) {
				floe_io_req_error(io, r, &err);
				goto fail;
			}
			if (next < n) {
				r->offset = log[next].offset;
				r->len = log[next++].len;
				if (floe_io_submit(io, &r, 1, &err))
					goto fail;
				in_flight++;
			}
		}
	}
	secs = floe_now_s() - t0;
	goto out;
fail:
	fprintf(stderr, "floe bench: replaying the run's reads: %s\n", err.msg);
out:
	floe_free_aligned(arena);
	free(ptrs);
	free(reqs);
	floe_io_close(io);
	return secs;
}

static int bench_io(const char *path, double seconds, int backend, bool buffered)
{
	static const uint64_t sizes[] = {128 << 10, 512 << 10, 1 << 20, 4 << 20};
	static const int depths[] = {1, 4, 8, 16, 32};
	enum { N_SIZES = 4, N_DEPTHS = 5, MAX_DEPTH = 32 };
	struct floe_io_params iop = {.kind = (enum floe_io_kind)backend, .queue_depth = MAX_DEPTH,
				     .buffered = buffered};
	struct floe_io_req reqs[MAX_DEPTH], *ptrs[MAX_DEPTH];
	struct floe_io *io;
	struct floe_err err = {0};
	unsigned char *arena;
	double peak = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ull, peak_size = 0;
	int peak_depth = 0;
	char desc[128];

	if (!path) {
		fprintf(stderr, "floe bench --io: give the file to read with -m FILE\n");
		return 2;
	}
	if (floe_io_open(path, &iop, &io, &err)) {
		fprintf(stderr, "floe bench: %s\n", err.msg);
		return 1;
	}
	arena = floe_alloc_aligned((size_t)MAX_DEPTH * sizes[N_SIZES - 1]);
	if (!arena) {
		floe_io_close(io);
		fprintf(stderr, "floe bench: out of memory\n");
		return 1;
	}
	printf("disk: %s (%.2f GB), %s, random aligned reads, %.1f s per cell\n", path, (double)io->file_size / 1e9,
	       floe_io_describe(io, desc, sizeof(desc)), seconds);
	printf("%-10s", "GB/s");
	for (int d = 0; d < N_DEPTHS; d++)
		printf(" %8s%-2d", "depth ", depths[d]);
	printf("\n");
	for (int s = 0; s < N_SIZES; s++) {
		printf("%6llu KiB", (unsigned long long)(sizes[s] >> 10));
		for (int d = 0; d < N_DEPTHS; d++) {
			double g = io_cell(io, sizes[s], depths[d], seconds, &rng, arena, reqs, ptrs);
			if (g < 0) {
				printf("\n");
				fprintf(stderr, "floe bench: %s\n", io->err.msg);
				floe_free_aligned(arena);
				floe_io_close(io);
				return 1;
			}
			printf(" %10.3f", g);
			fflush(stdout);
			if (g > peak) {
				peak = g;
				peak_size = sizes[s];
				peak_depth = depths[d];
			}
		}
		printf("\n");
	}
	printf("disk peak: %.3f GB/s (%llu KiB requests, depth %d)\n", peak, (unsigned long long)(peak_size >> 10),
	       peak_depth);
	floe_free_aligned(arena);
	floe_io_close(io);
	return 0;
}

/* ---- --mem sweep --------------------------------------------------------- */

/* The replay log's room per decode token: every expert of every layer of a
 * 64-layer, top-8 model read in three parts, twice (demand and prefetch). */
#define READS_PER_TOKEN_MAX (64 * 8 * 3 * 2)
/* Reads in flight during the replay unless --io-depth says: the engine's
 * default depth. */
#define REPLAY_DEPTH 16

struct sweep_row {
	double mem_gb, prompt_tps, ttft_s, decode_tps, hit_pct, mb_per_tok, disk_gbs, peak_frac, wait_share;
	double cache_share, busy_share, busy_gbs, replay_gbs, ceiling_ratio, pf_per_tok, pf_useful;
	uint64_t prompt_reads, prompt_dups; /* experts read during the prompt, and read twice in a chunk */
};

/* Milliseconds the block device holding path has had I/O in flight
 * (io_ticks, field 10 of /sys/dev/block/M:m/stat), or -1 if unknown.  The
 * difference over the decode steps is how long the disk was busy: the
 * kernel's view, so a read that landed while floe was computing counts as
 * landed then, not when floe noticed.  Other processes' I/O counts too. */
static double disk_busy_ms(const char *path)
{
	struct stat st;
	char sys[96];
	unsigned long long v[10];
	FILE *f;
	int n;

	if (stat(path, &st) != 0)
		return -1;
	snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
	if (!(f = fopen(sys, "r")))
		return -1;
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	return n == 10 ? (double)v[9] : -1;
}

static void stats_diff(const struct floe_stats *a, const struct floe_stats *b, struct floe_stats *d)
{
	d->prompt_tokens = b->prompt_tokens - a->prompt_tokens;
	d->prompt_s = b->prompt_s - a->prompt_s;
	d->decode_tokens = b->decode_tokens - a->decode_tokens;
	d->decode_s = b->decode_s - a->decode_s;
	d->expert_requests = b->expert_requests - a->expert_requests;
	d->expert_hits = b->expert_hits - a->expert_hits;
	d->expert_misses = b->expert_misses - a->expert_misses;
	d->bytes_read = b->bytes_read - a->bytes_read;
	d->reads = b->reads - a->reads;
	d->read_wait_s = b->read_wait_s - a->read_wait_s;
	d->prefetches = b->prefetches - a->prefetches;
	d->prefetch_useful = b->prefetch_useful - a->prefetch_useful;
	d->dup_reads = b->dup_reads - a->dup_reads;
}

/* One budget: prompt of n_prompt pseudo-random tokens, then n_gen greedy
 * decode steps.  Decode figures come from the decode steps alone. */
static int sweep_one(struct cli_opts *o, long n_prompt, long n_gen, double peak, struct sweep_row *row)
{
	floe_model *m = NULL;
	floe_session *s = NULL;
	struct floe_stats st0, st1, st2, pd, dd;
	struct floe_plan plan;
	int32_t *toks = NULL;
	struct floe_read_extent *log = NULL;
	size_t log_cap = (size_t)n_gen * READS_PER_TOKEN_MAX, n_reads = 0;
	uint64_t rng = 42;
	int rc = 1, n_vocab;
	double t0, busy0, busy1;

	if (cli_open(o, &m, NULL, true))
		return 1;
	floe_model_plan(m, &plan);
	if (floe_session_create(m, &s))
		goto out;
	n_vocab = floe_session_n_vocab(s);
	toks = malloc((size_t)n_prompt * sizeof(int32_t));
	log = malloc(log_cap * sizeof(*log));
	if (!toks || !log)
		goto out;
	for (long i = 0; i < n_prompt; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		toks[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
	}
	floe_stats_get(m, &st0);
	t0 = floe_now_s();
	if (floe_session_eval(s, toks, (int)n_prompt, false)) {
		fprintf(stderr, "floe bench: %s\n", floe_session_error(s));
		goto out;
	}
	row->ttft_s = floe_now_s() - t0;
	floe_stats_get(m, &st1);
	busy0 = disk_busy_ms(o->model);
	floe_read_log(m, log, log_cap);
	for (long i = 0; i < n_gen; i++) {
		int32_t best = floe_argmax(floe_session_logits(s, -1), n_vocab);
		if (floe_session_eval(s, &best, 1, false)) {
			fprintf(stderr, "floe bench: %s\n", floe_session_error(s));
			goto out;
		}
	}
	floe_stats_get(m, &st2);
	busy1 = disk_busy_ms(o->model);
	n_reads = floe_read_log_count(m);
	floe_read_log(m, NULL, 0);
	stats_diff(&st0, &st1, &pd);
	stats_diff(&st1, &st2, &dd);
	row->mem_gb = (double)o->mem / (1 << 30);
	row->cache_share = plan.cache_share * 100;
	row->prompt_tps = pd.prompt_s > 0 ? (double)n_prompt / pd.prompt_s : NAN;
	row->decode_tps = dd.decode_s > 0 ? (double)dd.decode_tokens / dd.decode_s : NAN;
	row->hit_pct = dd.expert_requests ? 100.0 * (double)dd.expert_hits / (double)dd.expert_requests : NAN;
	row->mb_per_tok = dd.decode_tokens ? (double)dd.bytes_read / 1e6 / (double)dd.decode_tokens : NAN;
	row->disk_gbs = dd.decode_s > 0 ? (double)dd.bytes_read / 1e9 / dd.decode_s : NAN;
	row->peak_frac = peak > 0 ? row->disk_gbs / peak : NAN;
	row->wait_share = dd.decode_s > 0 ? dd.read_wait_s / dd.decode_s : NAN;
	row->busy_share = busy0 >= 0 && busy1 > busy0 && dd.decode_s > 0 ? (busy1 - busy0) / 1e3 / dd.decode_s : NAN;
	row->busy_gbs = busy0 >= 0 && busy1 > busy0 ? (double)dd.bytes_read / 1e9 / ((busy1 - busy0) / 1e3) : NAN;
	row->replay_gbs = row->ceiling_ratio = NAN;
	row->pf_per_tok = dd.decode_tokens ? (double)dd.prefetches / (double)dd.decode_tokens : NAN;
	row->pf_useful = dd.prefetches ? (double)dd.prefetch_useful / (double)dd.prefetches : NAN;
	row->prompt_reads = pd.expert_misses;
	row->prompt_dups = pd.dup_reads;
	rc = 0;
out:
	free(toks);
	floe_session_free(s);
	floe_model_close(m);
	/* The I/O ceiling: decode tok/s if the disk had streamed this run's
	 * decode reads without a pause, at the best rate seen for them: the
	 * probe's, the rate while busy during decode, or reading the logged
	 * reads again back to back (once the model is closed, at the run's
	 * depth).  One rate is not enough on a disk with burst credits: this
	 * virtual disk gives ~3 GB/s for some GB after idling, then ~1.1
	 * (docs/perf.md), so each can be the highest. */
	if (rc == 0 && n_reads > log_cap)
		fprintf(stderr, "floe bench: %zu reads in %ld tokens, more than the %zu the replay log holds\n",
			n_reads, n_gen, log_cap);
	else if (rc == 0 && n_reads > 0) {
		int depth = o->io_depth > 0 ? (int)o->io_depth : REPLAY_DEPTH;
		double secs = replay_reads(o->model, log, n_reads, depth), bytes = 0;
		for (size_t i = 0; i < n_reads; i++)
			bytes += (double)log[i].len;
		if (secs > 0)
			row->replay_gbs = bytes / 1e9 / secs;
	}
	if (rc == 0) {
		double top = peak;
		if (!isnan(row->busy_gbs) && row->busy_gbs > top)
			top = row->busy_gbs;
		if (!isnan(row->replay_gbs) && row->replay_gbs > top)
			top = row->replay_gbs;
		row->ceiling_ratio = top > 0 && row->mb_per_tok > 0 ? row->decode_tps * row->mb_per_tok / (top * 1e3) : NAN;
	}
	free(log);
	return rc;
}

static int bench_sweep(struct cli_opts *o, const char *mems, long n_prompt, long n_gen, const char *csv,
		       const char *svg)
{
	enum { MAX = 16 };
	struct sweep_row rows[MAX];
	uint64_t mem[MAX];
	int n = 0;
	double peak, x[MAX], tps[MAX], ptps[MAX], hit[MAX];
	FILE *cf = NULL;
	char sz[32];

	for (const char *p = mems; *p && n < MAX;) {
		char item[64];
		size_t len = strcspn(p, ",");
		if (len >= sizeof(item))
			len = sizeof(item) - 1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (!cli_parse_size("--mem", item, &mem[n++]))
			return 2;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (!n)
		mem[n++] = o->mem;
	peak = disk_peak(o->model, 0.5);
	printf("model %s, prompt %ld tokens, decode %ld tokens, threads %s; disk peak %.3f GB/s (O_DIRECT, same run)\n",
	       o->model, n_prompt, n_gen, o->threads ? (snprintf(sz, sizeof sz, "%ld", o->threads), sz) : "all", peak);
	printf("%9s %7s %10s %8s %10s %7s %9s %9s %7s %7s %7s %8s %10s %7s %6s %7s %13s\n", "mem", "cache%",
	       "prompt t/s", "ttft s", "decode t/s", "hit%", "MB/token", "disk GB/s", "%peak", "io wait", "busy",
	       "busyGB/s", "replayGB/s", "/ceil", "pf/tok", "pf use", "prefill reads");
	if (csv && !(cf = fopen(csv, "w"))) {
		fprintf(stderr, "floe bench: cannot write %s\n", csv);
		return 1;
	}
	if (cf)
		fprintf(cf, "mem_bytes,cache_share_pct,prompt_tps,ttft_s,decode_tps,hit_pct,mb_per_token,disk_gbs,"
			    "peak_fraction,io_wait_share,disk_peak_gbs,disk_busy_share,busy_gbs,replay_gbs,ceiling_ratio,"
			    "prefetch_per_token,prefetch_useful_share,prefill_expert_reads,prefill_dup_reads\n");
	for (int i = 0; i < n; i++) {
		struct sweep_row *r = &rows[i];
		o->mem = mem[i];
		if (sweep_one(o, n_prompt, n_gen, peak, r)) {
			if (cf)
				fclose(cf);
			return 1;
		}
		printf("%9s %6.1f%% %10.2f %8.2f %10.2f %6.1f%% %9.1f %9.3f %6.0f%% %6.0f%% %6.0f%% %8.3f %10.3f %7.2f %6.1f "
		       "%6.0f%% %6llu/%llu dup\n",
		       mem[i] ? cli_fmt_bytes(mem[i], sz, sizeof sz) : "unlimited", r->cache_share, r->prompt_tps,
		       r->ttft_s, r->decode_tps, r->hit_pct, r->mb_per_tok, r->disk_gbs, 100 * r->peak_frac,
		       100 * r->wait_share, 100 * r->busy_share, r->busy_gbs, r->replay_gbs, r->ceiling_ratio, r->pf_per_tok,
		       100 * r->pf_useful, (unsigned long long)r->prompt_reads, (unsigned long long)r->prompt_dups);
		fflush(stdout);
		if (cf)
			fprintf(cf, "%llu,%.2f,%.3f,%.3f,%.3f,%.2f,%.2f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,%.4f,%llu,%llu\n",
				(unsigned long long)mem[i], r->cache_share, r->prompt_tps, r->ttft_s, r->decode_tps,
				r->hit_pct, r->mb_per_tok, r->disk_gbs, r->peak_frac, r->wait_share, peak, r->busy_share,
				r->busy_gbs, r->replay_gbs, r->ceiling_ratio, r->pf_per_tok, r->pf_useful,
				(unsigned long long)r->prompt_reads, (unsigned long long)r->prompt_dups);
		x[i] = (double)mem[i] / (1 << 30);
		tps[i] = r->decode_tps;
		ptps[i] = r->prompt_tps;
		hit[i] = r->hit_pct;
	}
	if (cf)
		fclose(cf);
	if (svg) {
		struct plot_series series[] = {{"decode tok/s", tps, false}, {"prompt tok/s", ptps, false},
					       {"expert hit %", hit, true}};
		struct plot pl = {.title = "floe: speed and expert hit rate against --mem", .x_label = "--mem (GiB)",
				  .y_label = "tokens / s", .y2_label = "hit rate (%)", .x = x, .n = n,
				  .series = series, .n_series = 3};
		plot_write_svg(&pl, svg);
	}
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	const char *trace = NULL, *synth = "k10-512", *sizes = "5,10,25,50", *csv = NULL, *svg = NULL;
	const char *model = NULL, *mems = "", *write_trace = NULL;
	bool policies = false, io = false, buffered = false;
	double seconds = 1.0;
	int backend = FLOE_IO_AUTO;
	long n_prompt = 64, n_gen = 32;
	struct cli_opts o;

	cli_opts_default(&o);
	o.log_level = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v;
		if (!strcmp(a, "--policies"))
			policies = true;
		else if (!strcmp(a, "--io") && i + 1 < argc && argv[i + 1][0] != '-') {
			v = argv[++i];
			backend = !strcmp(v, "pread") ? FLOE_IO_PREAD : !strcmp(v, "uring") ? FLOE_IO_URING : FLOE_IO_AUTO;
			io = true;
		} else if (!strcmp(a, "--io"))
			io = true;
		else if (!strcmp(a, "--buffered"))
			buffered = true;
		else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && (model = cli_value(argc, argv, &i)))
			o.model = model;
		else if (!strcmp(a, "--mem") && (mems = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "-p") || !strcmp(a, "-n")) {
			if (!(v = cli_value(argc, argv, &i)) ||
			    !cli_parse_int(a, v, 1, 1 << 20, a[1] == 'p' ? &n_prompt : &n_gen))
				return 2;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "-c") || !strcmp(a, "--ctx") ||
			   !strcmp(a, "--io-depth") || !strcmp(a, "--kv-f16") || !strcmp(a, "--ref") ||
			   !strcmp(a, "-b") || !strcmp(a, "--batch") || !strcmp(a, "--prefetch") ||
			   !strcmp(a, "--prefetch-k") || !strcmp(a, "--policy") || !strcmp(a, "--trace-replay")) {
			bool matched;
			if (!cli_opts_parse(argc, argv, &i, &o, &matched))
				return 2;
		}
		else if (!strcmp(a, "--seconds")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, 0.05, 600, &seconds))
				return 2;
		}
		else if (!strcmp(a, "--trace") && (trace = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "--synth") && (synth = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "--sizes") && (sizes = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "--csv") && (csv = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "--svg") && (svg = cli_value(argc, argv, &i)))
			;
		else if (!strcmp(a, "--write-trace") && (write_trace = cli_value(argc, argv, &i)))
			;
		else {
			fprintf(stderr, "floe bench: unknown or incomplete option '%s'\n", a);
			return 2;
		}
	}
	if (write_trace)
		return bench_write_trace(synth, write_trace);
	if (policies)
		return bench_policies(trace, synth, sizes, csv, svg);
	if (io)
		return bench_io(model, seconds, backend, buffered);
	if (model) {
		o.buffered = buffered;
		return bench_sweep(&o, mems, n_prompt, n_gen, csv, svg);
	}
	fprintf(stderr, "usage: floe bench --policies [--trace FILE | --synth k4-512|k10-512|k8-128] "
			"[--sizes 5,10,25,50] [--csv F] [--svg F]\n"
			"       floe bench --io [uring|pread] -m FILE [--seconds S] [--buffered]\n"
			"       floe bench -m FILE [--mem 2G,4G,8G] [-p 64] [-n 32] [-t N] [--csv F] [--svg F]\n"
			"       floe bench --synth NAME --write-trace FILE   (for floe run --trace-replay)\n");
	return 2;
}

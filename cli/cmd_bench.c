/* floe bench: measurements that print ratios from one run.
 *
 *   floe bench --policies [--trace FILE | --synth NAME] [--sizes 5,10,25,50] [--csv F] [--svg F]
 *       replay a routing trace (recorded with floe run --trace-out, or a
 *       calibrated synthetic one) through every eviction policy at cache sizes
 *       given as % of all experts, next to two oracles (Belady's MIN: the
 *       best any demand-fetch policy can do; a static top-N list).
 *
 *   floe bench --synth NAME --write-trace FILE
 *       write a synthetic trace preset for floe run --trace-replay.
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

#include "args.h"
#include "commands.h"
#include "base/alloc.h"
#include "base/timer.h"
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

int cmd_bench(int argc, char **argv)
{
	const char *trace = NULL, *synth = "k10-512", *sizes = "5,10,25,50", *csv = NULL, *svg = NULL;
	const char *model = NULL, *write_trace = NULL;
	bool policies = false, io = false, buffered = false;
	double seconds = 1.0;
	int backend = FLOE_IO_AUTO;

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
			;
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
	fprintf(stderr, "usage: floe bench --policies [--trace FILE | --synth k4-512|k10-512|k8-128] "
			"[--sizes 5,10,25,50] [--csv F] [--svg F]\n"
			"       floe bench --io [uring|pread] -m FILE [--seconds S] [--buffered]\n"
			"       floe bench --synth NAME --write-trace FILE   (for floe run --trace-replay)\n");
	return 2;
}

/* test_stream: MoE orchestration around the expert cache — routing traces
 * (record, save, replay, shape checks, wrap-around), eviction policy choice
 * and next-layer prefetch (both must never change a logit), and the
 * streaming stats (counters that must add up).
 *
 * Fixtures: the tiny qwen3moe models (4 layers, 32 experts, 4 used) and the
 * prompt tokens of tests/fixtures/logits/logits-<model>-<seq>.bin.  Every
 * expected result comes from another run of the engine (resident, no trace,
 * no prefetch), never from a hard-coded number. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat/sampler.h"
#include "experts/trace.h"
#include "floe.h"
#include "harness.h"
#include "golden_logits.h"

#define DECODE_STEPS 12

struct opts {
	uint64_t mem;
	int policy, prefetch, prefetch_k, io;
	const char *trace_out, *trace_replay;
};

static char model_path[256];

static floe_model *open_opts(const char *model, const struct opts *o, int *rc, char *err, size_t errlen)
{
	struct floe_params p = floe_params_default();
	floe_model *m = NULL;
	char buf[512];

	snprintf(model_path, sizeof(model_path), FIXTURE("tiny-qwen3moe-%s.gguf"), model);
	p.path = model_path;
	p.mem_bytes = o->mem;
	p.n_ctx = 256;
	p.n_threads = 2;
	p.io_backend = o->io;
	p.cache_policy = o->policy;
	p.prefetch = o->prefetch;
	p.prefetch_k = o->prefetch_k;
	p.trace_out = o->trace_out;
	p.trace_replay = o->trace_replay;
	p.log_level = 0;
	if (!err) {
		err = buf;
		errlen = sizeof(buf);
	}
	*rc = floe_model_open(&p, &m, err, errlen);
	if (*rc && err == buf)
		fprintf(stderr, "  open %s: %s\n", model, err);
	return m;
}

static floe_model *open_simple(const char *model, const struct opts *o)
{
	int rc;
	return open_opts(model, o, &rc, NULL, 0);
}

/* The prompt (all rows' logits) then DECODE_STEPS greedy steps: returns
 * (n_rows + DECODE_STEPS) rows of logits, malloc'd, or NULL. */
static float *workload(floe_model *m, const struct golden_logits *pr)
{
	const size_t V = pr->n_vocab, n = pr->n_rows;
	floe_session *s = NULL;
	float *out = malloc(sizeof(float) * V * (n + DECODE_STEPS));

	if (!out || floe_session_create(m, &s) != FLOE_OK)
		goto fail;
	if (floe_session_eval(s, pr->tokens, (int)n, true) != FLOE_OK) {
		fprintf(stderr, "  eval: %s\n", floe_session_error(s));
		goto fail;
	}
	memcpy(out, floe_session_logits(s, 0), sizeof(float) * V * n);
	for (int i = 0; i < DECODE_STEPS; i++) {
		int32_t id = floe_argmax(floe_session_logits(s, -1), (int)V);
		if (floe_session_eval(s, &id, 1, false) != FLOE_OK) {
			fprintf(stderr, "  decode: %s\n", floe_session_error(s));
			goto fail;
		}
		memcpy(out + (n + (size_t)i) * V, floe_session_logits(s, -1), sizeof(float) * V);
	}
	floe_session_free(s);
	return out;
fail:
	floe_session_free(s);
	free(out);
	return NULL;
}

static uint64_t plan_of(const char *model, struct floe_plan *plan)
{
	struct opts o = {0};
	floe_model *m = open_simple(model, &o);

	if (!m)
		return 0;
	floe_model_plan(m, plan);
	floe_model_close(m);
	return plan->min_mem_bytes;
}

/* A temporary file name under /tmp (the file exists, empty). */
static void temp_path(char *path, size_t len, const char *what)
{
	snprintf(path, len, "/tmp/floe-test-%s-XXXXXX", what);
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
}

static bool same_rows(const float *a, const float *b, const struct golden_logits *pr)
{
	return !memcmp(a, b, sizeof(float) * pr->n_vocab * (pr->n_rows + DECODE_STEPS));
}

/* ---- traces ----------------------------------------------------------------- */

/* Record a run, then replay its trace through a 4-slot cache: bit-identical
 * logits; the trace holds every evaluated token in every layer. */
static void test_trace_record_replay(void)
{
	static const char *models[] = {"q8_0", "q4_k_m"};

	for (int mi = 0; mi < 2; mi++) {
		struct golden_logits pr;
		struct floe_plan plan;
		char path[64];
		REQUIRE(load_golden_logits(models[mi], "s7", &pr) == 0);
		uint64_t min = plan_of(models[mi], &plan);
		REQUIRE(min > 0);
		temp_path(path, sizeof(path), "trace");

		struct opts rec = {.trace_out = path};
		floe_model *m = open_simple(models[mi], &rec);
		REQUIRE(m);
		float *ref = workload(m, &pr);
		REQUIRE(ref);
		struct floe_stats st;
		floe_stats_get(m, &st);
		CHECK(st.trace_tokens == pr.n_rows + DECODE_STEPS);
		CHECK(floe_model_trace_save(m, NULL) == FLOE_OK);
		floe_model_close(m);

		struct floe_trace t;
		struct floe_err err = {0};
		int rc = floe_trace_load(path, &t, &err);
		CHECKF(rc == FLOE_OK, "%s", err.msg);
		if (rc == FLOE_OK) {
			CHECK(t.n_layers == 4 && t.n_experts == 32 && t.k == 4);
			CHECK(t.n_tokens == pr.n_rows + DECODE_STEPS);
			/* top-k rows: k distinct experts each */
			int dup = 0;
			for (uint64_t i = 0; i < t.n_tokens * t.n_layers; i++)
				for (uint32_t a = 0; a < t.k; a++)
					for (uint32_t b = a + 1; b < t.k; b++)
						dup += t.experts[i * t.k + a] == t.experts[i * t.k + b];
			CHECK(dup == 0);
			floe_trace_free(&t);
		}

		const int policies[] = {FLOE_CACHE_LRU, FLOE_CACHE_LAYER_LRFU, FLOE_CACHE_POLICY_DEFAULT};
		const int prefetch[] = {FLOE_PREFETCH_ON, FLOE_PREFETCH_OFF, FLOE_PREFETCH_ORACLE};
		for (int pi = 0; pi < 3; pi++) {
			struct opts rep = {.mem = min + (pi == 2 ? 6 * plan.slot_bytes : 0), .trace_replay = path,
					   .policy = policies[pi], .prefetch = prefetch[pi]};
			m = open_simple(models[mi], &rep);
			REQUIRE(m);
			float *got = workload(m, &pr);
			CHECK(got != NULL);
			if (got)
				CHECKF(same_rows(got, ref, &pr), "%s: replayed logits differ from the recorded run",
				       models[mi]);
			floe_stats_get(m, &st);
			CHECK(st.trace_tokens == pr.n_rows + DECODE_STEPS);
			if (prefetch[pi] == FLOE_PREFETCH_ORACLE) /* perfect guesses are all used */
				CHECKF(st.prefetches > 0 && st.prefetch_useful == st.prefetches, "%llu of %llu",
				       (unsigned long long)st.prefetch_useful, (unsigned long long)st.prefetches);
			free(got);
			floe_model_close(m);
		}
		/* Saving at close: a second recording without an explicit save. */
		char path2[64];
		temp_path(path2, sizeof(path2), "trace2");
		struct opts rec2 = {.trace_out = path2, .mem = min};
		m = open_simple(models[mi], &rec2);
		REQUIRE(m);
		float *again = workload(m, &pr);
		floe_model_close(m);
		CHECK(again && same_rows(again, ref, &pr));
		size_t s1 = 0, s2 = 0;
		uint8_t *b1 = harness_read_file(path, &s1), *b2 = harness_read_file(path2, &s2);
		CHECK(b1 && b2 && s1 == s2 && s1 > 24 && !memcmp(b1, b2, s1));
		free(b1);
		free(b2);
		free(again);
		unlink(path2);
		unlink(path);
		free(ref);
		free(pr.buf);
	}
}

/* Replay really steers the experts: a different trace changes the logits,
 * and recording while replaying writes the replayed rows back, wrapped
 * around when the run is longer than the trace. */
static void test_trace_replay_steers_and_wraps(void)
{
	struct golden_logits pr;
	struct floe_trace t, got;
	struct floe_err err = {0};
	char src[64], out[64];
	const uint32_t n_trace = 5;

	REQUIRE(load_golden_logits("q8_0", "s7", &pr) == 0);
	struct floe_trace_synth sy = {.n_layers = 4, .n_experts = 32, .k = 4, .n_tokens = n_trace, .zipf_s = 0.5,
				      .keep_r = 0.3, .ws_b = 0.5, .ws_m = 8, .drift_d = 0.01, .seed = 7};
	REQUIRE(floe_trace_synthesize(&sy, &t, &err) == FLOE_OK);
	temp_path(src, sizeof(src), "synth");
	temp_path(out, sizeof(out), "rerec");
	REQUIRE(floe_trace_save(&t, src, &err) == FLOE_OK);

	struct opts plain = {0};
	floe_model *m = open_simple("q8_0", &plain);
	REQUIRE(m);
	float *ref = workload(m, &pr);
	floe_model_close(m);
	REQUIRE(ref);

	struct opts rep = {.trace_replay = src, .trace_out = out};
	m = open_simple("q8_0", &rep);
	REQUIRE(m);
	float *steered = workload(m, &pr);
	floe_model_close(m);
	REQUIRE(steered);
	CHECK(!same_rows(steered, ref, &pr));

	REQUIRE(floe_trace_load(out, &got, &err) == FLOE_OK);
	CHECK(got.n_tokens == pr.n_rows + DECODE_STEPS);
	CHECK(got.n_tokens > n_trace); /* the replay wrapped */
	int bad = 0;
	for (uint64_t tok = 0; tok < got.n_tokens; tok++)
		for (uint32_t l = 0; l < 4; l++)
			bad += memcmp(floe_trace_at(&got, tok, l), floe_trace_at(&t, tok % n_trace, l),
				      4 * sizeof(uint16_t)) != 0;
	CHECKF(bad == 0, "%d recorded rows differ from the replayed ones", bad);
	floe_trace_free(&got);
	floe_trace_free(&t);
	free(steered);
	free(ref);
	unlink(src);
	unlink(out);
	free(pr.buf);
}

/* A trace of another shape is refused at open with both shapes named; a
 * file that is not a trace too. */
static void test_trace_wrong_shape(void)
{
	static const uint32_t shapes[][3] = {{4, 32, 3}, {5, 32, 4}, {4, 64, 4}, {4, 32, 8}};
	struct floe_err err = {0};
	char path[64], msg[512];
	int rc;

	temp_path(path, sizeof(path), "shape");
	for (int i = 0; i < 4; i++) {
		struct floe_trace t;
		uint16_t row[5 * 8];
		REQUIRE(floe_trace_init(&t, shapes[i][0], shapes[i][1], shapes[i][2], &err) == FLOE_OK);
		for (size_t j = 0; j < sizeof(row) / sizeof(row[0]); j++)
			row[j] = (uint16_t)(j % shapes[i][2]);
		REQUIRE(floe_trace_append(&t, row, &err) == FLOE_OK);
		REQUIRE(floe_trace_save(&t, path, &err) == FLOE_OK);
		floe_trace_free(&t);
		struct opts o = {.trace_replay = path};
		floe_model *m = open_opts("q8_0", &o, &rc, msg, sizeof(msg));
		CHECK(m == NULL && rc == FLOE_EARG);
		CHECKF(strstr(msg, "the model has 4 layers, 32 experts, k=4") != NULL, "%s", msg);
		floe_model_close(m);
	}
	/* an empty trace of the right shape */
	struct floe_trace t;
	REQUIRE(floe_trace_init(&t, 4, 32, 4, &err) == FLOE_OK);
	REQUIRE(floe_trace_save(&t, path, &err) == FLOE_OK);
	struct opts o = {.trace_replay = path};
	floe_model *m = open_opts("q8_0", &o, &rc, msg, sizeof(msg));
	CHECKF(m == NULL && rc == FLOE_EARG && strstr(msg, "no tokens"), "%s", msg);
	/* not a trace */
	FILE *f = fopen(path, "wb");
	REQUIRE(f);
	fputs("this is not a trace at all", f);
	fclose(f);
	m = open_opts("q8_0", &o, &rc, msg, sizeof(msg));
	CHECKF(m == NULL && rc == FLOE_EFORMAT && strstr(msg, "trace replay"), "%s", msg);
	o.trace_replay = "/nonexistent/floe.trace";
	m = open_opts("q8_0", &o, &rc, msg, sizeof(msg));
	CHECKF(m == NULL && rc == FLOE_EIO, "%s", msg);
	unlink(path);
	/* saving without recording */
	struct opts plain = {0};
	m = open_simple("q8_0", &plain);
	REQUIRE(m);
	CHECK(floe_model_trace_save(m, NULL) == FLOE_EARG);
	CHECK(strstr(floe_model_error(m), "no trace") != NULL);
	floe_model_close(m);
}

/* ---- policies and prefetch -------------------------------------------------- */

static void test_policy_names(void)
{
	static const char *names[] = {"lru", "layer-lrfu"};
	int rc;

	for (int i = 0; i < 2; i++) {
		CHECK(floe_cache_policy_parse(names[i]) == FLOE_CACHE_LRU + i);
		CHECK(!strcmp(floe_cache_policy_name(FLOE_CACHE_LRU + i), names[i]));
	}
	CHECK(floe_cache_policy_parse("belady") == -1 && floe_cache_policy_parse(NULL) == -1);
	CHECK(floe_cache_policy_parse("lfu") == -1); /* lost the comparison, deleted */
	CHECK(!strcmp(floe_cache_policy_name(FLOE_CACHE_POLICY_DEFAULT), "layer-lrfu"));
	CHECK(!strcmp(floe_cache_policy_name(99), "?"));
	char msg[512];
	struct opts bad = {.policy = 3};
	CHECK(open_opts("q8_0", &bad, &rc, msg, sizeof(msg)) == NULL && rc == FLOE_EARG);
	CHECKF(strstr(msg, "cache_policy 3") != NULL, "%s", msg);
	struct opts badpf = {.prefetch = 4};
	CHECK(open_opts("q8_0", &badpf, &rc, msg, sizeof(msg)) == NULL && rc == FLOE_EARG);
	CHECKF(strstr(msg, "prefetch 4") != NULL, "%s", msg);
	struct opts badk = {.prefetch = FLOE_PREFETCH_ON, .prefetch_k = -1};
	CHECK(open_opts("q8_0", &badk, &rc, msg, sizeof(msg)) == NULL && rc == FLOE_EARG);
	CHECKF(strstr(msg, "prefetch_k -1") != NULL, "%s", msg);
	struct opts oracle = {.prefetch = FLOE_PREFETCH_ORACLE};
	CHECK(open_opts("q8_0", &oracle, &rc, msg, sizeof(msg)) == NULL && rc == FLOE_EARG);
	CHECKF(strstr(msg, "trace_replay") != NULL, "%s", msg);
	/* the default is named in the plan; prefetch is on by default */
	struct opts def = {0};
	floe_model *m = open_simple("q8_0", &def);
	REQUIRE(m);
	struct floe_plan p;
	floe_model_plan(m, &p);
	CHECK(!strcmp(p.policy, floe_cache_policy_name(FLOE_CACHE_POLICY_DEFAULT)));
	CHECK(p.prefetch && !p.prefetch_oracle);
	floe_model_close(m);
}

/* The policy changes what is read, never the result: every policy at 4 and 10
 * slots gives the resident run's logits bit for bit, with prefetch on and
 * off, on both backends. */
static void test_policies_and_prefetch_identical(void)
{
	static const char *models[] = {"q8_0", "q2_k"};
	const int backends[] = {FLOE_IO_BACKEND_URING, FLOE_IO_BACKEND_PREAD};

	for (int mi = 0; mi < 2; mi++) {
		struct golden_logits pr;
		struct floe_plan plan;
		REQUIRE(load_golden_logits(models[mi], "s7", &pr) == 0);
		uint64_t min = plan_of(models[mi], &plan);
		REQUIRE(min > 0);
		struct opts res = {0};
		floe_model *m = open_simple(models[mi], &res);
		REQUIRE(m);
		float *ref = workload(m, &pr);
		floe_model_close(m);
		REQUIRE(ref);
		int runs = 0, same = 0;
		uint64_t prefetches = 0, useful = 0;
		for (int pol = FLOE_CACHE_LRU; pol <= FLOE_CACHE_LAYER_LRFU; pol++)
			for (int extra = 0; extra <= 6; extra += 6)
				for (int pf = FLOE_PREFETCH_OFF; pf <= FLOE_PREFETCH_ON; pf++) {
					struct opts o = {.mem = min + (uint64_t)extra * plan.slot_bytes,
							 .policy = pol, .prefetch = pf,
							 .io = backends[(pol + extra + pf) % 2]};
					m = open_simple(models[mi], &o);
					REQUIRE(m);
					struct floe_plan p;
					floe_model_plan(m, &p);
					CHECK(p.n_slots == (uint64_t)(4 + extra));
					CHECK(p.prefetch == (pf == FLOE_PREFETCH_ON));
					CHECK(!strcmp(p.policy, floe_cache_policy_name(pol)));
					float *got = workload(m, &pr);
					runs++;
					if (got && same_rows(got, ref, &pr))
						same++;
					else
						fprintf(stderr, "  %s policy %s slots %d prefetch %d: differs\n",
							models[mi], p.policy, 4 + extra, pf);
					struct floe_stats st;
					floe_stats_get(m, &st);
					CHECK(st.expert_misses > 0);
					if (pf == FLOE_PREFETCH_OFF)
						CHECK(st.prefetches == 0);
					prefetches += st.prefetches;
					useful += st.prefetch_useful;
					free(got);
					floe_model_close(m);
				}
		CHECKF(same == runs, "%s: %d of %d runs bit-identical", models[mi], same, runs);
		/* with 6 spare slots the guesses get somewhere */
		CHECK(prefetches > 0 && useful > 0 && useful <= prefetches);
		fprintf(stderr, "  %s: %d runs bit-identical; prefetch %llu useful of %llu\n", models[mi], runs,
			(unsigned long long)useful, (unsigned long long)prefetches);
		free(ref);
		free(pr.buf);
	}
}

/* ---- stats ------------------------------------------------------------------ */

static void test_stats_add_up(void)
{
	struct golden_logits pr;
	struct floe_plan plan;
	struct floe_stats st;

	REQUIRE(load_golden_logits("q8_0", "s64", &pr) == 0);
	uint64_t min = plan_of("q8_0", &plan);
	REQUIRE(min > 0);
	struct opts o = {.mem = min + 8 * plan.slot_bytes, .prefetch = FLOE_PREFETCH_ON};
	floe_model *m = open_simple("q8_0", &o);
	REQUIRE(m);
	floe_stats_get(m, &st);
	CHECK(st.expert_requests == 0 && st.ttft_s == 0.0 && st.decode_tokens == 0);
	float *got = workload(m, &pr);
	CHECK(got != NULL);
	free(got);
	floe_stats_get(m, &st);
	CHECK(st.prompt_tokens == pr.n_rows && st.decode_tokens == DECODE_STEPS);
	CHECK(st.expert_hits + st.expert_misses == st.expert_requests);
	CHECK(st.decode_hits <= st.decode_requests && st.decode_requests < st.expert_requests);
	CHECK(st.decode_requests == (uint64_t)DECODE_STEPS * 4 * 4); /* steps x layers x k */
	CHECK(st.decode_bytes_read <= st.bytes_read);
	CHECK(st.prefetches > 0 && st.prefetch_useful <= st.prefetches);
	CHECK(st.ttft_s > 0.0 && st.ttft_s <= st.prompt_s);
	CHECK(st.read_wait_s <= st.prompt_s + st.decode_s);
	CHECK(st.decode_read_wait_s <= st.read_wait_s && st.decode_read_wait_s <= st.decode_s);
	CHECK(st.evictions > 0);
	/* the prompt's chunk reads each needed expert once even though the
	 * cache holds only 8 more than the minimum (test_expert_cache checks
	 * that the counter does count a second read) */
	CHECKF(st.dup_reads == 0, "%llu experts read twice in a chunk", (unsigned long long)st.dup_reads);
	/* every miss reads 3 parts, every prefetch too */
	CHECK(st.reads == 3 * (st.expert_misses + st.prefetches));
	char line[512];
	int n = floe_stats_line(m, line, sizeof(line));
	CHECK(n > 0 && (size_t)n < sizeof(line) && !strncmp(line, "floe stats: prompt ", 19));
	CHECK(strstr(line, "| io wait ") && strstr(line, "| ttft ") && strstr(line, "| prefetch "));
	char tiny[24];
	CHECK(floe_stats_line(m, tiny, sizeof(tiny)) == n && strlen(tiny) == sizeof(tiny) - 1);
	floe_stats_reset(m);
	floe_stats_get(m, &st);
	CHECK(st.expert_requests == 0 && st.prefetches == 0 && st.decode_requests == 0 && st.ttft_s == 0.0);
	floe_model_close(m);
	/* prefetch_k = 1: at most one guess per decode step and layer after the first */
	struct opts one = {.mem = min + 8 * plan.slot_bytes, .prefetch = FLOE_PREFETCH_ON, .prefetch_k = 1};
	m = open_simple("q8_0", &one);
	REQUIRE(m);
	got = workload(m, &pr);
	CHECK(got != NULL);
	free(got);
	floe_stats_get(m, &st);
	CHECK(st.prefetches > 0 && st.prefetches <= (uint64_t)DECODE_STEPS * 3);
	CHECK(st.prefetch_useful <= st.prefetches);
	floe_model_close(m);
	free(pr.buf);
}

/* ---- the CLI ------------------------------------------------------------------ */

/* Run the floe binary (FLOE_BIN, set by run_tests.sh) with args, stdout and
 * stderr to files; the exit status or -1. */
static int floe_cli(const char *args, const char *out, const char *errf)
{
	const char *bin = getenv("FLOE_BIN");
	char cmd[2048];
	int st;

	if (!bin)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s </dev/null >%s 2>%s", bin, args, out, errf);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_has(const char *path, const char *needle)
{
	size_t n = 0;
	char *s = harness_read_file(path, &n);
	bool ok;

	if (!s)
		return false;
	s[n] = '\0'; /* harness_read_file leaves room for it */
	ok = strstr(s, needle) != NULL;
	if (!ok)
		fprintf(stderr, "    %s was: %s\n", path, s);
	free(s);
	return ok;
}

/* floe run --trace-out, then --trace-replay of it with another policy,
 * prefetch on and a tiny budget: the same ids and prompt logits; bad
 * --policy and a trace of another shape are refused. */
static void test_cli_trace_policy(void)
{
	char tr[64], l1[64], l2[64], o1[64], o2[64], e[64], big[64], args[1024];
	const char *model = FIXTURE("tiny-qwen3moe-q8_0.gguf");

	if (!getenv("FLOE_BIN")) {
		fprintf(stderr, "  FLOE_BIN not set: run through tests/run_tests.sh\n");
		CHECK(getenv("FLOE_BIN") != NULL);
		return;
	}
	temp_path(tr, sizeof(tr), "clitr");
	temp_path(l1, sizeof(l1), "clil1");
	temp_path(l2, sizeof(l2), "clil2");
	temp_path(o1, sizeof(o1), "clio1");
	temp_path(o2, sizeof(o2), "clio2");
	temp_path(e, sizeof(e), "clie");
	temp_path(big, sizeof(big), "clibig");
	snprintf(args, sizeof(args),
		 "run -m %s --tokens 1,2,3,4,5,6,7 -n 10 --temp 0 --print-ids --ignore-eos --trace-out %s "
		 "--logits-out %s",
		 model, tr, l1);
	CHECK(floe_cli(args, o1, e) == 0);
	/* the defaults; with no --mem everything is resident and prefetch idles */
	CHECK(file_has(e, "policy layer-lrfu, prefetch off (all resident)"));
	snprintf(args, sizeof(args),
		 "run -m %s --tokens 1,2,3,4,5,6,7 -n 10 --temp 0 --print-ids --ignore-eos --trace-replay %s "
		 "--logits-out %s --mem 25M --policy lru --prefetch on",
		 model, tr, l2);
	CHECK(floe_cli(args, o2, e) == 0);
	CHECK(file_has(e, "policy lru, prefetch next layer") && file_has(e, "| prefetch "));
	size_t n1 = 0, n2 = 0, m1 = 0, m2 = 0;
	char *a = harness_read_file(l1, &n1), *b = harness_read_file(l2, &n2);
	char *c = harness_read_file(o1, &m1), *d = harness_read_file(o2, &m2);
	CHECK(a && b && n1 == n2 && n1 > 0 && !memcmp(a, b, n1));
	CHECK(c && d && m1 == m2 && m1 > 10 && !memcmp(c, d, m1));
	free(a);
	free(b);
	free(c);
	free(d);
	snprintf(args, sizeof(args), "run -m %s --tokens 1,2 -n 1 --policy mru", model);
	CHECK(floe_cli(args, o1, e) == 2 && file_has(e, "--policy: 'mru'"));
	snprintf(args, sizeof(args), "bench --synth k8-128 --write-trace %s", big);
	CHECK(floe_cli(args, o1, e) == 0);
	snprintf(args, sizeof(args), "run -m %s --tokens 1,2 -n 1 --trace-replay %s", model, big);
	CHECK(floe_cli(args, o1, e) == 1 && file_has(e, "the trace has 48 layers, 128 experts, k=8"));
	const char *files[] = {tr, l1, l2, o1, o2, e, big};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
}

int main(void)
{
	RUN(test_policy_names);
	RUN(test_trace_record_replay);
	RUN(test_trace_replay_steers_and_wraps);
	RUN(test_trace_wrong_shape);
	RUN(test_policies_and_prefetch_identical);
	RUN(test_stats_add_up);
	RUN(test_cli_trace_policy);
	return harness_finish();
}

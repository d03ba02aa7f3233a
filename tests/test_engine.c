/* test_engine: the forward pass against llama.cpp's goldens, streamed vs
 * resident bit-identity, fault injection, peak RSS and bad inputs.
 *
 * Goldens: tests/fixtures/logits/logits-<model>-<seq>.bin (every prompt row's
 * logits from llama.cpp) and tests/fixtures/goldens.json (greedy ids and
 * margins), read with libjansson.  Nothing expected is hard-coded here. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat/sampler.h"
#include "floe.h"
#include "harness.h"
#include "golden_logits.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

static const char *models[] = {"q8_0", "q4_0", "q4_k_m", "q2_k"};
#define N_MODELS ((int)(sizeof(models) / sizeof(models[0])))

static json_t *goldens;

/* ---- helpers -------------------------------------------------------------- */

static char model_path[256];

static const char *fixture_model(const char *model)
{
	snprintf(model_path, sizeof(model_path), FIXTURE("tiny-qwen3moe-%s.gguf"), model);
	return model_path;
}

/* The settings of the goldens (n_ctx 256, 2 threads) for a fixture model. */
static struct floe_params fixture_params(const char *model, uint64_t mem, int io)
{
	struct floe_params p = floe_params_default();

	p.path = fixture_model(model);
	p.mem_bytes = mem;
	p.n_ctx = 256;
	p.n_threads = 2;
	p.io_backend = io;
	p.log_level = 0;
	return p;
}

static floe_model *open_params(const char *model, const struct floe_params *p)
{
	char err[512];
	floe_model *m = NULL;

	if (floe_model_open(p, &m, err, sizeof(err)))
		fprintf(stderr, "  open %s: %s\n", model, err);
	return m;
}

static floe_model *open_model(const char *model, uint64_t mem, int io, int n_batch)
{
	struct floe_params p = fixture_params(model, mem, io);

	p.n_batch = n_batch;
	return open_params(model, &p);
}

static float max_abs_diff(const float *a, const float *b, int n)
{
	float mx = 0.0f;
	for (int i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		if (!(d <= mx))
			mx = d;
	}
	return mx;
}

/* ---- (1) logits of every prompt row vs llama.cpp -------------------------- */

/* The goldens come from llama.cpp on an AVX2 machine (no AVX-512), weights
 * repacked.  floe's AVX2 table follows ggml's exact summation orders there:
 * the plain AVX2 dots for Q8_0, Q2_K, Q3_K, Q6_K; the repacked GEMV/GEMM
 * orders for Q4_0 and Q4_K (dense matmuls: GEMM for the first n - n % 4
 * tokens); llamafile's sgemm order for f32 matmuls of >= 2 tokens and
 * ggml_vec_dot_f32's for one token; RoPE fused like ggml's contracted C++.
 * Measured: every row of every golden (4 models x s1/s7/s64) and 32 decode
 * steps of each are bit-identical to llama.cpp at the fixtures' commit.
 *
 * Bounds: the fixtures README's (quantized s1/s7 1e-2 on every row, s64
 * argmax on every row plus 0.5), and with the AVX2 table also EXACT_TOL on
 * every row: 1e-5 is what an engine that rounds activations like ggml gets
 * on rows where nothing flips; anything above it means a rounding or
 * routing flip, i.e. an order that no longer follows llama.cpp.  No row is
 * exempt (the README's q4_k_m s7 row 1 "near-flip" was floe's GEMV order
 * where llama.cpp uses its GEMM; it now matches exactly).  The reference
 * kernels (no AVX2) sum in other orders and get only the README bounds,
 * with s64 allowed up to 2 argmax flips. */
#define S7_TOL 1e-2f
#define S64_TOL 0.5f
#define EXACT_TOL 1e-5f

static bool exact_kernels(floe_model *m)
{
	struct floe_model_info info;

	floe_model_info(m, &info);
	return !strcmp(info.kernels, "avx2");
}

/* Largest |floe - llama.cpp| over the golden prompt rows of model/seq
 * (2x this is the greedy noise level for s64), or INFINITY if it fails. */
static float check_logits(const char *model, const char *seq, floe_model *m)
{
	struct golden_logits g;
	floe_session *s = NULL;
	float worst = 0.0f;
	int argmax_bad = 0, worst_row = -1;
	const bool exact = exact_kernels(m);

	if (load_golden_logits(model, seq, &g)) {
		CHECKF(0, "%s %s: no golden logits", model, seq);
		return INFINITY;
	}
	int rc = floe_session_create(m, &s);
	CHECKF(rc == FLOE_OK, "%s %s: session", model, seq);
	if (rc == FLOE_OK) {
		CHECK(floe_session_n_vocab(s) == (int)g.n_vocab);
		rc = floe_session_eval(s, g.tokens, (int)g.n_rows, true);
		CHECKF(rc == FLOE_OK, "%s", floe_session_error(s));
	}
	if (rc == FLOE_OK) {
		for (uint32_t r = 0; r < g.n_rows; r++) {
			const float *got = floe_session_logits(s, (int)r);
			const float *want = g.logits + (size_t)r * g.n_vocab;
			float d = max_abs_diff(got, want, (int)g.n_vocab);
			if (d > worst) {
				worst = d;
				worst_row = (int)r;
			}
			argmax_bad += floe_argmax(got, (int)g.n_vocab) != floe_argmax(want, (int)g.n_vocab);
		}
		fprintf(stderr, "  %-7s %-3s max |logit diff| %.3g (row %d) over %u rows, argmax mismatches %d\n", model,
			seq, (double)worst, worst_row, g.n_rows, argmax_bad);
		bool s64 = !strcmp(seq, "s64");
		CHECKF(worst <= (s64 ? S64_TOL : S7_TOL), "%s %s: %g at row %d", model, seq, (double)worst, worst_row);
		CHECKF(argmax_bad <= (s64 && !exact ? 2 : 0), "%s %s: %d argmax mismatches", model, seq, argmax_bad);
		if (exact)
			CHECKF(worst <= EXACT_TOL, "%s %s: %g at row %d (a flip: some order no longer follows llama.cpp)",
			       model, seq, (double)worst, worst_row);
	} else {
		worst = INFINITY;
	}
	if (s)
		floe_session_free(s);
	free(g.buf);
	return worst;
}

static void test_logits_match_llama(void)
{
	const char *seqs[] = {"s1", "s7", "s64"};

	for (int i = 0; i < N_MODELS; i++) {
		floe_model *m = open_model(models[i], 0, FLOE_IO_BACKEND_AUTO, 64);
		REQUIRE(m);
		for (int j = 0; j < 3; j++)
			check_logits(models[i], seqs[j], m);
		floe_model_close(m);
	}
}

/* ---- (2) greedy continuations ---------------------------------------------- */

/* The 32 greedy ids (prompt in one batch, then one token per eval).  s1 and
 * s7 must agree at every step, no exemption.  s64's prompt rows are where a
 * summation-order difference would show first (64 rows of attention and
 * routing), so its noise level is measured there: twice the largest
 * |floe - llama.cpp| over all s64 prompt rows (0 with the AVX2 table, so
 * all 32 steps are compared; the smallest llama.cpp margin among them is
 * 1.3e-3, q4_0).  Steps from the first whose llama.cpp top-2 margin is
 * below that level are not compared. */
static json_t *golden(const char *model, const char *seq, const char *key)
{
	return json_object_get(json_object_get(json_object_get(goldens, model), seq), key);
}

static void check_greedy(floe_model *m, const char *model, const char *seq, float noise)
{
	json_t *toks = golden(model, seq, "tokens"), *greedy = golden(model, seq, "greedy");
	json_t *margin = golden(model, seq, "greedy_top2_margin");
	int n = (int)json_array_size(toks), steps = (int)json_array_size(greedy);
	int32_t prompt[256];
	floe_session *s = NULL;

	REQUIRE(n > 0 && n <= 256 && steps == 32 && json_array_size(margin) == (size_t)steps);
	for (int i = 0; i < n; i++)
		prompt[i] = (int32_t)json_integer_value(json_array_get(toks, i));
	REQUIRE(floe_session_create(m, &s) == FLOE_OK);
	int rc = floe_session_eval(s, prompt, n, false);
	CHECKF(rc == FLOE_OK, "%s", floe_session_error(s));
	int same = 0, stop = -1;
	for (int i = 0; rc == FLOE_OK && i < steps; i++) {
		double mg = json_real_value(json_array_get(margin, i));
		if (mg < noise) {
			stop = i;
			break;
		}
		int32_t tok = floe_argmax(floe_session_logits(s, -1), floe_session_n_vocab(s));
		int32_t want = (int32_t)json_integer_value(json_array_get(greedy, i));
		CHECKF(tok == want, "%s %s step %d: got %d, llama.cpp %d (margin %.3g)", model, seq, i, tok, want, mg);
		if (tok != want)
			break;
		same++;
		rc = floe_session_eval(s, &tok, 1, false);
		CHECKF(rc == FLOE_OK, "%s", floe_session_error(s));
	}
	if (stop >= 0)
		fprintf(stderr, "  %-7s %-3s greedy: %d of %d identical, compared up to step %d (llama.cpp margin %.3g < noise %.3g)\n",
			model, seq, same, steps, stop, json_real_value(json_array_get(margin, stop)), (double)noise);
	else
		fprintf(stderr, "  %-7s %-3s greedy: %d of %d identical (noise %.3g)\n", model, seq, same, steps,
			(double)noise);
	floe_session_free(s);
}

static void test_greedy_match_llama(void)
{
	for (int i = 0; i < N_MODELS; i++) {
		floe_model *m = open_model(models[i], 0, FLOE_IO_BACKEND_AUTO, 64);
		REQUIRE(m);
		check_greedy(m, models[i], "s1", 0.0f);
		check_greedy(m, models[i], "s7", 0.0f);
		check_greedy(m, models[i], "s64", 2.0f * check_logits(models[i], "s64", m));
		char line[256];
		CHECK(floe_stats_line(m, line, sizeof(line)) > 0 && strstr(line, "floe stats: prompt "));
		struct floe_stats st;
		floe_stats_get(m, &st);
		CHECK(st.decode_tokens > 0 && st.prompt_tokens > 0 && st.expert_requests > 0);
		CHECK(st.expert_hits + st.expert_misses == st.expert_requests);
		floe_model_close(m);
	}
}

/* ---- (3) one batch vs token by token vs small chunks ------------------------- */

/* llama.cpp's own chunk-size dependence, reproduced: f32 matmuls of >= 2
 * tokens use llamafile's sgemm order and a single token ggml_vec_dot_f32's
 * (llamafile_sgemm refuses n < 2); dense Q4_K matmuls use the repacked GEMM
 * for the first n - n % 4 tokens of a chunk and the GEMV for the rest.  So
 * chunks of 64 and of 8 give bit-identical rows, while token-by-token rows
 * differ from the batch by rounding flips exactly as llama.cpp's do:
 * goldens.json's max_abs_diff_batch_vs_tokenwise_prompt (4.17e-2 for
 * q4_k_m s64) is matched, with the AVX2 table, to float precision. */
static void test_batch_vs_tokenwise(void)
{
	struct golden_logits g;
	const char *model = models[2];

	REQUIRE(load_golden_logits(model, "s64", &g) == 0);
	const int n = (int)g.n_rows, V = (int)g.n_vocab;
	float *batch = malloc(sizeof(float) * (size_t)n * V);
	REQUIRE(batch);
	floe_model *m = open_model(model, 0, FLOE_IO_BACKEND_AUTO, 64);
	floe_model *m8 = open_model(model, 0, FLOE_IO_BACKEND_AUTO, 8);
	floe_session *s = NULL, *s8 = NULL;
	REQUIRE(m && m8 && floe_session_create(m, &s) == FLOE_OK && floe_session_create(m8, &s8) == FLOE_OK);
	REQUIRE(floe_session_eval(s, g.tokens, n, true) == FLOE_OK);
	memcpy(batch, floe_session_logits(s, 0), sizeof(float) * (size_t)n * V);
	REQUIRE(floe_session_eval(s8, g.tokens, n, true) == FLOE_OK);
	CHECK(!memcmp(batch, floe_session_logits(s8, 0), sizeof(float) * (size_t)n * V));
	floe_session_reset(s);
	int differ = 0;
	float worst = 0.0f;
	for (int i = 0; i < n; i++) {
		REQUIRE(floe_session_eval(s, &g.tokens[i], 1, false) == FLOE_OK);
		CHECK(floe_session_pos(s) == i + 1);
		CHECK(floe_session_logits(s, 0) == NULL || n == 1);
		differ += memcmp(floe_session_logits(s, -1), batch + (size_t)i * V, sizeof(float) * V) != 0;
		float d = max_abs_diff(floe_session_logits(s, -1), batch + (size_t)i * V, V);
		worst = d > worst ? d : worst;
	}
	double want = json_real_value(golden(model, "s64", "max_abs_diff_batch_vs_tokenwise_prompt"));
	CHECKF(worst <= S64_TOL, "batch vs token-by-token: max |diff| %g", (double)worst);
	if (exact_kernels(m))
		CHECKF(fabs((double)worst - want) <= 1e-6, "batch vs token-by-token: max |diff| %g, llama.cpp's %g",
		       (double)worst, want);
	fprintf(stderr, "  %s: batch vs token-by-token: %d of %d rows not bit-identical, max |diff| %.3g (llama.cpp %.3g)\n",
		model, differ, n, (double)worst, want);
	/* truncate + re-eval reuses the prefix: the same as one batch */
	floe_session_reset(s);
	REQUIRE(floe_session_eval(s, g.tokens, n, false) == FLOE_OK);
	REQUIRE(floe_session_truncate(s, n / 2) == FLOE_OK);
	CHECK(floe_session_pos(s) == n / 2 && floe_session_logits(s, -1) == NULL);
	REQUIRE(floe_session_eval(s, &g.tokens[n / 2], n - n / 2, false) == FLOE_OK);
	CHECK(!memcmp(floe_session_logits(s, -1), batch + (size_t)(n - 1) * V, sizeof(float) * V));
	CHECK(floe_session_truncate(s, n + 1) == FLOE_EARG);
	floe_session_free(s);
	floe_session_free(s8);
	floe_model_close(m);
	floe_model_close(m8);
	free(g.buf);
	free(batch);
}

/* ---- (4) streamed through a tiny cache == resident ------------------------- */

static float *eval_all(floe_model *m, const struct golden_logits *g, int *rc_out, char *err, size_t errlen)
{
	floe_session *s = NULL;
	float *out = NULL;
	int rc = floe_session_create(m, &s);

	if (rc == FLOE_OK)
		rc = floe_session_eval(s, g->tokens, (int)g->n_rows, true);
	if (rc == FLOE_OK) {
		out = malloc(sizeof(float) * g->n_rows * g->n_vocab);
		if (out)
			memcpy(out, floe_session_logits(s, 0), sizeof(float) * g->n_rows * g->n_vocab);
	} else if (err) {
		snprintf(err, errlen, "%s", s ? floe_session_error(s) : floe_model_error(m));
	}
	*rc_out = rc;
	floe_session_free(s);
	return out;
}

static uint64_t min_mem(const char *model)
{
	floe_model *m = open_model(model, 0, FLOE_IO_BACKEND_AUTO, 64);
	struct floe_plan p;

	if (!m)
		return 0;
	floe_model_plan(m, &p);
	floe_model_close(m);
	return p.min_mem_bytes;
}

static void test_streamed_equals_resident(void)
{
	const int backends[] = {FLOE_IO_BACKEND_URING, FLOE_IO_BACKEND_PREAD};

	for (int i = 0; i < N_MODELS; i++) {
		struct golden_logits g;
		int rc;
		REQUIRE(load_golden_logits(models[i], "s64", &g) == 0);
		floe_model *m = open_model(models[i], 0, FLOE_IO_BACKEND_AUTO, 64);
		REQUIRE(m);
		float *ref = eval_all(m, &g, &rc, NULL, 0);
		REQUIRE(ref);
		floe_model_close(m);
		uint64_t mem = min_mem(models[i]);
		REQUIRE(mem > 0);
		for (int b = 0; b < 2; b++) {
			m = open_model(models[i], mem, backends[b], 64);
			REQUIRE(m);
			struct floe_plan p;
			floe_model_plan(m, &p);
			CHECK(p.n_slots == (uint64_t)4 && !p.all_resident);
			float *got = eval_all(m, &g, &rc, NULL, 0);
			CHECK(rc == FLOE_OK && got);
			if (got)
				CHECKF(!memcmp(got, ref, sizeof(float) * g.n_rows * g.n_vocab),
				       "%s backend %d: streamed logits differ from resident", models[i], backends[b]);
			struct floe_stats st;
			floe_stats_get(m, &st);
			CHECKF(st.expert_misses * 10 >= st.expert_requests * 8,
			       "%s: only %llu misses of %llu requests", models[i],
			       (unsigned long long)st.expert_misses, (unsigned long long)st.expert_requests);
			CHECK(st.bytes_read > 0 && st.reads > 0);
			free(got);
			floe_model_close(m);
		}
		free(ref);
		free(g.buf);
	}
}

/* ---- (5) fault injection --------------------------------------------------- */

static floe_model *open_fault(const char *model, uint64_t mem, int backend, int fault, uint64_t at)
{
	struct floe_params p = fixture_params(model, mem, backend);

	p.io_fault = fault;
	p.io_fault_at = at;
	return open_params(model, &p);
}

static void test_fault_injection(void)
{
	const char *model = models[0];
	const int backends[] = {FLOE_IO_BACKEND_URING, FLOE_IO_BACKEND_PREAD};
	struct golden_logits g;
	int rc;

	REQUIRE(load_golden_logits(model, "s7", &g) == 0);
	floe_model *m = open_model(model, 0, FLOE_IO_BACKEND_AUTO, 64);
	REQUIRE(m);
	float *ref = eval_all(m, &g, &rc, NULL, 0);
	REQUIRE(ref);
	floe_model_close(m);
	uint64_t mem = min_mem(model);

	for (int b = 0; b < 2; b++) {
		/* EIO on the 5th read: eval fails cleanly, names file and offset */
		char err[512] = "";
		m = open_fault(model, mem, backends[b], 1, 5);
		REQUIRE(m);
		float *got = eval_all(m, &g, &rc, err, sizeof(err));
		CHECKF(rc == FLOE_EIO, "rc %d", rc);
		CHECKF(strstr(err, "tiny-qwen3moe-q8_0.gguf") && strstr(err, "offset"), "message: %s", err);
		free(got);
		/* the fault was one-shot: a new eval reads the expert again */
		got = eval_all(m, &g, &rc, err, sizeof(err));
		CHECKF(rc == FLOE_OK && got && !memcmp(got, ref, sizeof(float) * g.n_rows * g.n_vocab),
		       "retry after EIO: rc %d %s", rc, err);
		free(got);
		floe_model_close(m);
		/* short reads and EINTR are retried: identical logits */
		for (int f = 2; f <= 3; f++) {
			m = open_fault(model, mem, backends[b], f, 3);
			REQUIRE(m);
			got = eval_all(m, &g, &rc, err, sizeof(err));
			CHECKF(rc == FLOE_OK && got && !memcmp(got, ref, sizeof(float) * g.n_rows * g.n_vocab),
			       "fault %d backend %d: rc %d %s", f, backends[b], rc, err);
			free(got);
			floe_model_close(m);
		}
	}
	free(ref);
	free(g.buf);
}

/* ---- (6) peak RSS within the budget ---------------------------------------- */

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Slack over the budget: code and libc pages, thread stacks, the GGUF
 * metadata (vocabulary strings), malloc arenas and io_uring rings, none of
 * which the plan counts; plus kernel fault-around mapping up to 64 KiB of the
 * file around each dense page touched.  Measured ~3 MiB; allow 8. */
#define RSS_SLACK (8ull << 20)

static void test_peak_rss(void)
{
	if (ASAN) {
		fprintf(stderr, "  skipped under ASan (shadow memory)\n");
		return;
	}
	const char *model = models[0];
	struct golden_logits g;
	REQUIRE(load_golden_logits(model, "s64", &g) == 0);
	uint64_t mem = min_mem(model) + (2ull << 20);
	/* min_mem opened the model with every expert cached: reset the
	 * high-water mark ("5" > clear_refs) before measuring. */
	FILE *cr = fopen("/proc/self/clear_refs", "w");
	REQUIRE(cr);
	fputs("5", cr);
	fclose(cr);
	long base = status_kib("VmRSS");
	floe_model *m = open_model(model, mem, FLOE_IO_BACKEND_AUTO, 64);
	REQUIRE(m);
	floe_session *s = NULL;
	REQUIRE(floe_session_create(m, &s) == FLOE_OK);
	CHECK(floe_session_eval(s, g.tokens, (int)g.n_rows, false) == FLOE_OK);
	long peak = status_kib("VmHWM");
	uint64_t used = (uint64_t)(peak - base) * 1024;
	fprintf(stderr, "  budget %.1f MiB, peak RSS growth %.1f MiB (baseline %.1f MiB)\n", (double)mem / 1048576.0,
		(double)used / 1048576.0, (double)base / 1024.0);
	CHECKF(peak > 0 && used <= mem + RSS_SLACK, "peak growth %llu > budget %llu + slack",
	       (unsigned long long)used, (unsigned long long)mem);
	floe_session_free(s);
	floe_model_close(m);
	free(g.buf);
}

/* ---- f16 KV cache ---------------------------------------------------------- */

/* Half the KV bytes; logits move by f16 rounding of K, V, q and the
 * probabilities (~1e-3) and rare flips, so compare loosely. */
static void test_kv_f16(void)
{
	struct golden_logits g;
	struct floe_params p = floe_params_default();
	char err[512];
	floe_model *m = NULL;
	floe_session *s = NULL;

	REQUIRE(load_golden_logits(models[0], "s7", &g) == 0);
	p.path = fixture_model(models[0]);
	p.n_ctx = 256;
	p.n_threads = 2;
	p.kv_f16 = true;
	p.log_level = 0;
	REQUIRE(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_OK);
	struct floe_plan plan;
	floe_model_plan(m, &plan);
	floe_model *m32 = open_model(models[0], 0, FLOE_IO_BACKEND_AUTO, 64);
	REQUIRE(m32);
	struct floe_plan plan32;
	floe_model_plan(m32, &plan32);
	CHECK(plan.kv_bytes * 2 == plan32.kv_bytes);
	floe_model_close(m32);
	REQUIRE(floe_session_create(m, &s) == FLOE_OK);
	REQUIRE(floe_session_eval(s, g.tokens, (int)g.n_rows, true) == FLOE_OK);
	float worst = 0.0f;
	int bad = 0;
	for (uint32_t r = 0; r < g.n_rows; r++) {
		const float *got = floe_session_logits(s, (int)r), *want = g.logits + (size_t)r * g.n_vocab;
		float d = max_abs_diff(got, want, (int)g.n_vocab);
		worst = d > worst ? d : worst;
		bad += floe_argmax(got, (int)g.n_vocab) != floe_argmax(want, (int)g.n_vocab);
	}
	fprintf(stderr, "  kv f16: s7 max |diff| vs llama.cpp f32-KV logits %.3g, argmax mismatches %d\n", (double)worst,
		bad);
	CHECK(worst > 0.0f && worst <= 0.1f && bad == 0);
	floe_session_free(s);
	floe_model_close(m);
	free(g.buf);
}

/* ---- (7) bad inputs ---------------------------------------------------------- */

/* Copy a fixture to a temp file and let patch() edit its bytes. */
static int patched_copy(const char *model, char *tmpl, int (*patch)(uint8_t *b, size_t n))
{
	size_t n = 0;
	uint8_t *b = harness_read_file(fixture_model(model), &n);
	int fd, ok;

	if (!b)
		return -1;
	ok = patch(b, n) == 0;
	fd = mkstemp(tmpl);
	if (fd >= 0 && ok)
		ok = write(fd, b, n) == (ssize_t)n;
	if (fd >= 0)
		close(fd);
	free(b);
	return fd >= 0 && ok ? 0 : -1;
}

static uint8_t *find_bytes(uint8_t *b, size_t n, const void *pat, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(b + i, pat, m))
			return b + i;
	return NULL;
}

/* general.architecture's value: a GGUF string of length 8 "qwen3moe". */
static int patch_arch(uint8_t *b, size_t n)
{
	const uint8_t pat[] = {8, 0, 0, 0, 0, 0, 0, 0, 'q', 'w', 'e', 'n', '3', 'm', 'o', 'e'};
	uint8_t *p = find_bytes(b, n, pat, sizeof(pat));

	if (!p)
		return -1;
	memcpy(p + 8, "llama4xx", 8);
	return 0;
}

/* blk.0.attn_q.weight's tensor info: name, n_dims (2), ne[2], type -> iq2_xxs. */
static int patch_type(uint8_t *b, size_t n)
{
	const char *name = "blk.0.attn_q.weight";
	uint8_t pat[64];
	size_t len = strlen(name);
	uint64_t l64 = len;

	memcpy(pat, &l64, 8);
	memcpy(pat + 8, name, len);
	uint8_t *p = find_bytes(b, n, pat, 8 + len);
	if (!p)
		return -1;
	uint32_t t = 16; /* IQ2_XXS */
	memcpy(p + 8 + len + 4 + 16, &t, 4);
	return 0;
}

static void test_bad_inputs(void)
{
	struct floe_params p = floe_params_default();
	char err[512], path[64];
	floe_model *m = NULL;

	/* unsupported architecture */
	snprintf(path, sizeof(path), "/tmp/floe-engine-XXXXXX");
	REQUIRE(patched_copy(models[0], path, patch_arch) == 0);
	p.path = path;
	p.log_level = 0;
	CHECK(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_EUNSUPPORTED && !m);
	CHECKF(strstr(err, "llama4xx") != NULL, "message: %s", err);
	unlink(path);

	/* unsupported weight type */
	snprintf(path, sizeof(path), "/tmp/floe-engine-XXXXXX");
	REQUIRE(patched_copy(models[0], path, patch_type) == 0);
	int rc = floe_model_open(&p, &m, err, sizeof(err));
	CHECKF(rc == FLOE_EUNSUPPORTED && !m, "rc %d: %s", rc, err);
	CHECKF(strstr(err, "iq2_xxs") && strstr(err, "blk.0.attn_q.weight"), "message: %s", err);
	unlink(path);

	/* budget too small: the message names the smallest workable value */
	uint64_t need = min_mem(models[0]);
	char want[32];
	snprintf(want, sizeof(want), "%llu", (unsigned long long)need);
	p = floe_params_default();
	p.path = fixture_model(models[0]);
	p.n_ctx = 256;
	p.n_threads = 2;
	p.log_level = 0;
	p.mem_bytes = need - 1;
	CHECK(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_EBUDGET && !m);
	CHECKF(strstr(err, want) != NULL, "message lacks %s: %s", want, err);
	p.mem_bytes = need;
	CHECK(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_OK && m);
	floe_model_close(m);

	/* missing file */
	p.path = "/nonexistent/model.gguf";
	CHECK(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_EIO && strstr(err, "/nonexistent/model.gguf"));

	/* context overflow and bad tokens */
	p.path = fixture_model(models[0]);
	p.mem_bytes = 0;
	p.n_ctx = 16;
	REQUIRE(floe_model_open(&p, &m, err, sizeof(err)) == FLOE_OK);
	floe_session *s = NULL;
	REQUIRE(floe_session_create(m, &s) == FLOE_OK);
	int32_t toks[16] = {785, 6722, 315, 2869, 681, 374, 4270, 1, 2, 3};
	CHECK(floe_session_eval(s, toks, 10, false) == FLOE_OK);
	CHECK(floe_session_eval(s, toks, 7, false) == FLOE_ECONTEXT && floe_session_pos(s) == 10);
	CHECK(strstr(floe_session_error(s), "n_ctx 16") != NULL);
	CHECK(floe_session_eval(s, toks, 6, false) == FLOE_OK && floe_session_pos(s) == 16);
	floe_session_reset(s);
	int32_t bad = floe_session_n_vocab(s);
	CHECK(floe_session_eval(s, &bad, 1, false) == FLOE_EARG);
	CHECK(floe_session_eval(s, toks, 0, false) == FLOE_EARG);
	CHECK(floe_session_pos(s) == 0);
	floe_session_free(s);
	floe_model_close(m);
}

int main(void)
{
	json_error_t jerr;

	goldens = json_load_file(FIXTURE("goldens.json"), 0, &jerr);
	if (!goldens) {
		fprintf(stderr, "goldens.json: %s\n", jerr.text);
		return 1;
	}
	RUN(test_peak_rss);
	RUN(test_logits_match_llama);
	RUN(test_greedy_match_llama);
	RUN(test_batch_vs_tokenwise);
	RUN(test_streamed_equals_resident);
	RUN(test_fault_injection);
	RUN(test_kv_f16);
	RUN(test_bad_inputs);
	json_decref(goldens);
	return harness_finish();
}

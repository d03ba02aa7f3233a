/* bench_model: prompt and decode tokens per second of a whole model, in the
 * shape of llama-bench's pp/tg tests, so the two can be compared directly.
 * Not a test: it asserts nothing.
 *
 *   bench_model MODEL.gguf [-t THREADS] [--mem SIZE_GB] [-p N_PROMPT] [-n N_GEN] [-r REPS]
 *
 * Warm-up first: the prompt is evaluated three times from position 0, which
 * with random weights touches practically every expert, so the cache slots
 * are filled (reads from disk are not what this measures; the expert misses
 * of the timed part are printed so that can be checked).  Then, REPS times:
 * pp = one eval of N_PROMPT random tokens from position 0; tg = N_GEN single
 * token evals from position 0 (greedy on the logits, like llama-bench, which
 * also starts its generation test from an empty context).  Prints every
 * repetition, the best and the median. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"
#include "chat/sampler.h"
#include "floe.h"

#define MAX_REPS 32

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *r, int n)
{
	qsort(r, (size_t)n, sizeof(double), cmp_double);
	printf("%s tok/s: best %.3f median %.3f worst %.3f (%d reps)\n", what, r[n - 1], r[n / 2], r[0], n);
}

int main(int argc, char **argv)
{
	struct floe_params p = floe_params_default();
	int n_prompt = 64, n_gen = 32, reps = 3;
	double pp[MAX_REPS], tg[MAX_REPS];
	char err[512];
	floe_model *m;
	floe_session *s;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_model MODEL [-t N] [--mem GB] [-p N] [-n N] [-r N]\n");
		return 2;
	}
	p.path = argv[1];
	p.log_level = 0;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-t"))
			p.n_threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mem"))
			p.mem_bytes = (uint64_t)(atof(argv[i + 1]) * (1ull << 30));
		else if (!strcmp(argv[i], "-p"))
			n_prompt = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-n"))
			n_gen = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-r"))
			reps = atoi(argv[i + 1]);
	}
	if (reps < 1 || reps > MAX_REPS || n_prompt < 2 || n_gen < 1) {
		fprintf(stderr, "bench_model: need -r 1..%d, -p >= 2 (a prompt of one token is a decode step), -n >= 1\n",
			MAX_REPS);
		return 2;
	}
	p.n_ctx = n_prompt + n_gen + 16;
	if (floe_model_open(&p, &m, err, sizeof err)) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	if (floe_session_create(m, &s)) {
		fprintf(stderr, "session: %s\n", floe_model_error(m));
		return 1;
	}
	int n_vocab = floe_session_n_vocab(s);
	int32_t *toks = malloc(sizeof(int32_t) * (size_t)n_prompt);
	uint64_t x = 12345;
	for (int i = 0; i < n_prompt; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		toks[i] = (int32_t)((x >> 33) % (uint64_t)n_vocab);
	}
	double t0 = floe_now_s();
	for (int w = 0; w < 3; w++) {
		floe_session_reset(s);
		if (floe_session_eval(s, toks, n_prompt, false)) {
			fprintf(stderr, "eval: %s\n", floe_session_error(s));
			return 1;
		}
	}
	printf("warm-up %.1f s\n", floe_now_s() - t0);
	floe_stats_reset(m);
	for (int r = 0; r < reps; r++) {
		floe_session_reset(s);
		double a = floe_now_s();
		floe_session_eval(s, toks, n_prompt, false);
		pp[r] = n_prompt / (floe_now_s() - a);
		floe_session_reset(s);
		int32_t tok = toks[0];
		a = floe_now_s();
		for (int i = 0; i < n_gen; i++) {
			if (floe_session_eval(s, &tok, 1, false)) {
				fprintf(stderr, "eval: %s\n", floe_session_error(s));
				return 1;
			}
			tok = floe_argmax(floe_session_logits(s, -1), n_vocab);
		}
		tg[r] = n_gen / (floe_now_s() - a);
		printf("rep %d: pp%d %.3f tok/s, tg%d %.3f tok/s\n", r, n_prompt, pp[r], n_gen, tg[r]);
		fflush(stdout);
	}
	struct floe_stats st;
	floe_stats_get(m, &st);
	printf("timed part: expert misses %llu of %llu requests\n", (unsigned long long)st.expert_misses,
	       (unsigned long long)st.expert_requests);
	report("pp", pp, reps);
	report("tg", tg, reps);
	free(toks);
	floe_session_free(s);
	floe_model_close(m);
	return 0;
}

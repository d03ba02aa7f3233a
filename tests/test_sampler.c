/* Tests for src/chat/sampler: greedy is the argmax (lowest id on ties); the
 * seed fixes the sequence; top_k = 1 is greedy; top_k, top_p and min_p never
 * let an excluded token through and do let every allowed one through (many
 * draws with a fixed seed); the draw follows the softmax; the repetition
 * penalty moves the argmax as llama.cpp's rule says. */
#include "harness.h"

#include <stdint.h>

#include "chat/sampler.h"

#define N_VOCAB 1000

static uint64_t lcg = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((lcg >> 40) * 0x1.0p-24) * 8.0f - 4.0f;
}

static struct floe_sampler *make(float temp, int top_k, float top_p, float min_p, uint64_t seed,
				 uint32_t n_vocab)
{
	struct floe_sampler_params p;
	struct floe_sampler *s = NULL;
	struct floe_err err = {0};

	floe_sampler_params_default(&p);
	p.temperature = temp;
	p.top_k = top_k;
	p.top_p = top_p;
	p.min_p = min_p;
	p.seed = seed;
	if (floe_sampler_create(&p, n_vocab, &s, &err))
		fprintf(stderr, "  create: %s\n", err.msg);
	return s;
}

static int32_t argmax(const float *l, int n)
{
	int32_t b = 0;
	for (int i = 1; i < n; i++)
		if (l[i] > l[b])
			b = i;
	return b;
}

static void test_greedy_is_argmax(void)
{
	static float l[N_VOCAB];
	struct floe_sampler *s = make(0.0f, 40, 0.95f, 0.05f, 1, N_VOCAB);

	REQUIRE(s);
	for (int r = 0; r < 50; r++) {
		for (int i = 0; i < N_VOCAB; i++)
			l[i] = frand();
		CHECK(floe_sampler_sample(s, l) == argmax(l, N_VOCAB));
	}
	/* ties go to the lowest id */
	for (int i = 0; i < N_VOCAB; i++)
		l[i] = 0;
	l[9] = l[5] = l[700] = 3.0f;
	CHECK(floe_sampler_sample(s, l) == 5);
	floe_sampler_free(s);
}

static void sample_seq(uint64_t seed, int32_t *out, int n)
{
	static float l[N_VOCAB];
	struct floe_sampler *s = make(1.0f, 0, 1.0f, 0.0f, seed, N_VOCAB);

	for (int i = 0; i < N_VOCAB; i++)
		l[i] = (float)(i % 17) * 0.1f; /* flat-ish: many plausible tokens */
	for (int i = 0; i < n; i++)
		out[i] = s ? floe_sampler_sample(s, l) : -1;
	floe_sampler_free(s);
}

static void test_seed_reproducible(void)
{
	int32_t a[200], b[200], c[200];

	sample_seq(42, a, 200);
	sample_seq(42, b, 200);
	sample_seq(43, c, 200);
	CHECK(a[0] >= 0 && memcmp(a, b, sizeof(a)) == 0);
	CHECK(memcmp(a, c, sizeof(a)) != 0);

	/* reset replays the same sequence */
	static float l[N_VOCAB];
	struct floe_sampler *s = make(1.0f, 0, 1.0f, 0.0f, 42, N_VOCAB);
	REQUIRE(s);
	for (int i = 0; i < N_VOCAB; i++)
		l[i] = (float)(i % 17) * 0.1f;
	for (int i = 0; i < 10; i++)
		floe_sampler_sample(s, l);
	floe_sampler_reset(s);
	for (int i = 0; i < 200; i++)
		b[i] = floe_sampler_sample(s, l);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	floe_sampler_free(s);
}

static void test_top_k1_is_greedy(void)
{
	static float l[N_VOCAB];
	struct floe_sampler *s = make(1.5f, 1, 1.0f, 0.0f, 7, N_VOCAB);

	REQUIRE(s);
	for (int r = 0; r < 200; r++) {
		for (int i = 0; i < N_VOCAB; i++)
			l[i] = frand() * 0.1f; /* close logits: a real draw would wander */
		CHECK(floe_sampler_sample(s, l) == argmax(l, N_VOCAB));
	}
	floe_sampler_free(s);
}

/* Probabilities 0.5, 0.3, 0.1, 0.06, 0.04 on ids 3, 1, 4, 0, 2 of a vocab of
 * 8 whose other ids are nearly impossible (but not quite). */
#define SMALL_V 8
static const int32_t order[5] = {3, 1, 4, 0, 2};
static const double probs[5] = {0.5, 0.3, 0.1, 0.06, 0.04};

static void small_logits(float *l)
{
	for (int i = 0; i < SMALL_V; i++)
		l[i] = -12.0f;
	for (int i = 0; i < 5; i++)
		l[order[i]] = logf((float)probs[i]);
}

/* Draw n times; counts[id]. */
static void draw_counts(struct floe_sampler *s, int n, int *counts)
{
	float l[SMALL_V];

	small_logits(l);
	memset(counts, 0, SMALL_V * sizeof(int));
	for (int i = 0; i < n; i++) {
		int32_t id = floe_sampler_sample(s, l);
		if (id >= 0 && id < SMALL_V)
			counts[id]++;
	}
}

/* Exactly the first `keep` of `order` are drawn, each at least once. */
static void check_kept(const int *counts, int keep, const char *what)
{
	for (int i = 0; i < 5; i++) {
		if (i < keep)
			CHECKF(counts[order[i]] > 0, "%s: allowed id %d never drawn", what, order[i]);
		else
			CHECKF(counts[order[i]] == 0, "%s: excluded id %d drawn %d times", what, order[i],
			       counts[order[i]]);
	}
	for (int id = 5; id < SMALL_V; id++)
		CHECKF(counts[id] == 0, "%s: excluded id %d drawn", what, id);
}

static void test_top_k_excludes(void)
{
	int counts[SMALL_V];
	struct floe_sampler *s = make(1.0f, 3, 1.0f, 0.0f, 11, SMALL_V);

	REQUIRE(s);
	draw_counts(s, 20000, counts);
	check_kept(counts, 3, "top_k=3");
	floe_sampler_free(s);
}

static void test_top_p_excludes(void)
{
	int counts[SMALL_V];
	/* cumulative 0.5, 0.8, 0.9: top_p 0.85 keeps three, 0.8 keeps two */
	struct floe_sampler *s = make(1.0f, 0, 0.85f, 0.0f, 12, SMALL_V);

	REQUIRE(s);
	draw_counts(s, 20000, counts);
	check_kept(counts, 3, "top_p=0.85");
	floe_sampler_free(s);
	s = make(1.0f, 0, 0.79f, 0.0f, 13, SMALL_V);
	REQUIRE(s);
	draw_counts(s, 20000, counts);
	check_kept(counts, 2, "top_p=0.79");
	floe_sampler_free(s);
}

/* A big vocab where the top_p set needs several widening rounds (no top_k):
 * the draws must equal those of a sampler that sorts everything first
 * (top_k = V - 1 drops only a token of probability 0), and stay within the
 * set a brute-force reference computes. */
#define BIG_V 30000
static int cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x > y ? -1 : x < y ? 1 : 0;
}

static void test_top_p_big_vocab(void)
{
	static float l[BIG_V], sorted[BIG_V];
	struct floe_sampler *wide = make(1.0f, 0, 0.5f, 0.0f, 21, BIG_V);
	struct floe_sampler *full = make(1.0f, BIG_V - 1, 0.5f, 0.0f, 21, BIG_V);
	double sum = 0, cum = 0;
	float cut = 0;

	REQUIRE(wide && full);
	for (int i = 0; i < BIG_V; i++)
		l[i] = frand();
	l[0] = -1000.0f;
	memcpy(sorted, l, sizeof(l));
	qsort(sorted, BIG_V, sizeof(float), cmp_desc);
	for (int i = 0; i < BIG_V; i++)
		sum += exp((double)sorted[i] - sorted[0]);
	for (int i = 0; i < BIG_V; i++) {
		cum += exp((double)sorted[i] - sorted[0]) / sum;
		if (cum >= 0.5) {
			cut = sorted[i];
			fprintf(stderr, "  top_p 0.5 keeps %d of %d\n", i + 1, BIG_V);
			break;
		}
	}
	for (int r = 0; r < 80; r++) {
		int32_t a = floe_sampler_sample(wide, l), b = floe_sampler_sample(full, l);
		CHECKF(a == b, "draw %d: %d vs %d", r, a, b);
		CHECKF(a >= 0 && a < BIG_V && l[a] >= cut, "draw %d: id %d below the cut", r, a);
	}
	floe_sampler_free(wide);
	floe_sampler_free(full);
}

static void test_min_p_excludes(void)
{
	int counts[SMALL_V];
	/* min_p 0.15 * p_max 0.5 = 0.075: keeps 0.5, 0.3, 0.1 */
	struct floe_sampler *s = make(1.0f, 0, 1.0f, 0.15f, 14, SMALL_V);

	REQUIRE(s);
	draw_counts(s, 20000, counts);
	check_kept(counts, 3, "min_p=0.15");
	floe_sampler_free(s);
	/* tiny min_p keeps all five (and even the -12 ones are below it) */
	s = make(1.0f, 0, 1.0f, 0.01f, 15, SMALL_V);
	REQUIRE(s);
	draw_counts(s, 20000, counts);
	check_kept(counts, 5, "min_p=0.01");
	floe_sampler_free(s);
}

/* Unfiltered at temperature 1 the frequencies follow the softmax; at
 * temperature 0.5 the distribution sharpens (p^2, renormalized). */
static void test_distribution(void)
{
	int counts[SMALL_V];
	const int n = 40000;
	struct floe_sampler *s = make(1.0f, 0, 1.0f, 0.0f, 16, SMALL_V);

	REQUIRE(s);
	draw_counts(s, n, counts);
	for (int i = 0; i < 5; i++)
		CHECKF(fabs((double)counts[order[i]] / n - probs[i]) < 0.015, "id %d: %d of %d, p %.2f",
		       order[i], counts[order[i]], n, probs[i]);
	floe_sampler_free(s);

	double z = 0;
	for (int i = 0; i < 5; i++)
		z += probs[i] * probs[i];
	s = make(0.5f, 0, 1.0f, 0.0f, 17, SMALL_V);
	REQUIRE(s);
	draw_counts(s, n, counts);
	for (int i = 0; i < 5; i++)
		CHECKF(fabs((double)counts[order[i]] / n - probs[i] * probs[i] / z) < 0.015, "T=0.5 id %d",
		       order[i]);
	floe_sampler_free(s);
}

static struct floe_sampler *make_pen(float pen, int last_n)
{
	struct floe_sampler_params p;
	struct floe_sampler *s = NULL;
	struct floe_err err = {0};

	floe_sampler_params_default(&p);
	p.temperature = 0;
	p.repeat_penalty = pen;
	p.repeat_last_n = last_n;
	floe_sampler_create(&p, 16, &s, &err);
	return s;
}

static void test_repetition_penalty(void)
{
	float l[16] = {0};
	struct floe_sampler *s = make_pen(1.1f, 3);

	REQUIRE(s);
	/* positive: 2.0 / 1.1 = 1.82 < 1.9 */
	l[0] = 2.0f, l[1] = 1.9f;
	CHECK(floe_sampler_sample(s, l) == 0);
	floe_sampler_accept(s, 0);
	CHECK(floe_sampler_sample(s, l) == 1);
	/* applied once per distinct id: 2.0 / 1.1 = 1.82 > 1.7 (twice would be 1.65) */
	floe_sampler_accept(s, 0);
	l[1] = 1.7f;
	CHECK(floe_sampler_sample(s, l) == 0);
	l[1] = 1.9f;
	/* the window is 3: after three other tokens, 0 is forgiven */
	floe_sampler_accept(s, 5);
	floe_sampler_accept(s, 6);
	CHECK(floe_sampler_sample(s, l) == 1);
	floe_sampler_accept(s, 7);
	CHECK(floe_sampler_sample(s, l) == 0);
	/* logits untouched by sampling */
	CHECK(l[0] == 2.0f && l[1] == 1.9f);
	floe_sampler_free(s);

	/* negative: multiplied, -1.0 * 1.1 = -1.1 < -1.05 */
	s = make_pen(1.1f, 64);
	REQUIRE(s);
	for (int i = 0; i < 16; i++)
		l[i] = -5.0f;
	l[2] = -1.0f, l[3] = -1.05f;
	CHECK(floe_sampler_sample(s, l) == 2);
	floe_sampler_accept(s, 2);
	CHECK(floe_sampler_sample(s, l) == 3);
	floe_sampler_reset(s);
	CHECK(floe_sampler_sample(s, l) == 2);
	floe_sampler_free(s);
}

static void test_bad_params(void)
{
	struct floe_sampler_params p;
	struct floe_sampler *s = NULL;
	struct floe_err err = {0};

	floe_sampler_params_default(&p);
	CHECK(floe_sampler_create(&p, 0, &s, &err) == FLOE_EARG && s == NULL);
	p.top_p = -0.5f;
	CHECK(floe_sampler_create(&p, 10, &s, &err) == FLOE_EARG && strstr(err.msg, "top_p -0.5"));
	floe_sampler_params_default(&p);
	p.repeat_penalty = 0;
	CHECK(floe_sampler_create(&p, 10, &s, &err) == FLOE_EARG);
	floe_sampler_params_default(&p);
	p.repeat_last_n = -1;
	CHECK(floe_sampler_create(&p, 10, &s, &err) == FLOE_EARG);
	floe_sampler_params_default(&p);
	p.min_p = NAN;
	CHECK(floe_sampler_create(&p, 10, &s, &err) == FLOE_EARG);
	floe_sampler_params_default(&p);
	CHECK(floe_sampler_create(&p, 10, &s, &err) == FLOE_OK && s != NULL);
	floe_sampler_free(s);
}

int main(void)
{
	RUN(test_greedy_is_argmax);
	RUN(test_seed_reproducible);
	RUN(test_top_k1_is_greedy);
	RUN(test_top_k_excludes);
	RUN(test_top_p_excludes);
	RUN(test_top_p_big_vocab);
	RUN(test_min_p_excludes);
	RUN(test_distribution);
	RUN(test_repetition_penalty);
	RUN(test_bad_params);
	return harness_finish();
}

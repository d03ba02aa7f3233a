/* sampler: the sampling chain over one row of logits.
 *
 * Candidates are (id, logit) pairs in a buffer of n_vocab entries made at
 * creation.  Each step narrows the live prefix [0, n): top_k selects with a
 * min-heap (O(V log k)) and heapsorts the k best in place (no qsort: glibc's
 * may allocate); top_p, when nothing is sorted yet, sorts only as many of the
 * best as it needs; min_p is a logit threshold (p_i >= min_p * p_max  <=>
 * l_i >= l_max + log(min_p)) and keeps the order.  The repetition penalty
 * marks each id once per step with an epoch stamp, so a token repeated in the
 * window is penalized once, as in llama.cpp. */
#include "chat/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cand {
	int32_t id;
	float logit;
};

struct floe_sampler {
	struct floe_sampler_params p;
	uint32_t n_vocab;
	struct cand *cand; /* (n_vocab) */
	double *prob;	   /* (n_vocab) scratch for softmax */
	uint32_t *stamp;   /* (n_vocab) epoch of the last penalty */
	uint32_t epoch;
	int32_t *hist; /* ring of the last repeat_last_n accepted ids */
	uint32_t hist_pos, hist_n;
	uint64_t rng[4]; /* xoshiro256** */
};

/* ------------------------------------------------------------------------ */
/* PRNG: xoshiro256**, seeded through splitmix64                             */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

void floe_sampler_params_default(struct floe_sampler_params *p)
{
	*p = (struct floe_sampler_params){
	    .temperature = 0.8f,
	    .top_k = 40,
	    .top_p = 0.95f,
	    .min_p = 0.05f,
	    .repeat_penalty = 1.0f,
	    .repeat_last_n = 64,
	    .seed = 0,
	};
}

void floe_sampler_reset(struct floe_sampler *s)
{
	uint64_t x = s->p.seed;

	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	s->hist_pos = s->hist_n = 0;
}

static bool bad_float(float v)
{
	return isnan(v) || v < 0;
}

int floe_sampler_create(const struct floe_sampler_params *p, uint32_t n_vocab, struct floe_sampler **out,
			struct floe_err *err)
{
	struct floe_sampler *s;

	*out = NULL;
	if (n_vocab == 0 || n_vocab > INT32_MAX)
		return floe_fail(err, FLOE_EARG, "sampler: n_vocab = %u", n_vocab);
	if (isnan(p->temperature) || bad_float(p->top_p) || bad_float(p->min_p) || p->min_p > 1 ||
	    isnan(p->repeat_penalty) || p->repeat_penalty <= 0 || p->repeat_last_n < 0)
		return floe_fail(
		    err, FLOE_EARG,
		    "sampler: bad parameters (temperature %g, top_p %g, min_p %g, repeat_penalty %g, "
		    "repeat_last_n %d)",
		    (double)p->temperature, (double)p->top_p, (double)p->min_p, (double)p->repeat_penalty,
		    p->repeat_last_n);
	s = calloc(1, sizeof(*s));
	if (!s)
		return floe_fail(err, FLOE_ENOMEM, "sampler");
	s->p = *p;
	s->n_vocab = n_vocab;
	s->cand = malloc(n_vocab * sizeof(*s->cand));
	s->prob = malloc(n_vocab * sizeof(*s->prob));
	s->stamp = calloc(n_vocab, sizeof(*s->stamp));
	s->hist = malloc((p->repeat_last_n ? (size_t)p->repeat_last_n : 1) * sizeof(*s->hist));
	if (!s->cand || !s->prob || !s->stamp || !s->hist) {
		floe_sampler_free(s);
		return floe_fail(err, FLOE_ENOMEM, "sampler buffers for %u tokens", n_vocab);
	}
	floe_sampler_reset(s);
	*out = s;
	return FLOE_OK;
}

void floe_sampler_free(struct floe_sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->prob);
	free(s->stamp);
	free(s->hist);
	free(s);
}

void floe_sampler_accept(struct floe_sampler *s, int32_t id)
{
	uint32_t n = (uint32_t)s->p.repeat_last_n;

	if (n == 0 || id < 0 || (uint32_t)id >= s->n_vocab)
		return;
	s->hist[s->hist_pos] = id;
	s->hist_pos = (s->hist_pos + 1) % n;
	if (s->hist_n < n)
		s->hist_n++;
}

/* ------------------------------------------------------------------------ */
/* Chain steps                                                               */
/* ------------------------------------------------------------------------ */

/* Better first: higher logit, then lower id (deterministic ties). */
static bool better(const struct cand *a, const struct cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* llama.cpp's rule, once per distinct id in the window; cand is still
 * indexed by id here. */
static void apply_penalty(struct floe_sampler *s)
{
	float pen = s->p.repeat_penalty;

	if (pen == 1.0f || s->hist_n == 0)
		return;
	if (++s->epoch == 0) { /* wrapped: old stamps could collide */
		memset(s->stamp, 0, s->n_vocab * sizeof(*s->stamp));
		s->epoch = 1;
	}
	for (uint32_t i = 0; i < s->hist_n; i++) {
		int32_t id = s->hist[i];
		float *l = &s->cand[id].logit;

		if (s->stamp[id] == s->epoch)
			continue;
		s->stamp[id] = s->epoch;
		*l = *l <= 0 ? *l * pen : *l / pen;
	}
}

static void sift_down(struct cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		/* min-heap on "better": the root is the worst kept */
		if (c + 1 < n && better(&h[c], &h[c + 1]))
			c++;
		if (!better(&h[i], &h[c]))
			return;
		struct cand t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* Move the k best of cand[0..n) to the front, sorted; the rest stay behind
 * them (swapped, not overwritten), so the array remains a permutation. */
static void top_k(struct cand *c, size_t n, size_t k)
{
	for (size_t i = k / 2; i-- > 0;)
		sift_down(c, k, i);
	for (size_t i = k; i < n; i++) {
		if (better(&c[i], &c[0])) {
			struct cand t = c[0];
			c[0] = c[i];
			c[i] = t;
			sift_down(c, k, 0);
		}
	}
	/* heapsort in place (glibc's qsort may malloc): the root is the worst,
	 * so moving it to the back leaves the best first */
	for (size_t m = k; m > 1; m--) {
		struct cand t = c[0];
		c[0] = c[m - 1];
		c[m - 1] = t;
		sift_down(c, m - 1, 0);
	}
}

/* Softmax of c[0..n) at temperature 1 into prob; returns the sum of the
 * unnormalized terms (max term is 1). */
static double softmax(const struct cand *c, size_t n, float max, double *prob)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		prob[i] = exp((double)c[i].logit - (double)max);
		sum += prob[i];
	}
	return sum;
}

static float max_logit(const struct cand *c, size_t n)
{
	float m = c[0].logit;

	for (size_t i = 1; i < n; i++)
		if (c[i].logit > m)
			m = c[i].logit;
	return m;
}

/* Shortest prefix, best first, whose probability (softmax over all n at
 * temperature 1) reaches top_p.  Unless already sorted, only the best k are
 * sorted, k growing x8 until they hold enough mass: a full sort of the vocab
 * is rarely needed. */
static size_t top_p(struct floe_sampler *s, size_t n, bool sorted)
{
	float max = sorted ? s->cand[0].logit : max_logit(s->cand, n);
	double sum = 0, cum = 0;
	size_t k = sorted ? n : (n < 256 ? n : 256), done = 0;

	for (size_t i = 0; i < n; i++)
		sum += exp((double)s->cand[i].logit - (double)max);
	for (;;) {
		if (!sorted)
			top_k(s->cand, n, k);
		for (size_t i = done; i < k; i++) {
			cum += exp((double)s->cand[i].logit - (double)max) / sum;
			if (cum >= s->p.top_p)
				return i + 1;
		}
		if (k == n)
			return n;
		/* the first k are final: the next round only adds after them */
		done = k;
		k = n / 8 < k ? n : k * 8;
	}
}

static size_t min_p(struct floe_sampler *s, size_t n)
{
	float thr = max_logit(s->cand, n) + logf(s->p.min_p);
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (s->cand[i].logit >= thr)
			s->cand[k++] = s->cand[i];
	return k ? k : 1;
}

static int32_t draw(struct floe_sampler *s, size_t n)
{
	float inv_t = 1.0f / s->p.temperature;
	double sum, u, cum = 0;

	for (size_t i = 0; i < n; i++)
		s->cand[i].logit *= inv_t;
	sum = softmax(s->cand, n, max_logit(s->cand, n), s->prob);
	u = rng_uniform(s->rng) * sum;
	for (size_t i = 0; i < n; i++) {
		cum += s->prob[i];
		if (u < cum)
			return s->cand[i].id;
	}
	return s->cand[n - 1].id; /* u rounded up to sum */
}

int32_t floe_sampler_sample(struct floe_sampler *s, const float *logits)
{
	size_t n = s->n_vocab;
	bool sorted = false;

	for (size_t i = 0; i < n; i++)
		s->cand[i] = (struct cand){(int32_t)i, logits[i]};
	apply_penalty(s);
	if (s->p.temperature <= 0) {
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (s->cand[i].logit > s->cand[best].logit)
				best = i;
		return s->cand[best].id;
	}
	if (s->p.top_k > 0 && (size_t)s->p.top_k < n) {
		top_k(s->cand, n, (size_t)s->p.top_k);
		n = (size_t)s->p.top_k;
		sorted = true;
	}
	if (s->p.top_p < 1.0f)
		n = top_p(s, n, sorted);
	if (s->p.min_p > 0)
		n = min_p(s, n);
	return draw(s, n);
}

int32_t floe_argmax(const float *x, int n)
{
	int32_t best = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

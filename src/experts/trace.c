/* trace: routing trace storage, file format, and the calibrated synthetic
 * generator (see trace.h for the model). */
#include "experts/trace.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define TRACE_MAX_EXPERTS 65535
#define TRACE_MAX_LAYERS 4096
#define TRACE_MAX_K 64

int floe_trace_init(struct floe_trace *t, uint32_t n_layers, uint32_t n_experts, uint32_t k,
		    struct floe_err *err)
{
	memset(t, 0, sizeof(*t));
	if (!n_layers || n_layers > TRACE_MAX_LAYERS || !n_experts || n_experts > TRACE_MAX_EXPERTS ||
	    !k || k > TRACE_MAX_K || k > n_experts)
		return floe_fail(err, FLOE_EARG, "trace shape out of range: %u layers, %u experts, k=%u",
				 n_layers, n_experts, k);
	t->n_layers = n_layers;
	t->n_experts = n_experts;
	t->k = k;
	return FLOE_OK;
}

void floe_trace_free(struct floe_trace *t)
{
	if (t->hidden) {
		free(t->hidden->zipf);
		free(t->hidden->ws);
		free(t->hidden);
	}
	free(t->experts);
	memset(t, 0, sizeof(*t));
}

static int trace_reserve(struct floe_trace *t, uint64_t tokens, struct floe_err *err)
{
	uint64_t per = (uint64_t)t->n_layers * t->k, cap = t->cap_tokens ? t->cap_tokens : 256, bytes;
	uint16_t *p;

	if (tokens <= t->cap_tokens)
		return FLOE_OK;
	while (cap < tokens)
		cap *= 2;
	if (!floe_mul_u64(cap, per * sizeof(uint16_t), &bytes) || bytes > SIZE_MAX)
		return floe_fail(err, FLOE_ENOMEM, "trace of %llu tokens is too large",
				 (unsigned long long)tokens);
	p = realloc(t->experts, (size_t)bytes);
	if (!p)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for a trace of %llu tokens",
				 (unsigned long long)tokens);
	t->experts = p;
	t->cap_tokens = cap;
	return FLOE_OK;
}

int floe_trace_append(struct floe_trace *t, const uint16_t *experts, struct floe_err *err)
{
	uint64_t per = (uint64_t)t->n_layers * t->k;
	int st = trace_reserve(t, t->n_tokens + 1, err);

	if (st)
		return st;
	for (uint64_t i = 0; i < per; i++)
		if (experts[i] >= t->n_experts)
			return floe_fail(err, FLOE_EARG, "trace: expert id %u out of range (%u experts)",
					 experts[i], t->n_experts);
	memcpy(t->experts + t->n_tokens * per, experts, per * sizeof(uint16_t));
	t->n_tokens++;
	return FLOE_OK;
}

/* ---- file format ------------------------------------------------------- */

static const char trace_magic[8] = {'F', 'L', 'T', 'R', 'A', 'C', 'E', '1'};

int floe_trace_save(const struct floe_trace *t, const char *path, struct floe_err *err)
{
	FILE *f = fopen(path, "wb");
	uint32_t hdr[4] = {t->n_layers, t->n_experts, t->k, 0};
	bool ok;

	if (!f)
		return floe_fail(err, FLOE_EIO, "cannot create trace '%s': %s", path, strerror(errno));
	ok = fwrite(trace_magic, 1, 8, f) == 8 && fwrite(hdr, 4, 4, f) == 4;
	for (uint64_t tok = 0; ok && tok < t->n_tokens; tok++)
		for (uint32_t l = 0; ok && l < t->n_layers; l++) {
			uint32_t rec[2] = {(uint32_t)tok, l};
			ok = fwrite(rec, 4, 2, f) == 2 &&
			     fwrite(floe_trace_at(t, tok, l), 2, t->k, f) == t->k;
		}
	if (fclose(f) != 0)
		ok = false;
	if (!ok)
		return floe_fail(err, FLOE_EIO, "cannot write trace '%s': %s", path, strerror(errno));
	return FLOE_OK;
}

int floe_trace_load(const char *path, struct floe_trace *t, struct floe_err *err)
{
	FILE *f = fopen(path, "rb");
	char magic[8];
	uint32_t hdr[4], rec[2];
	uint16_t *row = NULL;
	uint64_t rec_no = 0;
	int st;

	memset(t, 0, sizeof(*t));
	if (!f)
		return floe_fail(err, FLOE_EIO, "cannot open trace '%s': %s", path, strerror(errno));
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, trace_magic, 8) || fread(hdr, 4, 4, f) != 4) {
		st = floe_fail(err, FLOE_EFORMAT, "'%s' is not a floe trace (bad magic or header)", path);
		goto out;
	}
	st = floe_trace_init(t, hdr[0], hdr[1], hdr[2], err);
	if (st)
		goto out;
	row = malloc((size_t)t->n_layers * t->k * sizeof(uint16_t));
	if (!row) {
		st = floe_fail(err, FLOE_ENOMEM, "out of memory reading trace");
		goto out;
	}
	for (;;) {
		uint32_t l;
		for (l = 0; l < t->n_layers; l++, rec_no++) {
			size_t got = fread(rec, 4, 2, f);
			if (got == 0 && l == 0 && feof(f))
				goto done;
			if (got != 2 || fread(row + (size_t)l * t->k, 2, t->k, f) != t->k) {
				st = floe_fail(err, FLOE_EFORMAT, "trace '%s': record %llu is truncated", path,
					       (unsigned long long)rec_no);
				goto out;
			}
			if (rec[0] != t->n_tokens || rec[1] != l) {
				st = floe_fail(err, FLOE_EFORMAT,
					       "trace '%s': record %llu is (token %u, layer %u), expected (%llu, %u)",
					       path, (unsigned long long)rec_no, rec[0], rec[1],
					       (unsigned long long)t->n_tokens, l);
				goto out;
			}
		}
		st = floe_trace_append(t, row, err);
		if (st)
			goto out;
	}
done:
	st = FLOE_OK;
out:
	free(row);
	fclose(f);
	if (st)
		floe_trace_free(t);
	return st;
}

/* ---- synthetic generator ----------------------------------------------- */

/* xoshiro256** seeded by splitmix64: fast, good enough, reproducible. */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = s[3] << 45 | s[3] >> 19;
	return result;
}

static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Per-layer generator state. */
struct synth_layer {
	uint16_t *perm;  /* popularity rank -> expert */
	uint16_t *ws;    /* working set, M members */
	uint16_t *prev;  /* previous token's k experts */
};

static uint16_t zipf_draw(struct rng *r, const double *cdf, const uint16_t *perm, uint32_t n)
{
	double u = rng_unit(r) * cdf[n - 1];
	uint32_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return perm[lo];
}

static bool contains(const uint16_t *a, uint32_t n, uint16_t v)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i] == v)
			return true;
	return false;
}

static void synth_token(const struct floe_trace_synth *p, struct rng *r, const double *cdf,
			struct synth_layer *L, bool first, uint16_t *out, uint16_t *ws_out)
{
	uint32_t n = 0, guard;

	for (uint32_t i = 0; i < p->ws_m; i++)
		if (rng_unit(r) < p->drift_d)
			L->ws[i] = zipf_draw(r, cdf, L->perm, p->n_experts);
	memcpy(ws_out, L->ws, p->ws_m * sizeof(uint16_t));
	if (!first)
		for (uint32_t i = 0; i < p->k; i++)
			if (rng_unit(r) < p->keep_r)
				out[n++] = L->prev[i];
	for (guard = 0; n < p->k; guard++) {
		uint16_t e;
		if (guard > 1000u * p->k) /* tiny expert counts: fall back to a scan */
			e = (uint16_t)(rng_next(r) % p->n_experts);
		else if (p->ws_m && rng_unit(r) < p->ws_b)
			e = L->ws[rng_next(r) % p->ws_m];
		else
			e = zipf_draw(r, cdf, L->perm, p->n_experts);
		if (!contains(out, n, e))
			out[n++] = e;
	}
	memcpy(L->prev, out, p->k * sizeof(uint16_t));
}

int floe_trace_synthesize(const struct floe_trace_synth *p, struct floe_trace *out, struct floe_err *err)
{
	struct synth_layer *layers = NULL;
	struct floe_trace_hidden *h;
	double *cdf = NULL;
	uint16_t *row = NULL;
	struct rng r;
	uint64_t ws_entries, zipf_entries;
	int st;

	st = floe_trace_init(out, p->n_layers, p->n_experts, p->k, err);
	if (st)
		return st;
	if (p->ws_m > p->n_experts || !(p->zipf_s >= 0) || !(p->keep_r >= 0 && p->keep_r <= 1) ||
	    !(p->ws_b >= 0 && p->ws_b <= 1) || !(p->drift_d >= 0 && p->drift_d <= 1))
		return floe_fail(err, FLOE_EARG, "synthetic trace parameters out of range");
	st = trace_reserve(out, p->n_tokens, err);
	if (st)
		return st;
	zipf_entries = (uint64_t)p->n_layers * p->n_experts;
	if (!floe_mul_u64(p->n_tokens, (uint64_t)p->n_layers * (p->ws_m ? p->ws_m : 1), &ws_entries) ||
	    ws_entries > SIZE_MAX / sizeof(uint16_t)) {
		floe_trace_free(out);
		return floe_fail(err, FLOE_ENOMEM, "synthetic trace of %llu tokens is too large",
				 (unsigned long long)p->n_tokens);
	}
	h = out->hidden = calloc(1, sizeof(*h));
	if (!h)
		goto nomem;
	h->ws_m = p->ws_m;
	h->ws_b = p->ws_m ? p->ws_b : 0;
	h->keep_r = p->keep_r;
	h->zipf = malloc(zipf_entries * sizeof(double));
	h->ws = malloc((size_t)ws_entries * sizeof(uint16_t));
	if (!h->zipf || !h->ws)
		goto nomem;
	rng_seed(&r, p->seed);
	cdf = malloc(p->n_experts * sizeof(double));
	layers = calloc(p->n_layers, sizeof(*layers));
	row = malloc((size_t)p->n_layers * p->k * sizeof(uint16_t));
	if (!cdf || !layers || !row)
		goto nomem;
	for (uint32_t i = 0; i < p->n_experts; i++)
		cdf[i] = (i ? cdf[i - 1] : 0) + pow((double)(i + 1), -p->zipf_s);
	for (uint32_t l = 0; l < p->n_layers; l++) {
		struct synth_layer *L = &layers[l];
		L->perm = malloc(p->n_experts * sizeof(uint16_t));
		L->ws = malloc((p->ws_m ? p->ws_m : 1) * sizeof(uint16_t));
		L->prev = malloc(p->k * sizeof(uint16_t));
		if (!L->perm || !L->ws || !L->prev)
			goto nomem;
		for (uint32_t i = 0; i < p->n_experts; i++)
			L->perm[i] = (uint16_t)i;
		for (uint32_t i = p->n_experts - 1; i > 0; i--) { /* Fisher-Yates */
			uint32_t j = (uint32_t)(rng_next(&r) % (i + 1));
			uint16_t tmp = L->perm[i];
			L->perm[i] = L->perm[j];
			L->perm[j] = tmp;
		}
		for (uint32_t i = 0; i < p->ws_m; i++)
			L->ws[i] = zipf_draw(&r, cdf, L->perm, p->n_experts);
		for (uint32_t i = 0; i < p->n_experts; i++)
			h->zipf[(size_t)l * p->n_experts + L->perm[i]] =
			    (1 - h->ws_b) * (cdf[i] - (i ? cdf[i - 1] : 0)) / cdf[p->n_experts - 1];
	}
	for (uint64_t tok = 0; tok < p->n_tokens; tok++) {
		for (uint32_t l = 0; l < p->n_layers; l++)
			synth_token(p, &r, cdf, &layers[l], tok == 0, row + (size_t)l * p->k,
				    h->ws + (tok * p->n_layers + l) * p->ws_m);
		st = floe_trace_append(out, row, err);
		if (st)
			goto out;
	}
	st = FLOE_OK;
	goto out;
nomem:
	st = floe_fail(err, FLOE_ENOMEM, "out of memory synthesizing a trace");
out:
	if (layers)
		for (uint32_t l = 0; l < p->n_layers; l++) {
			free(layers[l].perm);
			free(layers[l].ws);
			free(layers[l].prev);
		}
	free(layers);
	free(cdf);
	free(row);
	if (st)
		floe_trace_free(out);
	return st;
}

double floe_trace_overlap(const struct floe_trace *t)
{
	uint64_t same = 0, total = 0;

	for (uint64_t tok = 1; tok < t->n_tokens; tok++)
		for (uint32_t l = 0; l < t->n_layers; l++) {
			const uint16_t *cur = floe_trace_at(t, tok, l), *prev = floe_trace_at(t, tok - 1, l);
			for (uint32_t i = 0; i < t->k; i++)
				same += contains(prev, t->k, cur[i]);
			total += t->k;
		}
	return total ? (double)same / (double)total : 0.0;
}

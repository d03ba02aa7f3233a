/* evict: the eviction policies and the trace simulator (see evict.h). */
#include "experts/evict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experts/trace.h"

#define NO_LAYER UINT32_MAX
/* layer-lrfu's half-life, in tokens.  Inside a per-layer budget the count has
 * to tell a working-set expert (used every few tokens) from a one-off Zipf
 * draw, and let go of experts that left the working set.  Chosen on the
 * calibrated traces with counts kept per expert: 24..32 tokens were best,
 * 16 and 48 within 1.3 points, 128 lost 0.6-4.5 points at a 10% cache
 * (docs/perf.md). */
#define LRFU_HALF_LIFE_TOKENS 32.0

struct evict_slot {
	uint32_t layer;    /* NO_LAYER when free */
	uint32_t expert;
	uint64_t last;     /* last access time */
};

struct floe_evict {
	enum floe_policy policy;
	uint32_t n_slots, n_layers, n_experts;
	uint32_t *layer_count; /* occupied slots per layer */
	double half_life;      /* layer-lrfu, in logical time units */
	struct evict_slot *slots;
	/* layer-lrfu: per (layer, expert), resident or not, the decayed use
	 * count as of time freq_at.  Kept past eviction so that an expert coming
	 * back is known (the working set), and a new one starts from its own
	 * history, not from whatever its slot held before. */
	double *freq;
	uint64_t *freq_at;
	/* The simulator's generator oracle: per (layer, expert) the chance it is
	 * used next, replacing the count as the score; NULL otherwise. */
	const double *oracle_p;
};

static const char *const policy_names[FLOE_POLICY_COUNT] = {"lru", "layer-lrfu"};

const char *floe_policy_name(enum floe_policy p)
{
	if ((unsigned)p < FLOE_POLICY_COUNT)
		return policy_names[p];
	switch ((int)p) {
	case FLOE_SIM_STATIC:
		return "static-top";
	case FLOE_SIM_GENERATOR:
		return "gen-oracle";
	case FLOE_SIM_BELADY:
		return "belady";
	default:
		return "unknown";
	}
}

bool floe_policy_parse(const char *name, enum floe_policy *out)
{
	for (int i = 0; i < FLOE_POLICY_COUNT; i++)
		if (!strcmp(name, policy_names[i])) {
			*out = (enum floe_policy)i;
			return true;
		}
	return false;
}

int floe_evict_create(enum floe_policy policy, uint32_t n_slots, uint32_t n_layers, uint32_t n_experts,
		      struct floe_evict **out, struct floe_err *err)
{
	struct floe_evict *ev;
	size_t n_pairs = (size_t)n_layers * n_experts;

	if ((unsigned)policy >= FLOE_POLICY_COUNT || !n_slots || !n_layers || !n_experts)
		return floe_fail(err, FLOE_EARG, "eviction policy %d with %u slots, %u layers, %u experts",
				 policy, n_slots, n_layers, n_experts);
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for eviction policy");
	ev->policy = policy;
	ev->n_slots = n_slots;
	ev->n_layers = n_layers;
	ev->n_experts = n_experts;
	ev->half_life = LRFU_HALF_LIFE_TOKENS * n_layers;
	ev->slots = calloc(n_slots, sizeof(*ev->slots));
	ev->layer_count = calloc(n_layers, sizeof(uint32_t));
	if (policy == FLOE_POLICY_LAYER_LRFU) {
		ev->freq = calloc(n_pairs, sizeof(double));
		ev->freq_at = calloc(n_pairs, sizeof(uint64_t));
	}
	if (!ev->slots || !ev->layer_count || (policy == FLOE_POLICY_LAYER_LRFU && (!ev->freq || !ev->freq_at))) {
		floe_evict_destroy(ev);
		return floe_fail(err, FLOE_ENOMEM, "out of memory for eviction policy");
	}
	for (uint32_t i = 0; i < n_slots; i++)
		ev->slots[i].layer = NO_LAYER;
	*out = ev;
	return FLOE_OK;
}

void floe_evict_destroy(struct floe_evict *ev)
{
	if (!ev)
		return;
	free(ev->slots);
	free(ev->layer_count);
	free(ev->freq);
	free(ev->freq_at);
	free(ev);
}

static double lrfu_decay(const struct floe_evict *ev, uint64_t dt)
{
	return exp2(-(double)dt / ev->half_life);
}

static size_t pair_of(const struct floe_evict *ev, uint32_t layer, uint32_t expert)
{
	return (size_t)layer * ev->n_experts + expert;
}

void floe_evict_access(struct floe_evict *ev, uint32_t slot, uint32_t layer, uint32_t expert, uint64_t now)
{
	struct evict_slot *s = &ev->slots[slot];

	FLOE_ASSERT(layer < ev->n_layers && expert < ev->n_experts);
	if (s->layer != layer) {
		if (s->layer != NO_LAYER)
			ev->layer_count[s->layer]--;
		ev->layer_count[layer]++;
		s->layer = layer;
	}
	s->expert = expert;
	s->last = now;
	if (ev->freq) {
		size_t p = pair_of(ev, layer, expert);
		ev->freq[p] = ev->freq[p] * lrfu_decay(ev, now - ev->freq_at[p]) + 1.0;
		ev->freq_at[p] = now;
	}
}

void floe_evict_forget(struct floe_evict *ev, uint32_t slot)
{
	struct evict_slot *s = &ev->slots[slot];
	if (s->layer != NO_LAYER)
		ev->layer_count[s->layer]--;
	s->layer = NO_LAYER;
}

/* Lower is evicted first. */
static double victim_score(const struct floe_evict *ev, const struct evict_slot *s, uint64_t now)
{
	size_t p = pair_of(ev, s->layer, s->expert);

	if (ev->oracle_p)
		return ev->oracle_p[p];
	if (ev->policy == FLOE_POLICY_LAYER_LRFU)
		return ev->freq[p] * lrfu_decay(ev, now - ev->freq_at[p]);
	return (double)s->last;
}

int floe_evict_victim(struct floe_evict *ev, uint32_t layer, uint64_t now, const uint8_t *pinned)
{
	uint32_t quota = ev->n_slots / ev->n_layers;
	bool own_layer_only = false;
	int best = -1;
	double best_score = 0;

	for (uint32_t i = 0; i < ev->n_slots; i++)
		if (ev->slots[i].layer == NO_LAYER)
			return (int)i;
	/* Per-layer budget: a layer at its quota replaces its own experts; a
	 * layer under quota takes from layers over theirs. */
	if (ev->policy == FLOE_POLICY_LAYER_LRFU && ev->layer_count[layer] >= quota && quota > 0)
		own_layer_only = true;
	for (int pass = 0; pass < 2 && best < 0; pass++) {
		for (uint32_t i = 0; i < ev->n_slots; i++) {
			const struct evict_slot *s = &ev->slots[i];
			double sc;
			if (pinned && pinned[i])
				continue;
			if (pass == 0 && ev->policy == FLOE_POLICY_LAYER_LRFU &&
			    (own_layer_only ? s->layer != layer : ev->layer_count[s->layer] <= quota))
				continue;
			sc = victim_score(ev, s, now);
			if (best < 0 || sc < best_score) {
				best = (int)i;
				best_score = sc;
			}
		}
	}
	return best;
}

/* ---- trace simulation --------------------------------------------------- */

static int cmp_desc_u32(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Oracle static set: the n_slots most used (layer, expert) pairs. */
static int simulate_static(const struct floe_trace *t, uint32_t n_slots, struct floe_sim_result *res,
			   struct floe_err *err)
{
	uint64_t n_pairs = (uint64_t)t->n_layers * t->n_experts;
	uint64_t *count = calloc(n_pairs, sizeof(uint64_t)), *sorted = malloc(n_pairs * sizeof(uint64_t));
	uint64_t threshold;

	if (!count || !sorted) {
		free(count);
		free(sorted);
		return floe_fail(err, FLOE_ENOMEM, "out of memory simulating");
	}
	for (uint64_t tok = 0; tok < t->n_tokens; tok++)
		for (uint32_t l = 0; l < t->n_layers; l++)
			for (uint32_t i = 0; i < t->k; i++)
				count[(uint64_t)l * t->n_experts + floe_trace_at(t, tok, l)[i]]++;
	/* pack count<<24 | index so the sort keeps pairs; then the top n_slots */
	for (uint64_t i = 0; i < n_pairs; i++)
		sorted[i] = count[i] << 24 | i;
	qsort(sorted, n_pairs, sizeof(uint64_t), cmp_desc_u32);
	res->accesses = t->n_tokens * t->n_layers * t->k;
	res->hits = 0;
	threshold = n_slots < n_pairs ? n_slots : n_pairs;
	for (uint64_t i = 0; i < threshold; i++)
		res->hits += sorted[i] >> 24;
	free(count);
	free(sorted);
	return FLOE_OK;
}

/* A free slot, else the unpinned slot whose content is used again last. */
static int belady_victim(const uint64_t *slot_next, const uint64_t *holds, uint32_t n_slots,
			 const uint8_t *pinned)
{
	int best = -1;

	for (uint32_t i = 0; i < n_slots; i++) {
		if (holds[i] == UINT64_MAX)
			return (int)i;
		if (!pinned[i] && (best < 0 || slot_next[i] > slot_next[best]))
			best = (int)i;
	}
	return best;
}

/* next[i] for access i = (token, layer, j) in trace order: the index of the
 * next access of the same (layer, expert), or UINT64_MAX. */
static uint64_t *next_uses(const struct floe_trace *t)
{
	uint64_t n = t->n_tokens * t->n_layers * t->k, n_pairs = (uint64_t)t->n_layers * t->n_experts;
	uint64_t *next = malloc(n * sizeof(uint64_t)), *seen = malloc(n_pairs * sizeof(uint64_t));

	if (!next || !seen) {
		free(next);
		free(seen);
		return NULL;
	}
	for (uint64_t p = 0; p < n_pairs; p++)
		seen[p] = UINT64_MAX;
	for (uint64_t i = n; i-- > 0;) {
		uint32_t l = (uint32_t)(i / t->k % t->n_layers);
		uint64_t pair = (uint64_t)l * t->n_experts + t->experts[i];
		next[i] = seen[pair];
		seen[pair] = i;
	}
	free(seen);
	return next;
}

/* The generator oracle's scores for layer l as of token tok: the chance each
 * expert is used at the layer's next token.  A fill draw picks expert e w.p.
 * q = zipf[l][e] + ws_b / ws_m per copy of e in the working set, and about
 * k * (1 - keep_r) draws fill a token; an expert of the token just routed is
 * also kept w.p. keep_r.  `routed` is that token's experts, or NULL when its
 * keep chances are already spent (the layer is being routed now, so those
 * not hit were not kept). */
static void oracle_scores(const struct floe_trace *t, uint64_t tok, uint32_t l, const uint16_t *routed,
			  double *p)
{
	const struct floe_trace_hidden *h = t->hidden;
	const uint16_t *ws = h->ws + (tok * t->n_layers + l) * h->ws_m;
	double fills = t->k * (1 - h->keep_r);
	double *pl = p + (size_t)l * t->n_experts;

	memcpy(pl, h->zipf + (size_t)l * t->n_experts, t->n_experts * sizeof(double));
	for (uint32_t i = 0; i < h->ws_m; i++)
		pl[ws[i]] += h->ws_b / h->ws_m;
	for (uint32_t e = 0; e < t->n_experts; e++)
		pl[e] = 1 - pow(1 - pl[e], fills);
	if (routed)
		for (uint32_t i = 0; i < t->k; i++)
			pl[routed[i]] = h->keep_r + (1 - h->keep_r) * pl[routed[i]];
}

int floe_evict_simulate(const struct floe_trace *t, int policy, uint32_t n_slots,
			struct floe_sim_result *res, struct floe_err *err)
{
	uint64_t n_pairs = (uint64_t)t->n_layers * t->n_experts;
	int32_t *where = NULL;     /* (layer, expert) -> slot or -1 */
	uint64_t *holds = NULL;    /* slot -> pair */
	uint8_t *pinned = NULL;
	uint64_t *next = NULL;     /* Belady: next use of each access */
	uint64_t *slot_next = NULL; /* Belady: next use of what each slot holds */
	double *oracle_p = NULL;   /* generator oracle: per pair chance of use next */
	struct floe_evict *ev = NULL;
	bool belady = policy == FLOE_SIM_BELADY, gen = policy == FLOE_SIM_GENERATOR;
	enum floe_policy base = (enum floe_policy)policy;
	int st;

	memset(res, 0, sizeof(*res));
	if (policy == FLOE_SIM_STATIC)
		return simulate_static(t, n_slots, res, err);
	if (policy < 0 || policy > FLOE_SIM_BELADY)
		return floe_fail(err, FLOE_EARG, "no eviction policy or oracle %d", policy);
	if (gen && !t->hidden)
		return floe_fail(err, FLOE_EARG, "the generator oracle needs a synthetic trace's hidden state");
	if (n_slots < t->k)
		return floe_fail(err, FLOE_EARG, "%u slots cannot hold one layer's %u experts", n_slots, t->k);
	/* Belady borrows LRU's bookkeeping for free slots and picks its own
	 * victims; the generator oracle borrows layer-lrfu's per-layer budget and
	 * replaces its score. */
	if (belady)
		base = FLOE_POLICY_LRU;
	else if (gen)
		base = FLOE_POLICY_LAYER_LRFU;
	st = floe_evict_create(base, n_slots, t->n_layers, t->n_experts, &ev, err);
	if (st)
		return st;
	where = malloc(n_pairs * sizeof(int32_t));
	holds = malloc(n_slots * sizeof(uint64_t));
	pinned = calloc(n_slots, 1);
	if (belady) {
		next = next_uses(t);
		slot_next = malloc(n_slots * sizeof(uint64_t));
	}
	if (gen)
		ev->oracle_p = oracle_p = calloc(n_pairs, sizeof(double));
	if (!where || !holds || !pinned || (belady && (!next || !slot_next)) || (gen && !oracle_p)) {
		st = floe_fail(err, FLOE_ENOMEM, "out of memory simulating");
		goto out;
	}
	for (uint64_t i = 0; i < n_pairs; i++)
		where[i] = -1;
	for (uint32_t i = 0; i < n_slots; i++)
		holds[i] = UINT64_MAX;
	for (uint64_t tok = 0; tok < t->n_tokens; tok++) {
		for (uint32_t l = 0; l < t->n_layers; l++) {
			const uint16_t *x = floe_trace_at(t, tok, l);
			uint64_t now = tok * t->n_layers + l;
			if (gen)
				oracle_scores(t, tok, l, NULL, oracle_p);
			/* pin this layer's hits first, as the engine does */
			for (uint32_t i = 0; i < t->k; i++) {
				int32_t s = where[(uint64_t)l * t->n_experts + x[i]];
				if (s >= 0) {
					pinned[s] = 1;
					res->hits++;
					floe_evict_access(ev, (uint32_t)s, l, x[i], now);
					if (belady)
						slot_next[s] = next[now * t->k + i];
				}
			}
			for (uint32_t i = 0; i < t->k; i++) {
				uint64_t pair = (uint64_t)l * t->n_experts + x[i];
				int s;
				if (where[pair] >= 0)
					continue;
				s = belady ? belady_victim(slot_next, holds, n_slots, pinned)
					   : floe_evict_victim(ev, l, now, pinned);
				FLOE_ASSERT(s >= 0);
				if (belady)
					slot_next[s] = next[now * t->k + i];
				if (holds[s] != UINT64_MAX)
					where[holds[s]] = -1;
				holds[s] = pair;
				where[pair] = s;
				pinned[s] = 1;
				floe_evict_access(ev, (uint32_t)s, l, x[i], now);
			}
			for (uint32_t i = 0; i < t->k; i++)
				pinned[where[(uint64_t)l * t->n_experts + x[i]]] = 0;
			/* until layer l's next token, its just-routed experts may be kept */
			if (gen)
				oracle_scores(t, tok, l, x, oracle_p);
			res->accesses += t->k;
		}
	}
	st = FLOE_OK;
out:
	free(where);
	free(holds);
	free(pinned);
	free(next);
	free(slot_next);
	free(oracle_p);
	floe_evict_destroy(ev);
	return st;
}

/* evict: the eviction policies and the trace simulator (see evict.h). */
#include "experts/evict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experts/trace.h"

#define NO_LAYER UINT32_MAX
/* layer-lrfu's half-life, in tokens: inside a per-layer budget a long memory
 * finds each layer's working set (chosen on the calibrated traces: 32..512
 * tokens were within 0.5 points of each other, 8 was worse). */
#define LRFU_HALF_LIFE_TOKENS 128.0

struct evict_slot {
	uint32_t layer;    /* NO_LAYER when free */
	uint64_t last;     /* last access time */
	double freq;       /* layer-lrfu's decayed use count at time `last` */
};

struct floe_evict {
	enum floe_policy policy;
	uint32_t n_slots, n_layers;
	uint32_t *layer_count; /* occupied slots per layer */
	double half_life;      /* layer-lrfu, in logical time units */
	struct evict_slot *slots;
};

static const char *const policy_names[FLOE_POLICY_COUNT] = {"lru", "layer-lrfu"};

const char *floe_policy_name(enum floe_policy p)
{
	if ((unsigned)p < FLOE_POLICY_COUNT)
		return policy_names[p];
	return (int)p == FLOE_SIM_STATIC ? "static-top" : (int)p == FLOE_SIM_BELADY ? "belady" : "unknown";
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

int floe_evict_create(enum floe_policy policy, uint32_t n_slots, uint32_t n_layers,
		      struct floe_evict **out, struct floe_err *err)
{
	struct floe_evict *ev;

	if ((unsigned)policy >= FLOE_POLICY_COUNT || !n_slots || !n_layers)
		return floe_fail(err, FLOE_EARG, "eviction policy %d with %u slots, %u layers", policy,
				 n_slots, n_layers);
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for eviction policy");
	ev->policy = policy;
	ev->n_slots = n_slots;
	ev->n_layers = n_layers;
	ev->half_life = LRFU_HALF_LIFE_TOKENS * n_layers;
	ev->slots = calloc(n_slots, sizeof(*ev->slots));
	ev->layer_count = calloc(n_layers, sizeof(uint32_t));
	if (!ev->slots || !ev->layer_count) {
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
	free(ev);
}

static double lrfu_decay(const struct floe_evict *ev, uint64_t dt)
{
	return exp2(-(double)dt / ev->half_life);
}

void floe_evict_access(struct floe_evict *ev, uint32_t slot, uint32_t layer, uint64_t now)
{
	struct evict_slot *s = &ev->slots[slot];

	if (s->layer != layer) {
		if (s->layer != NO_LAYER)
			ev->layer_count[s->layer]--;
		ev->layer_count[layer]++;
		s->layer = layer;
		s->freq = 0;
	}
	s->freq = s->freq * lrfu_decay(ev, now - s->last) + 1.0;
	s->last = now;
}

void floe_evict_forget(struct floe_evict *ev, uint32_t slot)
{
	struct evict_slot *s = &ev->slots[slot];
	if (s->layer != NO_LAYER)
		ev->layer_count[s->layer]--;
	s->layer = NO_LAYER;
	s->freq = 0;
}

/* Lower is evicted first. */
static double victim_score(const struct floe_evict *ev, const struct evict_slot *s, uint64_t now)
{
	if (ev->policy == FLOE_POLICY_LAYER_LRFU)
		return s->freq * lrfu_decay(ev, now - s->last);
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

int floe_evict_simulate(const struct floe_trace *t, int policy, uint32_t n_slots,
			struct floe_sim_result *res, struct floe_err *err)
{
	uint64_t n_pairs = (uint64_t)t->n_layers * t->n_experts;
	int32_t *where = NULL;     /* (layer, expert) -> slot or -1 */
	uint64_t *holds = NULL;    /* slot -> pair */
	uint8_t *pinned = NULL;
	uint64_t *next = NULL;     /* Belady: next use of each access */
	uint64_t *slot_next = NULL; /* Belady: next use of what each slot holds */
	struct floe_evict *ev = NULL;
	bool belady = policy == FLOE_SIM_BELADY;
	int st;

	memset(res, 0, sizeof(*res));
	if (policy == FLOE_SIM_STATIC)
		return simulate_static(t, n_slots, res, err);
	if (n_slots < t->k)
		return floe_fail(err, FLOE_EARG, "%u slots cannot hold one layer's %u experts", n_slots, t->k);
	/* Belady borrows LRU's bookkeeping for free slots and picks its own victims */
	st = floe_evict_create(belady ? FLOE_POLICY_LRU : (enum floe_policy)policy, n_slots, t->n_layers,
			       &ev, err);
	if (st)
		return st;
	where = malloc(n_pairs * sizeof(int32_t));
	holds = malloc(n_slots * sizeof(uint64_t));
	pinned = calloc(n_slots, 1);
	if (belady) {
		next = next_uses(t);
		slot_next = malloc(n_slots * sizeof(uint64_t));
	}
	if (!where || !holds || !pinned || (belady && (!next || !slot_next))) {
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
			/* pin this layer's hits first, as the engine does */
			for (uint32_t i = 0; i < t->k; i++) {
				int32_t s = where[(uint64_t)l * t->n_experts + x[i]];
				if (s >= 0) {
					pinned[s] = 1;
					res->hits++;
					floe_evict_access(ev, (uint32_t)s, l, now);
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
				floe_evict_access(ev, (uint32_t)s, l, now);
			}
			for (uint32_t i = 0; i < t->k; i++)
				pinned[where[(uint64_t)l * t->n_experts + x[i]]] = 0;
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
	floe_evict_destroy(ev);
	return st;
}

/* evict: expert-cache eviction policies, behind one small interface shared by
 * the live cache and the trace simulator (so what the simulator measures is
 * what the engine runs).
 *
 * The cache tells the policy about every access (hit or fill) with the layer
 * and the token counter, and asks it for a victim slot when it needs one; the
 * policy only ever picks a free or an unpinned slot.  Time is (token, layer):
 * a decode step walks layers 0..L-1 in order, so access is cyclic, which is
 * exactly the pattern where plain global LRU does worst (it evicts the layer
 * that comes next).  Victim search is a linear scan over the slots: a few
 * thousand slots cost microseconds, far below one expert read. */
#ifndef FLOE_EXPERTS_EVICT_H
#define FLOE_EXPERTS_EVICT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* Two policies remain of those compared (docs/perf.md): aged LFU, global
 * LRFU and per-layer LRU lost to layer-lrfu on calibrated traces and on real
 * runs, and were deleted, as was layer-lrfu's first form (counts per slot);
 * per-layer LRU-2/LRU-3 and adaptive per-layer budgets lost in a scratch
 * simulator and never entered the tree.  LRU stays as the baseline every
 * figure is quoted against. */
enum floe_policy {
	FLOE_POLICY_LRU = 0,       /* global least recently used (the baseline) */
	FLOE_POLICY_LAYER_LRFU,    /* equal per-layer budget, each expert's decayed use count inside */
	FLOE_POLICY_COUNT,
};

const char *floe_policy_name(enum floe_policy p);
/* Parse "lru", "layer-lrfu"; false if unknown. */
bool floe_policy_parse(const char *name, enum floe_policy *out);

struct floe_evict;

int floe_evict_create(enum floe_policy policy, uint32_t n_slots, uint32_t n_layers, uint32_t n_experts,
		      struct floe_evict **out, struct floe_err *err);
void floe_evict_destroy(struct floe_evict *ev);

/* slot now holds (layer, expert) and was used at logical time `now`
 * (monotonic: token * n_layers + layer), whether it was a hit or a fill.
 * The expert matters: layer-lrfu's use counts belong to experts and outlive
 * their eviction, so a refilled slot does not inherit its last occupant's
 * count and a returning expert is recognised. */
void floe_evict_access(struct floe_evict *ev, uint32_t slot, uint32_t layer, uint32_t expert, uint64_t now);
/* slot was emptied (failed read, reset). */
void floe_evict_forget(struct floe_evict *ev, uint32_t slot);
/* Pick a slot for a new expert of `layer`: a free slot if any, else the
 * policy's victim among slots with pinned[slot] == 0.  -1 if none. */
int floe_evict_victim(struct floe_evict *ev, uint32_t layer, uint64_t now, const uint8_t *pinned);

/* Trace simulation: replay `trace` through a cache of n_slots under policy,
 * counting hits.  Three oracles, as yardsticks:
 * FLOE_SIM_STATIC keeps the n_slots most used (layer, expert) pairs for the
 * whole run (sees the whole trace).
 * FLOE_SIM_GENERATOR knows the synthetic generator's state at each token
 * (trace->hidden: working sets, Zipf popularity, parameters) but not its
 * draws: with layer-lrfu's per-layer budget it evicts the expert least likely
 * to be drawn next.  Roughly the best a policy that learned the generator
 * perfectly can do (approximately: per-layer budgets and a one-token horizon
 * are choices, not proven optimal).  FLOE_EARG on a trace without hidden state.
 * FLOE_SIM_BELADY evicts the expert whose next use is farthest in the future
 * (Belady's MIN: no demand-fetch policy can hit more). */
#define FLOE_SIM_STATIC FLOE_POLICY_COUNT
#define FLOE_SIM_GENERATOR (FLOE_POLICY_COUNT + 1)
#define FLOE_SIM_BELADY (FLOE_POLICY_COUNT + 2)
struct floe_trace;
struct floe_sim_result {
	uint64_t accesses, hits;
};
int floe_evict_simulate(const struct floe_trace *trace, int policy, uint32_t n_slots,
			struct floe_sim_result *res, struct floe_err *err);

#endif

/* Tests for src/experts/evict: victims follow each policy's rule, pinned
 * slots are never chosen, and the trace simulator counts hits correctly. */
#include "harness.h"

#include "experts/evict.h"
#include "experts/trace.h"

static void test_free_slots_first_then_lru(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};
	uint8_t pinned[4] = {0};

	REQUIRE(floe_evict_create(FLOE_POLICY_LRU, 4, 2, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 4; i++) {
		int s = floe_evict_victim(ev, 0, i, pinned);
		CHECK(s == (int)i);
		floe_evict_access(ev, (uint32_t)s, 0, i);
	}
	floe_evict_access(ev, 0, 0, 10); /* slot 0 becomes most recent */
	CHECK(floe_evict_victim(ev, 0, 11, pinned) == 1);
	pinned[1] = 1;
	CHECK(floe_evict_victim(ev, 0, 11, pinned) == 2);
	pinned[0] = pinned[2] = pinned[3] = 1;
	CHECK(floe_evict_victim(ev, 0, 11, pinned) == -1);
	floe_evict_forget(ev, 3);
	CHECK(floe_evict_victim(ev, 0, 11, pinned) == 3); /* free beats pinned check */
	floe_evict_destroy(ev);
}

/* Inside a layer, layer-lrfu keeps the often used over the recently used. */
static void test_layer_lrfu_prefers_frequent(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};

	REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 3, 1, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 3; i++)
		floe_evict_access(ev, i, 0, i);
	for (int r = 0; r < 5; r++) {
		floe_evict_access(ev, 0, 0, 10 + r);
		floe_evict_access(ev, 2, 0, 10 + r);
	}
	floe_evict_access(ev, 1, 0, 20); /* slot 1: the most recent, but used twice */
	CHECK(floe_evict_victim(ev, 0, 21, NULL) == 1);
	floe_evict_destroy(ev);
	/* plain LRU evicts by recency alone: slot 0 (last used at 14, before 2) */
	REQUIRE(floe_evict_create(FLOE_POLICY_LRU, 3, 1, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 3; i++)
		floe_evict_access(ev, i, 0, i);
	for (int r = 0; r < 5; r++) {
		floe_evict_access(ev, 0, 0, 10 + r);
		floe_evict_access(ev, 2, 0, 11 + r);
	}
	floe_evict_access(ev, 1, 0, 20);
	CHECK(floe_evict_victim(ev, 0, 21, NULL) == 0);
	floe_evict_destroy(ev);
}

static void test_layer_budget(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};

	/* 4 slots, 2 layers: quota 2 each.  Layer 0 fills 3 slots (over quota),
	 * layer 1 one slot.  A layer-1 miss must evict from layer 0 even though a
	 * layer-1 slot is the least recent. */
	{
		REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 4, 2, &ev, &e) == FLOE_OK);
		floe_evict_access(ev, 0, 1, 0);
		floe_evict_access(ev, 1, 0, 1);
		floe_evict_access(ev, 2, 0, 2);
		floe_evict_access(ev, 3, 0, 3);
		CHECK(floe_evict_victim(ev, 1, 4, NULL) == 1);
		/* layer 0 at/over quota replaces its own least recent (or least used) */
		CHECK(floe_evict_victim(ev, 0, 4, NULL) == 1);
		floe_evict_destroy(ev);
	}
}

static void test_simulate_counts(void)
{
	struct floe_trace t;
	struct floe_sim_result r;
	struct floe_err e = {0};
	uint16_t row[2];

	/* one layer, k=2, alternating {0,1} and {2,3}: with 4 slots everything
	 * after the first two tokens hits; with 2 slots nothing ever hits. */
	REQUIRE(floe_trace_init(&t, 1, 8, 2, &e) == FLOE_OK);
	for (int tok = 0; tok < 10; tok++) {
		row[0] = (uint16_t)(tok % 2 ? 2 : 0);
		row[1] = (uint16_t)(tok % 2 ? 3 : 1);
		REQUIRE(floe_trace_append(&t, row, &e) == FLOE_OK);
	}
	for (int p = 0; p < FLOE_POLICY_COUNT; p++) {
		REQUIRE(floe_evict_simulate(&t, p, 4, &r, &e) == FLOE_OK);
		CHECKF(r.accesses == 20 && r.hits == 16, "%s: %llu/%llu", floe_policy_name(p),
		       (unsigned long long)r.hits, (unsigned long long)r.accesses);
		REQUIRE(floe_evict_simulate(&t, p, 2, &r, &e) == FLOE_OK);
		CHECKF(r.hits == 0, "%s: %llu hits", floe_policy_name(p), (unsigned long long)r.hits);
	}
	/* static oracle with 2 slots keeps one pair of experts: half the accesses */
	REQUIRE(floe_evict_simulate(&t, FLOE_SIM_STATIC, 2, &r, &e) == FLOE_OK);
	CHECK(r.hits == 10);
	CHECK(floe_evict_simulate(&t, FLOE_POLICY_LRU, 1, &r, &e) == FLOE_EARG);
	floe_trace_free(&t);
}

/* Belady's MIN is an upper bound: no policy beats it on any trace. */
static void test_belady_bounds_policies(void)
{
	struct floe_trace_synth p = {.n_layers = 3, .n_experts = 64, .k = 4, .n_tokens = 400,
				     .zipf_s = 0.5, .keep_r = 0.2, .ws_b = 0.5, .ws_m = 8,
				     .drift_d = 0.02, .seed = 3};
	struct floe_trace t;
	struct floe_sim_result opt, r;
	struct floe_err e = {0};

	REQUIRE(floe_trace_synthesize(&p, &t, &e) == FLOE_OK);
	for (uint32_t slots = 12; slots <= 96; slots *= 2) {
		REQUIRE(floe_evict_simulate(&t, FLOE_SIM_BELADY, slots, &opt, &e) == FLOE_OK);
		for (int pol = 0; pol < FLOE_POLICY_COUNT; pol++) {
			REQUIRE(floe_evict_simulate(&t, pol, slots, &r, &e) == FLOE_OK);
			CHECKF(r.hits <= opt.hits, "%s %llu > belady %llu at %u slots", floe_policy_name(pol),
			       (unsigned long long)r.hits, (unsigned long long)opt.hits, slots);
		}
		CHECK(opt.hits > 0 && opt.accesses == 400 * 3 * 4);
	}
	floe_trace_free(&t);
}

static void test_policy_names(void)
{
	enum floe_policy p;
	for (int i = 0; i < FLOE_POLICY_COUNT; i++) {
		CHECK(floe_policy_parse(floe_policy_name((enum floe_policy)i), &p) && (int)p == i);
	}
	CHECK(!floe_policy_parse("fifo", &p));
}

int main(void)
{
	RUN(test_free_slots_first_then_lru);
	RUN(test_layer_lrfu_prefers_frequent);
	RUN(test_layer_budget);
	RUN(test_simulate_counts);
	RUN(test_belady_bounds_policies);
	RUN(test_policy_names);
	return harness_finish();
}

/* Tests for src/experts/evict: victims follow each policy's rule, pinned
 * slots are never chosen, the trace simulator counts hits correctly, and the
 * oracles bound the policies. */
#include "harness.h"

#include "experts/evict.h"
#include "experts/trace.h"

static void test_free_slots_first_then_lru(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};
	uint8_t pinned[4] = {0};

	REQUIRE(floe_evict_create(FLOE_POLICY_LRU, 4, 2, 8, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 4; i++) {
		int s = floe_evict_victim(ev, 0, i, pinned);
		CHECK(s == (int)i);
		floe_evict_access(ev, (uint32_t)s, 0, i, i);
	}
	floe_evict_access(ev, 0, 0, 0, 10); /* slot 0 becomes most recent */
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

	REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 3, 1, 8, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 3; i++)
		floe_evict_access(ev, i, 0, i, i);
	for (int r = 0; r < 5; r++) {
		floe_evict_access(ev, 0, 0, 0, 10 + r);
		floe_evict_access(ev, 2, 0, 2, 10 + r);
	}
	floe_evict_access(ev, 1, 0, 1, 20); /* slot 1: the most recent, but used twice */
	CHECK(floe_evict_victim(ev, 0, 21, NULL) == 1);
	floe_evict_destroy(ev);
	/* plain LRU evicts by recency alone: slot 0 (last used at 14, before 2) */
	REQUIRE(floe_evict_create(FLOE_POLICY_LRU, 3, 1, 8, &ev, &e) == FLOE_OK);
	for (uint32_t i = 0; i < 3; i++)
		floe_evict_access(ev, i, 0, i, i);
	for (int r = 0; r < 5; r++) {
		floe_evict_access(ev, 0, 0, 0, 10 + r);
		floe_evict_access(ev, 2, 0, 2, 11 + r);
	}
	floe_evict_access(ev, 1, 0, 1, 20);
	CHECK(floe_evict_victim(ev, 0, 21, NULL) == 0);
	floe_evict_destroy(ev);
}

/* A use count belongs to the expert, not to its slot: a slot refilled with a
 * new expert starts from that expert's own (empty) history, and an expert
 * that was evicted comes back with the count it had. */
static void test_layer_lrfu_count_follows_expert(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};

	REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 2, 1, 8, &ev, &e) == FLOE_OK);
	for (int r = 0; r < 6; r++)
		floe_evict_access(ev, 0, 0, 1, (uint64_t)r); /* expert 1: used 6 times in slot 0 */
	floe_evict_access(ev, 1, 0, 2, 6);                   /* expert 2: twice in slot 1 */
	floe_evict_access(ev, 1, 0, 2, 7);
	floe_evict_access(ev, 0, 0, 3, 8); /* slot 0 evicted, refilled with new expert 3 */
	/* expert 3 was used once: it goes first, whatever slot 0 held before */
	CHECK(floe_evict_victim(ev, 0, 9, NULL) == 0);
	floe_evict_access(ev, 0, 0, 1, 9); /* expert 1 comes back into slot 0 */
	CHECK(floe_evict_victim(ev, 0, 10, NULL) == 1); /* its 7 uses beat expert 2's two */
	floe_evict_destroy(ev);
}

/* Scan resistance: one layer, k=2; each token uses one of 8 working-set
 * experts in turn and one expert never seen before.  With 9 slots layer-lrfu
 * keeps the working set and evicts each one-off first, so every working-set
 * access hits once the first two rounds have told the two kinds apart; LRU lets the one-offs push the working
 * set out (reuse distance 8 tokens = 16 distinct experts > 9 slots). */
static void test_layer_lrfu_scan_resistance(void)
{
	struct floe_trace t;
	struct floe_sim_result r;
	struct floe_err e = {0};
	uint16_t row[2];

	REQUIRE(floe_trace_init(&t, 1, 1000, 2, &e) == FLOE_OK);
	for (int tok = 0; tok < 400; tok++) {
		row[0] = (uint16_t)(tok % 8);
		row[1] = (uint16_t)(8 + tok);
		REQUIRE(floe_trace_append(&t, row, &e) == FLOE_OK);
	}
	REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LAYER_LRFU, 9, &r, &e) == FLOE_OK);
	CHECKF(r.hits >= 400 - 2 * 8, "layer-lrfu %llu hits", (unsigned long long)r.hits);
	REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LRU, 9, &r, &e) == FLOE_OK);
	CHECKF(r.hits == 0, "lru %llu hits", (unsigned long long)r.hits);
	floe_trace_free(&t);
}

static void test_layer_budget(void)
{
	struct floe_evict *ev;
	struct floe_err e = {0};

	/* 4 slots, 2 layers: quota 2 each.  Layer 0 fills 3 slots (over quota),
	 * layer 1 one slot.  A layer-1 miss must evict from layer 0 even though a
	 * layer-1 slot is the least recent. */
	{
		REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 4, 2, 8, &ev, &e) == FLOE_OK);
		floe_evict_access(ev, 0, 1, 0, 0);
		floe_evict_access(ev, 1, 0, 1, 1);
		floe_evict_access(ev, 2, 0, 2, 2);
		floe_evict_access(ev, 3, 0, 3, 3);
		CHECK(floe_evict_victim(ev, 1, 4, NULL) == 1);
		/* layer 0 at/over quota replaces its own least recent (or least used) */
		CHECK(floe_evict_victim(ev, 0, 4, NULL) == 1);
		floe_evict_destroy(ev);
	}
	/* 8 slots, 2 layers.  Layer 1's four experts were used once, long ago;
	 * layer 0's four are used constantly and then miss 40 new experts in a
	 * row.  Every victim comes from layer 0's own quota although layer 1's
	 * counts are far lower: a busy layer cannot take a quiet layer's share. */
	{
		REQUIRE(floe_evict_create(FLOE_POLICY_LAYER_LRFU, 8, 2, 64, &ev, &e) == FLOE_OK);
		uint64_t now = 0;
		for (uint32_t i = 0; i < 4; i++)
			floe_evict_access(ev, 4 + i, 1, i, now++);
		for (int r = 0; r < 10; r++)
			for (uint32_t i = 0; i < 4; i++)
				floe_evict_access(ev, i, 0, i, now++);
		for (uint32_t m = 0; m < 40; m++) {
			int s = floe_evict_victim(ev, 0, now, NULL);
			CHECKF(s >= 0 && s < 4, "miss %u: victim slot %d (layer 1's)", m, s);
			if (s < 0)
				break;
			floe_evict_access(ev, (uint32_t)s, 0, 4 + m, now++);
		}
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

/* A quiet layer keeps its experts while another scans, in simulation: layer
 * 0 uses two new experts every token, layer 1 reuses five (0..2 in turn and
 * 3..4 alternating).  With 10 slots (quota 5 each) layer-lrfu misses only
 * layer 1's first five; global LRU lets layer 0's scan push them out. */
static void test_layer_budget_in_simulation(void)
{
	struct floe_trace t;
	struct floe_sim_result r;
	struct floe_err e = {0};
	uint16_t row[2 * 2];

	REQUIRE(floe_trace_init(&t, 2, 1000, 2, &e) == FLOE_OK);
	for (int tok = 0; tok < 300; tok++) {
		row[0] = (uint16_t)(2 * tok);
		row[1] = (uint16_t)(2 * tok + 1);
		row[2] = (uint16_t)(tok % 3);
		row[3] = (uint16_t)(3 + tok % 2); /* and a pair that alternates */
		REQUIRE(floe_trace_append(&t, row, &e) == FLOE_OK);
	}
	REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LAYER_LRFU, 10, &r, &e) == FLOE_OK);
	CHECKF(r.hits == 600 - 5, "layer-lrfu %llu hits", (unsigned long long)r.hits);
	REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LRU, 10, &r, &e) == FLOE_OK);
	CHECKF(r.hits < 300, "lru %llu hits", (unsigned long long)r.hits);
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
		for (int pol = 0; pol < FLOE_SIM_BELADY; pol++) {
			if (pol == FLOE_SIM_STATIC) /* sees the whole trace but stays put: no bound */
				continue;
			REQUIRE(floe_evict_simulate(&t, pol, slots, &r, &e) == FLOE_OK);
			CHECKF(r.hits <= opt.hits, "%s %llu > belady %llu at %u slots", floe_policy_name(pol),
			       (unsigned long long)r.hits, (unsigned long long)opt.hits, slots);
		}
		CHECK(opt.hits > 0 && opt.accesses == 400 * 3 * 4);
	}
	floe_trace_free(&t);
}

/* The generator oracle knows which experts the generator favours now: on
 * calibrated-style traces it beats LRU by a wide margin and layer-lrfu (which
 * must learn the working set) at small caches, and never beats Belady (above).
 * It refuses a trace without the generator's state. */
static void test_generator_oracle(void)
{
	struct floe_trace_synth p = {.n_layers = 4, .n_experts = 256, .k = 8, .n_tokens = 600,
				     .zipf_s = 0.3, .keep_r = 0.25, .ws_b = 0.7, .ws_m = 24,
				     .drift_d = 0.003, .seed = 5};
	struct floe_trace t, plain;
	struct floe_sim_result lru, lrfu, gen;
	struct floe_err e = {0};

	REQUIRE(floe_trace_synthesize(&p, &t, &e) == FLOE_OK);
	REQUIRE(t.hidden != NULL);
	for (uint32_t slots = 64; slots <= 128; slots *= 2) {
		REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LRU, slots, &lru, &e) == FLOE_OK);
		REQUIRE(floe_evict_simulate(&t, FLOE_POLICY_LAYER_LRFU, slots, &lrfu, &e) == FLOE_OK);
		REQUIRE(floe_evict_simulate(&t, FLOE_SIM_GENERATOR, slots, &gen, &e) == FLOE_OK);
		CHECKF(gen.hits > lru.hits + lru.accesses / 20 && gen.hits >= lrfu.hits,
		       "%u slots: gen-oracle %llu, lru %llu, layer-lrfu %llu of %llu", slots,
		       (unsigned long long)gen.hits, (unsigned long long)lru.hits,
		       (unsigned long long)lrfu.hits, (unsigned long long)gen.accesses);
	}
	/* the same routing without the hidden state (as if recorded) */
	REQUIRE(floe_trace_init(&plain, t.n_layers, t.n_experts, t.k, &e) == FLOE_OK);
	for (uint64_t tok = 0; tok < t.n_tokens; tok++)
		REQUIRE(floe_trace_append(&plain, floe_trace_at(&t, tok, 0), &e) == FLOE_OK);
	CHECK(floe_evict_simulate(&plain, FLOE_SIM_GENERATOR, 64, &gen, &e) == FLOE_EARG);
	CHECK(strstr(e.msg, "synthetic") != NULL);
	floe_trace_free(&plain);
	floe_trace_free(&t);
}

static void test_policy_names(void)
{
	enum floe_policy p;
	for (int i = 0; i < FLOE_POLICY_COUNT; i++) {
		CHECK(floe_policy_parse(floe_policy_name((enum floe_policy)i), &p) && (int)p == i);
	}
	CHECK(!floe_policy_parse("fifo", &p));
	CHECK(!floe_policy_parse("belady", &p) && !floe_policy_parse("gen-oracle", &p)); /* oracles */
	CHECK(!strcmp(floe_policy_name((enum floe_policy)FLOE_SIM_GENERATOR), "gen-oracle"));
}

int main(void)
{
	RUN(test_free_slots_first_then_lru);
	RUN(test_layer_lrfu_prefers_frequent);
	RUN(test_layer_lrfu_count_follows_expert);
	RUN(test_layer_lrfu_scan_resistance);
	RUN(test_layer_budget);
	RUN(test_layer_budget_in_simulation);
	RUN(test_simulate_counts);
	RUN(test_belady_bounds_policies);
	RUN(test_generator_oracle);
	RUN(test_policy_names);
	return harness_finish();
}

/* Tests for src/experts/trace: append/save/load round trip, rejection of
 * corrupt files, and the synthetic generator's shape and determinism. */
#include "harness.h"

#include <unistd.h>

#include "experts/trace.h"

static void test_roundtrip(void)
{
	struct floe_trace t, u;
	struct floe_err e = {0};
	uint16_t row[3 * 2];
	char path[] = "/tmp/floe_trace_XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(floe_trace_init(&t, 3, 10, 2, &e) == FLOE_OK);
	for (int tok = 0; tok < 300; tok++) {
		for (int i = 0; i < 6; i++)
			row[i] = (uint16_t)((tok * 7 + i * 3) % 10);
		REQUIRE(floe_trace_append(&t, row, &e) == FLOE_OK);
	}
	row[0] = 10;
	CHECK(floe_trace_append(&t, row, &e) == FLOE_EARG);
	REQUIRE(floe_trace_save(&t, path, &e) == FLOE_OK);
	REQUIRE(floe_trace_load(path, &u, &e) == FLOE_OK);
	CHECK(u.n_tokens == 300 && u.n_layers == 3 && u.k == 2 && u.n_experts == 10);
	CHECK(memcmp(t.experts, u.experts, 300 * 6 * sizeof(uint16_t)) == 0);
	CHECK(u.hidden == NULL); /* generator state is never saved */
	floe_trace_free(&u);

	/* truncate the file mid-record: clean error naming the record */
	REQUIRE(truncate(path, 8 + 16 + 5 * (8 + 4) + 3) == 0);
	CHECK(floe_trace_load(path, &u, &e) == FLOE_EFORMAT);
	CHECK(strstr(e.msg, "truncated") != NULL);
	unlink(path);
	floe_trace_free(&t);
}

static void test_synth_shape_and_determinism(void)
{
	struct floe_trace_synth p = {.n_layers = 4, .n_experts = 128, .k = 8, .n_tokens = 500,
				     .zipf_s = 0.3, .keep_r = 0.2, .ws_b = 0.6, .ws_m = 16,
				     .drift_d = 0.01, .seed = 42};
	struct floe_trace a, b;
	struct floe_err e = {0};

	REQUIRE(floe_trace_synthesize(&p, &a, &e) == FLOE_OK);
	REQUIRE(floe_trace_synthesize(&p, &b, &e) == FLOE_OK);
	CHECK(a.n_tokens == 500);
	CHECK(memcmp(a.experts, b.experts, 500 * 4 * 8 * sizeof(uint16_t)) == 0);
	/* every token's k experts in a layer are distinct and in range */
	for (uint64_t t = 0; t < a.n_tokens; t++)
		for (uint32_t l = 0; l < a.n_layers; l++) {
			const uint16_t *x = floe_trace_at(&a, t, l);
			for (int i = 0; i < 8; i++) {
				CHECK(x[i] < 128);
				for (int j = 0; j < i; j++)
					CHECK(x[i] != x[j]);
			}
		}
	/* keep_r = 0.2 alone gives at least ~20% overlap; uniform would give 8/128 */
	double ov = floe_trace_overlap(&a);
	CHECKF(ov > 0.2 && ov < 0.8, "overlap %.3f", ov);
	/* the hidden state: per layer the Zipf share sums to 1 - b, and most
	 * experts drawn are members of that token's working set */
	REQUIRE(a.hidden && a.hidden->ws_m == 16);
	uint64_t in_ws = 0;
	for (uint32_t l = 0; l < a.n_layers; l++) {
		double sum = 0;
		for (uint32_t x = 0; x < a.n_experts; x++)
			sum += a.hidden->zipf[l * a.n_experts + x];
		CHECKF(fabs(sum - 0.4) < 1e-9, "layer %u: zipf share %.6f", l, sum);
	}
	for (uint64_t t = 0; t < a.n_tokens; t++)
		for (uint32_t l = 0; l < a.n_layers; l++) {
			const uint16_t *ws = a.hidden->ws + (t * a.n_layers + l) * 16;
			for (int i = 0; i < 8; i++) {
				bool member = false;
				for (int j = 0; j < 16; j++) {
					CHECK(ws[j] < 128);
					member |= ws[j] == floe_trace_at(&a, t, l)[i];
				}
				in_ws += member;
			}
		}
	CHECKF(in_ws > 500 * 4 * 8 / 2, "%llu of %d drawn from the working set", (unsigned long long)in_ws,
	       500 * 4 * 8);
	floe_trace_free(&b);
	p.seed = 43;
	REQUIRE(floe_trace_synthesize(&p, &b, &e) == FLOE_OK);
	CHECK(memcmp(a.experts, b.experts, 500 * 4 * 8 * sizeof(uint16_t)) != 0);
	floe_trace_free(&a);
	floe_trace_free(&b);
}

static void test_synth_uniform_overlap(void)
{
	/* with no skew, no keeping and no working set, overlap ~ k/n */
	struct floe_trace_synth p = {.n_layers = 2, .n_experts = 64, .k = 4, .n_tokens = 4000,
				     .zipf_s = 0, .keep_r = 0, .ws_b = 0, .ws_m = 0, .drift_d = 0,
				     .seed = 1};
	struct floe_trace a;
	struct floe_err e = {0};

	REQUIRE(floe_trace_synthesize(&p, &a, &e) == FLOE_OK);
	double ov = floe_trace_overlap(&a);
	CHECKF(fabs(ov - 4.0 / 64) < 0.01, "overlap %.4f vs %.4f", ov, 4.0 / 64);
	floe_trace_free(&a);
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_synth_shape_and_determinism);
	RUN(test_synth_uniform_overlap);
	return harness_finish();
}

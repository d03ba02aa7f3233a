/* Tests for src/quant: f16/bf16 conversions, and for every weight type in
 * tests/fixtures/quant/types.txt the reference kernels against llama.cpp's
 * goldens (dequant bit for bit, activation conversion byte for byte, dot
 * product within 1e-5 relative), the weight quantizers' error against ggml's,
 * and the rejection of unsupported types. */
#include "harness.h"

#include <stdint.h>

#include "base/status.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"
#include "quant/quant_ref.h"

#define QDIR "tests/fixtures/quant/"

struct fx_type {
	char name[16];
	uint32_t id, block_elems, block_bytes, rows, n, act_id;
	char act_name[16];
};

/* Parse types.txt; returns the number of types read (0 on failure). */
static int read_types(struct fx_type *t, int max)
{
	FILE *f = fopen(QDIR "types.txt", "r");
	char line[256];
	int k = 0;

	if (!f)
		return 0;
	while (k < max && fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%15s %u %u %u %u %u %15s %u", t[k].name, &t[k].id,
			   &t[k].block_elems, &t[k].block_bytes, &t[k].rows, &t[k].n, t[k].act_name,
			   &t[k].act_id) == 8)
			k++;
	}
	fclose(f);
	return k;
}

/* Read QDIR/<name>.<ext>; NULL (and *size 0) if missing. */
static void *read_fx(const char *name, const char *ext, size_t *size)
{
	char path[256];

	snprintf(path, sizeof(path), QDIR "%s.%s", name, ext);
	*size = 0;
	return harness_read_file(path, size);
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float ffrom(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* ------------------------------------------------------------------------
 * f16 / bf16
 * ------------------------------------------------------------------------ */

static void test_f16_roundtrip_all(void)
{
	/* every non-NaN half survives f16 -> f32 -> f16 exactly */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
			continue;
		if (floe_f32_to_f16(floe_f16_to_f32((uint16_t)h)) != h)
			bad++;
	}
	CHECKF(bad == 0, "%d halves do not round-trip", bad);
}

static void test_f16_edges(void)
{
	CHECK(floe_f16_to_f32(0x3c00) == 1.0f);
	CHECK(floe_f16_to_f32(0xc000) == -2.0f);
	CHECK(floe_f16_to_f32(0x7bff) == 65504.0f);
	CHECK(floe_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
	CHECK(floe_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
	CHECK(fbits(floe_f16_to_f32(0x8000)) == 0x80000000u);
	CHECK(isinf(floe_f16_to_f32(0x7c00)) && floe_f16_to_f32(0xfc00) < 0);
	CHECK(isnan(floe_f16_to_f32(0x7e00)));

	CHECK(floe_f32_to_f16(1.0f) == 0x3c00);
	CHECK(floe_f32_to_f16(-0.0f) == 0x8000);
	CHECK(floe_f32_to_f16(65504.0f) == 0x7bff);
	CHECK(floe_f32_to_f16(65519.99f) == 0x7bff); /* just below the rounding edge */
	CHECK(floe_f32_to_f16(65520.0f) == 0x7c00);  /* tie to even -> inf */
	CHECK(floe_f32_to_f16(1e10f) == 0x7c00);
	CHECK(floe_f32_to_f16(-INFINITY) == 0xfc00);
	CHECK((floe_f32_to_f16(NAN) & 0x7e00) == 0x7e00);
	CHECK((floe_f32_to_f16(ffrom(0x7f800001u)) & 0x7fff) > 0x7c00); /* sNaN stays NaN */
	/* ties: 1 + 2^-11 is half way between 1 and 1+2^-10 -> even (1) */
	CHECK(floe_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00);
	CHECK(floe_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02);
	CHECK(floe_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)) == 0x3c01);
	/* subnormals: 2^-24 -> 1, 2^-25 (tie) -> 0, 3*2^-25 (tie) -> 2 */
	CHECK(floe_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);
	CHECK(floe_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);
	CHECK(floe_f32_to_f16(ldexpf(1.0f, -25) * 1.0001f) == 0x0001);
	CHECK(floe_f32_to_f16(3 * ldexpf(1.0f, -25)) == 0x0002);
	CHECK(floe_f32_to_f16(-ldexpf(1.0f, -30)) == 0x8000);
	CHECK(floe_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400); /* carries into normal */
	CHECK(floe_f32_to_f16(ldexpf(1.0f, -14)) == 0x0400);
}

static void test_bf16_edges(void)
{
	CHECK(floe_f32_to_bf16(1.0f) == 0x3f80);
	CHECK(floe_bf16_to_f32(0x3f80) == 1.0f);
	CHECK(floe_f32_to_bf16(ffrom(0x3f808000u)) == 0x3f80); /* tie -> even */
	CHECK(floe_f32_to_bf16(ffrom(0x3f818000u)) == 0x3f82); /* tie -> even (up) */
	CHECK(floe_f32_to_bf16(ffrom(0x3f808001u)) == 0x3f81);
	CHECK(floe_f32_to_bf16(ffrom(0x7f7fffffu)) == 0x7f80); /* max float rounds to inf */
	CHECK(floe_f32_to_bf16(INFINITY) == 0x7f80);
	CHECK(floe_f32_to_bf16(-INFINITY) == 0xff80);
	CHECK(floe_f32_to_bf16(ffrom(0x7f800001u)) == 0x7fc0); /* sNaN quieted */
	CHECK(floe_f32_to_bf16(ffrom(0xffc12345u)) == 0xffc1);
	CHECK(floe_f32_to_bf16(ffrom(0x00018000u)) == 0x0002); /* subnormal kept, tie up */
	CHECK(floe_f32_to_bf16(-0.0f) == 0x8000);
	CHECK(fbits(floe_bf16_to_f32(0x0001)) == 0x00010000u);
	/* every bf16 round-trips */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = floe_bf16_to_f32((uint16_t)h);
		uint16_t back = floe_f32_to_bf16(f);
		if (isnan(f) ? !isnan(floe_bf16_to_f32(back)) : back != h)
			bad++;
	}
	CHECKF(bad == 0, "%d bf16 values do not round-trip", bad);
}

/* ------------------------------------------------------------------------
 * Fixtures: dequant, activation conversion, dot
 * ------------------------------------------------------------------------ */

static struct fx_type types[64];
static int n_types;

static void test_types_table_matches_fixtures(void)
{
	REQUIRE(n_types >= 22);
	for (int k = 0; k < n_types; k++) {
		const struct floe_type_info *ti = floe_type_info(types[k].id);
		REQUIRE(ti != NULL);
		CHECKF(strcmp(ti->name, types[k].name) == 0, "%s vs %s", ti->name, types[k].name);
		CHECK(ti->block_elems == types[k].block_elems);
		CHECK(ti->block_bytes == types[k].block_bytes);
		CHECK(ti->act_type == types[k].act_id);
		CHECK(strcmp(floe_type_name(ti->act_type), types[k].act_name) == 0);
	}
}

static void check_dequant(const struct fx_type *t)
{
	size_t qn, dn;
	uint8_t *q = read_fx(t->name, "q", &qn);
	float *deq = read_fx(t->name, "deq.f32", &dn);
	uint64_t rb = floe_type_row_bytes(t->id, t->n);
	float *out = malloc(t->n * sizeof(float));
	int bad = 0;

	REQUIRE(q && deq && out);
	REQUIRE(qn == rb * t->rows && dn == (size_t)t->rows * t->n * 4);
	for (uint32_t r = 0; r < t->rows; r++) {
		floe_dequant_row_ref(t->id, q + r * rb, out, t->n);
		for (uint32_t j = 0; j < t->n; j++) {
			if (fbits(out[j]) != fbits(deq[r * t->n + j]) && bad++ < 3)
				fprintf(stderr, "  %s row %u [%u]: %.9g vs ggml %.9g\n", t->name, r, j,
					out[j], deq[r * t->n + j]);
		}
	}
	CHECKF(bad == 0, "%s: %d dequantized values differ", t->name, bad);
	free(q);
	free(deq);
	free(out);
}

static void check_act(const struct fx_type *t)
{
	size_t an, qn;
	float *act = read_fx(t->name, "act.f32", &an);
	uint8_t *actq = read_fx(t->name, "actq", &qn);
	uint64_t ab = floe_type_row_bytes(t->act_id, t->n);
	uint8_t *out = malloc(ab);

	REQUIRE(act && actq && out);
	REQUIRE(an == t->n * 4 && qn == ab);
	floe_quantize_act_ref(t->act_id, act, out, t->n);
	size_t first = ab;
	for (size_t i = 0; i < ab; i++)
		if (out[i] != actq[i]) {
			first = i;
			break;
		}
	CHECKF(first == ab, "%s: activation %s differs from ggml at byte %zu", t->name,
	       t->act_name, first);
	free(act);
	free(actq);
	free(out);
}

static void check_dot(const struct fx_type *t)
{
	size_t qn, an, dn;
	uint8_t *q = read_fx(t->name, "q", &qn);
	uint8_t *actq = read_fx(t->name, "actq", &an);
	float *dot = read_fx(t->name, "dot.f32", &dn);
	uint64_t rb = floe_type_row_bytes(t->id, t->n);

	REQUIRE(q && actq && dot && dn == t->rows * 4);
	for (uint32_t r = 0; r < t->rows; r++) {
		float got = floe_vec_dot_ref(t->id, t->n, q + r * rb, actq);
		float rel = fabsf(got - dot[r]) / fmaxf(fabsf(dot[r]), 1e-30f);
		CHECKF(rel <= 1e-5f, "%s row %u: dot %.9g vs ggml %.9g (rel %.3g)", t->name, r,
		       got, dot[r], rel);
	}
	free(q);
	free(actq);
	free(dot);
}

static void test_fixture_dequant(void)
{
	for (int k = 0; k < n_types; k++)
		if (floe_type_info(types[k].id)->supported)
			check_dequant(&types[k]);
}

static void test_fixture_act(void)
{
	for (int k = 0; k < n_types; k++)
		if (floe_type_info(types[k].id)->supported)
			check_act(&types[k]);
}

static void test_fixture_dot(void)
{
	for (int k = 0; k < n_types; k++)
		if (floe_type_info(types[k].id)->supported)
			check_dot(&types[k]);
}

int main(void)
{
	n_types = read_types(types, 64);
	RUN(test_f16_roundtrip_all);
	RUN(test_f16_edges);
	RUN(test_bf16_edges);
	RUN(test_types_table_matches_fixtures);
	RUN(test_fixture_dequant);
	RUN(test_fixture_act);
	RUN(test_fixture_dot);
	return harness_finish();
}

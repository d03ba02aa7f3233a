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
		if (sscanf(line, "%15s %u %u %u %u %u %15s %u", t[k].name, &t[k].id, &t[k].block_elems,
			   &t[k].block_bytes, &t[k].rows, &t[k].n, t[k].act_name, &t[k].act_id) == 8)
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
	CHECKF(first == ab, "%s: activation %s differs from ggml at byte %zu", t->name, t->act_name, first);
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
		CHECKF(rel <= 1e-5f, "%s row %u: dot %.9g vs ggml %.9g (rel %.3g)", t->name, r, got, dot[r],
		       rel);
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

/* ------------------------------------------------------------------------
 * Weight quantizers
 * ------------------------------------------------------------------------ */

static double rms_err(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return sqrt(s / (double)n);
}

/* Quantize NAME.src.f32 with floe, dequantize, and compare the RMS error
 * with ggml's (NAME.deq.f32 against the same source).  Returns the ratio, or
 * -1 if the fixture is missing; *same_bytes says whether floe wrote exactly
 * ggml's blocks. */
static double quantizer_ratio(const struct fx_type *t, bool *same_bytes)
{
	size_t sn, dn, qn;
	float *src = read_fx(t->name, "src.f32", &sn);
	float *deq = read_fx(t->name, "deq.f32", &dn);
	uint8_t *gq = read_fx(t->name, "q", &qn);
	uint64_t rb = floe_type_row_bytes(t->id, t->n);
	size_t total = (size_t)t->rows * t->n;
	uint8_t *q = malloc(rb * t->rows);
	float *out = malloc(total * sizeof(float));
	double ratio = -1;

	if (src && deq && gq && q && out && sn == total * 4 && qn == rb * t->rows) {
		for (uint32_t r = 0; r < t->rows; r++) {
			floe_quantize_row_ref(t->id, src + (size_t)r * t->n, q + r * rb, t->n);
			floe_dequant_row_ref(t->id, q + r * rb, out + (size_t)r * t->n, t->n);
		}
		double ours = rms_err(out, src, total), ggml = rms_err(deq, src, total);
		ratio = ggml > 0 ? ours / ggml : (ours == 0 ? 1.0 : INFINITY);
		*same_bytes = memcmp(q, gq, rb * t->rows) == 0;
		fprintf(stderr, "  %-7s rms ours %.6g ggml %.6g ratio %.3f%s\n", t->name, ours, ggml, ratio,
			*same_bytes ? " (same bytes)" : "");
	}
	free(src);
	free(deq);
	free(gq);
	free(q);
	free(out);
	return ratio;
}

/* Bounds: the float types and ggml's plain round-to-nearest types (q4_0 ...
 * q8_0) use ggml's exact rules, so they must write ggml's bytes.  The
 * searched types (K-quants, iq4, mxfp4) may differ from ggml's heuristic
 * search.  The brief allowed 1.5x ggml's RMS error; we hold 1.10x: measured
 * on these fixtures our searches are better than ggml's (ratios 0.85 to
 * 0.99, printed above) because they minimise plain squared error where ggml
 * weights by |x|, so 1.10 catches a real regression (a scale rounded the
 * wrong way, a search step lost) while not depending on the last digit. */
static void test_quantizer_error(void)
{
	for (int k = 0; k < n_types; k++) {
		const struct fx_type *t = &types[k];
		bool same = false;
		if (!floe_type_info(t->id)->supported)
			continue;
		double ratio = quantizer_ratio(t, &same);
		CHECKF(ratio >= 0, "%s: fixture missing", t->name);
		switch (t->id) {
		case FLOE_TYPE_F16:
		case FLOE_TYPE_BF16:
		case FLOE_TYPE_Q4_0:
		case FLOE_TYPE_Q4_1:
		case FLOE_TYPE_Q5_0:
		case FLOE_TYPE_Q5_1:
		case FLOE_TYPE_Q8_0:
			CHECKF(same, "%s: quantizer differs from ggml's round-to-nearest", t->name);
			break;
		default:
			CHECKF(ratio <= 1.10, "%s: rms error %.3fx ggml's", t->name, ratio);
		}
	}
}

/* ------------------------------------------------------------------------
 * Unsupported types, kernel table
 * ------------------------------------------------------------------------ */

static const uint32_t supported_ids[] = {
    FLOE_TYPE_F32,  FLOE_TYPE_F16,    FLOE_TYPE_BF16,	FLOE_TYPE_Q4_0,	 FLOE_TYPE_Q4_1, FLOE_TYPE_Q5_0,
    FLOE_TYPE_Q5_1, FLOE_TYPE_Q8_0,   FLOE_TYPE_Q2_K,	FLOE_TYPE_Q3_K,	 FLOE_TYPE_Q4_K, FLOE_TYPE_Q5_K,
    FLOE_TYPE_Q6_K, FLOE_TYPE_IQ4_NL, FLOE_TYPE_IQ4_XS, FLOE_TYPE_MXFP4,
};
#define N_SUPPORTED (int)(sizeof(supported_ids) / sizeof(supported_ids[0]))

static void test_unsupported_rejected(void)
{
	static const uint32_t iq[] = {FLOE_TYPE_IQ2_XXS, FLOE_TYPE_IQ2_XS, FLOE_TYPE_IQ2_S, FLOE_TYPE_IQ3_XXS,
				      FLOE_TYPE_IQ3_S,	 FLOE_TYPE_IQ1_S,  FLOE_TYPE_IQ1_M};
	struct floe_err err = {0};
	char want[64];

	CHECK(floe_type_check_supported(FLOE_TYPE_IQ2_XXS, &err) == FLOE_EUNSUPPORTED);
	CHECKF(strcmp(err.msg, "unsupported weight type iq2_xxs (id 16)") == 0, "got \"%s\"", err.msg);
	for (size_t i = 0; i < sizeof(iq) / sizeof(iq[0]); i++) {
		floe_err_clear(&err);
		CHECK(floe_type_check_supported(iq[i], &err) == FLOE_EUNSUPPORTED);
		CHECK(err.status == FLOE_EUNSUPPORTED);
		snprintf(want, sizeof(want), "unsupported weight type %s (id %u)", floe_type_name(iq[i]),
			 iq[i]);
		CHECKF(strcmp(err.msg, want) == 0, "got \"%s\"", err.msg);
		CHECK(floe_kernels_ref.vec_dot[iq[i]] == NULL);
		CHECK(floe_kernels_ref.dequant_row[iq[i]] == NULL);
	}
	floe_err_clear(&err);
	CHECK(floe_type_check_supported(4, &err) == FLOE_EUNSUPPORTED); /* removed q4_2 */
	CHECKF(strcmp(err.msg, "unknown weight type id 4") == 0, "got \"%s\"", err.msg);
	CHECK(floe_type_check_supported(1000, &err) == FLOE_EUNSUPPORTED);
	/* activation-only and integer types are not weight types floe computes with */
	CHECK(floe_type_check_supported(FLOE_TYPE_Q8_K, &err) == FLOE_EUNSUPPORTED);
	CHECK(floe_type_check_supported(FLOE_TYPE_I32, &err) == FLOE_EUNSUPPORTED);
	CHECK(floe_type_check_supported(FLOE_TYPE_Q4_0, NULL) == 0);
}

static void test_kernel_table_complete(void)
{
	int n_sup = 0;

	CHECK(strcmp(floe_kernels_ref.isa, "ref") == 0);
	for (int i = 0; i < N_SUPPORTED; i++) {
		uint32_t t = supported_ids[i];
		const struct floe_type_info *ti = floe_type_info(t);
		struct floe_err err = {0};
		REQUIRE(ti && ti->supported);
		CHECK(floe_type_check_supported(t, &err) == 0);
		CHECKF(floe_kernels_ref.vec_dot[t] && floe_kernels_ref.dequant_row[t], "%s", ti->name);
		CHECKF(floe_kernels_ref.quantize_act[ti->act_type] != NULL, "%s", ti->name);
	}
	for (uint32_t t = 0; t < FLOE_TYPE_COUNT; t++) {
		const struct floe_type_info *ti = floe_type_info(t);
		if (!ti || !ti->supported) {
			CHECK(floe_kernels_ref.vec_dot[t] == NULL);
			continue;
		}
		n_sup++;
	}
	CHECK(n_sup == N_SUPPORTED);
}

/* ------------------------------------------------------------------------
 * Self-consistency on our own data (edge cases the fixtures lack)
 * ------------------------------------------------------------------------ */

/* xorshift + Box-Muller: deterministic normals without libc rand state. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float rnd_uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((rng_state >> 40) + 0.5) / (float)(1ull << 24);
}

static float rnd_normal(void)
{
	return sqrtf(-2.0f * logf(rnd_uniform())) * cosf(6.2831853f * rnd_uniform());
}

#define TN 1024 /* 4 super-blocks */

/* Test data: block 0 normal with x4 outliers, block 1 all zero, block 2
 * constant, block 3 alternates tiny and large magnitudes per sub-block. */
static void make_data(float *x)
{
	for (int i = 0; i < 256; i++)
		x[i] = rnd_normal() * (i % 7 == 0 ? 4.0f : 1.0f);
	for (int i = 256; i < 512; i++)
		x[i] = 0.0f;
	for (int i = 512; i < 768; i++)
		x[i] = -0.75f;
	for (int i = 768; i < 1024; i++)
		x[i] = rnd_normal() * ((i / 32) % 2 ? 1e-3f : 30.0f);
}

/* Dequantize an activation row of act_type back to f32. */
static void act_to_f32(uint32_t act_type, const void *a, float *out, int n)
{
	if (act_type == FLOE_TYPE_Q8_1) {
		const struct block_q8_1 *b = a;
		for (int i = 0; i < n; i++)
			out[i] = floe_f16_to_f32(b[i / 32].d) * b[i / 32].qs[i % 32];
	} else if (act_type == FLOE_TYPE_Q8_K) {
		const struct block_q8_K *b = a;
		for (int i = 0; i < n; i++)
			out[i] = b[i / 256].d * b[i / 256].qs[i % 256];
	} else {
		floe_dequant_row_ref(act_type, a, out, n);
	}
}

static void test_roundtrip_edges(void)
{
	/* relative RMS error bound per type on the normal blocks (2^-bits scale) */
	static const struct {
		uint32_t t;
		double bound;
	} b[] = {
	    {FLOE_TYPE_F32, 0},	      {FLOE_TYPE_F16, 1e-3},   {FLOE_TYPE_BF16, 5e-3},
	    {FLOE_TYPE_Q8_0, 0.01},   {FLOE_TYPE_Q6_K, 0.03},  {FLOE_TYPE_Q5_0, 0.08},
	    {FLOE_TYPE_Q5_1, 0.06},   {FLOE_TYPE_Q5_K, 0.06},  {FLOE_TYPE_Q4_0, 0.15},
	    {FLOE_TYPE_Q4_1, 0.12},   {FLOE_TYPE_Q4_K, 0.12},  {FLOE_TYPE_IQ4_NL, 0.12},
	    {FLOE_TYPE_IQ4_XS, 0.12}, {FLOE_TYPE_MXFP4, 0.15}, {FLOE_TYPE_Q3_K, 0.25},
	    {FLOE_TYPE_Q2_K, 0.45},
	};
	float *x = malloc(TN * sizeof(float)), *y = malloc(TN * sizeof(float));
	uint8_t *q = malloc(TN * 4);

	REQUIRE(x && y && q);
	make_data(x);
	for (size_t k = 0; k < sizeof(b) / sizeof(b[0]); k++) {
		const char *nm = floe_type_name(b[k].t);
		int nonfinite = 0;
		memset(y, 0xff, TN * sizeof(float));
		floe_quantize_row_ref(b[k].t, x, q, TN);
		floe_dequant_row_ref(b[k].t, q, y, TN);
		for (int i = 0; i < TN; i++)
			nonfinite += !isfinite(y[i]);
		CHECKF(nonfinite == 0, "%s: %d non-finite values", nm, nonfinite);
		int nonzero = 0;
		for (int i = 256; i < 512; i++)
			nonzero += y[i] != 0.0f;
		CHECKF(nonzero == 0, "%s: zero block comes back with %d non-zeros", nm, nonzero);
		double e0 = rms_err(y, x, 256), r0 = rms_err(x, y + 256, 256); /* y+256 is 0 */
		CHECKF(e0 <= b[k].bound * r0, "%s: normal block rel rms %.4g > %.4g", nm, e0 / r0,
		       b[k].bound);
		double e2 = rms_err(y + 512, x + 512, 256);
		CHECKF(e2 <= 0.75 * b[k].bound + 1e-6, "%s: constant block rms %.4g", nm, e2);
		/* the mixed block: judge each 32-chunk against its own magnitude,
		 * with slack for the shared super-block scale */
		for (int c = 0; c < 8; c++) {
			const float *xs = x + 768 + 32 * c, *ys = y + 768 + 32 * c;
			double e = rms_err(ys, xs, 32), r = rms_err(xs, y + 256, 32);
			if (c % 2 == 0)
				CHECKF(e <= 1.5 * b[k].bound * r, "%s: large chunk %d rel rms %.4g", nm, c,
				       e / r);
			else
				CHECKF(e <= 2.0 * r + 1e-6, "%s: tiny chunk %d rms %.4g vs %.4g", nm, c, e,
				       r);
		}
	}
	free(x);
	free(y);
	free(q);
}

/* vec_dot(w, act) equals the double dot of the dequantized rows: checks the
 * integer-sum-then-scale formulas (mins via bsums, q8_1's s) on data the
 * fixtures do not have, including negative q8_K scales and zero blocks. */
static void test_dot_matches_dequant(void)
{
	float *x = malloc(TN * sizeof(float)), *a = malloc(TN * sizeof(float));
	float *xd = malloc(TN * sizeof(float)), *ad = malloc(TN * sizeof(float));
	uint8_t *q = malloc(TN * 4), *aq = malloc(TN * 4 + 64);

	REQUIRE(x && a && xd && ad && q && aq);
	make_data(x);
	for (int i = 0; i < TN; i++)
		a[i] = rnd_normal() * (i % 300 == 0 ? -9.0f : 1.0f);
	for (int k = 0; k < N_SUPPORTED; k++) {
		uint32_t t = supported_ids[k], at = floe_type_info(t)->act_type;
		floe_quantize_row_ref(t, x, q, TN);
		floe_dequant_row_ref(t, q, xd, TN);
		floe_quantize_act_ref(at, a, aq, TN);
		act_to_f32(at, aq, ad, TN);
		double want = 0, mag = 0;
		for (int i = 0; i < TN; i++) {
			want += (double)xd[i] * ad[i];
			mag += fabs((double)xd[i] * ad[i]);
		}
		if (at == FLOE_TYPE_Q8_1) {
			/* ggml applies the weight's min m through the activation's
			 * s = f16(d * sum q), not through the rounded d: swap
			 * m * sum(act) for m * s block by block */
			const struct block_q8_1 *ab = (const void *)aq;
			size_t bb = floe_type_info(t)->block_bytes;
			for (int blk = 0; blk < TN / 32; blk++) {
				uint16_t m16; /* q4_1 and q5_1 both keep m at byte 2 */
				double asum = 0;
				memcpy(&m16, q + blk * bb + 2, 2);
				for (int i = 0; i < 32; i++)
					asum += ad[32 * blk + i];
				want += floe_f16_to_f32(m16) * (floe_f16_to_f32(ab[blk].s) - asum);
			}
		}
		float got = floe_vec_dot_ref(t, TN, q, aq);
		CHECKF(fabs(got - want) <= 1e-5 * mag, "%s: dot %.9g vs dequantized %.9g (mag %.3g)",
		       floe_type_name(t), got, want, mag);
	}
	free(x);
	free(a);
	free(xd);
	free(ad);
	free(q);
	free(aq);
}

static void test_act_rounding_rules(void)
{
	float x[256];
	struct block_q8_0 b0[8];
	struct block_q8_1 b1[8];
	struct block_q8_K bk;

	/* q8_0: amax 127 -> multiplier exactly 1, ties go to even */
	memset(x, 0, sizeof(x));
	x[0] = 127.0f;
	x[1] = 0.5f;
	x[2] = 1.5f;
	x[3] = -2.5f;
	x[4] = 2.5001f;
	floe_quantize_act_q8_0_ref(x, b0, 32);
	CHECK(floe_f16_to_f32(b0[0].d) == 1.0f);
	CHECK(b0[0].qs[0] == 127 && b0[0].qs[1] == 0 && b0[0].qs[2] == 2);
	CHECK(b0[0].qs[3] == -2 && b0[0].qs[4] == 3);
	/* q8_1 carries s = d * sum(q) */
	floe_quantize_act_q8_1_ref(x, b1, 32);
	CHECK(floe_f16_to_f32(b1[0].s) == 127 + 0 + 2 - 2 + 3);
	/* an all-zero block gives d = 0 and zero quants, no NaN */
	floe_quantize_act_q8_0_ref(x + 32, b0, 32);
	CHECK(b0[0].d == 0 && b0[0].qs[0] == 0 && b0[0].qs[31] == 0);
	floe_quantize_act_q8_K_ref(x + 0 * 256, &bk, 256); /* x[0..255], amax 127 */
	CHECK(bk.d == -1.0f);				   /* max > 0: iscale = -1 */
	CHECK(bk.qs[0] == -127 && bk.qs[2] == -2 && bk.qs[3] == 2);
	CHECK(bk.bsums[0] == -127 + 0 - 2 + 2 - 3);
	/* q8_K: the first largest |x| decides the sign; iscale * max = -127
	 * exactly, and +max would give 127 (the min(127, .) clamp) */
	memset(x, 0, sizeof(x));
	x[5] = -3.0f;
	x[9] = 3.0f;
	floe_quantize_act_q8_K_ref(x, &bk, 256);
	CHECK(bk.d > 0 && bk.qs[5] == -127 && bk.qs[9] == 127);
	memset(x, 0, sizeof(x));
	floe_quantize_act_q8_K_ref(x, &bk, 256);
	CHECK(bk.d == 0 && bk.qs[0] == 0 && bk.bsums[15] == 0);
}

static void test_f32_kernels(void)
{
	float x[64], y[64], out[64];
	double want = 0;

	for (int i = 0; i < 64; i++) {
		x[i] = rnd_normal();
		y[i] = rnd_normal();
		want += (double)x[i] * y[i];
	}
	floe_dequant_row_ref(FLOE_TYPE_F32, x, out, 64);
	CHECK(memcmp(out, x, sizeof(x)) == 0);
	floe_quantize_act_ref(FLOE_TYPE_F32, y, out, 64);
	CHECK(memcmp(out, y, sizeof(y)) == 0);
	CHECK(floe_vec_dot_ref(FLOE_TYPE_F32, 64, x, y) == (float)want);
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
	RUN(test_quantizer_error);
	RUN(test_unsupported_rejected);
	RUN(test_kernel_table_complete);
	RUN(test_roundtrip_edges);
	RUN(test_dot_matches_dequant);
	RUN(test_act_rounding_rules);
	RUN(test_f32_kernels);
	return harness_finish();
}

/* quant_types: the table of ggml weight types — block geometry and the
 * activation type each one's CPU dot product uses.  Numbers from ggml's type
 * traits (ggml.c / ggml-cpu.c); `supported` marks what floe can compute. */
#include "quant/quant.h"

#define T(id, nm, be, bb, act, sup) [id] = {nm, be, bb, act, sup}

static const struct floe_type_info type_table[FLOE_TYPE_COUNT] = {
	T(FLOE_TYPE_F32, "f32", 1, 4, FLOE_TYPE_F32, true),
	T(FLOE_TYPE_F16, "f16", 1, 2, FLOE_TYPE_F16, true),
	T(FLOE_TYPE_Q4_0, "q4_0", 32, 18, FLOE_TYPE_Q8_0, true),
	T(FLOE_TYPE_Q4_1, "q4_1", 32, 20, FLOE_TYPE_Q8_1, true),
	T(FLOE_TYPE_Q5_0, "q5_0", 32, 22, FLOE_TYPE_Q8_0, true),
	T(FLOE_TYPE_Q5_1, "q5_1", 32, 24, FLOE_TYPE_Q8_1, true),
	T(FLOE_TYPE_Q8_0, "q8_0", 32, 34, FLOE_TYPE_Q8_0, true),
	T(FLOE_TYPE_Q8_1, "q8_1", 32, 36, FLOE_TYPE_Q8_1, false),
	T(FLOE_TYPE_Q2_K, "q2_K", 256, 84, FLOE_TYPE_Q8_K, true),
	T(FLOE_TYPE_Q3_K, "q3_K", 256, 110, FLOE_TYPE_Q8_K, true),
	T(FLOE_TYPE_Q4_K, "q4_K", 256, 144, FLOE_TYPE_Q8_K, true),
	T(FLOE_TYPE_Q5_K, "q5_K", 256, 176, FLOE_TYPE_Q8_K, true),
	T(FLOE_TYPE_Q6_K, "q6_K", 256, 210, FLOE_TYPE_Q8_K, true),
	/* q8_K: f32 d, 256 int8, 16 int16 block sums */
	T(FLOE_TYPE_Q8_K, "q8_K", 256, 292, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ2_XXS, "iq2_xxs", 256, 66, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ2_XS, "iq2_xs", 256, 74, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ3_XXS, "iq3_xxs", 256, 98, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ1_S, "iq1_s", 256, 50, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ4_NL, "iq4_nl", 32, 18, FLOE_TYPE_Q8_0, true),
	T(FLOE_TYPE_IQ3_S, "iq3_s", 256, 110, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ2_S, "iq2_s", 256, 82, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_IQ4_XS, "iq4_xs", 256, 136, FLOE_TYPE_Q8_K, true),
	T(FLOE_TYPE_I8, "i8", 1, 1, FLOE_TYPE_I8, false),
	T(FLOE_TYPE_I16, "i16", 1, 2, FLOE_TYPE_I16, false),
	T(FLOE_TYPE_I32, "i32", 1, 4, FLOE_TYPE_I32, false),
	T(FLOE_TYPE_I64, "i64", 1, 8, FLOE_TYPE_I64, false),
	T(FLOE_TYPE_F64, "f64", 1, 8, FLOE_TYPE_F64, false),
	T(FLOE_TYPE_IQ1_M, "iq1_m", 256, 56, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_BF16, "bf16", 1, 2, FLOE_TYPE_BF16, true),
	T(FLOE_TYPE_TQ1_0, "tq1_0", 256, 54, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_TQ2_0, "tq2_0", 256, 66, FLOE_TYPE_Q8_K, false),
	T(FLOE_TYPE_MXFP4, "mxfp4", 32, 17, FLOE_TYPE_Q8_0, true),
};

const struct floe_type_info *floe_type_info(uint32_t type)
{
	if (type >= FLOE_TYPE_COUNT || !type_table[type].name)
		return NULL;
	return &type_table[type];
}

const char *floe_type_name(uint32_t type)
{
	const struct floe_type_info *ti = floe_type_info(type);
	return ti ? ti->name : "unknown";
}

uint64_t floe_type_row_bytes(uint32_t type, uint64_t n)
{
	const struct floe_type_info *ti = floe_type_info(type);
	if (!ti || n % ti->block_elems)
		return 0;
	return n / ti->block_elems * ti->block_bytes;
}

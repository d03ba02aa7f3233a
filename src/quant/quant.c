/* quant: scalar f16/bf16 conversions and the "is this weight type usable"
 * check.  The conversions are exact integer code (no FPU tricks) so they give
 * the same bits on every build; they round like the hardware ggml runs on:
 * f32 -> f16 is IEEE round-to-nearest-even with subnormals (what F16C's
 * vcvtps2ph does), f32 -> bf16 is ggml's rounding (RNE, NaN made quiet). */
#include <string.h>

#include "base/status.h"
#include "quant/quant.h"

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

float floe_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;

	if (exp == 0x1f) /* inf / NaN: keep the payload */
		return f32_from_bits(sign | 0x7f800000u | (mant << 13));
	if (exp == 0) {
		if (!mant)
			return f32_from_bits(sign);
		/* subnormal: normalize; value = mant * 2^-24 */
		exp = 127 - 15 + 1;
		while (!(mant & 0x400)) {
			mant <<= 1;
			exp--;
		}
		mant &= 0x3ff;
		return f32_from_bits(sign | (exp << 23) | (mant << 13));
	}
	return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

uint16_t floe_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t exp = (u >> 23) & 0xff;
	uint32_t mant = u & 0x7fffff;
	int e;

	if (exp == 0xff) {
		if (!mant)
			return sign | 0x7c00;
		/* NaN: quiet it and keep the top payload bits, as F16C does */
		return (uint16_t)(sign | 0x7e00 | (mant >> 13));
	}
	e = (int)exp - 127 + 15;
	if (e >= 0x1f)
		return sign | 0x7c00; /* overflow to inf */
	if (e <= 0) {
		/* subnormal half (or zero): shift the full significand so the
		 * result counts units of 2^-24, then round half to even */
		uint32_t m, shift, half, rest, q;
		if (e < -10)
			return sign; /* below half the smallest subnormal */
		m = mant | 0x800000;
		shift = (uint32_t)(14 - e);
		q = m >> shift;
		rest = m & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rest > half || (rest == half && (q & 1)))
			q++;
		return (uint16_t)(sign | q); /* q may carry into the exponent: fine */
	}
	{
		uint32_t hv = ((uint32_t)e << 10) | (mant >> 13);
		uint32_t rest = mant & 0x1fff;
		if (rest > 0x1000 || (rest == 0x1000 && (hv & 1)))
			hv++; /* may carry into the exponent, up to inf: correct */
		return (uint16_t)(sign | hv);
	}
}

float floe_bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

uint16_t floe_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 64); /* NaN: force quiet */
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

int floe_type_check_supported(uint32_t type, struct floe_err *err)
{
	const struct floe_type_info *ti = floe_type_info(type);

	if (!ti)
		return floe_fail(err, FLOE_EUNSUPPORTED, "unknown weight type id %u", type);
	if (!ti->supported)
		return floe_fail(err, FLOE_EUNSUPPORTED, "unsupported weight type %s (id %u)", ti->name,
				 type);
	return 0;
}

/* ops: norms, softmax, RoPE and SwiGLU with ggml's rounding (see ops.h). */

/* Exact ggml rounding needs every a*b+c rounded twice unless written as
 * fmaf: no contraction (GCC's ISO C mode already does not contract). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include "engine/ops.h"

#include <math.h>
#include <string.h>

static inline uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* exp via x = n*ln2 + b, |b| <= ln2/2: 2^n built in the exponent bits and a
 * degree-5 polynomial for exp(b) - 1.  Large |n| is split into two scale
 * factors so results near overflow/underflow stay right. */
float floe_expf_ggml(float x)
{
	const float shift = 0x1.8p23f;
	float z = fmaf(x, 0x1.715476p+0f, shift); /* x / ln2, rounded into the low bits */
	float n = z - shift;
	float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
	uint32_t e = f2u(z) << 23;
	float k = u2f(e + f2u(1.0f));
	float u = b * b;
	float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
		       u, 0x1.ffffecp-1f * b);

	if (!(fabsf(n) > 126.0f))
		return fmaf(k, j, k);
	uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
	float s1 = u2f(g + 0x7f000000u);
	float s2 = u2f(e - g);
	if (fabsf(n) > 192.0f)
		return s1 * s1;
	return fmaf(s2, j, s2) * s1;
}

void floe_rms_norm(float *y, const float *x, const float *w, int n, float eps)
{
	double sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double)(x[i] * x[i]);
	const float mean = (float)(sum / n);
	const float scale = 1.0f / sqrtf(mean + eps);
	for (int i = 0; i < n; i++)
		y[i] = x[i] * scale * w[i];
}

/* Horizontal sum of 8 lanes in the order of ggml's AVX2 reduction:
 * (hi128 + lo128), then movehl, then movehdup. */
static inline float hsum8(const float *v)
{
	float a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
	return (a0 + a2) + (a1 + a3);
}

void floe_softmax(float *x, int n, float scale)
{
	float max = -INFINITY;
	double sum = 0.0;
	int i = 0;

	for (int t = 0; t < n; t++) {
		x[t] *= scale;
		max = x[t] > max ? x[t] : max;
	}
	/* Rows in llama.cpp are padded (masked) to a multiple of 8, so every
	 * element goes through the vector path; a partial last group is summed
	 * as if padded with exp(-inf) = 0. */
	for (; i < n; i += 8) {
		float lane[8] = {0};
		for (int l = 0; l < 8 && i + l < n; l++) {
			x[i + l] = floe_expf_ggml(x[i + l] - max);
			lane[l] = x[i + l];
		}
		sum += (double)hsum8(lane);
	}
	const float inv = (float)(1.0 / sum);
	for (int t = 0; t < n; t++)
		x[t] *= inv;
}

/* ggml's rotate_pairs is C++ built with GCC's default -ffp-contract=fast:
 * x0*c - x1*s becomes fma(x0, c, -(x1*s)) and x0*s + x1*c becomes
 * fma(x0, s, x1*c) (checked bit for bit against llama.cpp's rope output;
 * the plain two-rounding form is off by an ulp from position 1 on). */
void floe_rope_neox(float *x, int n_rot, int pos, float base)
{
	const float theta_scale = powf(base, -2.0f / (float)n_rot);
	const int half = n_rot / 2;
	float theta = (float)pos;

	for (int i = 0; i < half; i++) {
		const float c = cosf(theta), s = sinf(theta);
		const float x0 = x[i], x1 = x[i + half];
		x[i] = fmaf(x0, c, -(x1 * s));
		x[i + half] = fmaf(x0, s, x1 * c);
		theta *= theta_scale;
	}
}

void floe_rope_norm(float *x, int n_rot, int pos, float base)
{
	const float theta_scale = powf(base, -2.0f / (float)n_rot);
	float theta = (float)pos;

	for (int i = 0; i < n_rot; i += 2) {
		const float c = cosf(theta), s = sinf(theta);
		const float x0 = x[i], x1 = x[i + 1];
		x[i] = fmaf(x0, c, -(x1 * s));
		x[i + 1] = fmaf(x0, s, x1 * c);
		theta *= theta_scale;
	}
}

void floe_swiglu(float *y, const float *g, const float *u, int n)
{
	const int n_vec = n - n % 8;
	int i = 0;

	/* ggml's vector lanes use its expf; a scalar tail uses libm's. */
	for (; i < n_vec; i++)
		y[i] = g[i] / (1.0f + floe_expf_ggml(-g[i])) * u[i];
	for (; i < n; i++)
		y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* synth: the synthetic qwen3moe writer behind `floe mkmodel`.  It owns the
 * list of tensors of a qwen3moe model, the weight distribution of each, the
 * per-row random streams and the batch pipeline (pool generates and
 * quantizes a batch of rows, the calling thread writes it).  See synth.h. */
#include "model/synth.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/threadpool.h"
#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"

#define BATCH_BYTES (16u << 20) /* quantized bytes per batch */
#define NAME_LEN 64

/* How a tensor's values are drawn. */
enum init_kind {
	INIT_NORMAL, /* N(0, std^2) */
	INIT_NORM,   /* 1 + 0.1 * N(0, 1) */
};

struct stensor {
	char name[NAME_LEN];
	uint32_t type, n_dims;
	uint64_t ne[3];
	enum init_kind kind;
	float std;
	uint64_t rows, row_bytes;
	int pool; /* index of its block pool, or -1: every row quantized from its own values */
};

/* Quantizing every row of a 17 GB model with the reference quantizers (a
 * scale search, hundreds of ns per weight for K-quants) would take hours.
 * Every supported quantized type is a sequence of self-contained blocks
 * (own scales), so a big tensor's rows are instead assembled from blocks
 * drawn at random from a pool of POOL_BLOCKS blocks quantized from fresh
 * normals of the tensor's std.  Values have exactly the distribution of
 * quantized normals and rows are all distinct (2048^8 choices for a row of 8
 * blocks), at memcpy speed. */
#define POOL_BLOCKS 2048
#define POOL_MIN_TENSOR_BLOCKS (2 * POOL_BLOCKS)

struct block_pool {
	uint32_t type;
	float std;
	uint32_t block_elems;
	uint64_t block_bytes;
	unsigned char *blocks; /* POOL_BLOCKS blocks */
};

/* ------------------------------------------------------------------------
 * Presets. */

static const struct {
	const char *name;
	struct floe_synth_params p;
} presets[] = {
	{"qwen3-30b-a3b",
	 {.name = "synthetic-qwen3-30b-a3b", .n_layers = 48, .n_embd = 2048, .n_head = 32,
	  .n_head_kv = 4, .head_dim = 128, .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 768,
	  .n_ff = 6144, .n_ctx_train = 40960, .rope_base = 1000000.0f, .eps = 1e-6f,
	  .vocab_path = "tests/fixtures/vocab-qwen3-full.gguf", .wtype = FLOE_TYPE_Q4_K}},
	{"qwen3-235b-a22b",
	 {.name = "synthetic-qwen3-235b-a22b", .n_layers = 94, .n_embd = 4096, .n_head = 64,
	  .n_head_kv = 4, .head_dim = 128, .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 1536,
	  .n_ff = 12288, .n_ctx_train = 40960, .rope_base = 1000000.0f, .eps = 1e-6f,
	  .vocab_path = "tests/fixtures/vocab-qwen3-full.gguf", .wtype = FLOE_TYPE_Q4_K}},
	{"demo",
	 {.name = "synthetic-demo-moe", .n_layers = 16, .n_embd = 1024, .n_head = 16,
	  .n_head_kv = 4, .head_dim = 64, .n_expert = 64, .n_expert_used = 8, .n_ff_exp = 1024,
	  .n_ff = 4096, .n_ctx_train = 32768, .rope_base = 1000000.0f, .eps = 1e-6f,
	  .vocab_path = "tests/fixtures/vocab-qwen3-reduced8k.gguf", .wtype = FLOE_TYPE_Q4_K}},
	{"tiny",
	 {.name = "synthetic-tiny-qwen3moe", .n_layers = 4, .n_embd = 256, .n_head = 8,
	  .n_head_kv = 2, .head_dim = 64, .n_expert = 32, .n_expert_used = 4, .n_ff_exp = 256,
	  .n_ff = 1024, .n_ctx_train = 4096, .rope_base = 1000000.0f, .eps = 1e-6f,
	  .vocab_path = "tests/fixtures/vocab-qwen3-reduced8k.gguf", .wtype = FLOE_TYPE_Q8_0}},
};

int floe_synth_preset(const char *name, struct floe_synth_params *p)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (strcmp(presets[i].name, name) == 0) {
			*p = presets[i].p;
			p->expert_type = FLOE_SYNTH_SAME_TYPE;
			p->seed = 1234;
			return FLOE_OK;
		}
	}
	return FLOE_EARG;
}

const char *floe_synth_preset_names(void) { return "qwen3-30b-a3b, qwen3-235b-a22b, demo, tiny"; }

bool floe_synth_type_ok(uint32_t type)
{
	switch (type) {
	case FLOE_TYPE_F32: case FLOE_TYPE_F16: case FLOE_TYPE_BF16:
	case FLOE_TYPE_Q8_0: case FLOE_TYPE_Q4_0: case FLOE_TYPE_Q4_1:
	case FLOE_TYPE_Q5_0: case FLOE_TYPE_Q5_1:
	case FLOE_TYPE_Q2_K: case FLOE_TYPE_Q3_K: case FLOE_TYPE_Q4_K:
	case FLOE_TYPE_Q5_K: case FLOE_TYPE_Q6_K:
	case FLOE_TYPE_IQ4_NL: case FLOE_TYPE_IQ4_XS: case FLOE_TYPE_MXFP4:
		return true;
	}
	return false;
}

/* llama.cpp's general.file_type (llama_ftype) for a model mostly of `type`.
 * K-quants map to the "_S" (all one type) variants. */
static uint32_t file_type_of(uint32_t type)
{
	switch (type) {
	case FLOE_TYPE_F32: return 0;
	case FLOE_TYPE_F16: return 1;
	case FLOE_TYPE_Q4_0: return 2;
	case FLOE_TYPE_Q4_1: return 3;
	case FLOE_TYPE_Q8_0: return 7;
	case FLOE_TYPE_Q5_0: return 8;
	case FLOE_TYPE_Q5_1: return 9;
	case FLOE_TYPE_Q2_K: return 10;
	case FLOE_TYPE_Q3_K: return 11;
	case FLOE_TYPE_Q4_K: return 14;
	case FLOE_TYPE_Q5_K: return 16;
	case FLOE_TYPE_Q6_K: return 18;
	case FLOE_TYPE_IQ4_NL: return 25;
	case FLOE_TYPE_IQ4_XS: return 30;
	case FLOE_TYPE_BF16: return 32;
	case FLOE_TYPE_MXFP4: return 38;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Random streams: splitmix64 per row, approximate normals. */

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t row_stream(uint64_t seed, uint64_t tensor, uint64_t row)
{
	uint64_t s = seed;
	uint64_t a = splitmix64(&s) ^ (tensor * 0xd1b54a32d192ed03ull);
	a = splitmix64(&a) ^ row;
	splitmix64(&a);
	return a;
}

/* Sum of four 16-bit uniforms, centred and scaled to variance 1: a cheap
 * bell curve (tails cut at +-3.46) that is plenty for random weights. */
static inline float approx_normal(uint64_t *s)
{
	uint64_t z = splitmix64(s);
	int32_t sum = (int32_t)(z & 0xffff) + (int32_t)((z >> 16) & 0xffff) +
		      (int32_t)((z >> 32) & 0xffff) + (int32_t)(z >> 48);
	/* mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12 */
	return ((float)sum - 131070.0f) * (1.0f / 37837.23f);
}

static void gen_row(const struct stensor *t, uint64_t seed, uint64_t tix, uint64_t row, float *dst)
{
	uint64_t s = row_stream(seed, tix, row);
	uint64_t n = t->ne[0];

	if (t->kind == INIT_NORM) {
		for (uint64_t i = 0; i < n; i++)
			dst[i] = 1.0f + 0.1f * approx_normal(&s);
	} else {
		for (uint64_t i = 0; i < n; i++)
			dst[i] = t->std * approx_normal(&s);
	}
}

static void convert_row(uint32_t type, const float *src, void *dst, uint64_t n)
{
	switch (type) {
	case FLOE_TYPE_F32:
		memcpy(dst, src, n * sizeof(float));
		break;
	case FLOE_TYPE_F16:
		for (uint64_t i = 0; i < n; i++)
			((uint16_t *)dst)[i] = floe_f32_to_f16(src[i]);
		break;
	case FLOE_TYPE_BF16:
		for (uint64_t i = 0; i < n; i++)
			((uint16_t *)dst)[i] = floe_f32_to_bf16(src[i]);
		break;
	default:
		floe_quantize_row_ref(type, src, dst, (int64_t)n);
		break;
	}
}

/* ------------------------------------------------------------------------
 * Tensor list. */

struct tlist {
	struct stensor *t;
	size_t n, cap;
};

static int tl_add(struct tlist *l, uint32_t type, enum init_kind kind, float std, uint32_t n_dims,
		  uint64_t ne0, uint64_t ne1, uint64_t ne2, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static int tl_add(struct tlist *l, uint32_t type, enum init_kind kind, float std, uint32_t n_dims,
		  uint64_t ne0, uint64_t ne1, uint64_t ne2, const char *fmt, ...)
{
	va_list ap;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct stensor *nt = realloc(l->t, cap * sizeof(*nt));
		if (!nt)
			return FLOE_ENOMEM;
		l->t = nt;
		l->cap = cap;
	}
	struct stensor *t = &l->t[l->n++];
	memset(t, 0, sizeof(*t));
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	t->type = type;
	t->kind = kind;
	t->std = std;
	t->n_dims = n_dims;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->ne[2] = ne2;
	t->rows = ne1 * ne2;
	t->row_bytes = floe_type_row_bytes(type, ne0);
	return FLOE_OK;
}

/* Every tensor of the model, in file order (the fixtures' order). */
static int build_tensors(const struct floe_synth_params *p, uint64_t n_vocab, struct tlist *l)
{
	uint32_t wt = p->wtype;
	uint32_t et = p->expert_type == FLOE_SYNTH_SAME_TYPE ? p->wtype : p->expert_type;
	uint64_t e = p->n_embd, q = (uint64_t)p->n_head * p->head_dim;
	uint64_t kv = (uint64_t)p->n_head_kv * p->head_dim, ff = p->n_ff_exp, ne = p->n_expert;
	float se = 1.0f / sqrtf((float)e), sq = 1.0f / sqrtf((float)q), sf = 1.0f / sqrtf((float)ff);
	int rc = 0;

	rc |= tl_add(l, wt, INIT_NORMAL, 1.0f, 2, e, n_vocab, 1, "token_embd.weight");
	for (uint32_t i = 0; i < p->n_layers && !rc; i++) {
		rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORM, 0, 1, e, 1, 1, "blk.%u.attn_norm.weight", i);
		rc |= tl_add(l, wt, INIT_NORMAL, se, 2, e, q, 1, "blk.%u.attn_q.weight", i);
		rc |= tl_add(l, wt, INIT_NORMAL, se, 2, e, kv, 1, "blk.%u.attn_k.weight", i);
		rc |= tl_add(l, wt, INIT_NORMAL, se, 2, e, kv, 1, "blk.%u.attn_v.weight", i);
		rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORM, 0, 1, p->head_dim, 1, 1,
			     "blk.%u.attn_q_norm.weight", i);
		rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORM, 0, 1, p->head_dim, 1, 1,
			     "blk.%u.attn_k_norm.weight", i);
		rc |= tl_add(l, wt, INIT_NORMAL, sq, 2, q, e, 1, "blk.%u.attn_output.weight", i);
		rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORM, 0, 1, e, 1, 1, "blk.%u.ffn_norm.weight", i);
		rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORMAL, 4.0f * se, 2, e, ne, 1,
			     "blk.%u.ffn_gate_inp.weight", i);
		rc |= tl_add(l, et, INIT_NORMAL, se, 3, e, ff, ne, "blk.%u.ffn_gate_exps.weight", i);
		rc |= tl_add(l, et, INIT_NORMAL, se, 3, e, ff, ne, "blk.%u.ffn_up_exps.weight", i);
		rc |= tl_add(l, et, INIT_NORMAL, sf, 3, ff, e, ne, "blk.%u.ffn_down_exps.weight", i);
	}
	rc |= tl_add(l, FLOE_TYPE_F32, INIT_NORM, 0, 1, e, 1, 1, "output_norm.weight");
	rc |= tl_add(l, wt, INIT_NORMAL, se, 2, e, n_vocab, 1, "output.weight");
	return rc ? FLOE_ENOMEM : FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Parameter checks. */

static int check_params(const struct floe_synth_params *p, struct floe_err *err)
{
	uint32_t et = p->expert_type == FLOE_SYNTH_SAME_TYPE ? p->wtype : p->expert_type;

	if (!p->n_layers || !p->n_embd || !p->n_head || !p->n_head_kv || !p->head_dim ||
	    !p->n_expert || !p->n_expert_used || !p->n_ff_exp || !p->n_ctx_train)
		return floe_fail(err, FLOE_EARG, "synth: every dimension must be >= 1");
	if (p->n_head % p->n_head_kv)
		return floe_fail(err, FLOE_EARG, "synth: n_head %u is not a multiple of n_head_kv %u",
				 p->n_head, p->n_head_kv);
	if (p->n_expert_used > p->n_expert)
		return floe_fail(err, FLOE_EARG, "synth: n_expert_used %u > n_expert %u",
				 p->n_expert_used, p->n_expert);
	if (p->n_layers > 4096 || p->n_embd > (1u << 20) || p->n_expert > 65536 ||
	    (uint64_t)p->n_head * p->head_dim > (1u << 20) || p->n_ff_exp > (1u << 20))
		return floe_fail(err, FLOE_EARG, "synth: dimensions too large");
	if (!(p->rope_base > 0) || !(p->eps > 0))
		return floe_fail(err, FLOE_EARG, "synth: rope_base and eps must be > 0");
	if (!p->vocab_path)
		return floe_fail(err, FLOE_EARG, "synth: no vocab GGUF given");
	uint32_t types[2] = {p->wtype, et};
	for (int i = 0; i < 2; i++) {
		const struct floe_type_info *ti = floe_type_info(types[i]);
		if (!ti || !floe_synth_type_ok(types[i]))
			return floe_fail(err, FLOE_EARG, "synth: cannot generate weights of type %s (%u)",
					 floe_type_name(types[i]), types[i]);
	}
	/* Row lengths: n_embd (most matrices), n_head*head_dim (attn_output),
	 * n_ff_exp (ffn_down_exps). */
	const struct {
		const char *what;
		uint64_t n;
		uint32_t type;
	} rows[] = {
		{"n_embd", p->n_embd, p->wtype},
		{"n_embd", p->n_embd, et},
		{"n_head*head_dim", (uint64_t)p->n_head * p->head_dim, p->wtype},
		{"n_ff_exp", p->n_ff_exp, et},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!floe_type_row_bytes(rows[i].type, rows[i].n))
			return floe_fail(err, FLOE_EARG,
					 "synth: %s = %" PRIu64 " is not a multiple of the %s block size %u",
					 rows[i].what, rows[i].n, floe_type_name(rows[i].type),
					 floe_type_info(rows[i].type)->block_elems);
	}
	return FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Metadata. */

static int write_metadata(struct floe_gguf_writer *w, const struct floe_synth_params *p,
			  const struct floe_gguf *vocab)
{
	char desc[160];
	uint64_t n_copied;
	uint32_t ft = file_type_of(p->expert_type == FLOE_SYNTH_SAME_TYPE ? p->wtype : p->expert_type);

	snprintf(desc, sizeof(desc), "random weights from floe mkmodel, seed %" PRIu64, p->seed);
	floe_gguf_write_kv_str(w, "general.architecture", "qwen3moe");
	floe_gguf_write_kv_str(w, "general.name", p->name ? p->name : "synthetic-qwen3moe");
	floe_gguf_write_kv_str(w, "general.description", desc);
	floe_gguf_write_kv_u32(w, "general.alignment", 32);
	floe_gguf_write_kv_u32(w, "qwen3moe.block_count", p->n_layers);
	floe_gguf_write_kv_u32(w, "qwen3moe.context_length", p->n_ctx_train);
	floe_gguf_write_kv_u32(w, "qwen3moe.embedding_length", p->n_embd);
	floe_gguf_write_kv_u32(w, "qwen3moe.feed_forward_length", p->n_ff ? p->n_ff : 4 * p->n_embd);
	floe_gguf_write_kv_u32(w, "qwen3moe.attention.head_count", p->n_head);
	floe_gguf_write_kv_u32(w, "qwen3moe.attention.head_count_kv", p->n_head_kv);
	floe_gguf_write_kv_f32(w, "qwen3moe.rope.freq_base", p->rope_base);
	floe_gguf_write_kv_f32(w, "qwen3moe.attention.layer_norm_rms_epsilon", p->eps);
	floe_gguf_write_kv_u32(w, "qwen3moe.expert_count", p->n_expert);
	floe_gguf_write_kv_u32(w, "qwen3moe.expert_used_count", p->n_expert_used);
	floe_gguf_write_kv_u32(w, "qwen3moe.attention.key_length", p->head_dim);
	floe_gguf_write_kv_u32(w, "qwen3moe.attention.value_length", p->head_dim);
	floe_gguf_write_kv_u32(w, "qwen3moe.expert_feed_forward_length", p->n_ff_exp);
	floe_gguf_write_kv_u32(w, "general.file_type", ft);
	floe_gguf_write_kv_u32(w, "general.quantization_version", 2);
	return floe_gguf_write_kv_copy(w, vocab, "tokenizer.", &n_copied);
}

/* ------------------------------------------------------------------------
 * Batches: the pool fills out[] with rows [row0, row0 + n_rows) of a tensor. */

struct batch {
	const struct stensor *t;
	uint64_t tix, seed, row0, n_rows;
	unsigned char *out;
	float *scratch; /* n_threads rows of max_row floats */
	uint64_t max_row;
	const struct block_pool *pools;
};

/* A row assembled from pool blocks chosen by the row's stream. */
static void pool_row(const struct block_pool *bp, uint64_t seed, uint64_t tix, uint64_t row,
		     uint64_t n, unsigned char *dst)
{
	uint64_t s = row_stream(seed, tix, row);
	uint64_t nb = n / bp->block_elems, z = 0;

	for (uint64_t i = 0; i < nb; i++) {
		if ((i & 3) == 0)
			z = splitmix64(&s);
		uint64_t k = (z >> (16 * (i & 3))) & (POOL_BLOCKS - 1);
		memcpy(dst + i * bp->block_bytes, bp->blocks + k * bp->block_bytes, bp->block_bytes);
	}
}

static void batch_fn(void *ctx, int ith, int nth)
{
	const struct batch *b = ctx;
	const struct stensor *t = b->t;
	float *row = b->scratch + (size_t)ith * b->max_row;
	long lo, hi;

	floe_split((long)b->n_rows, ith, nth, &lo, &hi);
	for (long r = lo; r < hi; r++) {
		unsigned char *dst = b->out + (size_t)r * t->row_bytes;
		if (t->pool >= 0) {
			pool_row(&b->pools[t->pool], b->seed, b->tix, b->row0 + (uint64_t)r, t->ne[0],
				 dst);
			continue;
		}
		gen_row(t, b->seed, b->tix, b->row0 + (uint64_t)r, row);
		convert_row(t->type, row, dst, t->ne[0]);
	}
}

/* Pools: one per (type, std) among the big quantized tensors. */
struct pool_job {
	struct block_pool *bp;
	uint64_t seed, tag;
	float *scratch; /* per thread, block_elems floats */
	uint64_t max_row;
};

static void pool_fn(void *ctx, int ith, int nth)
{
	const struct pool_job *j = ctx;
	struct block_pool *bp = j->bp;
	float *x = j->scratch + (size_t)ith * j->max_row;
	long lo, hi;

	floe_split(POOL_BLOCKS, ith, nth, &lo, &hi);
	for (long k = lo; k < hi; k++) {
		uint64_t s = row_stream(j->seed, j->tag, (uint64_t)k);
		for (uint32_t i = 0; i < bp->block_elems; i++)
			x[i] = bp->std * approx_normal(&s);
		floe_quantize_row_ref(bp->type, x, bp->blocks + (uint64_t)k * bp->block_bytes,
				      bp->block_elems);
	}
}

static bool wants_pool(const struct stensor *t)
{
	const struct floe_type_info *ti = floe_type_info(t->type);

	return t->kind == INIT_NORMAL && ti->block_elems > 1 &&
	       t->rows * t->ne[0] / ti->block_elems >= POOL_MIN_TENSOR_BLOCKS;
}

/* Assign pools to the tensors that want one and fill them.  *n_pools pools
 * in *out (caller frees each .blocks and the array). */
static int make_pools(struct tlist *l, uint64_t seed, struct floe_pool *pool, float *scratch,
		      uint64_t max_row, struct block_pool **out, int *n_pools)
{
	struct block_pool *bps = NULL;
	int n = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct stensor *t = &l->t[i];
		t->pool = -1;
		if (!wants_pool(t))
			continue;
		for (int k = 0; k < n; k++)
			if (bps[k].type == t->type && bps[k].std == t->std)
				t->pool = k;
		if (t->pool >= 0)
			continue;
		struct block_pool *nb = realloc(bps, (size_t)(n + 1) * sizeof(*nb));
		if (!nb)
			goto nomem;
		bps = nb;
		const struct floe_type_info *ti = floe_type_info(t->type);
		struct block_pool *bp = &bps[n];
		bp->type = t->type;
		bp->std = t->std;
		bp->block_elems = ti->block_elems;
		bp->block_bytes = ti->block_bytes;
		bp->blocks = malloc((size_t)POOL_BLOCKS * ti->block_bytes);
		if (!bp->blocks)
			goto nomem;
		t->pool = n++;
		/* The pool's stream is tagged by its first tensor, so it does
		 * not depend on the order pools are made in. */
		struct pool_job j = {.bp = bp, .seed = seed, .tag = (1ull << 40) + i,
				     .scratch = scratch, .max_row = max_row};
		floe_pool_run(pool, pool_fn, &j);
	}
	*out = bps;
	*n_pools = n;
	return FLOE_OK;
nomem:
	for (int k = 0; k < n; k++)
		free(bps[k].blocks);
	free(bps);
	return FLOE_ENOMEM;
}

/* Rows per batch of tensor t: about BATCH_BYTES of output. */
static uint64_t batch_rows(const struct stensor *t)
{
	uint64_t nb = BATCH_BYTES / t->row_bytes ? BATCH_BYTES / t->row_bytes : 1;
	return nb < t->rows ? nb : t->rows;
}

/* Generate every tensor batch by batch; writer errors are sticky and
 * reported by floe_gguf_writer_close. */
static int write_data(struct floe_gguf_writer *w, const struct floe_synth_params *p,
		      const struct tlist *l, struct floe_pool *pool, struct batch *proto)
{
	uint64_t total = 0, done = 0;
	int rc = FLOE_OK;

	for (size_t i = 0; i < l->n; i++)
		total += l->t[i].rows * l->t[i].row_bytes;
	for (size_t i = 0; i < l->n && !rc; i++) {
		const struct stensor *t = &l->t[i];
		uint64_t nb = batch_rows(t);
		for (uint64_t r = 0; r < t->rows && !rc; r += nb) {
			struct batch b = *proto;
			b.t = t;
			b.tix = i;
			b.row0 = r;
			b.n_rows = t->rows - r < nb ? t->rows - r : nb;
			floe_pool_run(pool, batch_fn, &b);
			rc = floe_gguf_write_data(w, b.out, (size_t)(b.n_rows * t->row_bytes));
			done += b.n_rows * t->row_bytes;
			if (p->progress)
				p->progress(p->progress_ctx, done, total);
		}
	}
	return rc;
}

uint64_t floe_synth_data_bytes(const struct floe_synth_params *p, uint64_t n_vocab)
{
	struct tlist l = {0};
	uint64_t total = 0;

	if (check_params(p, NULL) || build_tensors(p, n_vocab, &l)) {
		free(l.t);
		return 0;
	}
	for (size_t i = 0; i < l.n; i++)
		total += l.t[i].rows * l.t[i].row_bytes;
	free(l.t);
	return total;
}

int floe_synth_write(const struct floe_synth_params *p, const char *out_path, struct floe_err *err)
{
	struct floe_gguf *vocab = NULL;
	struct floe_gguf_writer *w = NULL;
	struct floe_pool *pool = NULL;
	struct tlist l = {0};
	struct block_pool *pools = NULL;
	int n_pools = 0;
	const void *tokens;
	uint64_t n_vocab;
	int rc;

	if ((rc = check_params(p, err)))
		return rc;
	if ((rc = floe_gguf_open(p->vocab_path, &vocab, err)))
		return floe_fail_prefix(err, "synth: vocab: ");
	if ((rc = floe_gguf_get_arr(vocab, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, &tokens,
				    &n_vocab, err))) {
		floe_fail_prefix(err, "synth: %s: ", p->vocab_path);
		goto close_vocab;
	}
	if (!n_vocab) {
		rc = floe_fail(err, FLOE_EFORMAT, "synth: %s: empty token list", p->vocab_path);
		goto close_vocab;
	}
	if ((rc = build_tensors(p, n_vocab, &l))) {
		rc = floe_fail(err, rc, "synth: out of memory for the tensor list");
		goto free_list;
	}
	int nth = p->n_threads > 0 ? p->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nth < 1)
		nth = 1;
	uint64_t max_row = 0, max_batch = 0;
	for (size_t i = 0; i < l.n; i++) {
		uint64_t bytes = batch_rows(&l.t[i]) * l.t[i].row_bytes;
		max_row = l.t[i].ne[0] > max_row ? l.t[i].ne[0] : max_row;
		max_batch = bytes > max_batch ? bytes : max_batch;
	}
	struct batch proto = {.seed = p->seed, .max_row = max_row};
	proto.out = floe_alloc_aligned((size_t)max_batch);
	proto.scratch = floe_alloc_aligned((size_t)(max_row * (uint64_t)nth * sizeof(float)));
	if (!proto.out || !proto.scratch) {
		rc = floe_fail(err, FLOE_ENOMEM, "synth: out of memory for %" PRIu64 " byte batches",
			       max_batch);
		goto free_bufs;
	}
	if ((rc = floe_pool_create(nth, &pool, err)))
		goto free_bufs;
	if ((rc = make_pools(&l, p->seed, pool, proto.scratch, max_row, &pools, &n_pools))) {
		rc = floe_fail(err, rc, "synth: out of memory for block pools");
		goto destroy_pool;
	}
	proto.pools = pools;
	if ((rc = floe_gguf_writer_open(out_path, &w, err)))
		goto destroy_pool;
	/* The writer's errors are sticky: the first one is reported by close,
	 * which also removes the partial file. */
	write_metadata(w, p, vocab);
	for (size_t i = 0; i < l.n; i++)
		floe_gguf_write_tensor_info(w, l.t[i].name, l.t[i].type, l.t[i].n_dims, l.t[i].ne);
	if (floe_gguf_write_begin_data(w) == FLOE_OK)
		write_data(w, p, &l, pool, &proto);
	rc = floe_gguf_writer_close(w, err);
destroy_pool:
	for (int k = 0; k < n_pools; k++)
		free(pools[k].blocks);
	free(pools);
	floe_pool_destroy(pool);
free_bufs:
	floe_free_aligned(proto.out);
	floe_free_aligned(proto.scratch);
free_list:
	free(l.t);
close_vocab:
	floe_gguf_close(vocab);
	return rc;
}

/* forward: one chunk of tokens through the model — embeddings, attention
 * with the KV cache, the MoE block with experts streamed through the expert
 * cache, output head.
 *
 * Every matmul converts its f32 input ONCE to the weight's activation type
 * (ggml's vec_dot_type: Q8_0, Q8_K, f16, ...) and then runs the kernel
 * table's dot products over the pool, rows split by thread.  That conversion
 * is what makes floe's numbers equal llama.cpp's, so it is never skipped.
 *
 * MoE over a chunk: route every token first, group tokens by expert, then
 * ask the cache for the needed experts (in groups no larger than the cache)
 * and run each expert once over all its tokens as soon as its read lands.
 * Each expert's output is kept per (token, k) and combined afterwards in
 * top-k order, so the result does not depend on the order reads complete or
 * on the cache size: a streamed run is bit-identical to a resident one. */

/* Exact ggml rounding needs every a*b+c rounded twice unless written as
 * fmaf: no contraction (GCC's ISO C mode already does not contract). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "engine/dotf32.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "quant/repack.h"

/* ---- matmul over the pool ------------------------------------------------- */

/* Up to three matrices multiplied in ONE pool job (q, k and v share their
 * input; so do an expert's gate and up): one hand-off instead of three, and
 * the threads take row chunks from counters (each its own share first,
 * then the others'), so a thread the OS took away for a while (the machine
 * is shared) does not hold up the rest.
 * Which thread computes a row never changes its bits. */
#define MM_MAX 3
#define MM_THREADS 64 /* the most pool threads a job splits its rows for */

struct mm_mat {
	uint32_t type;
	const void *w;
	int64_t rows, cols;
	const void *act;
	float *out;
	int64_t stride;
	int64_t n_gemm;   /* first tokens in llama.cpp's GEMM order (dense) */
	int64_t chunk;    /* rows per chunk */
	long first;       /* index of this matrix's first chunk */
};

struct mm_job {
	const struct floe_kernels *k;
	int n_mat, n_tok;
	/* swiglu: matrices 0 and 1 are gate and up with equal shapes; a chunk
	 * covers the same rows of both, then out0 = silu(out0) * out1 there. */
	bool swiglu;
	void (*swiglu_fn)(float *y, const float *g, const float *u, int n);
	long n_chunks;
	/* Thread i first takes the chunks [next[i], end[i]) front to back,
	 * then helps the others with theirs: each thread reads one long run
	 * of consecutive rows, which the memory system streams about twice as
	 * fast as chunks interleaved between threads (measured: 2 threads,
	 * 48-row Q4_K chunks, 12-20 GB/s interleaved vs 25 GB/s in halves). */
	atomic_long next[MM_THREADS];
	long end[MM_THREADS];
	struct mm_mat mat[MM_MAX];
};

static void mm_chunk(const struct mm_job *j, const struct mm_mat *mt, long c)
{
	int64_t lo = (c - mt->first) * mt->chunk;
	int64_t hi = lo + mt->chunk < mt->rows ? lo + mt->chunk : mt->rows;

	floe_matmul_range(j->k, mt->type, mt->w, mt->cols, mt->act, j->n_tok, mt->n_gemm, mt->out, mt->stride, lo,
			  hi);
	if (!j->swiglu)
		return;
	const struct mm_mat *up = &j->mat[1];
	floe_matmul_range(j->k, up->type, up->w, up->cols, up->act, j->n_tok, up->n_gemm, up->out, up->stride, lo,
			  hi);
	/* Chunks start at multiples of 16, so floe_swiglu's 8-lane body and
	 * scalar tail fall on the same elements as for the whole row. */
	for (int t = 0; t < j->n_tok; t++) {
		float *g = mt->out + t * mt->stride + lo;
		j->swiglu_fn(g, g, up->out + t * up->stride + lo, (int)(hi - lo));
	}
}

static void mm_slice(void *ctx, int ith, int nth)
{
	struct mm_job *j = ctx;
	const int n_mat = j->swiglu ? 1 : j->n_mat;
	const int n_reg = nth < MM_THREADS ? nth : MM_THREADS;

	for (int k = 0; k < n_reg; k++) {
		int reg = (ith + k) % n_reg;
		for (;;) {
			long c = atomic_fetch_add_explicit(&j->next[reg], 1, memory_order_relaxed);
			if (c >= j->end[reg])
				break;
			int i = 0;
			while (i + 1 < n_mat && c >= j->mat[i + 1].first)
				i++;
			mm_chunk(j, &j->mat[i], c);
		}
	}
}

/* dense: a plain matmul (attention, output head), which llama.cpp runs
 * through its repacked GEMM for the first n - n % 4 tokens and its GEMV for
 * the rest; expert matmuls (mul_mat_id) always take the GEMV.  The two sum
 * some types (Q4_K) in different orders; floe_matmul_range follows both. */
static void mm_add(struct mm_job *j, int nth, uint32_t type, const void *w, int64_t rows, int64_t cols,
		   const void *act, float *out, int64_t stride, bool dense)
{
	struct mm_mat *mt = &j->mat[j->n_mat++];
	int64_t n_gemm = dense && j->n_tok > 3 ? j->n_tok - j->n_tok % 4 : 0;

	FLOE_ASSERT(j->n_mat <= MM_MAX);
	*mt = (struct mm_mat){type, w, rows, cols, act, out, stride, n_gemm, 0, 0};
	mt->chunk = floe_matmul_chunk_rows(type, rows, cols, j->n_tok, nth);
	if (j->swiglu && j->n_mat == 2) {
		mt->chunk = j->mat[0].chunk;
		return;
	}
	mt->first = j->n_chunks;
	j->n_chunks += (long)((rows + mt->chunk - 1) / mt->chunk);
}

static void mm_run(struct floe_model *m, struct mm_job *j)
{
	int nth = floe_pool_threads(m->pool);
	int n_reg = nth < MM_THREADS ? nth : MM_THREADS;

	for (int i = 0; i < n_reg; i++) {
		atomic_store_explicit(&j->next[i], j->n_chunks * i / n_reg, memory_order_relaxed);
		j->end[i] = j->n_chunks * (i + 1) / n_reg;
	}
	floe_pool_run(m->pool, mm_slice, j);
}

static uint32_t act_type_of(uint32_t type)
{
	return floe_type_info(floe_type_base(type))->act_type;
}

/* Convert n_tok rows of cols floats (stride cols) to act_type into dst. */
static void convert_rows(const struct floe_kernels *k, uint32_t act_type, const float *src, int n_tok,
			 int64_t cols, void *dst)
{
	uint64_t rb = floe_type_row_bytes(act_type, (uint64_t)cols);

	for (int t = 0; t < n_tok; t++) {
		if (act_type == FLOE_TYPE_F32)
			memcpy((char *)dst + t * rb, src + t * cols, rb);
		else
			k->quantize_act[act_type](src + t * cols, (char *)dst + t * rb, cols);
	}
}

/* out[t*stride + r] = W[r] . act[t] for already converted activations. */
static void matmul_conv(struct floe_model *m, uint32_t type, const void *w, int64_t rows, int64_t cols,
			const void *act, int n_tok, float *out, int64_t stride, bool dense)
{
	struct mm_job j = {.k = m->kern, .n_tok = n_tok};

	mm_add(&j, floe_pool_threads(m->pool), type, w, rows, cols, act, out, stride, dense);
	mm_run(m, &j);
}

/* F32 weights (the router): ggml multiplies one token with
 * ggml_vec_dot_f32 and several with llamafile's sgemm (when its tiling
 * applies: cols % 8 == 0, rows % 4 == 0); follow the same orders. */
struct f32_job {
	const struct floe_dotf32 *df;
	const float *w, *x;
	int64_t rows, cols;
	int n_tok;
	float *out;
	int64_t stride;
};

static void f32_slice(void *ctx, int ith, int nth)
{
	const struct f32_job *j = ctx;
	const bool tiny = j->n_tok >= 2 && j->cols % 8 == 0 && j->rows % 4 == 0;
	long lo, hi;

	floe_split((long)j->rows, ith, nth, &lo, &hi);
	for (int t = 0; t < j->n_tok; t++)
		for (long r = lo; r < hi; r++) {
			const float *wr = j->w + (size_t)r * j->cols, *xt = j->x + (size_t)t * j->cols;
			j->out[t * j->stride + r] = tiny ? j->df->dot_tiny(wr, xt, (int)j->cols)
							 : j->df->dot_vec(wr, xt, (int)j->cols);
		}
}

/* Convert x ([n_tok][cols] f32) into the scratch act buffer unless it already
 * holds x converted to the same type (*have tracks that), then multiply. */
static void matmul_f32(struct floe_model *m, const struct floe_tensor *t, const float *x, int n_tok,
		       float *out, int64_t stride, uint32_t *have)
{
	uint32_t at = act_type_of(t->type);
	int64_t cols = t->ne[0];

	if (t->type == FLOE_TYPE_F32) {
		struct f32_job j = {m->dotf32, t->data, x, t->ne[1], cols, n_tok, out, stride};
		floe_pool_run(m->pool, f32_slice, &j);
		return;
	}

	if (!have || *have != at) {
		convert_rows(m->kern, at, x, n_tok, cols, m->s.act);
		if (have)
			*have = at;
	}
	matmul_conv(m, t->type, t->data, t->ne[1], cols, m->s.act, n_tok, out, stride, true);
}

/* ---- attention ------------------------------------------------------------ */

struct attn_job {
	struct floe_session *sess;
	int layer, n_tok, pos;
};

static void kv_put(void *base, bool f16, uint64_t i, float v)
{
	if (f16)
		((uint16_t *)base)[i] = floe_f32_to_f16(v);
	else
		((float *)base)[i] = v;
}

/* One (token, head) item: causal softmax(q.K / sqrt(hd)) . V over positions
 * 0..pos+t of this session's cache, in ggml's f32 orders (dotf32.h): q.k in
 * vec order; p.V in tiny order for chunks of >= 2 tokens (llamafile sgemm)
 * and vec order for a single token (ggml_vec_dot_f32), accumulated per
 * position lane in acc (32 rows of hd_v).  With an f16 cache, q and the
 * probabilities are rounded to f16 first, like ggml's f16 matmuls. */
static void attn_one(struct floe_session *sess, int layer, int t, int h, int pos, int n_tok, float *sc,
		     float *acc, float *tmp)
{
	const struct floe_model *m = sess->m;
	const struct floe_dotf32 *df = m->dotf32;
	const struct floe_hparams *hp = &m->w.hp;
	const int hdk = hp->head_dim_k, hdv = hp->head_dim_v;
	const int kvk = hp->n_head_kv * hdk, kvv = hp->n_head_kv * hdv;
	const int g = h / (hp->n_head / hp->n_head_kv);
	const int n_kv = pos + t + 1;
	const bool f16 = sess->kv_f16, tiny = n_tok >= 2;
	const uint64_t kbase = (uint64_t)layer * sess->n_ctx * kvk + (uint64_t)g * hdk;
	const uint64_t vbase = (uint64_t)layer * sess->n_ctx * kvv + (uint64_t)g * hdv;
	const float *qh = m->s.q + (size_t)t * hp->n_head * hdk + (size_t)h * hdk;
	float *out = m->s.attn + (size_t)t * hp->n_head * hdv + (size_t)h * hdv;
	const int n_acc = tiny ? 8 : 32;
	float qr[1024];
	const float *qv = qh;

	if (f16) {
		for (int d = 0; d < hdk; d++)
			qr[d] = floe_f16_to_f32(floe_f32_to_f16(qh[d]));
		qv = qr;
	}
	for (int j = 0; j < n_kv; j++) {
		uint64_t kj = kbase + (uint64_t)j * kvk;
		const float *kr = (const float *)sess->kv_k + kj;
		if (f16) {
			for (int d = 0; d < hdk; d++)
				tmp[d] = floe_f16_to_f32(((const uint16_t *)sess->kv_k)[kj + d]);
			kr = tmp;
		}
		sc[j] = df->dot_vec(kr, qv, hdk);
	}
	m->softmax(sc, n_kv, 1.0f / sqrtf((float)hdk));
	memset(acc, 0, sizeof(float) * (size_t)n_acc * hdv);
	for (int j = 0; j < n_kv; j++) {
		uint64_t vj = vbase + (uint64_t)j * kvv;
		const float *vr = (const float *)sess->kv_v + vj;
		float p = sc[j];
		if (f16) {
			for (int d = 0; d < hdv; d++)
				tmp[d] = floe_f16_to_f32(((const uint16_t *)sess->kv_v)[vj + d]);
			vr = tmp;
			p = floe_f16_to_f32(floe_f32_to_f16(p));
		}
		df->fma_row(acc + (size_t)(j % n_acc) * hdv, vr, p, hdv);
	}
	for (int d = 0; d < hdv; d++) {
		float lanes[8];
		if (tiny) {
			for (int l = 0; l < 8; l++)
				lanes[l] = acc[(size_t)l * hdv + d];
			out[d] = floe_lanes_tiny(lanes);
		} else {
			for (int l = 0; l < 8; l++)
				lanes[l] = (acc[(size_t)l * hdv + d] + acc[(size_t)(16 + l) * hdv + d]) +
					   (acc[(size_t)(8 + l) * hdv + d] + acc[(size_t)(24 + l) * hdv + d]);
			out[d] = floe_lanes_vec(lanes);
		}
	}
}

static void attn_slice(void *ctx, int ith, int nth)
{
	const struct attn_job *j = ctx;
	struct floe_model *m = j->sess->m;
	const int n_head = m->w.hp.n_head;
	float *sc = m->s.scores + (size_t)ith * m->s.scores_stride;
	float *acc = sc + j->sess->n_ctx, *tmp = acc + 32 * (size_t)m->w.hp.head_dim_v;
	long lo, hi;

	floe_split((long)j->n_tok * n_head, ith, nth, &lo, &hi);
	for (long i = lo; i < hi; i++)
		attn_one(j->sess, j->layer, (int)(i / n_head), (int)(i % n_head), j->pos, j->n_tok, sc, acc, tmp);
}

/* x += Wo . attention(norm(x)) for the chunk's tokens at pos..pos+n. */
static void attention_block(struct floe_session *sess, int il, int n, int pos)
{
	struct floe_model *m = sess->m;
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const struct floe_layer *l = &m->w.layers[il];
	const int E = hp->n_embd, hdk = hp->head_dim_k, hdv = hp->head_dim_v;
	const int nq = hp->n_head * hdk, kvk = hp->n_head_kv * hdk, kvv = hp->n_head_kv * hdv;
	uint32_t have = UINT32_MAX;

	for (int t = 0; t < n; t++)
		floe_rms_norm(s->xn + (size_t)t * E, s->x + (size_t)t * E, l->attn_norm.data, E, hp->rms_eps);
	if (l->wq.type != FLOE_TYPE_F32 && act_type_of(l->wk.type) == act_type_of(l->wq.type) &&
	    act_type_of(l->wv.type) == act_type_of(l->wq.type)) {
		/* q, k and v from one converted input in one pool job. */
		struct mm_job j = {.k = m->kern, .n_tok = n};
		int nth = floe_pool_threads(m->pool);
		convert_rows(m->kern, act_type_of(l->wq.type), s->xn, n, E, s->act);
		mm_add(&j, nth, l->wq.type, l->wq.data, l->wq.ne[1], E, s->act, s->q, nq, true);
		mm_add(&j, nth, l->wk.type, l->wk.data, l->wk.ne[1], E, s->act, s->k, kvk, true);
		mm_add(&j, nth, l->wv.type, l->wv.data, l->wv.ne[1], E, s->act, s->v, kvv, true);
		mm_run(m, &j);
	} else {
		matmul_f32(m, &l->wq, s->xn, n, s->q, nq, &have);
		matmul_f32(m, &l->wk, s->xn, n, s->k, kvk, &have);
		matmul_f32(m, &l->wv, s->xn, n, s->v, kvv, &have);
	}

	for (int t = 0; t < n; t++) {
		float *qt = s->q + (size_t)t * nq, *kt = s->k + (size_t)t * kvk, *vt = s->v + (size_t)t * kvv;
		for (int h = 0; h < hp->n_head; h++) {
			float *qh = qt + (size_t)h * hdk;
			if (m->w.arch->qk_norm)
				floe_rms_norm(qh, qh, l->q_norm.data, hdk, hp->rms_eps);
			if (m->w.arch->rope == FLOE_ROPE_NEOX)
				floe_rope_neox(qh, hdk, pos + t, hp->rope_base);
			else
				floe_rope_norm(qh, hdk, pos + t, hp->rope_base);
		}
		for (int h = 0; h < hp->n_head_kv; h++) {
			float *kh = kt + (size_t)h * hdk;
			if (m->w.arch->qk_norm)
				floe_rms_norm(kh, kh, l->k_norm.data, hdk, hp->rms_eps);
			if (m->w.arch->rope == FLOE_ROPE_NEOX)
				floe_rope_neox(kh, hdk, pos + t, hp->rope_base);
			else
				floe_rope_norm(kh, hdk, pos + t, hp->rope_base);
		}
		uint64_t kr = ((uint64_t)il * sess->n_ctx + (uint64_t)(pos + t)) * kvk;
		uint64_t vr = ((uint64_t)il * sess->n_ctx + (uint64_t)(pos + t)) * kvv;
		for (int d = 0; d < kvk; d++)
			kv_put(sess->kv_k, sess->kv_f16, kr + d, kt[d]);
		for (int d = 0; d < kvv; d++)
			kv_put(sess->kv_v, sess->kv_f16, vr + d, vt[d]);
	}

	struct attn_job job = {sess, il, n, pos};
	floe_pool_run(m->pool, attn_slice, &job);

	/* wo output goes to xn (free now), then the residual add. */
	matmul_f32(m, &l->wo, s->attn, n, s->xn, E, NULL);
	for (size_t i = 0; i < (size_t)n * E; i++)
		s->x[i] = s->xn[i] + s->x[i];
}

/* ---- MoE ------------------------------------------------------------------ */

/* Top-k of p[0..n) by value, ties to the lower index; ids by descending p. */
static void top_k(const float *p, int n, int k, int *ids)
{
	for (int i = 0; i < k; i++) {
		int best = -1;
		for (int e = 0; e < n; e++) {
			bool taken = false;
			for (int j = 0; j < i; j++)
				taken |= ids[j] == e;
			if (!taken && (best < 0 || p[e] > p[best]))
				best = e;
		}
		ids[i] = best;
	}
}

/* Softmax gating, top-k (or the replayed trace's experts), renormalised
 * weights w = p / max(sum p, 2^-14); the choices go to the recorded trace. */
static void route(struct floe_model *m, int il, int n)
{
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const int NX = hp->n_expert, K = hp->n_expert_used, L = hp->n_layer;

	for (int t = 0; t < n; t++) {
		float *p = s->probs + (size_t)t * NX;
		int *sel = s->sel + (size_t)t * K;
		float *w = s->selw + (size_t)t * K;
		m->softmax(p, NX, 1.0f);
		if (m->replaying) {
			const uint16_t *row = floe_replay_row(m, t, il);
			for (int k = 0; k < K; k++)
				sel[k] = row[k];
		} else {
			top_k(p, NX, K, sel);
		}
		if (m->recording) {
			uint16_t *rec = m->rec_chunk + ((size_t)t * L + (size_t)il) * K;
			for (int k = 0; k < K; k++)
				rec[k] = (uint16_t)sel[k];
		}
		double sum = 0.0;
		for (int k = 0; k < K; k++) {
			w[k] = p[sel[k]];
			sum += (double)w[k];
		}
		if (m->w.arch->norm_topk) {
			float fs = (float)sum;
			if (fs < 6.103515625e-5f)
				fs = 6.103515625e-5f;
			for (int k = 0; k < K; k++)
				w[k] = w[k] / fs;
		}
	}
	/* Group tokens by expert, experts in ascending id order. */
	memset(s->e_n, 0, sizeof(int) * (size_t)NX);
	for (int t = 0; t < n; t++)
		for (int k = 0; k < K; k++) {
			int e = s->sel[(size_t)t * K + k];
			int i = s->e_n[e]++;
			s->e_tok[(size_t)e * m->params.n_batch + i] = t;
			s->e_k[(size_t)e * m->params.n_batch + i] = k;
		}
}

/* Run one resident expert over the tokens routed to it; outputs to eout. */
static void run_expert(struct floe_model *m, int il, int e, const struct floe_expert_ref *ref,
		       const uint32_t at[3])
{
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const struct floe_layer *l = &m->w.layers[il];
	const int E = hp->n_embd, F = hp->n_ff_exp, K = hp->n_expert_used, B = m->params.n_batch;
	const int nt = s->e_n[e];
	const int *tok = s->e_tok + (size_t)e * B, *kk = s->e_k + (size_t)e * B;
	const uint64_t rb_g = floe_type_row_bytes(at[0], (uint64_t)E);
	const uint64_t rb_u = floe_type_row_bytes(at[1], (uint64_t)E);

	/* Gather the tokens' converted rows (converted once per layer). */
	const void *ga = (const char *)s->act + tok[0] * rb_g;
	if (nt > 1) {
		for (int i = 0; i < nt; i++)
			memcpy((char *)s->gath + i * rb_g, (const char *)s->act + tok[i] * rb_g, rb_g);
		ga = s->gath;
	}
	if (at[1] == at[0]) {
		/* gate, up and silu(gate) * up in one pool job over shared rows. */
		struct mm_job j = {.k = m->kern, .n_tok = nt, .swiglu = true, .swiglu_fn = m->swiglu};
		int nth = floe_pool_threads(m->pool);
		mm_add(&j, nth, l->exps[FLOE_EXP_GATE].type, ref->data[FLOE_EXPERT_GATE], F, E, ga, s->gate, F, false);
		mm_add(&j, nth, l->exps[FLOE_EXP_UP].type, ref->data[FLOE_EXPERT_UP], F, E, ga, s->up, F, false);
		mm_run(m, &j);
	} else {
		matmul_conv(m, l->exps[FLOE_EXP_GATE].type, ref->data[FLOE_EXPERT_GATE], F, E, ga, nt, s->gate, F, false);
		for (int i = 0; i < nt; i++)
			memcpy((char *)s->gath + i * rb_u, (const char *)s->act2 + tok[i] * rb_u, rb_u);
		matmul_conv(m, l->exps[FLOE_EXP_UP].type, ref->data[FLOE_EXPERT_UP], F, E, s->gath, nt, s->up, F, false);
		for (int i = 0; i < nt; i++) {
			float *g = s->gate + (size_t)i * F;
			m->swiglu(g, g, s->up + (size_t)i * F, F);
		}
	}
	/* act2 may hold the up conversion, so h goes through `up`'s memory:
	 * gath is free again once up is done. */
	convert_rows(m->kern, at[2], s->gate, nt, F, s->gath);
	matmul_conv(m, l->exps[FLOE_EXP_DOWN].type, ref->data[FLOE_EXPERT_DOWN], E, F, s->gath, nt, s->down, E, false);
	for (int i = 0; i < nt; i++)
		memcpy(s->eout + ((size_t)tok[i] * K + kk[i]) * E, s->down + (size_t)i * E, sizeof(float) * E);
}

/* Prefetch guess for layer il (the next one) during a decode step, made
 * when the disk has run out of demand reads for layer il - 1: il's ffn_norm
 * and router applied to the hidden state as far as it is known then (after
 * the previous layer's attention, plus the weighted outputs of the experts
 * that layer has run so far: done[k]), top-k, and the guessed experts' reads
 * started into spare slots.  The guess never changes results: only what is
 * resident. */
static int prefetch_guess(struct floe_model *m, int il, const bool *done, struct floe_err *err)
{
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const struct floe_layer *l = &m->w.layers[il];
	const int E = hp->n_embd, NX = hp->n_expert, K = m->params.prefetch_k;
	int rc;

	if (m->plan.prefetch_oracle) {
		const uint16_t *row = floe_replay_row(m, 0, il);
		for (int k = 0; k < K; k++)
			s->pf_ids[k] = row[k];
		rc = floe_cache_prefetch(m->cache, il, s->pf_ids, K, err);
		return rc < 0 ? rc : FLOE_OK;
	}
	memcpy(s->pf_x, s->x, sizeof(float) * (size_t)E);
	for (int k = 0; k < hp->n_expert_used; k++) {
		const float *eo = s->eout + (size_t)k * E;
		const float w = s->selw[k];
		if (done[k])
			for (int i = 0; i < E; i++)
				s->pf_x[i] += eo[i] * w;
	}
	floe_rms_norm(s->pf_x, s->pf_x, l->ffn_norm.data, E, hp->rms_eps);
	if (l->router.type == FLOE_TYPE_F32) {
		struct f32_job j = {m->dotf32, l->router.data, s->pf_x, l->router.ne[1], E, 1, s->pf_probs, NX};
		floe_pool_run(m->pool, f32_slice, &j);
	} else {
		uint32_t at = act_type_of(l->router.type);
		convert_rows(m->kern, at, s->pf_x, 1, E, s->pf_act);
		matmul_conv(m, l->router.type, l->router.data, NX, E, s->pf_act, 1, s->pf_probs, NX, true);
	}
	/* top-k of the logits is top-k of the softmax: no need for the exp. */
	top_k(s->pf_probs, NX, K, s->pf_ids);
	rc = floe_cache_prefetch(m->cache, il, s->pf_ids, K, err);
	return rc < 0 ? rc : FLOE_OK;
}

/* During a decode step with prefetch on: once none of this layer's reads is
 * in flight any more (noticed by polling between experts), guess the next
 * layer's experts and start their reads, so the disk works through the rest
 * of this layer, the next attention and router instead of idling.  Issued
 * earlier (with the demand reads) the guesses shared the disk with them and
 * slowed the demand; issued later they would leave it idle. */
static int maybe_prefetch(struct floe_model *m, int il, int g, bool *issued, struct floe_err *err)
{
	struct floe_scratch *s = &m->s;
	int rc;

	if (*issued)
		return FLOE_OK;
	if ((rc = floe_cache_poll(m->cache, err)))
		return rc;
	if (floe_cache_loading(m->cache, s->refs, g))
		return FLOE_OK;
	*issued = true;
	return prefetch_guess(m, il + 1, s->pf_done, err);
}

/* Request experts e_list[0..n) from the cache in groups the cache can pin at
 * once and run each as its read lands (for a decode step with prefetch on,
 * starting the next layer's guessed reads once this layer's have landed). */
static int run_experts(struct floe_model *m, int il, int n, int n_list, const uint32_t at[3],
		       struct floe_err *err)
{
	struct floe_scratch *s = &m->s;
	int group = (int)(m->plan.n_slots < (uint64_t)n_list ? m->plan.n_slots : (uint64_t)n_list);
	/* With every expert resident there is nothing to fetch, and the guess
	 * (a norm and the next router, ~3% of a token's bytes) would be waste. */
	bool pf = n == 1 && m->prefetch && !m->plan.all_resident && il + 1 < m->w.hp.n_layer, issued = !pf;
	int rc;

	if (pf)
		memset(s->pf_done, 0, sizeof(bool) * (size_t)m->w.hp.n_expert_used);
	for (int i = 0; i < n_list; i += group) {
		int g = n_list - i < group ? n_list - i : group;
		rc = floe_cache_request(m->cache, il, s->e_list + i, g, s->refs, err);
		if (rc)
			return rc;
		memset(s->ready, 0, sizeof(bool) * (size_t)g);
		for (int done = 0; done < g && !rc; done++) {
			int r = 0;
			if (i + g == n_list)
				rc = maybe_prefetch(m, il, g, &issued, err);
			if (!rc && (r = floe_cache_wait_any(m->cache, s->refs, s->ready, g, err)) < 0)
				rc = r;
			if (rc)
				break;
			run_expert(m, il, s->e_list[i + r], &s->refs[r], at);
			if (pf)
				s->pf_done[s->e_k[(size_t)s->e_list[i + r] * m->params.n_batch]] = true;
		}
		if (!rc && i + g == n_list)
			rc = maybe_prefetch(m, il, g, &issued, err);
		floe_cache_release(m->cache, s->refs, g);
		if (rc)
			return rc;
	}
	return FLOE_OK;
}

static int moe_block(struct floe_model *m, int il, int n, struct floe_err *err)
{
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const struct floe_layer *l = &m->w.layers[il];
	const int E = hp->n_embd, K = hp->n_expert_used, NX = hp->n_expert;
	uint32_t at[3], have = UINT32_MAX;
	int n_list = 0, rc;

	for (int t = 0; t < n; t++)
		floe_rms_norm(s->xn + (size_t)t * E, s->x + (size_t)t * E, l->ffn_norm.data, E, hp->rms_eps);
	matmul_f32(m, &l->router, s->xn, n, s->probs, NX, &have);
	route(m, il, n);
	for (int e = 0; e < NX; e++)
		if (s->e_n[e])
			s->e_list[n_list++] = e;

	for (int p = 0; p < 3; p++)
		at[p] = act_type_of(l->exps[p].type);
	convert_rows(m->kern, at[0], s->xn, n, E, s->act);
	if (at[1] != at[0])
		convert_rows(m->kern, at[1], s->xn, n, E, s->act2);
	rc = run_experts(m, il, n, n_list, at, err);
	if (rc)
		return rc;

	/* out = ((e0*w0 + e1*w1) + e2*w2) + ...: ggml multiplies each expert by
	 * its weight, then adds the K views left to right. */
	for (int t = 0; t < n; t++) {
		const float *eo = s->eout + (size_t)t * K * E;
		const float *w = s->selw + (size_t)t * K;
		float *x = s->x + (size_t)t * E;
		for (int i = 0; i < E; i++) {
			float acc = eo[i] * w[0];
			for (int k = 1; k < K; k++)
				acc = acc + eo[(size_t)k * E + i] * w[k];
			x[i] = acc + x[i];
		}
	}
	return FLOE_OK;
}

/* ---- the chunk ------------------------------------------------------------ */

static void embed(struct floe_model *m, const int32_t *tokens, int n)
{
	const struct floe_tensor *te = &m->w.tok_embd;
	const int E = m->w.hp.n_embd;
	const uint64_t rb = floe_type_row_bytes(te->type, (uint64_t)E);

	for (int t = 0; t < n; t++) {
		const void *row = (const char *)te->data + (uint64_t)tokens[t] * rb;
		float *x = m->s.x + (size_t)t * E;
		if (te->type == FLOE_TYPE_F32)
			memcpy(x, row, sizeof(float) * E);
		else
			m->kern->dequant_row[te->type](row, x, E);
	}
}

int floe_forward_chunk(struct floe_session *sess, const int32_t *tokens, int n, int pos, bool all,
		       float *out, struct floe_err *err)
{
	struct floe_model *m = sess->m;
	struct floe_scratch *s = &m->s;
	const struct floe_hparams *hp = &m->w.hp;
	const int E = hp->n_embd;
	int rc;

	FLOE_ASSERT(n > 0 && n <= m->params.n_batch && pos + n <= sess->n_ctx);
	floe_cache_next_chunk(m->cache);
	embed(m, tokens, n);
	for (int il = 0; il < hp->n_layer; il++) {
		attention_block(sess, il, n, pos);
		rc = moe_block(m, il, n, err);
		if (rc)
			return rc;
	}
	if (!out)
		return FLOE_OK;
	int first = all ? 0 : n - 1, nr = n - first;
	for (int t = 0; t < nr; t++)
		floe_rms_norm(s->xn + (size_t)t * E, s->x + (size_t)(first + t) * E, m->w.output_norm.data, E,
			      hp->rms_eps);
	matmul_f32(m, &m->w.output, s->xn, nr, out, hp->n_vocab, NULL);
	return FLOE_OK;
}

/* ---- scratch -------------------------------------------------------------- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Widest converted row any matmul of this model needs (bytes). */
static uint64_t act_row_max(const struct floe_weights *w)
{
	uint64_t mx = 0;
	const struct floe_tensor *ts[] = {&w->tok_embd, &w->output};

	for (size_t i = 0; i < 2; i++)
		mx = max_u64(mx, floe_type_row_bytes(act_type_of(ts[i]->type), (uint64_t)ts[i]->ne[0]));
	for (int il = 0; il < w->hp.n_layer; il++) {
		const struct floe_layer *l = &w->layers[il];
		const struct floe_tensor *lt[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->router,
						  &l->exps[0], &l->exps[1], &l->exps[2]};
		for (size_t i = 0; i < sizeof(lt) / sizeof(lt[0]); i++)
			mx = max_u64(mx, floe_type_row_bytes(act_type_of(lt[i]->type), (uint64_t)lt[i]->ne[0]));
	}
	return mx;
}

int floe_scratch_init(struct floe_scratch *s, const struct floe_weights *w, int n_batch, int n_ctx,
		      int n_threads, bool alloc, struct floe_err *err)
{
	const struct floe_hparams *hp = &w->hp;
	const size_t B = (size_t)n_batch, E = (size_t)hp->n_embd, F = (size_t)hp->n_ff_exp;
	const size_t K = (size_t)hp->n_expert_used, NX = (size_t)hp->n_expert;
	const size_t nq = (size_t)hp->n_head * hp->head_dim_k, no = (size_t)hp->n_head * hp->head_dim_v;
	const size_t kvk = (size_t)hp->n_head_kv * hp->head_dim_k, kvv = (size_t)hp->n_head_kv * hp->head_dim_v;
	size_t arm;
	struct {
		void **p;
		size_t bytes;
	} bufs[28];
	int nb = 0;
	uint64_t total = 0;

	memset(s, 0, sizeof(*s));
	s->act_row_max = act_row_max(w);
	arm = (size_t)floe_round_up(s->act_row_max, 64);
#define BUF(field, n)                                                                              \
	do {                                                                                       \
		bufs[nb].p = (void **)&s->field;                                                   \
		bufs[nb].bytes = (n);                                                              \
		nb++;                                                                              \
	} while (0)
	BUF(x, B * E * sizeof(float));
	BUF(xn, B * E * sizeof(float));
	BUF(q, B * nq * sizeof(float));
	BUF(k, B * kvk * sizeof(float));
	BUF(v, B * kvv * sizeof(float));
	BUF(attn, B * no * sizeof(float));
	/* per thread: scores (n_ctx), 32 lane accumulators of hd_v, one K/V row */
	s->scores_stride = floe_round_up((uint64_t)n_ctx + 32ull * hp->head_dim_v +
					 (uint64_t)(hp->head_dim_k > hp->head_dim_v ? hp->head_dim_k : hp->head_dim_v), 16);
	BUF(scores, (size_t)n_threads * s->scores_stride * sizeof(float));
	BUF(act, B * arm);
	BUF(act2, B * arm);
	BUF(probs, B * NX * sizeof(float));
	BUF(sel, B * K * sizeof(int));
	BUF(selw, B * K * sizeof(float));
	BUF(eout, B * K * E * sizeof(float));
	BUF(e_tok, NX * B * sizeof(int));
	BUF(e_k, NX * B * sizeof(int));
	BUF(e_n, NX * sizeof(int));
	BUF(e_list, NX * sizeof(int));
	BUF(gath, B * arm);
	BUF(gate, B * F * sizeof(float));
	BUF(up, B * F * sizeof(float));
	BUF(down, B * E * sizeof(float));
	BUF(refs, NX * sizeof(struct floe_expert_ref));
	BUF(ready, NX * sizeof(bool));
	BUF(pf_x, E * sizeof(float));
	BUF(pf_probs, NX * sizeof(float));
	BUF(pf_act, arm);
	BUF(pf_ids, K * sizeof(int));
	BUF(pf_done, K * sizeof(bool));
#undef BUF
	for (int i = 0; i < nb; i++)
		total += floe_round_up(bufs[i].bytes ? bufs[i].bytes : 1, 64);
	s->bytes = total;
	if (!alloc)
		return FLOE_OK;
	for (int i = 0; i < nb; i++) {
		*bufs[i].p = floe_alloc_aligned(bufs[i].bytes);
		if (!*bufs[i].p) {
			floe_scratch_free(s);
			return floe_fail(err, FLOE_ENOMEM, "out of memory for %zu bytes of scratch", bufs[i].bytes);
		}
	}
	return FLOE_OK;
}

void floe_scratch_free(struct floe_scratch *s)
{
	void *ps[] = {s->x,    s->xn,   s->q,     s->k,    s->v,      s->attn, s->scores, s->act,
		      s->act2, s->probs, s->sel,  s->selw, s->eout,   s->e_tok, s->e_k,   s->e_n,
		      s->e_list, s->gath, s->gate, s->up,  s->down,   s->refs, s->ready, s->pf_x,
		      s->pf_probs, s->pf_act, s->pf_ids, s->pf_done};

	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		floe_free_aligned(ps[i]);
	memset(s, 0, sizeof(*s));
}

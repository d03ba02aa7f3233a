/* engine: the internals behind include/floe.h — the model handle (weights,
 * kernels, thread pool, expert cache, scratch), the session (KV cache,
 * position, logits) and the forward pass.
 *
 * Memory: every buffer the forward pass touches is allocated at open
 * (struct floe_scratch, sized for n_batch tokens) or at session create (KV
 * cache, logits for n_batch rows); the token loop allocates nothing.  Only an
 * eval asking for all logits of more than n_batch tokens grows the session's
 * logits buffer, once per call. */
#ifndef FLOE_ENGINE_ENGINE_H
#define FLOE_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "base/threadpool.h"
#include "engine/dotf32.h"
#include "experts/expert_cache.h"
#include "experts/io.h"
#include "experts/trace.h"
#include "floe.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "quant/quant.h"

/* Buffers of one forward chunk of up to B = n_batch tokens. */
struct floe_scratch {
	float *x;        /* [B][n_embd] residual stream */
	float *xn;       /* [B][n_embd] normed input of the current block */
	float *q;        /* [B][n_head * hd_k] */
	float *k;        /* [B][n_head_kv * hd_k] */
	float *v;        /* [B][n_head_kv * hd_v] */
	float *attn;     /* [B][n_head * hd_v] attention output before wo */
	float *scores;   /* [n_threads][scores_stride]: probabilities, lane sums, a K/V row */
	uint64_t scores_stride;
	void *act;       /* [B][act_row_max] activations converted for a matmul */
	void *act2;      /* [B][act_row_max] a second conversion (expert up / down input) */
	float *probs;    /* [B][n_expert] router logits, then probabilities */
	int *sel;        /* [B][K] chosen experts, by descending probability */
	float *selw;     /* [B][K] their weights */
	float *eout;     /* [B][K][n_embd] each chosen expert's output, unweighted */
	int *e_tok;      /* [n_expert][B] tokens routed to each expert */
	int *e_k;        /* [n_expert][B] which of the token's K slots it is */
	int *e_n;        /* [n_expert] how many tokens */
	int *e_list;     /* [n_expert] experts needed by the chunk */
	void *gath;      /* [B][act_row_max] gathered converted rows of one expert's tokens */
	float *gate;     /* [B][n_ff] */
	float *up;       /* [B][n_ff] */
	float *down;     /* [B][n_embd] */
	struct floe_expert_ref *refs; /* [n_expert] */
	bool *ready;                  /* [n_expert] */
	float *pf_x;     /* [n_embd] prefetch guess: the hidden state normed for the next layer */
	float *pf_probs; /* [n_expert] the next layer's router output */
	void *pf_act;    /* [act_row_max] pf_x converted for a non-f32 router */
	int *pf_ids;     /* [K] guessed experts */
	bool *pf_done;   /* [K] decode: which of this layer's experts have run (for the guess) */
	uint64_t act_row_max;         /* bytes of the widest converted row */
	uint64_t bytes;               /* total, for the plan */
};

struct floe_model {
	struct floe_params params;
	struct floe_err err;
	char path[1024];
	struct floe_gguf *gguf;
	struct floe_weights w;
	const struct floe_kernels *kern;
	const struct floe_dotf32 *dotf32;
	/* ops.c's element-wise ops, or their AVX2 twins (same bits) when the
	 * AVX2 kernel table is in use */
	void (*swiglu)(float *y, const float *g, const float *u, int n);
	void (*softmax)(float *x, int n, float scale);
	int fd;
	void *map;
	uint64_t map_size;
	bool repack;          /* Q4_0/Q4_K matrices in the x8 layouts (AVX2 kernels): dense always,
			       * experts when all resident (engine.c, repack_dense) */
	void *dense_repacked; /* the repacked dense matrices (their file pages dropped) */
	struct floe_pool *pool;
	struct floe_io *io;
	struct floe_expert_index idx;
	bool idx_ready;
	struct floe_expert_cache *cache;
	struct floe_plan plan;
	struct floe_scratch s;
	/* MoE orchestration */
	bool prefetch;           /* next-layer prefetch during decode */
	struct floe_trace rec;   /* routing trace being recorded (trace_out) */
	bool recording;
	uint64_t rec_saved;      /* rec.n_tokens at the last save */
	uint16_t *rec_chunk;     /* [n_batch][n_layer][K] the current chunk's choices */
	char trace_out[1024];
	struct floe_trace replay; /* routing trace replayed (trace_replay) */
	bool replaying;
	uint64_t replay_pos;     /* next trace token */
	/* stats */
	struct floe_stats st;
	struct floe_cache_stats cache_base; /* cache counters at the last reset */
	uint64_t io_bytes_base;
	double read_eval_s;                 /* seconds of evals that read experts */
};

struct floe_session {
	struct floe_model *m;
	struct floe_err err;
	int pos;
	int n_ctx;
	bool kv_f16;
	void *kv_k;          /* [n_layer][n_ctx][n_head_kv * hd_k] f32 or f16 */
	void *kv_v;          /* [n_layer][n_ctx][n_head_kv * hd_v] */
	float *logits;       /* [logits_cap][n_vocab] */
	int logits_cap;
	int n_rows;          /* rows kept by the last eval */
	int last_eval_n;
	bool all_logits;
};

/* Bytes of one session's KV cache. */
uint64_t floe_kv_bytes(const struct floe_weights *w, int n_ctx, bool f16);

/* Scratch for the model's shape; sizes only when alloc is false. */
int floe_scratch_init(struct floe_scratch *s, const struct floe_weights *w, int n_batch, int n_ctx,
		      int n_threads, bool alloc, struct floe_err *err);
void floe_scratch_free(struct floe_scratch *s);

/* Evaluate tokens[0..n) at positions pos..pos+n-1 (n <= n_batch), writing
 * their K/V rows into the session's cache and, if out is not NULL, logits:
 * every row into out[t * n_vocab] when all is true, else only the last row
 * into out[0]. */
int floe_forward_chunk(struct floe_session *sess, const int32_t *tokens, int n, int pos, bool all,
		       float *out, struct floe_err *err);

/* The experts the MoE block of layer il uses for token t of the current
 * chunk, when replaying a trace: the trace token (replay_pos + t) modulo its
 * length. */
static inline const uint16_t *floe_replay_row(const struct floe_model *m, int t, int il)
{
	return floe_trace_at(&m->replay, (m->replay_pos + (uint64_t)t) % m->replay.n_tokens, (uint32_t)il);
}

#endif

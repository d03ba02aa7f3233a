/* model: architecture families, hyperparameters and tensor binding.
 *
 * A model family is a row of a table (struct floe_arch): its GGUF name, the
 * small named rules the forward pass consults (q/k norm, RoPE style, expert
 * gating, weight renormalisation) and a bind function that finds every tensor
 * with shape and type checks.  Adding mixtral or deepseek2 is a new row and a
 * new bind function, not a copy of the forward pass.
 *
 * Binding never touches tensor data: it records the file offset, type and
 * shape of each tensor.  The engine later points dense tensors into its mmap
 * (floe_weights_attach) and hands the routed expert tensors to the expert
 * index; expert bytes are never read through the mmap. */
#ifndef FLOE_MODEL_MODEL_H
#define FLOE_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "gguf/gguf.h"

/* One bound tensor.  ne[0] is the row length (GGUF order). */
struct floe_tensor {
	const char *name;   /* borrowed from the gguf handle */
	uint32_t type;      /* ggml type id */
	int n_dims;
	int64_t ne[4];
	uint64_t offset;    /* absolute file offset */
	uint64_t size;      /* bytes */
	const void *data;   /* into the mmap (dense tensors only); NULL until attached */
};

enum floe_rope_style {
	FLOE_ROPE_NORM = 0, /* pairs (2i, 2i+1) */
	FLOE_ROPE_NEOX = 2, /* pairs (i, i + n_rot/2) */
};

enum floe_gating {
	FLOE_GATING_SOFTMAX = 1, /* probs = softmax(router logits) over all experts */
};

struct floe_hparams {
	int n_vocab;
	int n_embd;
	int n_layer;
	int n_head, n_head_kv;
	int head_dim_k, head_dim_v;
	int n_expert, n_expert_used;
	int n_ff_exp;
	int n_ctx_train;
	float rope_base;
	float rms_eps;
};

/* Routed experts of one layer: the three stacked tensors
 * [n_expert][rows][cols] (ne = {cols, rows, n_expert}). */
enum { FLOE_EXP_GATE = 0, FLOE_EXP_UP = 1, FLOE_EXP_DOWN = 2 };

struct floe_layer {
	struct floe_tensor attn_norm; /* (n_embd) f32 */
	struct floe_tensor wq;        /* (n_head*hd_k, n_embd): ne = {n_embd, n_head*hd_k} */
	struct floe_tensor wk;        /* (n_head_kv*hd_k, n_embd) */
	struct floe_tensor wv;        /* (n_head_kv*hd_v, n_embd) */
	struct floe_tensor q_norm;    /* (hd_k) f32, if arch->qk_norm */
	struct floe_tensor k_norm;    /* (hd_k) f32, if arch->qk_norm */
	struct floe_tensor wo;        /* (n_embd, n_head*hd_v) */
	struct floe_tensor ffn_norm;  /* (n_embd) f32 */
	struct floe_tensor router;    /* (n_expert, n_embd) */
	struct floe_tensor exps[3];   /* gate, up (n_expert, n_ff, n_embd); down (n_expert, n_embd, n_ff) */
};

struct floe_arch;

struct floe_weights {
	const struct floe_arch *arch;
	struct floe_hparams hp;
	struct floe_tensor tok_embd;    /* (n_vocab, n_embd) */
	struct floe_tensor output_norm; /* (n_embd) f32 */
	struct floe_tensor output;      /* (n_vocab, n_embd); token_embd when tied */
	bool tied_output;
	struct floe_layer *layers;      /* [n_layer], owned */
	uint64_t dense_bytes;           /* sum of all non-expert tensors bound */
	uint64_t expert_bytes;          /* sum of the stacked expert tensors */
};

/* A model family: the rules the forward pass follows. */
struct floe_arch {
	const char *name;                 /* general.architecture */
	bool qk_norm;                     /* per-head RMSNorm of q and k before RoPE */
	enum floe_rope_style rope;
	enum floe_gating gating;
	bool norm_topk;                   /* renormalise the top-k weights to sum 1 */
	int (*load_hparams)(const struct floe_gguf *g, const char *arch, struct floe_hparams *hp,
			    struct floe_err *err);
	int (*bind)(const struct floe_gguf *g, struct floe_weights *w, struct floe_err *err);
};

/* The family for an architecture name, or NULL. */
const struct floe_arch *floe_arch_find(const char *name);

/* Read general.architecture, find the family, load hyperparameters and bind
 * every tensor.  FLOE_EUNSUPPORTED for an unknown architecture or a weight
 * type floe cannot compute, FLOE_EFORMAT for a missing key/tensor or a wrong
 * shape/type (message: tensor name, expected vs actual).  On success w owns
 * its layer array (floe_weights_free). */
int floe_weights_load(const struct floe_gguf *g, struct floe_weights *w, struct floe_err *err);
void floe_weights_free(struct floe_weights *w);

/* Point every dense tensor into map (the whole file mapped at offset 0). */
void floe_weights_attach(struct floe_weights *w, const void *map);

#endif

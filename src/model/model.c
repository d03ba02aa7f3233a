/* model: the table of model families, hyperparameter loading and tensor
 * binding with shape/type checks.  Nothing here reads tensor data. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

/* ---- hyperparameters ------------------------------------------------------ */

static int get_u32_key(const struct floe_gguf *g, const char *arch, const char *suffix, int *out,
		       struct floe_err *err)
{
	char key[128];
	uint32_t v;
	int rc;

	snprintf(key, sizeof(key), "%s.%s", arch, suffix);
	rc = floe_gguf_get_u32(g, key, &v, err);
	if (rc)
		return rc;
	if (v > (1u << 30))
		return floe_fail(err, FLOE_EFORMAT, "%s = %u is out of range", key, v);
	*out = (int)v;
	return FLOE_OK;
}

static int get_f32_key(const struct floe_gguf *g, const char *arch, const char *suffix, float *out,
		       struct floe_err *err)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.%s", arch, suffix);
	return floe_gguf_get_f32(g, key, out, err);
}

static bool has_key(const struct floe_gguf *g, const char *arch, const char *suffix)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.%s", arch, suffix);
	return floe_gguf_find(g, key) != NULL;
}

/* The keys every llama-style MoE family shares (`<arch>.block_count`, ...).
 * key_length/value_length default to n_embd / n_head like llama.cpp. */
static int load_moe_hparams(const struct floe_gguf *g, const char *arch, struct floe_hparams *hp,
			    struct floe_err *err)
{
	int rc;

	memset(hp, 0, sizeof(*hp));
	if ((rc = get_u32_key(g, arch, "block_count", &hp->n_layer, err)) ||
	    (rc = get_u32_key(g, arch, "embedding_length", &hp->n_embd, err)) ||
	    (rc = get_u32_key(g, arch, "attention.head_count", &hp->n_head, err)) ||
	    (rc = get_u32_key(g, arch, "expert_count", &hp->n_expert, err)) ||
	    (rc = get_u32_key(g, arch, "expert_used_count", &hp->n_expert_used, err)) ||
	    (rc = get_u32_key(g, arch, "expert_feed_forward_length", &hp->n_ff_exp, err)) ||
	    (rc = get_u32_key(g, arch, "context_length", &hp->n_ctx_train, err)) ||
	    (rc = get_f32_key(g, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps, err)))
		return rc;
	hp->n_head_kv = hp->n_head;
	if (has_key(g, arch, "attention.head_count_kv") &&
	    (rc = get_u32_key(g, arch, "attention.head_count_kv", &hp->n_head_kv, err)))
		return rc;
	if (hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv)
		return floe_fail(err, FLOE_EFORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
				 arch, hp->n_head, hp->n_head_kv);
	hp->head_dim_k = hp->head_dim_v = hp->n_embd / hp->n_head;
	if (has_key(g, arch, "attention.key_length") &&
	    (rc = get_u32_key(g, arch, "attention.key_length", &hp->head_dim_k, err)))
		return rc;
	if (has_key(g, arch, "attention.value_length") &&
	    (rc = get_u32_key(g, arch, "attention.value_length", &hp->head_dim_v, err)))
		return rc;
	hp->rope_base = 10000.0f;
	if (has_key(g, arch, "rope.freq_base") &&
	    (rc = get_f32_key(g, arch, "rope.freq_base", &hp->rope_base, err)))
		return rc;
	if (hp->n_layer <= 0 || hp->n_embd <= 0 || hp->head_dim_k <= 0 || hp->head_dim_k % 2 || hp->head_dim_k > 1024 ||
	    hp->head_dim_v <= 0 || hp->n_expert <= 0 || hp->n_expert_used <= 0 ||
	    hp->n_expert_used > hp->n_expert || hp->n_ff_exp <= 0 || hp->n_expert > 4096 ||
	    hp->n_expert_used > 64)
		return floe_fail(err, FLOE_EFORMAT,
				 "%s: implausible hyperparameters (layers %d, embd %d, head_dim %d/%d, "
				 "experts %d used %d, expert ff %d)",
				 arch, hp->n_layer, hp->n_embd, hp->head_dim_k, hp->head_dim_v, hp->n_expert,
				 hp->n_expert_used, hp->n_ff_exp);
	if (!(hp->rms_eps >= 0.0f) || !(hp->rope_base > 0.0f))
		return floe_fail(err, FLOE_EFORMAT, "%s: bad rms epsilon %g or rope base %g", arch,
				 (double)hp->rms_eps, (double)hp->rope_base);
	return FLOE_OK;
}

/* ---- tensor binding ------------------------------------------------------- */

enum tensor_kind {
	KIND_NORM,   /* an f32 vector */
	KIND_MATRIX, /* a weight matrix: any supported type, rows a whole number of blocks */
};

static void fmt_shape(char *buf, size_t len, int n_dims, const int64_t *ne)
{
	int off = snprintf(buf, len, "[");
	for (int i = 0; i < n_dims && off > 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - (size_t)off, "%s%lld", i ? ", " : "", (long long)ne[i]);
	if (off > 0 && (size_t)off < len)
		snprintf(buf + off, len - (size_t)off, "]");
}

/* The fatal "get": find name, check its shape is exactly ne[0..n_dims) and
 * its type fits kind; the message gives expected vs actual. */
static int get_tensor(const struct floe_gguf *g, const char *name, enum tensor_kind kind, int n_dims,
		      const int64_t *ne, struct floe_tensor *t, struct floe_err *err)
{
	const struct floe_gguf_tensor *gt = floe_gguf_find_tensor(g, name);
	const struct floe_type_info *ti;
	char want[96], have[96];
	int64_t gne[4] = {1, 1, 1, 1};

	if (!gt)
		return floe_fail(err, FLOE_EFORMAT, "tensor '%s' is missing", name);
	for (int i = 0; i < FLOE_GGUF_MAX_DIMS && i < 4; i++)
		gne[i] = (int64_t)gt->ne[i];
	fmt_shape(want, sizeof(want), n_dims, ne);
	fmt_shape(have, sizeof(have), (int)gt->n_dims, gne);
	for (int i = 0; i < 4; i++) {
		int64_t e = i < n_dims ? ne[i] : 1;
		if (gne[i] != e)
			return floe_fail(err, FLOE_EFORMAT, "tensor '%s': expected shape %s, got %s", name,
					 want, have);
	}
	ti = floe_type_info(gt->type);
	if (!ti)
		return floe_fail(err, FLOE_EFORMAT, "tensor '%s': unknown type id %u", name, gt->type);
	if (kind == KIND_NORM && gt->type != FLOE_TYPE_F32)
		return floe_fail(err, FLOE_EUNSUPPORTED, "tensor '%s': expected type f32, got %s", name,
				 ti->name);
	if (!ti->supported)
		return floe_fail(err, FLOE_EUNSUPPORTED, "tensor '%s': weight type %s is not supported",
				 name, ti->name);
	if (floe_type_row_bytes(gt->type, (uint64_t)ne[0]) == 0)
		return floe_fail(err, FLOE_EFORMAT, "tensor '%s': row length %lld is not a multiple of %s's block of %u",
				 name, (long long)ne[0], ti->name, ti->block_elems);
	t->name = gt->name.s;
	t->type = gt->type;
	t->n_dims = n_dims;
	for (int i = 0; i < 4; i++)
		t->ne[i] = gne[i];
	t->offset = gt->offset;
	t->size = gt->size;
	t->data = NULL;
	return FLOE_OK;
}

static int get_layer_tensor(const struct floe_gguf *g, int il, const char *suffix, enum tensor_kind kind,
			    int n_dims, const int64_t *ne, struct floe_tensor *t, struct floe_err *err)
{
	char name[96];

	snprintf(name, sizeof(name), "blk.%d.%s", il, suffix);
	return get_tensor(g, name, kind, n_dims, ne, t, err);
}

#define NE(...) ((const int64_t[]){__VA_ARGS__})

/* qwen3moe (and the same layout without q/k norms: qwen2moe without shared
 * expert, mixtral-style GGUFs with stacked experts). */
static int bind_llama_moe(const struct floe_gguf *g, struct floe_weights *w, struct floe_err *err)
{
	const struct floe_hparams *hp = &w->hp;
	int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim_k;
	int64_t kd = (int64_t)hp->n_head_kv * hp->head_dim_k, vd = (int64_t)hp->n_head_kv * hp->head_dim_v;
	int64_t o = (int64_t)hp->n_head * hp->head_dim_v, ff = hp->n_ff_exp, nx = hp->n_expert;
	const struct floe_gguf_tensor *te = floe_gguf_find_tensor(g, "token_embd.weight");
	int rc;

	if (!te)
		return floe_fail(err, FLOE_EFORMAT, "tensor 'token_embd.weight' is missing");
	if (te->n_dims != 2 || te->ne[1] == 0 || te->ne[1] > (1u << 24))
		return floe_fail(err, FLOE_EFORMAT, "tensor 'token_embd.weight': bad vocabulary dimension");
	w->hp.n_vocab = (int)te->ne[1];
	if ((rc = get_tensor(g, "token_embd.weight", KIND_MATRIX, 2, NE(e, hp->n_vocab), &w->tok_embd, err)) ||
	    (rc = get_tensor(g, "output_norm.weight", KIND_NORM, 1, NE(e), &w->output_norm, err)))
		return rc;
	w->tied_output = !floe_gguf_find_tensor(g, "output.weight");
	if (w->tied_output)
		w->output = w->tok_embd;
	else if ((rc = get_tensor(g, "output.weight", KIND_MATRIX, 2, NE(e, hp->n_vocab), &w->output, err)))
		return rc;

	for (int il = 0; il < hp->n_layer; il++) {
		struct floe_layer *l = &w->layers[il];
		if ((rc = get_layer_tensor(g, il, "attn_norm.weight", KIND_NORM, 1, NE(e), &l->attn_norm, err)) ||
		    (rc = get_layer_tensor(g, il, "attn_q.weight", KIND_MATRIX, 2, NE(e, q), &l->wq, err)) ||
		    (rc = get_layer_tensor(g, il, "attn_k.weight", KIND_MATRIX, 2, NE(e, kd), &l->wk, err)) ||
		    (rc = get_layer_tensor(g, il, "attn_v.weight", KIND_MATRIX, 2, NE(e, vd), &l->wv, err)) ||
		    (rc = get_layer_tensor(g, il, "attn_output.weight", KIND_MATRIX, 2, NE(o, e), &l->wo, err)) ||
		    (rc = get_layer_tensor(g, il, "ffn_norm.weight", KIND_NORM, 1, NE(e), &l->ffn_norm, err)) ||
		    (rc = get_layer_tensor(g, il, "ffn_gate_inp.weight", KIND_MATRIX, 2, NE(e, nx), &l->router, err)) ||
		    (rc = get_layer_tensor(g, il, "ffn_gate_exps.weight", KIND_MATRIX, 3, NE(e, ff, nx),
					   &l->exps[FLOE_EXP_GATE], err)) ||
		    (rc = get_layer_tensor(g, il, "ffn_up_exps.weight", KIND_MATRIX, 3, NE(e, ff, nx),
					   &l->exps[FLOE_EXP_UP], err)) ||
		    (rc = get_layer_tensor(g, il, "ffn_down_exps.weight", KIND_MATRIX, 3, NE(ff, e, nx),
					   &l->exps[FLOE_EXP_DOWN], err)))
			return rc;
		if (w->arch->qk_norm &&
		    ((rc = get_layer_tensor(g, il, "attn_q_norm.weight", KIND_NORM, 1, NE(hp->head_dim_k),
					    &l->q_norm, err)) ||
		     (rc = get_layer_tensor(g, il, "attn_k_norm.weight", KIND_NORM, 1, NE(hp->head_dim_k),
					    &l->k_norm, err))))
			return rc;
	}
	return FLOE_OK;
}

/* ---- the family table ----------------------------------------------------- */

static const struct floe_arch arch_table[] = {
	{
		.name = "qwen3moe",
		.qk_norm = true,
		.rope = FLOE_ROPE_NEOX,
		.gating = FLOE_GATING_SOFTMAX,
		.norm_topk = true,
		.load_hparams = load_moe_hparams,
		.bind = bind_llama_moe,
	},
};

const struct floe_arch *floe_arch_find(const char *name)
{
	for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
		if (!strcmp(arch_table[i].name, name))
			return &arch_table[i];
	return NULL;
}

static void sum_bytes(struct floe_weights *w)
{
	uint64_t dense = w->tok_embd.size + w->output_norm.size + (w->tied_output ? 0 : w->output.size);
	uint64_t experts = 0;

	for (int il = 0; il < w->hp.n_layer; il++) {
		const struct floe_layer *l = &w->layers[il];
		dense += l->attn_norm.size + l->wq.size + l->wk.size + l->wv.size + l->wo.size +
			 l->q_norm.size + l->k_norm.size + l->ffn_norm.size + l->router.size;
		for (int p = 0; p < 3; p++)
			experts += l->exps[p].size;
	}
	w->dense_bytes = dense;
	w->expert_bytes = experts;
}

int floe_weights_load(const struct floe_gguf *g, struct floe_weights *w, struct floe_err *err)
{
	struct floe_gguf_str arch_name;
	const struct floe_arch *arch;
	int rc;

	memset(w, 0, sizeof(*w));
	rc = floe_gguf_get_str(g, "general.architecture", &arch_name, err);
	if (rc)
		return rc;
	arch = floe_arch_find(arch_name.s);
	if (!arch) {
		char names[256] = "";
		for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
				 arch_table[i].name);
		return floe_fail(err, FLOE_EUNSUPPORTED, "architecture '%s' is not supported (supported: %s)",
				 arch_name.s, names);
	}
	w->arch = arch;
	rc = arch->load_hparams(g, arch->name, &w->hp, err);
	if (rc)
		return rc;
	w->layers = calloc((size_t)w->hp.n_layer, sizeof(*w->layers));
	if (!w->layers)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for %d layers", w->hp.n_layer);
	rc = arch->bind(g, w, err);
	if (rc) {
		floe_weights_free(w);
		return rc;
	}
	sum_bytes(w);
	return FLOE_OK;
}

void floe_weights_free(struct floe_weights *w)
{
	free(w->layers);
	w->layers = NULL;
}

static void attach(struct floe_tensor *t, const void *map)
{
	if (t->name)
		t->data = (const char *)map + t->offset;
}

void floe_weights_attach(struct floe_weights *w, const void *map)
{
	attach(&w->tok_embd, map);
	attach(&w->output_norm, map);
	attach(&w->output, map);
	for (int il = 0; il < w->hp.n_layer; il++) {
		struct floe_layer *l = &w->layers[il];
		struct floe_tensor *dense[] = {&l->attn_norm, &l->wq,       &l->wk,     &l->wv,    &l->q_norm,
					       &l->k_norm,    &l->wo,       &l->ffn_norm, &l->router};
		for (size_t i = 0; i < sizeof(dense) / sizeof(dense[0]); i++)
			attach(dense[i], map);
	}
}

/* synth: write a deterministic random-weight qwen3moe GGUF of any shape.
 *
 * The file has the tensor names, shapes and metadata keys of the fixture
 * models (tests/fixtures/README.md): qwen3moe.* hparams, every tokenizer.*
 * key copied from a vocab GGUF (whose token count sets the vocab size),
 * general.architecture = qwen3moe, general.alignment = 32, general.file_type.
 * Norm weights and the router are F32; the other matrices use `wtype`, the
 * stacked expert tensors `expert_type` (or `wtype`).
 *
 * Weights are seeded pseudo-random approximate normals (an Irwin-Hall sum of
 * four 16-bit uniforms, variance 1), scaled like the fixtures:
 * token_embd std 1, other matrices std 1/sqrt(row length), router std
 * 4/sqrt(n_embd) so routing is decisive, norms 1 + 0.1*N(0,1).  Each row has
 * its own stream derived from (seed, tensor index, row), so the bytes do not
 * depend on the thread count: same params + seed = same file.
 *
 * Big quantized tensors (>= 4096 blocks) are not quantized row by row: the
 * reference quantizers search scales at hundreds of ns per weight, hours for
 * a 30B model.  Their rows are assembled from blocks drawn (by the row's
 * stream) from a pool of 2048 blocks quantized from fresh normals of the
 * tensor's std, one pool per (type, std).  Values then have exactly the
 * distribution of quantized normals and every row differs, at memcpy speed.
 *
 * Writing streams tensor by tensor in batches of rows generated and
 * quantized by a thread pool; memory stays at a few tens of MB whatever the
 * model size. */
#ifndef FLOE_MODEL_SYNTH_H
#define FLOE_MODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

#define FLOE_SYNTH_SAME_TYPE UINT32_MAX

struct floe_synth_params {
	const char *name;        /* general.name; NULL for a default */
	uint32_t n_layers;
	uint32_t n_embd;
	uint32_t n_head, n_head_kv, head_dim;
	uint32_t n_expert, n_expert_used, n_ff_exp;
	uint32_t n_ff;           /* qwen3moe.feed_forward_length (unused by qwen3moe) */
	uint32_t n_ctx_train;
	float rope_base, eps;
	const char *vocab_path;  /* vocab-only GGUF whose tokenizer.* keys are copied */
	uint32_t wtype;          /* ggml type of the big matrices */
	uint32_t expert_type;    /* type of ffn_*_exps, or FLOE_SYNTH_SAME_TYPE */
	uint64_t seed;
	int n_threads;           /* worker threads; <= 0 means one per online CPU */
	/* Called after each batch with bytes of tensor data written so far and
	 * the total; NULL for none.  Runs on the calling thread. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* Fill *p with a named preset: "qwen3-30b-a3b", "qwen3-235b-a22b" (full
 * vocab, q4_K), "demo" (about 1.8 GB at q4_K, reduced vocab), "tiny" (the
 * fixture shape, q8_0).  vocab_path points at the fixture vocab under
 * tests/fixtures/ (relative to the repository root); override as needed.
 * FLOE_EARG for an unknown name. */
int floe_synth_preset(const char *name, struct floe_synth_params *p);

/* Comma-separated preset names, for usage messages. */
const char *floe_synth_preset_names(void);

/* True if floe can generate weights of this ggml type. */
bool floe_synth_type_ok(uint32_t type);

/* Bytes of tensor data (without padding) of the model p would write with a
 * vocab of n_vocab tokens; 0 if the parameters are invalid. */
uint64_t floe_synth_data_bytes(const struct floe_synth_params *p, uint64_t n_vocab);

/* Write the model to out_path.  The file is removed on failure. */
int floe_synth_write(const struct floe_synth_params *p, const char *out_path, struct floe_err *err);

#endif

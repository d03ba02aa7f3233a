/* test_model: the architecture table, hyperparameters and tensor binding.
 *
 * Hyperparameters are checked against the GGUF keys they come from; binding
 * errors are provoked by rewriting a fixture with the GGUF writer (one tensor
 * reshaped, retyped or dropped) and checking the message names the tensor
 * with expected vs actual. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "floe.h"
#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "harness.h"
#include "model/model.h"
#include "quant/quant.h"

static const char *models[] = {"q8_0", "q4_0", "q4_k_m", "q2_k"};

static const char *fixture(const char *model, char *buf, size_t len)
{
	snprintf(buf, len, FIXTURE("tiny-qwen3moe-%s.gguf"), model);
	return buf;
}

static uint32_t key_u32(const struct floe_gguf *g, const char *key)
{
	uint32_t v = 0;
	struct floe_err err;

	floe_gguf_get_u32(g, key, &v, &err);
	return v;
}

static void test_arch_table(void)
{
	const struct floe_arch *a = floe_arch_find("qwen3moe");

	REQUIRE(a);
	CHECK(!strcmp(a->name, "qwen3moe") && a->qk_norm && a->rope == FLOE_ROPE_NEOX && a->norm_topk);
	CHECK(floe_arch_find("llama4xx") == NULL);
	CHECK(floe_arch_find("") == NULL);
}

static void test_hparams_and_bytes(void)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		char path[256];
		struct floe_gguf *g = NULL;
		struct floe_weights w;
		struct floe_err err;

		REQUIRE(floe_gguf_open(fixture(models[i], path, sizeof(path)), &g, &err) == FLOE_OK);
		REQUIRE(floe_weights_load(g, &w, &err) == FLOE_OK);
		const struct floe_hparams *hp = &w.hp;
		CHECK(hp->n_layer == (int)key_u32(g, "qwen3moe.block_count"));
		CHECK(hp->n_embd == (int)key_u32(g, "qwen3moe.embedding_length"));
		CHECK(hp->n_head == (int)key_u32(g, "qwen3moe.attention.head_count"));
		CHECK(hp->n_head_kv == (int)key_u32(g, "qwen3moe.attention.head_count_kv"));
		CHECK(hp->head_dim_k == (int)key_u32(g, "qwen3moe.attention.key_length"));
		CHECK(hp->head_dim_v == (int)key_u32(g, "qwen3moe.attention.value_length"));
		CHECK(hp->n_expert == (int)key_u32(g, "qwen3moe.expert_count"));
		CHECK(hp->n_expert_used == (int)key_u32(g, "qwen3moe.expert_used_count"));
		CHECK(hp->n_ff_exp == (int)key_u32(g, "qwen3moe.expert_feed_forward_length"));
		CHECK(hp->n_ctx_train == (int)key_u32(g, "qwen3moe.context_length"));
		float eps = 0, base = 0;
		floe_gguf_get_f32(g, "qwen3moe.attention.layer_norm_rms_epsilon", &eps, &err);
		floe_gguf_get_f32(g, "qwen3moe.rope.freq_base", &base, &err);
		CHECK(hp->rms_eps == eps && hp->rope_base == base);
		CHECK(hp->n_vocab == (int)floe_gguf_find_tensor(g, "token_embd.weight")->ne[1]);
		CHECK(!w.tied_output && w.output.offset != w.tok_embd.offset);
		/* every tensor of the file is bound exactly once */
		uint64_t all = 0;
		for (uint64_t t = 0; t < g->n_tensors; t++)
			all += g->tensors[t].size;
		CHECKF(w.dense_bytes + w.expert_bytes == all, "%s: %llu + %llu != %llu", models[i],
		       (unsigned long long)w.dense_bytes, (unsigned long long)w.expert_bytes,
		       (unsigned long long)all);
		CHECK(w.expert_bytes > w.dense_bytes);
		const struct floe_tensor *gate = &w.layers[0].exps[FLOE_EXP_GATE];
		CHECK(gate->ne[0] == hp->n_embd && gate->ne[1] == hp->n_ff_exp && gate->ne[2] == hp->n_expert);
		CHECK(gate->data == NULL);
		floe_weights_free(&w);
		floe_gguf_close(g);
	}
}

/* ---- rewritten fixtures ---------------------------------------------------- */

struct edit {
	const char *name;  /* tensor to change */
	bool drop;
	int64_t ne1;       /* new ne[1] if > 0 */
	int type;          /* new type if >= 0 */
};

/* Copy the q8_0 fixture to path with one tensor edited; the edited tensor's
 * data is zeros of its new size. */
static int rewrite(const char *path, const struct edit *e)
{
	char src[256];
	struct floe_gguf *g = NULL;
	struct floe_gguf_writer *w = NULL;
	struct floe_err err;
	size_t size = 0;
	uint8_t *file = harness_read_file(fixture("q8_0", src, sizeof(src)), &size);
	int rc;

	if (!file || floe_gguf_open(src, &g, &err)) {
		free(file);
		return -1;
	}
	rc = floe_gguf_writer_open(path, &w, &err);
	if (!rc)
		rc = floe_gguf_write_kv_copy(w, g, "", NULL);
	for (uint64_t t = 0; !rc && t < g->n_tensors; t++) {
		const struct floe_gguf_tensor *ti = &g->tensors[t];
		uint64_t ne[4] = {ti->ne[0], ti->ne[1], ti->ne[2], ti->ne[3]};
		uint32_t type = ti->type;
		if (!strcmp(ti->name.s, e->name)) {
			if (e->drop)
				continue;
			if (e->ne1 > 0)
				ne[1] = (uint64_t)e->ne1;
			if (e->type >= 0)
				type = (uint32_t)e->type;
		}
		rc = floe_gguf_write_tensor_info(w, ti->name.s, type, ti->n_dims, ne);
	}
	if (!rc)
		rc = floe_gguf_write_begin_data(w);
	for (uint64_t t = 0; !rc && t < g->n_tensors; t++) {
		const struct floe_gguf_tensor *ti = &g->tensors[t];
		if (!strcmp(ti->name.s, e->name)) {
			if (e->drop)
				continue;
			uint64_t rows = (e->ne1 > 0 ? (uint64_t)e->ne1 : ti->ne[1]) * ti->ne[2] * ti->ne[3];
			uint64_t n = floe_type_row_bytes(e->type >= 0 ? (uint32_t)e->type : ti->type, ti->ne[0]) * rows;
			void *zeros = calloc(1, n ? n : 1);
			rc = zeros ? floe_gguf_write_data(w, zeros, n) : -1;
			free(zeros);
		} else {
			rc = floe_gguf_write_data(w, file + ti->offset, ti->size);
		}
	}
	if (w)
		rc = rc ? (floe_gguf_writer_abort(w, false), rc) : floe_gguf_writer_close(w, &err);
	floe_gguf_close(g);
	free(file);
	return rc;
}

static int open_edited(const struct edit *e, char *err, size_t errlen, floe_model **m)
{
	char path[64];
	struct floe_params p = floe_params_default();
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/floe-model-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -100;
	close(fd);
	if (rewrite(path, e)) {
		unlink(path);
		return -101;
	}
	p.path = path;
	p.n_ctx = 64;
	p.n_threads = 1;
	p.log_level = 0;
	rc = floe_model_open(&p, m, err, errlen);
	unlink(path); /* the model keeps its own fd and mapping */
	return rc;
}

static void test_shape_mismatch(void)
{
	struct edit e = {.name = "blk.0.attn_k.weight", .ne1 = 64, .type = -1};
	char err[512];
	floe_model *m = NULL;

	int rc = open_edited(&e, err, sizeof(err), &m);
	CHECKF(rc == FLOE_EFORMAT && !m, "rc %d: %s", rc, err);
	CHECKF(strstr(err, "blk.0.attn_k.weight") && strstr(err, "expected shape [256, 128], got [256, 64]"),
	       "message: %s", err);
}

static void test_missing_tensor(void)
{
	struct edit e = {.name = "blk.1.ffn_norm.weight", .drop = true, .type = -1};
	char err[512];
	floe_model *m = NULL;

	int rc = open_edited(&e, err, sizeof(err), &m);
	CHECKF(rc == FLOE_EFORMAT && !m, "rc %d: %s", rc, err);
	CHECKF(strstr(err, "'blk.1.ffn_norm.weight' is missing") != NULL, "message: %s", err);
}

static void test_norm_type(void)
{
	struct edit e = {.name = "blk.2.attn_norm.weight", .type = FLOE_TYPE_F16};
	char err[512];
	floe_model *m = NULL;

	int rc = open_edited(&e, err, sizeof(err), &m);
	CHECKF(rc == FLOE_EUNSUPPORTED && !m, "rc %d: %s", rc, err);
	CHECKF(strstr(err, "blk.2.attn_norm.weight") && strstr(err, "expected type f32, got f16"), "message: %s",
	       err);
}

static void test_unsupported_expert_type(void)
{
	/* IQ2_XXS experts: a valid file floe cannot compute */
	struct edit e = {.name = "blk.3.ffn_up_exps.weight", .type = FLOE_TYPE_IQ2_XXS};
	char err[512];
	floe_model *m = NULL;

	int rc = open_edited(&e, err, sizeof(err), &m);
	CHECKF(rc == FLOE_EUNSUPPORTED && !m, "rc %d: %s", rc, err);
	CHECKF(strstr(err, "blk.3.ffn_up_exps.weight") && strstr(err, "iq2_xxs"), "message: %s", err);
}

/* Without output.weight the head is token_embd (tied), and a model built
 * so runs; its logits are token_embd . h, which we check on one row. */
static void test_tied_output(void)
{
	struct edit e = {.name = "output.weight", .drop = true, .type = -1};
	char err[512];
	floe_model *m = NULL;
	floe_session *s = NULL;

	int rc = open_edited(&e, err, sizeof(err), &m);
	REQUIRE(rc == FLOE_OK && m);
	struct floe_model_info info;
	floe_model_info(m, &info);
	CHECK(info.n_vocab > 0 && !strcmp(info.arch, "qwen3moe"));
	REQUIRE(floe_session_create(m, &s) == FLOE_OK);
	int32_t toks[3] = {785, 6722, 315};
	CHECK(floe_session_eval(s, toks, 3, false) == FLOE_OK);
	const float *l = floe_session_logits(s, -1);
	int finite = 1;
	for (int i = 0; l && i < info.n_vocab; i++)
		finite &= l[i] == l[i] && l[i] > -1e30f && l[i] < 1e30f;
	CHECK(l && finite);
	floe_session_free(s);
	floe_model_close(m);
}

int main(void)
{
	RUN(test_arch_table);
	RUN(test_hparams_and_bytes);
	RUN(test_shape_mismatch);
	RUN(test_missing_tensor);
	RUN(test_norm_type);
	RUN(test_unsupported_expert_type);
	RUN(test_tied_output);
	return harness_finish();
}

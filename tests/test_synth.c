/* Tests for src/model/synth: a tiny synthetic qwen3moe model reopens with the
 * reader with the right shapes, types and keys; its weights have the
 * intended scales; the same params and seed give the same bytes whatever
 * the thread count; bad parameters are refused. */
#include "harness.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "model/synth.h"
#include "quant/quant.h"

static void tmp_path(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "/tmp/floe-synth-%s-XXXXXX", tag);
	int fd = mkstemp(buf);
	if (fd >= 0)
		close(fd);
}

/* A 256-token vocab GGUF (the first tokens and all other tokenizer keys of
 * the reduced vocab), so the small models below stay small. */
static char small_vocab[64];

static void make_small_vocab(void)
{
	struct floe_err e = {0};
	struct floe_gguf *v;
	struct floe_gguf_writer *w;

	tmp_path(small_vocab, sizeof(small_vocab), "vocab");
	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-reduced8k.gguf"), &v, &e) == 0);
	REQUIRE(floe_gguf_writer_open(small_vocab, &w, &e) == 0);
	for (uint64_t i = 0; i < v->n_kv; i++) {
		struct floe_gguf_value val = v->kv[i].value;
		if (val.type == FLOE_GGUF_ARRAY && val.v.arr.n > 256)
			val.v.arr.n = 256;
		floe_gguf_write_kv_value(w, v->kv[i].key.s, &val);
	}
	REQUIRE(floe_gguf_writer_close(w, &e) == 0);
	floe_gguf_close(v);
}

/* A smaller-than-tiny shape for the byte-for-byte checks. */
static void small_params(struct floe_synth_params *p)
{
	REQUIRE(floe_synth_preset("tiny", p) == 0);
	p->vocab_path = small_vocab;
	p->n_layers = 2;
	p->n_expert = 8;
	p->n_expert_used = 2;
	p->wtype = FLOE_TYPE_Q4_K;
	p->expert_type = FLOE_TYPE_Q8_0;
	p->seed = 99;
}

/* Mean and standard deviation of the dequantized values of a tensor's
 * first rows. */
static void tensor_stats(const unsigned char *img, const struct floe_gguf_tensor *t, uint64_t rows,
			 double *mean, double *std)
{
	uint64_t rb = floe_type_row_bytes(t->type, t->ne[0]);
	float *row = malloc(t->ne[0] * sizeof(float));
	double s = 0, s2 = 0;
	uint64_t n = 0;

	if (rows > t->n_elems / t->ne[0])
		rows = t->n_elems / t->ne[0];
	for (uint64_t r = 0; r < rows; r++) {
		floe_dequant_row_ref(t->type, img + t->offset + r * rb, row, (int64_t)t->ne[0]);
		for (uint64_t i = 0; i < t->ne[0]; i++, n++) {
			s += row[i];
			s2 += (double)row[i] * row[i];
		}
	}
	free(row);
	*mean = s / (double)n;
	*std = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_tiny_model(void)
{
	struct floe_synth_params p;
	struct floe_err e = {0};
	struct floe_gguf *g, *vocab;
	char path[64];
	uint32_t u;
	float f;
	struct floe_gguf_str s;

	REQUIRE(floe_synth_preset("tiny", &p) == 0);
	p.vocab_path = FIXTURE("vocab-qwen3-reduced8k.gguf");
	p.n_threads = 2;
	tmp_path(path, sizeof(path), "tiny");
	REQUIRE(floe_synth_write(&p, path, &e) == 0);
	REQUIRE(floe_gguf_open(path, &g, &e) == 0);
	REQUIRE(floe_gguf_open(p.vocab_path, &vocab, &e) == 0);

	CHECK(g->n_tensors == 3 + 4 * 12 && g->alignment == 32);
	CHECK(g->file_size == g->data_offset + floe_synth_data_bytes(&p, 8192) + 0 ||
	      g->file_size > g->data_offset + floe_synth_data_bytes(&p, 8192));
	CHECK(floe_gguf_get_str(g, "general.architecture", &s, &e) == 0 &&
	      strcmp(s.s, "qwen3moe") == 0);
	CHECK(floe_gguf_get_u32(g, "general.alignment", &u, &e) == 0 && u == 32);
	CHECK(floe_gguf_get_u32(g, "general.file_type", &u, &e) == 0 && u == 7);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.block_count", &u, &e) == 0 && u == 4);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.embedding_length", &u, &e) == 0 && u == 256);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.head_count", &u, &e) == 0 && u == 8);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.head_count_kv", &u, &e) == 0 && u == 2);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.key_length", &u, &e) == 0 && u == 64);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.value_length", &u, &e) == 0 && u == 64);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_count", &u, &e) == 0 && u == 32);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_used_count", &u, &e) == 0 && u == 4);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_feed_forward_length", &u, &e) == 0 && u == 256);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.context_length", &u, &e) == 0 && u == 4096);
	CHECK(floe_gguf_get_f32(g, "qwen3moe.rope.freq_base", &f, &e) == 0 && f == 1e6f);
	CHECK(floe_gguf_get_f32(g, "qwen3moe.attention.layer_norm_rms_epsilon", &f, &e) == 0 &&
	      f == 1e-6f);
	/* Every tokenizer key of the vocab, same type and size. */
	int n_tok_keys = 0;
	for (uint64_t i = 0; i < vocab->n_kv; i++) {
		const struct floe_gguf_kv *a = &vocab->kv[i], *b;
		if (strncmp(a->key.s, "tokenizer.", 10) != 0)
			continue;
		n_tok_keys++;
		b = floe_gguf_find(g, a->key.s);
		CHECKF(b && b->value.type == a->value.type, "key %s", a->key.s);
		if (b && a->value.type == FLOE_GGUF_ARRAY)
			CHECK(b->value.v.arr.n == a->value.v.arr.n);
	}
	CHECK(n_tok_keys >= 8);

	/* Shapes and types, as in the fixture models. */
	static const struct {
		const char *name;
		uint32_t n_dims;
		uint64_t ne[3];
		bool f32;
	} want[] = {
		{"token_embd.weight", 2, {256, 8192, 1}, false},
		{"output.weight", 2, {256, 8192, 1}, false},
		{"output_norm.weight", 1, {256, 1, 1}, true},
		{"blk.3.attn_norm.weight", 1, {256, 1, 1}, true},
		{"blk.3.attn_q.weight", 2, {256, 512, 1}, false},
		{"blk.3.attn_k.weight", 2, {256, 128, 1}, false},
		{"blk.3.attn_v.weight", 2, {256, 128, 1}, false},
		{"blk.3.attn_q_norm.weight", 1, {64, 1, 1}, true},
		{"blk.3.attn_k_norm.weight", 1, {64, 1, 1}, true},
		{"blk.3.attn_output.weight", 2, {512, 256, 1}, false},
		{"blk.3.ffn_norm.weight", 1, {256, 1, 1}, true},
		{"blk.3.ffn_gate_inp.weight", 2, {256, 32, 1}, true},
		{"blk.0.ffn_gate_exps.weight", 3, {256, 256, 32}, false},
		{"blk.0.ffn_up_exps.weight", 3, {256, 256, 32}, false},
		{"blk.0.ffn_down_exps.weight", 3, {256, 256, 32}, false},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct floe_gguf_tensor *t = floe_gguf_find_tensor(g, want[i].name);
		CHECKF(t != NULL, "%s missing", want[i].name);
		if (!t)
			continue;
		CHECKF(t->n_dims == want[i].n_dims && t->ne[0] == want[i].ne[0] &&
			       t->ne[1] == want[i].ne[1] && t->ne[2] == want[i].ne[2],
		       "%s shape", want[i].name);
		CHECKF(t->type == (want[i].f32 ? FLOE_TYPE_F32 : FLOE_TYPE_Q8_0), "%s type %u",
		       want[i].name, t->type);
	}

	/* Weight scales. */
	size_t len;
	unsigned char *img = harness_read_file(path, &len);
	REQUIRE(img != NULL && len == g->file_size);
	double m, sd;
	tensor_stats(img, floe_gguf_find_tensor(g, "token_embd.weight"), 64, &m, &sd);
	CHECKF(fabs(m) < 0.02 && fabs(sd - 1.0) < 0.03, "token_embd mean %g std %g", m, sd);
	tensor_stats(img, floe_gguf_find_tensor(g, "blk.1.attn_q.weight"), 512, &m, &sd);
	CHECKF(fabs(sd - 1.0 / 16) < 0.002, "attn_q std %g", sd);
	tensor_stats(img, floe_gguf_find_tensor(g, "blk.1.attn_output.weight"), 256, &m, &sd);
	CHECKF(fabs(sd - 1.0 / sqrt(512)) < 0.002, "attn_output std %g", sd);
	tensor_stats(img, floe_gguf_find_tensor(g, "blk.2.ffn_gate_inp.weight"), 32, &m, &sd);
	CHECKF(fabs(sd - 0.25) < 0.01, "router std %g", sd);
	tensor_stats(img, floe_gguf_find_tensor(g, "blk.2.ffn_down_exps.weight"), 2048, &m, &sd);
	CHECKF(fabs(sd - 1.0 / 16) < 0.002, "ffn_down_exps std %g", sd);
	tensor_stats(img, floe_gguf_find_tensor(g, "blk.0.attn_norm.weight"), 1, &m, &sd);
	CHECKF(fabs(m - 1.0) < 0.02 && fabs(sd - 0.1) < 0.02, "norm mean %g std %g", m, sd);
	/* Different tensors and rows differ. */
	const struct floe_gguf_tensor *a = floe_gguf_find_tensor(g, "blk.0.attn_k.weight");
	const struct floe_gguf_tensor *b = floe_gguf_find_tensor(g, "blk.0.attn_v.weight");
	CHECK(memcmp(img + a->offset, img + b->offset, 272) != 0);
	CHECK(memcmp(img + a->offset, img + a->offset + 272, 272) != 0);
	/* Big tensors are assembled from a block pool: experts still differ. */
	const struct floe_gguf_tensor *x = floe_gguf_find_tensor(g, "blk.0.ffn_up_exps.weight");
	uint64_t expert_bytes = x->size / 32;
	for (int k = 1; k < 32; k++)
		CHECK(memcmp(img + x->offset, img + x->offset + k * expert_bytes, expert_bytes) != 0);
	CHECK(memcmp(img + x->offset, img + floe_gguf_find_tensor(g, "blk.0.ffn_gate_exps.weight")->offset,
		     expert_bytes) != 0);
	free(img);
	floe_gguf_close(vocab);
	floe_gguf_close(g);
	unlink(path);
}

static bool files_equal(const char *x, const char *y)
{
	size_t nx, ny;
	void *a = harness_read_file(x, &nx), *b = harness_read_file(y, &ny);
	bool eq = a && b && nx == ny && memcmp(a, b, nx) == 0;
	free(a);
	free(b);
	return eq;
}

static void test_deterministic(void)
{
	struct floe_synth_params p;
	struct floe_err e = {0};
	char p1[64], p2[64], p3[64];

	small_params(&p);
	tmp_path(p1, sizeof(p1), "det1");
	tmp_path(p2, sizeof(p2), "det2");
	tmp_path(p3, sizeof(p3), "det3");
	p.n_threads = 1;
	REQUIRE(floe_synth_write(&p, p1, &e) == 0);
	p.n_threads = 3;
	REQUIRE(floe_synth_write(&p, p2, &e) == 0);
	CHECK(files_equal(p1, p2));
	p.seed = 100;
	REQUIRE(floe_synth_write(&p, p3, &e) == 0);
	CHECK(!files_equal(p1, p3));

	/* Separate expert type, and the file type follows the experts. */
	struct floe_gguf *g;
	uint32_t u;
	REQUIRE(floe_gguf_open(p1, &g, &e) == 0);
	CHECK(floe_gguf_find_tensor(g, "blk.1.ffn_up_exps.weight")->type == FLOE_TYPE_Q8_0);
	CHECK(floe_gguf_find_tensor(g, "blk.1.ffn_up_exps.weight")->ne[2] == 8);
	CHECK(floe_gguf_find_tensor(g, "blk.1.attn_q.weight")->type == FLOE_TYPE_Q4_K);
	CHECK(floe_gguf_find_tensor(g, "output.weight")->type == FLOE_TYPE_Q4_K);
	CHECK(floe_gguf_find_tensor(g, "blk.1.ffn_gate_inp.weight")->type == FLOE_TYPE_F32);
	CHECK(floe_gguf_get_u32(g, "general.file_type", &u, &e) == 0 && u == 7);
	CHECK(g->n_tensors == 3 + 2 * 12);
	CHECK(g->file_size - g->data_offset >= floe_synth_data_bytes(&p, 256));
	CHECK(floe_gguf_find_tensor(g, "token_embd.weight")->ne[1] == 256);
	floe_gguf_close(g);
	unlink(p1);
	unlink(p2);
	unlink(p3);
}

/* Every generatable type writes a file the reader accepts. */
static void test_all_types(void)
{
	static const uint32_t types[] = {
		FLOE_TYPE_F32, FLOE_TYPE_F16, FLOE_TYPE_BF16, FLOE_TYPE_Q8_0, FLOE_TYPE_Q4_0,
		FLOE_TYPE_Q4_1, FLOE_TYPE_Q5_0, FLOE_TYPE_Q5_1, FLOE_TYPE_Q2_K, FLOE_TYPE_Q3_K,
		FLOE_TYPE_Q4_K, FLOE_TYPE_Q5_K, FLOE_TYPE_Q6_K, FLOE_TYPE_IQ4_NL, FLOE_TYPE_IQ4_XS,
		FLOE_TYPE_MXFP4,
	};
	struct floe_synth_params p;
	struct floe_err e = {0};
	char path[64];

	small_params(&p);
	p.n_layers = 1;
	p.n_expert = 2;
	p.n_expert_used = 1;
	tmp_path(path, sizeof(path), "types");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct floe_gguf *g;
		p.wtype = types[i];
		p.expert_type = FLOE_SYNTH_SAME_TYPE;
		CHECK(floe_synth_type_ok(types[i]));
		int rc = floe_synth_write(&p, path, &e);
		CHECKF(rc == 0, "%s: %s", floe_type_name(types[i]), e.msg);
		if (rc)
			continue;
		REQUIRE(floe_gguf_open(path, &g, &e) == 0);
		const struct floe_gguf_tensor *t = floe_gguf_find_tensor(g, "blk.0.ffn_down_exps.weight");
		CHECK(t && t->type == types[i]);
		/* Dequantized values stay near the intended std 1/16. */
		if (t) {
			size_t len;
			unsigned char *img = harness_read_file(path, &len);
			double m, sd;
			REQUIRE(img != NULL);
			tensor_stats(img, t, 256, &m, &sd);
			CHECKF(fabs(sd - 0.0625) < 0.012, "%s: std %g", floe_type_name(types[i]), sd);
			free(img);
		}
		floe_gguf_close(g);
	}
	unlink(path);
}

static void test_bad_params(void)
{
	struct floe_synth_params p;
	struct floe_err e = {0};
	char path[64];

	tmp_path(path, sizeof(path), "bad");
	unlink(path);
	small_params(&p);
	p.n_head = 7;
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EARG && strstr(e.msg, "n_head_kv"));
	small_params(&p);
	p.n_embd = 320; /* not a multiple of 256 for q4_K */
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EARG && strstr(e.msg, "n_embd = 320"));
	small_params(&p);
	p.expert_type = FLOE_TYPE_IQ2_XXS;
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EARG && strstr(e.msg, "iq2_xxs"));
	small_params(&p);
	p.n_expert_used = 9;
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EARG);
	small_params(&p);
	p.n_layers = 0;
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EARG);
	CHECK(floe_synth_data_bytes(&p, 8192) == 0);
	small_params(&p);
	p.vocab_path = "/nonexistent/vocab.gguf";
	CHECK(floe_synth_write(&p, path, &e) == FLOE_EIO && strstr(e.msg, "vocab"));
	small_params(&p);
	p.vocab_path = FIXTURE("tiny-qwen3moe-q4_0.gguf"); /* has tokens: fine as a vocab */
	p.n_layers = 1;
	CHECK(floe_synth_write(&p, "/nonexistent/dir/out.gguf", &e) == FLOE_EIO);
	CHECK(access(path, F_OK) != 0);
}

static void test_presets(void)
{
	struct floe_synth_params p;

	CHECK(floe_synth_preset("nope", &p) == FLOE_EARG);
	REQUIRE(floe_synth_preset("qwen3-30b-a3b", &p) == 0);
	CHECK(p.n_layers == 48 && p.n_embd == 2048 && p.n_expert == 128 && p.n_expert_used == 8 &&
	      p.n_ff_exp == 768 && p.n_head == 32 && p.n_head_kv == 4 && p.head_dim == 128 &&
	      p.wtype == FLOE_TYPE_Q4_K);
	/* About 17 GB at q4_K with the full vocab. */
	uint64_t b = floe_synth_data_bytes(&p, 151936);
	CHECKF(b > 15e9 && b < 19e9, "30b: %" PRIu64 " bytes", b);
	REQUIRE(floe_synth_preset("qwen3-235b-a22b", &p) == 0);
	CHECK(p.n_layers == 94 && p.n_embd == 4096 && p.n_head == 64 && p.n_ff_exp == 1536);
	b = floe_synth_data_bytes(&p, 151936);
	CHECKF(b > 120e9 && b < 140e9, "235b: %" PRIu64 " bytes", b);
	REQUIRE(floe_synth_preset("demo", &p) == 0);
	b = floe_synth_data_bytes(&p, 8192);
	CHECKF(b > 1e9 && b < 2e9, "demo: %" PRIu64 " bytes", b);
	REQUIRE(floe_synth_preset("tiny", &p) == 0);
	CHECK(p.n_layers == 4 && p.n_embd == 256 && p.n_expert == 32 && p.n_expert_used == 4);
	/* The tiny preset at q8_0 has the q8_0 fixture's tensor bytes. */
	struct floe_gguf *g;
	struct floe_err e = {0};
	uint64_t fixture_bytes = 0;
	REQUIRE(floe_gguf_open(FIXTURE("tiny-qwen3moe-q8_0.gguf"), &g, &e) == 0);
	for (uint64_t i = 0; i < g->n_tensors; i++)
		fixture_bytes += g->tensors[i].size;
	floe_gguf_close(g);
	b = floe_synth_data_bytes(&p, 8192);
	CHECKF(b == fixture_bytes, "tiny: %" PRIu64 " bytes, fixture %" PRIu64, b, fixture_bytes);
	CHECK(strstr(floe_synth_preset_names(), "demo") != NULL);
}

int main(void)
{
	make_small_vocab();
	RUN(test_presets);
	RUN(test_tiny_model);
	RUN(test_deterministic);
	RUN(test_all_types);
	RUN(test_bad_params);
	unlink(small_vocab);
	return harness_finish();
}

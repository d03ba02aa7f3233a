/* Tests for src/gguf: the fixtures parse with their known values; every
 * truncation, random byte flips and hand-built hostile headers fail cleanly
 * with the right status and a message naming the field. */
#include "harness.h"
#include "gguf_bytes.h"

#include <inttypes.h>
#include <stdint.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"

/* Parse b as a whole file (header + data up to file_size). */
static int parse_bb(const struct bb *b, uint64_t file_size, struct floe_err *e)
{
	struct floe_gguf *g = NULL;
	int rc = floe_gguf_parse(b->p, b->n, file_size ? file_size : b->n, &g, e);
	if (rc == FLOE_OK)
		CHECK(g != NULL);
	else
		CHECK(g == NULL && e->msg[0] != '\0');
	floe_gguf_close(g);
	return rc;
}

#define EXPECT_FAIL(b, fsize, status, needle)                                               \
	do {                                                                                \
		struct floe_err e_ = {0};                                                   \
		int rc_ = parse_bb((b), (fsize), &e_);                                      \
		CHECKF(rc_ == (status), "status %d, want %d (%s)", rc_, (status), e_.msg);  \
		CHECKF(strstr(e_.msg, (needle)) != NULL, "message '%s' lacks '%s'", e_.msg, \
		       (needle));                                                           \
	} while (0)

/* ------------------------------------------------------------------------
 * Fixtures. */

static const char *const fixtures[] = {
	FIXTURE("tiny-qwen3moe-q8_0.gguf"),   FIXTURE("tiny-qwen3moe-q4_0.gguf"),
	FIXTURE("tiny-qwen3moe-q4_k_m.gguf"), FIXTURE("tiny-qwen3moe-q2_k.gguf"),
	FIXTURE("vocab-qwen3-reduced8k.gguf"), FIXTURE("vocab-qwen3-full.gguf"),
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static void check_tiny_model(const struct floe_gguf *g, uint32_t file_type)
{
	struct floe_err e = {0};
	uint32_t u = 0;
	float f = 0;
	struct floe_gguf_str s;

	CHECK(g->version == 3);
	CHECK(g->n_tensors == 3 + 4 * 12);
	CHECK(g->alignment == 32);
	CHECK(g->data_offset % 32 == 0);
	CHECK(floe_gguf_get_str(g, "general.architecture", &s, &e) == 0 &&
	      strcmp(s.s, "qwen3moe") == 0);
	CHECK(floe_gguf_get_u32(g, "general.file_type", &u, &e) == 0 && u == file_type);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.block_count", &u, &e) == 0 && u == 4);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.embedding_length", &u, &e) == 0 && u == 256);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.head_count", &u, &e) == 0 && u == 8);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.head_count_kv", &u, &e) == 0 && u == 2);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.attention.key_length", &u, &e) == 0 && u == 64);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_count", &u, &e) == 0 && u == 32);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_used_count", &u, &e) == 0 && u == 4);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.expert_feed_forward_length", &u, &e) == 0 && u == 256);
	CHECK(floe_gguf_get_u32(g, "qwen3moe.context_length", &u, &e) == 0 && u == 4096);
	CHECK(floe_gguf_get_f32(g, "qwen3moe.rope.freq_base", &f, &e) == 0 && f == 1000000.0f);
	CHECK(floe_gguf_get_f32(g, "qwen3moe.attention.layer_norm_rms_epsilon", &f, &e) == 0 &&
	      f == 1e-6f);
	const void *d;
	uint64_t n;
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, &d, &n, &e) == 0 &&
	      n == 8192);
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_INT32, &d, &n, &e) ==
	      FLOE_EFORMAT);
	CHECK(floe_gguf_get_u32(g, "no.such.key", &u, &e) == FLOE_EFORMAT &&
	      strstr(e.msg, "no.such.key"));

	const struct floe_gguf_tensor *t = floe_gguf_find_tensor(g, "blk.0.ffn_gate_exps.weight");
	REQUIRE(t != NULL);
	CHECK(t->n_dims == 3 && t->ne[0] == 256 && t->ne[1] == 256 && t->ne[2] == 32 &&
	      t->ne[3] == 1);
	CHECK(t->n_elems == 256 * 256 * 32);
	CHECK(t->size == floe_type_row_bytes(t->type, 256) * 256 * 32);
	t = floe_gguf_find_tensor(g, "token_embd.weight");
	REQUIRE(t != NULL);
	CHECK(t->n_dims == 2 && t->ne[0] == 256 && t->ne[1] == 8192);
	t = floe_gguf_find_tensor(g, "blk.3.attn_q.weight");
	REQUIRE(t != NULL);
	CHECK(t->ne[0] == 256 && t->ne[1] == 512);
	t = floe_gguf_find_tensor(g, "blk.2.ffn_gate_inp.weight");
	REQUIRE(t != NULL);
	CHECK(t->type == FLOE_TYPE_F32 && t->ne[0] == 256 && t->ne[1] == 32);
	t = floe_gguf_find_tensor(g, "blk.1.attn_k_norm.weight");
	REQUIRE(t != NULL);
	CHECK(t->type == FLOE_TYPE_F32 && t->n_dims == 1 && t->ne[0] == 64);
	CHECK(floe_gguf_find_tensor(g, "blk.4.attn_q.weight") == NULL);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		CHECK(g->tensors[i].offset >= g->data_offset);
		CHECK(g->tensors[i].offset + g->tensors[i].size <= g->file_size);
	}
}

static void test_fixture_q4_k_m(void)
{
	struct floe_err e = {0};
	struct floe_gguf *g;

	REQUIRE(floe_gguf_open(FIXTURE("tiny-qwen3moe-q4_k_m.gguf"), &g, &e) == 0);
	check_tiny_model(g, 15);
	/* The q4_k_m type mix (fixtures README). */
	static const uint32_t v_types[4] = {FLOE_TYPE_Q4_K, FLOE_TYPE_Q4_K, FLOE_TYPE_Q6_K,
					    FLOE_TYPE_Q6_K};
	char name[64];
	CHECK(floe_gguf_find_tensor(g, "token_embd.weight")->type == FLOE_TYPE_Q4_K);
	CHECK(floe_gguf_find_tensor(g, "output.weight")->type == FLOE_TYPE_Q6_K);
	CHECK(floe_gguf_find_tensor(g, "output_norm.weight")->type == FLOE_TYPE_F32);
	for (int l = 0; l < 4; l++) {
		snprintf(name, sizeof(name), "blk.%d.attn_v.weight", l);
		CHECK(floe_gguf_find_tensor(g, name)->type == v_types[l]);
		snprintf(name, sizeof(name), "blk.%d.ffn_down_exps.weight", l);
		CHECK(floe_gguf_find_tensor(g, name)->type == v_types[l]);
		snprintf(name, sizeof(name), "blk.%d.ffn_up_exps.weight", l);
		CHECK(floe_gguf_find_tensor(g, name)->type == FLOE_TYPE_Q4_K);
		snprintf(name, sizeof(name), "blk.%d.attn_q.weight", l);
		CHECK(floe_gguf_find_tensor(g, name)->type == FLOE_TYPE_Q4_K);
	}
	/* llama-quantize puts output.weight first. */
	CHECK(strcmp(g->tensors[0].name.s, "output.weight") == 0);
	CHECK(g->tensors[0].offset == g->data_offset);
	floe_gguf_close(g);
}

static void test_fixture_others(void)
{
	static const struct {
		const char *path;
		uint32_t file_type, wtype;
	} m[] = {
		{FIXTURE("tiny-qwen3moe-q8_0.gguf"), 7, FLOE_TYPE_Q8_0},
		{FIXTURE("tiny-qwen3moe-q4_0.gguf"), 2, FLOE_TYPE_Q4_0},
		{FIXTURE("tiny-qwen3moe-q2_k.gguf"), 10, FLOE_TYPE_Q2_K},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct floe_err e = {0};
		struct floe_gguf *g;
		REQUIRE(floe_gguf_open(m[i].path, &g, &e) == 0);
		check_tiny_model(g, m[i].file_type);
		CHECK(floe_gguf_find_tensor(g, "blk.0.ffn_gate_exps.weight")->type == m[i].wtype);
		CHECK(floe_gguf_find_tensor(g, "token_embd.weight")->type == m[i].wtype);
		floe_gguf_close(g);
	}
}

static void test_fixture_vocabs(void)
{
	struct floe_err e = {0};
	struct floe_gguf *g;
	const void *d;
	uint64_t n;
	uint32_t u;
	struct floe_gguf_str s;
	bool b = true;

	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-full.gguf"), &g, &e) == 0);
	CHECK(g->n_tensors == 0);
	CHECK(floe_gguf_get_str(g, "general.architecture", &s, &e) == 0 && strcmp(s.s, "qwen2") == 0);
	CHECK(floe_gguf_get_str(g, "tokenizer.ggml.model", &s, &e) == 0 && strcmp(s.s, "gpt2") == 0);
	CHECK(floe_gguf_get_str(g, "tokenizer.ggml.pre", &s, &e) == 0 && strcmp(s.s, "qwen2") == 0);
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, &d, &n, &e) == 0);
	CHECK(n == 151936);
	if (n == 151936) {
		const struct floe_gguf_str *tok = d;
		CHECK(strcmp(tok[151643].s, "<|endoftext|>") == 0);
		CHECK(strcmp(tok[151645].s, "<|im_end|>") == 0);
		CHECK(strcmp(tok[0].s, "!") == 0);
	}
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.merges", FLOE_GGUF_STRING, &d, &n, &e) == 0 &&
	      n == 151387);
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.token_type", FLOE_GGUF_INT32, &d, &n, &e) == 0 &&
	      n == 151936);
	if (n == 151936) {
		const int32_t *tt = d;
		CHECK(tt[151643] == 3 && tt[151657] == 4 && tt[151900] == 5 && tt[100] == 1);
	}
	CHECK(floe_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, &e) == 0 && u == 151643);
	CHECK(floe_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, &e) == 0 && u == 151645);
	CHECK(floe_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &e) == 0 && !b);
	CHECK(floe_gguf_get_str(g, "tokenizer.chat_template", &s, &e) == 0 &&
	      strstr(s.s, "<|im_start|>") != NULL);
	floe_gguf_close(g);

	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-reduced8k.gguf"), &g, &e) == 0);
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, &d, &n, &e) == 0 &&
	      n == 8192);
	CHECK(floe_gguf_get_arr(g, "tokenizer.ggml.merges", FLOE_GGUF_STRING, &d, &n, &e) == 0 &&
	      n == 7927);
	CHECK(floe_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, &e) == 0 && u == 8185);
	floe_gguf_close(g);
}

/* floe_gguf_open and floe_gguf_parse on the whole image agree. */
static void test_open_matches_parse(void)
{
	for (size_t f = 0; f < N_FIXTURES; f++) {
		struct floe_err e = {0};
		struct floe_gguf *a, *b;
		size_t len;
		void *img = harness_read_file(fixtures[f], &len);
		REQUIRE(img != NULL);
		REQUIRE(floe_gguf_open(fixtures[f], &a, &e) == 0);
		CHECKF(floe_gguf_parse(img, len, len, &b, &e) == 0, "%s: %s", fixtures[f], e.msg);
		if (b) {
			CHECK(a->n_kv == b->n_kv && a->n_tensors == b->n_tensors);
			CHECK(a->data_offset == b->data_offset && a->file_size == b->file_size);
			for (uint64_t i = 0; i < a->n_tensors; i++)
				CHECK(a->tensors[i].offset == b->tensors[i].offset);
			/* Only the header is needed. */
			struct floe_gguf *c;
			CHECK(floe_gguf_parse(img, a->data_offset, len, &c, &e) == 0);
			floe_gguf_close(c);
		}
		floe_gguf_close(a);
		floe_gguf_close(b);
		free(img);
	}
}

/* ------------------------------------------------------------------------
 * Truncation and corruption of real headers. */

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static void expect_prefix_fails(const unsigned char *img, uint64_t cut, int *bad)
{
	struct floe_err e = {0};
	struct floe_gguf *g = NULL;
	int rc = floe_gguf_parse(img, cut, cut, &g, &e);
	if (rc != FLOE_EFORMAT || g != NULL || !e.msg[0]) {
		if ((*bad)++ < 5)
			fprintf(stderr, "  prefix %" PRIu64 ": rc %d msg '%s'\n", cut, rc, e.msg);
	}
	floe_gguf_close(g);
}

/* Each fixture cut at many lengths before its data start: every length in
 * the first 2 KiB, most in the tensor table, and some random ones.  An exhaustive sweep runs over a small synthetic header below. */
static void test_truncated_fixtures(void)
{
	uint64_t seed = 42;
	for (size_t f = 0; f < N_FIXTURES; f++) {
		struct floe_err e = {0};
		struct floe_gguf *g;
		size_t len;
		int bad = 0;
		unsigned char *img = harness_read_file(fixtures[f], &len);
		REQUIRE(img != NULL);
		REQUIRE(floe_gguf_parse(img, len, len, &g, &e) == 0);
		uint64_t end = g->n_tensors ? g->data_offset : len;
		bool g_has_tensors = g->n_tensors != 0;
		/* The header ends before data_offset (padding); cuts inside the
		 * padding still leave no room for the data. */
		floe_gguf_close(g);
		for (uint64_t cut = 0; cut < end && cut < 2048; cut++)
			expect_prefix_fails(img, cut, &bad);
		/* The tensor table of the models: every length of its last
		 * 256 bytes, every 7th before that. */
		for (uint64_t cut = end > 4096 ? end - 4096 : 0; g_has_tensors && cut < end; cut++)
			if (cut + 256 >= end || cut % 7 == 0)
				expect_prefix_fails(img, cut, &bad);
		int n_random = end > (1u << 20) ? 20 : 100;
		for (int i = 0; i < n_random; i++)
			expect_prefix_fails(img, lcg(&seed) % end, &bad);
		CHECKF(bad == 0, "%s: %d prefixes did not fail cleanly", fixtures[f], bad);
		free(img);
	}
}

/* The q4_k_m header with its tokenizer arrays cut to 16 entries (written
 * with the writer, header only): every prefix length fails cleanly, both as
 * a whole short file and as a short buffer of a file of the full size. */
static void test_truncated_exhaustive(void)
{
	struct floe_err e = {0};
	struct floe_gguf *src, *g;
	struct floe_gguf_writer *w;
	char path[] = "/tmp/floe-gguf-shrunk-XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(floe_gguf_open(FIXTURE("tiny-qwen3moe-q4_k_m.gguf"), &src, &e) == 0);
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	for (uint64_t i = 0; i < src->n_kv; i++) {
		struct floe_gguf_value v = src->kv[i].value;
		if (v.type == FLOE_GGUF_ARRAY && v.v.arr.n > 16)
			v.v.arr.n = 16;
		CHECK(floe_gguf_write_kv_value(w, src->kv[i].key.s, &v) == 0);
	}
	for (uint64_t i = 0; i < src->n_tensors; i++) {
		const struct floe_gguf_tensor *t = &src->tensors[i];
		CHECK(floe_gguf_write_tensor_info(w, t->name.s, t->type, t->n_dims, t->ne) == 0);
	}
	REQUIRE(floe_gguf_write_begin_data(w) == 0);
	uint64_t hdr = floe_gguf_writer_header_size(w);
	uint64_t full = hdr + floe_gguf_writer_data_size(w);
	floe_gguf_writer_abort(w, true);
	size_t len;
	unsigned char *img = harness_read_file(path, &len);
	unlink(path);
	REQUIRE(img != NULL && len == hdr);
	REQUIRE(floe_gguf_parse(img, len, full, &g, &e) == 0);
	CHECK(g->n_kv == src->n_kv && g->n_tensors == src->n_tensors && g->data_offset == hdr);
	CHECK(floe_gguf_find_tensor(g, "blk.3.ffn_down_exps.weight")->type == FLOE_TYPE_Q6_K);
	floe_gguf_close(g);
	int bad = 0;
	for (uint64_t cut = 0; cut < hdr; cut++) {
		expect_prefix_fails(img, cut, &bad);
		/* With the full file size, a buffer that ends in the padding
		 * after the tensor table holds the whole header. */
		g = NULL;
		int rc = floe_gguf_parse(img, cut, full, &g, &e);
		if (rc == FLOE_OK ? cut + 32 <= hdr : (rc != FLOE_EFORMAT || g))
			bad++;
		floe_gguf_close(g);
	}
	/* The whole header but a file one byte short of the data. */
	CHECK(floe_gguf_parse(img, len, full - 1, &g, &e) == FLOE_EFORMAT &&
	      strstr(e.msg, "outside"));
	CHECKF(bad == 0, "%d of %" PRIu64 " prefixes did not fail cleanly", bad, hdr);
	free(img);
	floe_gguf_close(src);
}

/* A 200 GB sparse file whose header is the tiny model's: opens at once,
 * reading only the header. */
static void test_huge_sparse_file(void)
{
	struct floe_err e = {0};
	struct floe_gguf *src, *g;
	struct floe_gguf_writer *w;
	char path[] = "/var/tmp/floe-gguf-huge-XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(floe_gguf_open(FIXTURE("tiny-qwen3moe-q2_k.gguf"), &src, &e) == 0);
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_kv_copy(w, src, "", NULL) == 0);
	for (uint64_t i = 0; i < src->n_tensors; i++) {
		const struct floe_gguf_tensor *t = &src->tensors[i];
		CHECK(floe_gguf_write_tensor_info(w, t->name.s, t->type, t->n_dims, t->ne) == 0);
	}
	/* One big tensor at the end: 200 GB of q4_0. */
	uint64_t ne[2] = {1ull << 20, 200ull * 1000 * 1000 * 1000 / 18 * 32 >> 20};
	CHECK(floe_gguf_write_tensor_info(w, "huge.weight", FLOE_TYPE_Q4_0, 2, ne) == 0);
	REQUIRE(floe_gguf_write_begin_data(w) == 0);
	uint64_t full = floe_gguf_writer_header_size(w) + floe_gguf_writer_data_size(w);
	floe_gguf_writer_abort(w, true);
	floe_gguf_close(src);
	if (truncate(path, (off_t)full) != 0) {
		fprintf(stderr, "  (skipped: cannot make a %" PRIu64 " byte sparse file)\n", full);
		unlink(path);
		return;
	}
	REQUIRE(floe_gguf_open(path, &g, &e) == 0);
	CHECK(g->file_size == full && full > 199e9);
	const struct floe_gguf_tensor *t = floe_gguf_find_tensor(g, "huge.weight");
	CHECK(t && t->offset + t->size == full);
	CHECK(floe_gguf_find_tensor(g, "blk.0.ffn_down_exps.weight") != NULL);
	floe_gguf_close(g);
	/* One byte short: the big tensor is out of range. */
	CHECK(truncate(path, (off_t)full - 1) == 0);
	CHECK(floe_gguf_open(path, &g, &e) == FLOE_EFORMAT && strstr(e.msg, "'huge.weight'"));
	unlink(path);
}

/* A few truncations through real files (the pread path). */
static void test_truncated_files(void)
{
	size_t len;
	unsigned char *img = harness_read_file(FIXTURE("tiny-qwen3moe-q4_0.gguf"), &len);
	REQUIRE(img != NULL);
	struct floe_err e = {0};
	struct floe_gguf *g;
	REQUIRE(floe_gguf_parse(img, len, len, &g, &e) == 0);
	uint64_t cuts[] = {0, 3, 4, 7, 23, 24, 100, 200000, g->data_offset - 1, g->data_offset,
			   g->data_offset + 1, len - 1};
	floe_gguf_close(g);
	char path[] = "/tmp/floe-gguf-trunc-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		FILE *fp = fopen(path, "wb");
		REQUIRE(fp != NULL);
		CHECK(fwrite(img, 1, cuts[i], fp) == cuts[i]);
		fclose(fp);
		g = NULL;
		int rc = floe_gguf_open(path, &g, &e);
		CHECKF(rc == FLOE_EFORMAT && g == NULL, "cut %" PRIu64 ": rc %d", cuts[i], rc);
		CHECKF(strstr(e.msg, path) != NULL, "message '%s' lacks the path", e.msg);
		floe_gguf_close(g);
	}
	CHECK(floe_gguf_open("/nonexistent/x.gguf", &g, &e) == FLOE_EIO && g == NULL);
	unlink(path);
	free(img);
}

/* Random byte flips in the header region: OK or a clean error, never a
 * crash (the ASan run checks the "never"). */
static void test_random_flips(void)
{
	uint64_t seed = 7;
	const char *paths[] = {FIXTURE("tiny-qwen3moe-q4_k_m.gguf"), FIXTURE("tiny-qwen3moe-q2_k.gguf")};
	int n_ok = 0, n_err = 0;
	for (size_t f = 0; f < 2; f++) {
		size_t len;
		unsigned char *img = harness_read_file(paths[f], &len);
		REQUIRE(img != NULL);
		struct floe_err e = {0};
		struct floe_gguf *g;
		REQUIRE(floe_gguf_parse(img, len, len, &g, &e) == 0);
		uint64_t hdr = g->data_offset;
		/* Tokens start after the small KVs; aim half the flips at the
		 * first 1 KiB and the tensor table, where the structure is. */
		floe_gguf_close(g);
		unsigned char *copy = malloc(hdr);
		REQUIRE(copy != NULL);
		for (int it = 0; it < 1500; it++) {
			memcpy(copy, img, hdr);
			int nflip = 1 + (int)(lcg(&seed) % 4);
			for (int k = 0; k < nflip; k++) {
				uint64_t r = lcg(&seed), pos;
				switch (r % 3) {
				case 0: pos = lcg(&seed) % 1024; break;
				case 1: pos = hdr - 1 - lcg(&seed) % 3072; break;
				default: pos = lcg(&seed) % hdr; break;
				}
				copy[pos] ^= (unsigned char)(1u << (lcg(&seed) % 8));
				if (lcg(&seed) % 4 == 0)
					copy[pos] = (unsigned char)lcg(&seed);
			}
			g = NULL;
			e.msg[0] = 0;
			int rc = floe_gguf_parse(copy, hdr, len, &g, &e);
			if (rc == 0) {
				n_ok++;
				CHECK(g != NULL);
			} else {
				n_err++;
				CHECK(g == NULL && e.msg[0] != 0);
				CHECK(rc == FLOE_EFORMAT || rc == FLOE_EUNSUPPORTED);
			}
			floe_gguf_close(g);
		}
		free(copy);
		free(img);
	}
	CHECK(n_err > 100);
	fprintf(stderr, "  flips: %d parsed, %d rejected\n", n_ok, n_err);
}

/* ------------------------------------------------------------------------
 * Hand-built headers. */

/* A valid two-tensor file: checks the builder itself. */
static void build_valid(struct bb *b)
{
	uint64_t ne_a[2] = {32, 4}, ne_b[1] = {64};
	bb_preamble(b, 3, 2, 1);
	bb_kv_u32(b, "general.alignment", 64);
	bb_tensor(b, "a", 2, ne_a, FLOE_TYPE_Q8_0, 0);   /* 4 rows * 34 = 136 bytes */
	bb_tensor(b, "b", 1, ne_b, FLOE_TYPE_F32, 192);  /* 256 bytes */
	bb_pad(b, 64);
	bb_zeros(b, 192 + 256);
}

static void test_hand_valid(void)
{
	struct bb b = {0};
	struct floe_err e = {0};
	struct floe_gguf *g;
	build_valid(&b);
	REQUIRE(floe_gguf_parse(b.p, b.n, b.n, &g, &e) == 0);
	CHECK(g->alignment == 64 && g->data_offset % 64 == 0);
	CHECK(g->tensors[0].size == 136 && g->tensors[1].size == 256);
	CHECK(g->tensors[1].offset == g->data_offset + 192);
	floe_gguf_close(g);
	/* One byte short of the data: the last tensor is out of range. */
	struct bb short1 = {.p = b.p, .n = b.n - 1};
	EXPECT_FAIL(&short1, 0, FLOE_EFORMAT, "tensor 1 'b': data");
	/* v2 reads the same. */
	b.p[4] = 2;
	CHECK(parse_bb(&b, 0, &e) == FLOE_OK);
	free(b.p);
}

static void test_hostile_preamble(void)
{
	struct bb b = {0};

	bb_preamble(&b, 1, 0, 0);
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "v1");
	b.n = 0;
	bb_preamble(&b, 4, 0, 0);
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "version 4");
	b.n = 0;
	bb_preamble(&b, 0x03000000u, 0, 0); /* version 3 written big-endian */
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "big-endian");
	b.n = 0;
	bb_raw(&b, "FUGG", 4);
	bb_u32(&b, 0x03000000u);
	bb_zeros(&b, 16);
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "big-endian");
	b.n = 0;
	bb_raw(&b, "GGML", 4);
	bb_zeros(&b, 20);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "magic");
	b.n = 0;
	bb_preamble(&b, 3, 0, UINT64_MAX);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv count");
	b.n = 0;
	bb_preamble(&b, 3, 1ull << 40, 0);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "tensor count");
	/* Claiming a huge file does not let a count through: the header must
	 * be in the buffer. */
	EXPECT_FAIL(&b, 1ull << 50, FLOE_EFORMAT, "tensor count");
	free(b.p);
}

static void test_hostile_kvs(void)
{
	struct bb b = {0};

	/* Huge string length in a key. */
	bb_preamble(&b, 3, 0, 1);
	bb_u64(&b, UINT64_MAX);
	bb_zeros(&b, 16);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 0: key length");
	/* Huge string value. */
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "general.name");
	bb_u32(&b, FLOE_GGUF_STRING);
	bb_u64(&b, 1ull << 62);
	bb_zeros(&b, 16);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 0 'general.name': string value length");
	/* Huge array. */
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "tokenizer.ggml.tokens");
	bb_u32(&b, FLOE_GGUF_ARRAY);
	bb_u32(&b, FLOE_GGUF_STRING);
	bb_u64(&b, 4294967295u);
	bb_zeros(&b, 64);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 0 'tokenizer.ggml.tokens': array length 4294967295 exceeds remaining");
	/* Array of u64 whose data is cut short. */
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "x.arr");
	bb_u32(&b, FLOE_GGUF_ARRAY);
	bb_u32(&b, FLOE_GGUF_UINT64);
	bb_u64(&b, 3);
	bb_zeros(&b, 20);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "array length 3 exceeds remaining 20");
	/* Unknown value type and array element type. */
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "x.t");
	bb_u32(&b, 13);
	bb_zeros(&b, 8);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 0 'x.t': value type 13");
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "x.t");
	bb_u32(&b, FLOE_GGUF_ARRAY);
	bb_u32(&b, 99);
	bb_u64(&b, 0);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "array element type 99");
	/* Nested arrays: depth 3 fine, depth 40 rejected. */
	for (int depth = 3; depth <= 40; depth += 37) {
		b.n = 0;
		bb_preamble(&b, 3, 0, 1);
		bb_str(&b, "x.nest");
		bb_u32(&b, FLOE_GGUF_ARRAY);
		for (int d = 0; d < depth - 1; d++) {
			bb_u32(&b, FLOE_GGUF_ARRAY);
			bb_u64(&b, 1);
		}
		bb_u32(&b, FLOE_GGUF_UINT8);
		bb_u64(&b, 1);
		bb_raw(&b, "\x05", 1);
		if (depth == 3) {
			struct floe_err e = {0};
			struct floe_gguf *g;
			REQUIRE(floe_gguf_parse(b.p, b.n, b.n, &g, &e) == 0);
			const struct floe_gguf_value *v = &floe_gguf_find(g, "x.nest")->value;
			CHECK(v->type == FLOE_GGUF_ARRAY && v->v.arr.arr_type == FLOE_GGUF_ARRAY);
			v = v->v.arr.data;
			CHECK(v->type == FLOE_GGUF_ARRAY && v->v.arr.arr_type == FLOE_GGUF_ARRAY);
			v = v->v.arr.data;
			CHECK(v->v.arr.arr_type == FLOE_GGUF_UINT8 && v->v.arr.n == 1 &&
			      ((const uint8_t *)v->v.arr.data)[0] == 5);
			floe_gguf_close(g);
		} else {
			EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 0 'x.nest': array nesting deeper");
		}
	}
	/* Duplicate key. */
	b.n = 0;
	bb_preamble(&b, 3, 0, 2);
	bb_kv_u32(&b, "a.b", 1);
	bb_kv_u32(&b, "a.b", 2);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "kv 1 'a.b': duplicate key");
	/* Bad alignments. */
	static const uint32_t bad_align[] = {0, 3, 48, 1u << 31};
	for (size_t i = 0; i < 4; i++) {
		b.n = 0;
		bb_preamble(&b, 3, 0, 1);
		bb_kv_u32(&b, "general.alignment", bad_align[i]);
		EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "'general.alignment': alignment");
	}
	b.n = 0;
	bb_preamble(&b, 3, 0, 1);
	bb_str(&b, "general.alignment");
	bb_u32(&b, FLOE_GGUF_STRING);
	bb_str(&b, "32");
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "alignment has type string");
	free(b.p);
}

/* One tensor `t` with the given shape/type/offset after an empty KV list. */
static void build_one_tensor(struct bb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type,
			     uint64_t offset, size_t data_bytes)
{
	b->n = 0;
	bb_preamble(b, 3, 1, 0);
	bb_tensor(b, "blk.0.attn_q.weight", n_dims, ne, type, offset);
	bb_pad(b, 32);
	bb_zeros(b, data_bytes);
}

static void test_hostile_tensors(void)
{
	struct bb b = {0};
	uint64_t ne[5] = {32, 4, 1, 1, 1};

	build_one_tensor(&b, 2, ne, FLOE_TYPE_F32, 0, 512);
	CHECK(parse_bb(&b, 0, &(struct floe_err){0}) == FLOE_OK);
	build_one_tensor(&b, 0, ne, FLOE_TYPE_F32, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "tensor 0 'blk.0.attn_q.weight': n_dims 0");
	build_one_tensor(&b, 5, ne, FLOE_TYPE_F32, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "n_dims 5");
	uint64_t zero[2] = {32, 0};
	build_one_tensor(&b, 2, zero, FLOE_TYPE_F32, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "tensor 0 'blk.0.attn_q.weight': dim 1 is 0");
	uint64_t big[3] = {1ull << 32, 1ull << 31, 4};
	build_one_tensor(&b, 3, big, FLOE_TYPE_F32, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "dim 1");
	uint64_t bigbytes[2] = {1ull << 60, 4}; /* elements fit, bytes do not */
	build_one_tensor(&b, 2, bigbytes, FLOE_TYPE_F32, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "overflow");
	build_one_tensor(&b, 2, ne, 4 /* removed Q4_2 */, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "type 4");
	build_one_tensor(&b, 2, ne, 1000, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EUNSUPPORTED, "not a known ggml type");
	/* Known but unsupported types are accepted by the reader. */
	uint64_t ne256[2] = {256, 2};
	build_one_tensor(&b, 2, ne256, FLOE_TYPE_IQ2_XXS, 0, 512);
	CHECK(parse_bb(&b, 0, &(struct floe_err){0}) == FLOE_OK);
	uint64_t ne33[2] = {33, 2};
	build_one_tensor(&b, 2, ne33, FLOE_TYPE_Q4_0, 0, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "ne[0] = 33 is not a multiple");
	build_one_tensor(&b, 2, ne, FLOE_TYPE_F32, 16, 1024);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "offset 16 is not a multiple of the alignment 32");
	build_one_tensor(&b, 2, ne, FLOE_TYPE_F32, 64, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "outside");
	build_one_tensor(&b, 2, ne, FLOE_TYPE_F32, UINT64_MAX - 31, 512);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "outside");
	/* Overlap and duplicate name. */
	b.n = 0;
	bb_preamble(&b, 3, 2, 0);
	bb_tensor(&b, "a", 2, ne, FLOE_TYPE_F32, 0);
	bb_tensor(&b, "b", 2, ne, FLOE_TYPE_F32, 480);
	bb_pad(&b, 32);
	bb_zeros(&b, 2048);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "overlaps tensor 0 'a'");
	b.n = 0;
	bb_preamble(&b, 3, 2, 0);
	bb_tensor(&b, "a", 2, ne, FLOE_TYPE_F32, 0);
	bb_tensor(&b, "a", 2, ne, FLOE_TYPE_F32, 512);
	bb_pad(&b, 32);
	bb_zeros(&b, 2048);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "tensor 1 'a': duplicate tensor name");
	/* Header ends, no room for the data section. */
	build_one_tensor(&b, 2, ne, FLOE_TYPE_F32, 0, 0);
	EXPECT_FAIL(&b, 0, FLOE_EFORMAT, "outside");
	free(b.p);
}

int main(void)
{
	RUN(test_fixture_q4_k_m);
	RUN(test_fixture_others);
	RUN(test_fixture_vocabs);
	RUN(test_open_matches_parse);
	RUN(test_truncated_fixtures);
	RUN(test_truncated_exhaustive);
	RUN(test_truncated_files);
	RUN(test_huge_sparse_file);
	RUN(test_random_flips);
	RUN(test_hand_valid);
	RUN(test_hostile_preamble);
	RUN(test_hostile_kvs);
	RUN(test_hostile_tensors);
	return harness_finish();
}

/* Tests for src/tokenizer: every line of tokenizer_goldens.jsonl (llama.cpp's
 * ids) on both Qwen3 vocabs with parse_special off and on; byte round trips;
 * invalid UTF-8; the streaming detokenizer fed text split mid-character; the
 * special ids; and hand-built vocabs that must be refused cleanly. */
#include "harness.h"
#include "gguf_bytes.h"

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#define GOLDENS FIXTURE("tokenizer_goldens.jsonl")

struct golden {
	char *name;
	char *text;
	size_t len;
	int32_t *ids[4]; /* reduced, reduced_special, full, full_special */
	size_t n[4];
};

static struct golden goldens[64];
static size_t n_goldens;
static struct floe_tokenizer *tok_reduced, *tok_full;

static const char *const golden_keys[4] = {"reduced", "reduced_special", "full", "full_special"};

static int read_goldens(void)
{
	FILE *f = fopen(GOLDENS, "r");
	char line[16384];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n_goldens < 64) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		struct golden *g = &goldens[n_goldens];
		json_t *t;

		if (!o)
			break;
		t = json_object_get(o, "text");
		g->name = strdup(json_string_value(json_object_get(o, "name")));
		g->len = json_string_length(t);
		g->text = malloc(g->len + 1);
		memcpy(g->text, json_string_value(t), g->len + 1);
		for (int k = 0; k < 4; k++) {
			json_t *a = json_object_get(o, golden_keys[k]);
			g->n[k] = json_array_size(a);
			g->ids[k] = malloc((g->n[k] + 1) * sizeof(int32_t));
			for (size_t i = 0; i < g->n[k]; i++)
				g->ids[k][i] = (int32_t)json_integer_value(json_array_get(a, i));
		}
		json_decref(o);
		n_goldens++;
	}
	fclose(f);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct floe_tokenizer *load_vocab(const char *path, double *secs)
{
	struct floe_err err = {0};
	struct floe_gguf *g;
	struct floe_tokenizer *tok = NULL;
	double t0 = now_s();

	if (floe_gguf_open(path, &g, &err)) {
		fprintf(stderr, "  %s: %s\n", path, err.msg);
		return NULL;
	}
	if (floe_tokenizer_load(g, &tok, &err))
		fprintf(stderr, "  %s: %s\n", path, err.msg);
	floe_gguf_close(g);
	if (secs)
		*secs = now_s() - t0;
	return tok;
}

/* ------------------------------------------------------------------------ */

static void check_goldens(struct floe_tokenizer *tok, int which)
{
	for (size_t i = 0; i < n_goldens; i++) {
		for (int sp = 0; sp < 2; sp++) {
			struct golden *g = &goldens[i];
			struct floe_err err = {0};
			int32_t *ids;
			size_t n;
			int k = which * 2 + sp;
			int st = floe_tokenizer_encode_alloc(tok, g->text, g->len, sp, &ids, &n, &err);

			CHECKF(st == FLOE_OK, "%s: %s", g->name, err.msg);
			bool same =
			    st == FLOE_OK && n == g->n[k] && (n == 0 || !memcmp(ids, g->ids[k], n * 4));
			CHECKF(same, "%s (%s): %zu ids, golden %zu", g->name, golden_keys[k], n, g->n[k]);
			if (!same && st == FLOE_OK) {
				for (size_t j = 0; j < n && j < 40; j++)
					fprintf(stderr, " %d", ids[j]);
				fprintf(stderr, "\n  golden:");
				for (size_t j = 0; j < g->n[k] && j < 40; j++)
					fprintf(stderr, " %d", g->ids[k][j]);
				fprintf(stderr, "\n");
			}
			free(ids);
		}
	}
}

static void test_goldens_reduced(void)
{
	REQUIRE(tok_reduced && n_goldens == 51);
	check_goldens(tok_reduced, 0);
}

static void test_goldens_full(void)
{
	REQUIRE(tok_full && n_goldens == 51);
	check_goldens(tok_full, 1);
}

/* Concatenated token bytes give back the input, for any input. */
static bool round_trips(struct floe_tokenizer *tok, const char *text, size_t len, bool sp)
{
	struct floe_err err = {0};
	int32_t *ids;
	size_t n, at = 0;
	bool ok = true;

	if (floe_tokenizer_encode_alloc(tok, text, len, sp, &ids, &n, &err))
		return false;
	for (size_t i = 0; i < n && ok; i++) {
		size_t k;
		const char *b = floe_tokenizer_token_bytes(tok, ids[i], &k);
		ok = b && at + k <= len && memcmp(text + at, b, k) == 0;
		at += k;
	}
	free(ids);
	return ok && at == len;
}

static void test_round_trip(void)
{
	struct floe_tokenizer *toks[2] = {tok_reduced, tok_full};

	REQUIRE(tok_reduced && tok_full);
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < n_goldens; i++)
			for (int sp = 0; sp < 2; sp++)
				CHECKF(round_trips(toks[t], goldens[i].text, goldens[i].len, sp),
				       "%s vocab %d sp %d", goldens[i].name, t, sp);
}

/* Invalid UTF-8 (stray continuation bytes, overlongs, surrogates, a
 * truncated sequence at the end, NUL) and random bytes: no crash, exact
 * round trip. */
static void test_invalid_utf8(void)
{
	static const char *const cases[] = {
	    "\x80",
	    "abc\377def",
	    "\xc0\xaf overlong",
	    "\xed\xa0\x80 surrogate",
	    "tail \xe4\xbd",
	    "\xf4\x90\x80\x80 > U+10FFFF",
	    "mix \xe4\xbd\xa0\xe5 \xa5\xbd<|im_end|>\xff",
	};
	uint64_t x = 0x12345678;
	char buf[257];

	REQUIRE(tok_reduced && tok_full);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int sp = 0; sp < 2; sp++) {
			CHECKF(round_trips(tok_reduced, cases[i], strlen(cases[i]), sp), "case %zu", i);
			CHECKF(round_trips(tok_full, cases[i], strlen(cases[i]), sp), "case %zu", i);
		}
	CHECK(round_trips(tok_full, "a\0b", 3, false));
	for (int r = 0; r < 200; r++) {
		size_t len = (size_t)(r % 64) + 1;
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* bias toward the UTF-8 lead/continuation ranges */
			buf[j] = (char)(r & 1 ? (x >> 24) : 0x80 | ((x >> 24) & 0x7f));
		}
		CHECKF(round_trips(tok_full, buf, len, r & 2), "random case %d", r);
		CHECKF(round_trips(tok_reduced, buf, len, r & 2), "random case %d", r);
	}
}

static void test_encode_cap(void)
{
	struct floe_err err = {0};
	int32_t ids[4] = {-7, -7, -7, -7};
	size_t n;

	REQUIRE(tok_full);
	CHECK(floe_tokenizer_encode(tok_full, "Hello world", 11, false, ids, 4, &n, &err) == FLOE_OK);
	CHECK(n == 2 && ids[0] == 9707 && ids[1] == 1879 && ids[2] == -7);
	CHECK(floe_tokenizer_encode(tok_full, "Hello world", 11, false, ids, 1, &n, &err) == FLOE_EARG);
	CHECK(n == 2 && ids[0] == 9707 && ids[1] == 1879);
	CHECK(floe_tokenizer_encode(tok_full, "", 0, false, ids, 0, &n, &err) == FLOE_OK && n == 0);
	/* sizing call: no buffer at all */
	CHECK(floe_tokenizer_encode(tok_full, "Hello world", 11, false, NULL, 0, &n, &err) == FLOE_EARG &&
	      n == 2);
}

static void test_special_ids(void)
{
	REQUIRE(tok_reduced && tok_full);
	CHECK(floe_tokenizer_n_vocab(tok_reduced) == 8192);
	CHECK(floe_tokenizer_n_vocab(tok_full) == 151936);
	CHECK(floe_tokenizer_bos(tok_reduced) == 8183 && floe_tokenizer_eos(tok_reduced) == 8185);
	CHECK(floe_tokenizer_pad(tok_reduced) == 8183 && floe_tokenizer_eot(tok_reduced) == 8185);
	CHECK(floe_tokenizer_bos(tok_full) == 151643 && floe_tokenizer_eos(tok_full) == 151645);
	CHECK(floe_tokenizer_eot(tok_full) == 151645);
	CHECK(!floe_tokenizer_add_bos(tok_full));
	/* llama.cpp's EOG set for Qwen: endoftext, im_end, fim_pad, repo_name, file_sep */
	for (int32_t id = 151600; id < 151700; id++) {
		bool want = id == 151643 || id == 151645 || id == 151662 || id == 151663 || id == 151664;
		CHECKF(floe_tokenizer_is_eog(tok_full, id) == want, "id %d", id);
	}
	CHECK(floe_tokenizer_is_eog(tok_reduced, 8183) && floe_tokenizer_is_eog(tok_reduced, 8185));
	CHECK(!floe_tokenizer_is_eog(tok_reduced, 8184) && !floe_tokenizer_is_eog(tok_reduced, 8190));
	CHECK(floe_tokenizer_find(tok_reduced, "<|im_start|>", 12) == 8184);
	CHECK(floe_tokenizer_find(tok_full, "<think>", 7) == 151667);
	CHECK(floe_tokenizer_find(tok_full, " world", 6) == 1879);
	CHECK(floe_tokenizer_token_type(tok_full, 151644) == FLOE_TOKEN_CONTROL);
	CHECK(floe_tokenizer_token_type(tok_full, 151667) == FLOE_TOKEN_USER_DEFINED);
	CHECK(floe_tokenizer_token_type(tok_full, 151900) == FLOE_TOKEN_UNUSED);

	size_t k;
	const char *b = floe_tokenizer_token_bytes(tok_full, 198, &k); /* "Ċ" = "\n" */
	CHECK(b && k == 1 && b[0] == '\n');
	CHECK(floe_tokenizer_token_bytes(tok_full, 151936, &k) == NULL && k == 0);
	CHECK(floe_tokenizer_token_bytes(tok_full, -1, &k) == NULL);
}

/* Whole-sequence decode gives the text back (specials included), drops
 * CONTROL tokens without special, and sizes like snprintf. */
static void test_decode(void)
{
	static char out[4096];
	struct floe_err err = {0};
	size_t len;

	REQUIRE(tok_full);
	for (size_t i = 0; i < n_goldens; i++) {
		struct golden *g = &goldens[i];
		int st =
		    floe_tokenizer_decode(tok_full, g->ids[3], g->n[3], true, out, sizeof(out), &len, &err);
		CHECKF(st == FLOE_OK && len == g->len && memcmp(out, g->text, len) == 0 && out[len] == 0,
		       "%s", g->name);
	}
	/* <|im_start|>user\nhi<|im_end|>\n without the control tokens */
	const int32_t ids[] = {151644, 872, 198, 6023, 151645, 198};
	CHECK(floe_tokenizer_decode(tok_full, ids, 6, false, out, sizeof(out), &len, &err) == FLOE_OK);
	CHECK(len == 8 && strcmp(out, "user\nhi\n") == 0);
	CHECK(floe_tokenizer_decode(tok_full, ids, 6, true, NULL, 0, &len, &err) == FLOE_EARG && len == 30);
	CHECK(floe_tokenizer_decode(tok_full, ids, 6, true, out, 30, &len, &err) == FLOE_EARG);
	CHECK(floe_tokenizer_decode(tok_full, ids, 6, true, out, 31, &len, &err) == FLOE_OK &&
	      strcmp(out, "<|im_start|>user\nhi<|im_end|>\n") == 0);
	const int32_t bad[] = {1, -3};
	CHECK(floe_tokenizer_decode(tok_full, bad, 2, true, out, sizeof(out), &len, &err) == FLOE_EARG &&
	      strstr(err.msg, "ids[1] = -3"));
}

/* ------------------------------------------------------------------------ */
/* Streaming detokenizer                                                     */
/* ------------------------------------------------------------------------ */

static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc0 ? 2 : 0;
		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* Stream ids through a detokenizer; the chunks must each be valid UTF-8
 * (when the input is) and add up to want. */
static bool stream_equals(struct floe_tokenizer *tok, const int32_t *ids, size_t n, const char *want,
			  size_t want_len, bool check_chunks)
{
	struct floe_detok d;
	struct floe_err err = {0};
	char *got = malloc(want_len + 64);
	size_t at = 0;
	bool ok = true;
	const char *out;
	size_t len;

	if (floe_detok_init(&d, tok, true, &err)) {
		free(got);
		return false;
	}
	for (size_t i = 0; i < n && ok; i++) {
		ok = floe_detok_push(&d, ids[i], &out, &len, &err) == FLOE_OK && at + len <= want_len;
		if (ok && check_chunks && !valid_utf8(out, len))
			ok = false;
		if (ok)
			memcpy(got + at, out, len), at += len;
	}
	floe_detok_flush(&d, &out, &len);
	ok = ok && at + len <= want_len;
	if (ok)
		memcpy(got + at, out, len), at += len;
	ok = ok && at == want_len && memcmp(got, want, want_len) == 0;
	floe_detok_free(&d);
	free(got);
	return ok;
}

static void test_detok_goldens(void)
{
	REQUIRE(tok_full);
	for (size_t i = 0; i < n_goldens; i++) {
		struct golden *g = &goldens[i];
		CHECKF(stream_equals(tok_full, g->ids[3], g->n[3], g->text, g->len, true), "%s", g->name);
	}
}

/* Multi-byte text fed one byte token at a time: every character is split
 * across tokens, so the detokenizer must hold each lead byte back. */
static void test_detok_split_chars(void)
{
	static const char text[] = "h\xc3\xa9llo \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\xa6\x99! \xf4\x8f\xbf\xbf";
	size_t n = sizeof(text) - 1;
	int32_t ids[64];
	struct floe_tokenizer *toks[2] = {tok_reduced, tok_full};

	REQUIRE(tok_reduced && tok_full && n < 64);
	for (int t = 0; t < 2; t++) {
		for (size_t i = 0; i < n; i++) {
			char one = text[i];
			ids[i] = floe_tokenizer_find(toks[t], &one, 1);
		}
		CHECK(stream_equals(toks[t], ids, n, text, n, true));
	}

	/* Held bytes come out at the first push that completes them, not before. */
	struct floe_detok d;
	struct floe_err err = {0};
	const char *out;
	size_t len;
	REQUIRE(floe_detok_init(&d, tok_full, false, &err) == FLOE_OK);
	CHECK(floe_detok_push(&d, ids[1], &out, &len, &err) == FLOE_OK && len == 0); /* 0xc3 */
	CHECK(floe_detok_push(&d, ids[2], &out, &len, &err) == FLOE_OK && len == 2 &&
	      memcmp(out, "\xc3\xa9", 2) == 0);
	CHECK(floe_detok_push(&d, ids[7], &out, &len, &err) == FLOE_OK && len == 0); /* 0xe4 */
	CHECK(floe_detok_push(&d, 151645, &out, &len, &err) == FLOE_OK && len == 0); /* control: nothing */
	CHECK(floe_detok_push(&d, 151900, &out, &len, &err) == FLOE_OK && len == 0); /* unused: nothing */
	floe_detok_flush(&d, &out, &len);
	CHECK(len == 1 && (unsigned char)out[0] == 0xe4);
	CHECK(floe_detok_push(&d, 151936, &out, &len, &err) == FLOE_EARG);
	/* an invalid byte is final: passed through at once */
	char ff = (char)0xff;
	CHECK(floe_detok_push(&d, floe_tokenizer_find(tok_full, &ff, 1), &out, &len, &err) == FLOE_OK &&
	      len == 1);
	floe_detok_free(&d);
}

/* ------------------------------------------------------------------------ */
/* Hand-built vocabs                                                         */
/* ------------------------------------------------------------------------ */

/* The GPT-2 byte alphabet as UTF-8 strings, in byte order. */
static void byte_text(int byte, char *out, size_t *len)
{
	int n = 0;
	unsigned cp = (unsigned)byte;

	if (!((byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae)) {
		for (int c = 0; c < byte; c++)
			if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
				n++;
		cp = 256u + (unsigned)n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		*len = 1;
	} else {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		*len = 2;
	}
}

enum vocab_fault {
	VF_NONE,
	VF_BAD_TYPE,
	VF_NO_MERGES,
	VF_MODEL_LLAMA,
	VF_PRE_UNKNOWN,
	VF_BOS_RANGE,
	VF_NO_BYTE,
	VF_TYPE_COUNT,
	VF_MERGE_NOSPACE,
};

/* 256 byte tokens + "ab" + "<x>" (USER_DEFINED) + "<|c|>" (CONTROL); one
 * merge "a b"; with one fault injected. */
static struct floe_gguf *make_vocab(enum vocab_fault fault)
{
	struct bb b = {0};
	struct floe_err err = {0};
	struct floe_gguf *g = NULL;
	uint32_t n_tok = 259, n_kv = fault == VF_NO_MERGES ? 5 : 6;
	int first = fault == VF_NO_BYTE ? 1 : 0;

	bb_raw(&b, "GGUF", 4);
	bb_u32(&b, 3);
	bb_u64(&b, 0);
	bb_u64(&b, n_kv);
	bb_kv_str(&b, "tokenizer.ggml.model", fault == VF_MODEL_LLAMA ? "llama" : "gpt2");
	bb_kv_str(&b, "tokenizer.ggml.pre", fault == VF_PRE_UNKNOWN ? "falcon" : "qwen2");
	bb_str(&b, "tokenizer.ggml.tokens");
	bb_u32(&b, FLOE_GGUF_ARRAY);
	bb_u32(&b, FLOE_GGUF_STRING);
	bb_u64(&b, n_tok - (uint32_t)first);
	for (int i = first; i < 256; i++) {
		char t[2];
		size_t k;
		byte_text(i, t, &k);
		bb_strn(&b, t, k);
	}
	bb_str(&b, "ab");
	bb_str(&b, "<x>");
	bb_str(&b, "<|c|>");
	bb_str(&b, "tokenizer.ggml.token_type");
	bb_u32(&b, FLOE_GGUF_ARRAY);
	bb_u32(&b, FLOE_GGUF_INT32);
	uint32_t n_types = n_tok - (uint32_t)first - (fault == VF_TYPE_COUNT);
	bb_u64(&b, n_types);
	for (uint32_t i = 0; i < n_types; i++) {
		int32_t t = i == n_types - 2 ? 4 : i == n_types - 1 ? 3 : 1;
		if (fault == VF_BAD_TYPE && i == 100)
			t = 9;
		bb_raw(&b, &t, 4);
	}
	if (fault != VF_NO_MERGES) {
		bb_str(&b, "tokenizer.ggml.merges");
		bb_u32(&b, FLOE_GGUF_ARRAY);
		bb_u32(&b, FLOE_GGUF_STRING);
		bb_u64(&b, 1);
		bb_str(&b, fault == VF_MERGE_NOSPACE ? "ab" : "a b");
	}
	bb_kv_u32(&b, "tokenizer.ggml.bos_token_id", fault == VF_BOS_RANGE ? 259 : 258);
	while (b.n % 32)
		bb_raw(&b, "", 1);
	if (floe_gguf_parse(b.p, b.n, b.n, &g, &err))
		fprintf(stderr, "  make_vocab(%d): %s\n", fault, err.msg);
	free(b.p);
	return g;
}

static int load_fault(enum vocab_fault fault, struct floe_err *err)
{
	struct floe_gguf *g = make_vocab(fault);
	struct floe_tokenizer *tok = (struct floe_tokenizer *)1;
	int st;

	if (!g)
		return 1;
	st = floe_tokenizer_load(g, &tok, err);
	if (st == FLOE_OK)
		floe_tokenizer_free(tok);
	else if (tok != NULL)
		st = 2; /* *out must be NULL on failure */
	floe_gguf_close(g);
	return st;
}

static void test_small_vocab_works(void)
{
	struct floe_gguf *g = make_vocab(VF_NONE);
	struct floe_tokenizer *tok;
	struct floe_err err = {0};
	int32_t ids[8];
	size_t n;

	REQUIRE(g);
	REQUIRE(floe_tokenizer_load(g, &tok, &err) == FLOE_OK);
	floe_gguf_close(g); /* the tokenizer keeps nothing of g */
	CHECK(floe_tokenizer_encode(tok, "ab<x>a<|c|>", 11, false, ids, 8, &n, &err) == FLOE_OK);
	/* "ab" merged; <x> user-defined always; <|c|> control only with parse_special */
	CHECK(n == 8 && ids[0] == 256 && ids[1] == 257 && ids[2] == 'a');
	CHECK(floe_tokenizer_encode(tok, "ab<x>a<|c|>", 11, true, ids, 8, &n, &err) == FLOE_OK);
	CHECK(n == 4 && ids[0] == 256 && ids[1] == 257 && ids[2] == 'a' && ids[3] == 258);
	CHECK(floe_tokenizer_bos(tok) == 258 && floe_tokenizer_eos(tok) == -1);
	floe_tokenizer_free(tok);
}

static void test_bad_vocabs(void)
{
	struct floe_err err = {0};

	CHECK(load_fault(VF_BAD_TYPE, &err) == FLOE_EFORMAT && strstr(err.msg, "token_type[100] = 9"));
	CHECK(load_fault(VF_NO_MERGES, &err) == FLOE_EFORMAT && strstr(err.msg, "merges"));
	CHECK(load_fault(VF_MODEL_LLAMA, &err) == FLOE_EUNSUPPORTED && strstr(err.msg, "\"llama\""));
	CHECK(load_fault(VF_PRE_UNKNOWN, &err) == FLOE_EUNSUPPORTED && strstr(err.msg, "\"falcon\""));
	CHECK(load_fault(VF_BOS_RANGE, &err) == FLOE_EFORMAT && strstr(err.msg, "bos_token_id = 259"));
	CHECK(load_fault(VF_NO_BYTE, &err) == FLOE_EFORMAT && strstr(err.msg, "byte 0x00"));
	CHECK(load_fault(VF_TYPE_COUNT, &err) == FLOE_EFORMAT && strstr(err.msg, "258 entries"));
	CHECK(load_fault(VF_MERGE_NOSPACE, &err) == FLOE_EFORMAT && strstr(err.msg, "merges[0]"));
	fprintf(stderr, "  last message: %s\n", err.msg);
}

int main(void)
{
	double t_full = 0;

	if (read_goldens())
		fprintf(stderr, "cannot read %s\n", GOLDENS);
	tok_reduced = load_vocab(FIXTURE("vocab-qwen3-reduced8k.gguf"), NULL);
	tok_full = load_vocab(FIXTURE("vocab-qwen3-full.gguf"), &t_full);
	fprintf(stderr, "full vocab: gguf open + tokenizer load %.1f ms\n", t_full * 1e3);

	RUN(test_goldens_reduced);
	RUN(test_goldens_full);
	RUN(test_round_trip);
	RUN(test_invalid_utf8);
	RUN(test_encode_cap);
	RUN(test_special_ids);
	RUN(test_decode);
	RUN(test_detok_goldens);
	RUN(test_detok_split_chars);
	RUN(test_small_vocab_works);
	RUN(test_bad_vocabs);

	floe_tokenizer_free(tok_reduced);
	floe_tokenizer_free(tok_full);
	for (size_t i = 0; i < n_goldens; i++) {
		free(goldens[i].name);
		free(goldens[i].text);
		for (int k = 0; k < 4; k++)
			free(goldens[i].ids[k]);
	}
	return harness_finish();
}

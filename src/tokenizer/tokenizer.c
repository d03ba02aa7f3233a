/* tokenizer: byte-level BPE (GPT-2 style, as Qwen uses it) from GGUF metadata,
 * plus the streaming detokenizer.
 *
 * Load turns the string tables into integer tables once: every token's text
 * is hashed, the 256 byte tokens are found, and every merge "A B" becomes a
 * pair (id(A), id(B)) -> (rank, id(AB)) in an open-addressing hash map, so
 * encoding never touches strings again.  Each token's decoded bytes are kept
 * in one arena for the detokenizer.  Encoding cuts special tokens out first
 * (llama.cpp's partition: longest token first, over every fragment), splits
 * each remaining fragment with the pre-tokenizer regex, and merges each piece
 * with the usual BPE: a doubly linked list of symbols and a binary heap of
 * candidate pairs ordered by (rank, position); stale heap entries are
 * recognised by their token ids and dropped when popped. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ------------------------------------------------------------------------ */
/* Pre-tokenizers                                                           */
/* ------------------------------------------------------------------------ */

struct pretok {
	const char *name;
	const char *regex;
};

/* Digits one by one, letters with one optional leading non-letter, and
 * whitespace runs that leave the last space to the next word. */
static const struct pretok pretoks[] = {
    {"qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
	      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
};

/* Texts llama.cpp takes as end of turn (first found wins, in this order)
 * and, with the FIM pad/repo/file separators, as end of generation. */
static const char *const eot_texts[] = {
    "<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
};
static const char *const eog_texts[] = {
    "<|im_end|>",  "<|eot_id|>",    "<|end|>",	       "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>",	   "_<EOT>",	    "<|end_of_text|>", "<|return|>",	"<|call|>",	 "<end_of_utterance>",
    "<|fim_pad|>", "<|repo_name|>", "<|fim_repo|>",    "<|file_sep|>",
};

#define MAX_EOG 24

struct special {
	int32_t id;
	uint32_t len;
	const char *text; /* into tok->bytes */
};

/* One merge: pair (a, b) -> result, rank.  a == -1 marks an empty slot. */
struct merge_slot {
	int32_t a, b;
	int32_t result;
	uint32_t rank;
};

struct floe_tokenizer {
	uint32_t n_vocab;
	uint8_t *types;	      /* (n_vocab) enum floe_token_type */
	char *bytes;	      /* decoded bytes of every token, back to back */
	uint32_t *off;	      /* (n_vocab + 1) token i is bytes[off[i] .. off[i+1]) */
	uint32_t max_len;     /* longest token in bytes */
	int32_t byte_id[256]; /* token of each single byte */

	struct merge_slot *merges; /* (merge_mask + 1) slots */
	uint64_t merge_mask;

	struct special *specials; /* longest first */
	uint32_t n_specials;

	int32_t bos, eos, eot, pad;
	bool add_bos;
	int32_t eog[MAX_EOG];
	uint32_t n_eog;

	pcre2_code *re;
};

/* ------------------------------------------------------------------------ */
/* Byte-level mapping (GPT-2 bytes_to_unicode)                              */
/* ------------------------------------------------------------------------ */

/* Printable bytes stand for themselves; the other 68 (controls, space,
 * 0x7f..0xa0, 0xad) are moved to U+0100.. in byte order. */
static uint32_t byte_to_cp(uint8_t b)
{
	uint32_t n = 0;

	if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
		return b;
	for (uint32_t c = 0; c < b; c++)
		if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
			n++;
	return 256 + n;
}

static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length (1..4) of the well-formed UTF-8 sequence at p[0..n), decoding it
 * into *cp; 0 if it is not well formed (overlong, surrogate, > U+10FFFF,
 * truncated).  These are exactly the sequences PCRE2 accepts. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t need;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need;
}

/* ------------------------------------------------------------------------ */
/* Load-time string table                                                    */
/* ------------------------------------------------------------------------ */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* Token text -> id, open addressing; only alive during load. */
struct text_map {
	int32_t *slot; /* -1 = empty */
	uint64_t mask;
	const struct floe_gguf_str *texts;
};

static int text_map_build(struct text_map *m, const struct floe_gguf_str *texts, uint32_t n)
{
	uint64_t size = 16;

	while (size < 2ull * n)
		size <<= 1;
	m->slot = malloc(size * sizeof(*m->slot));
	if (!m->slot)
		return FLOE_ENOMEM;
	memset(m->slot, 0xff, size * sizeof(*m->slot));
	m->mask = size - 1;
	m->texts = texts;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t h = hash_bytes(texts[i].s, texts[i].len) & m->mask;
		bool dup = false;

		for (; m->slot[h] >= 0; h = (h + 1) & m->mask) {
			const struct floe_gguf_str *t = &texts[m->slot[h]];
			if (t->len == texts[i].len && memcmp(t->s, texts[i].s, t->len) == 0) {
				dup = true; /* the first id keeps the text */
				break;
			}
		}
		if (!dup)
			m->slot[h] = (int32_t)i;
	}
	return FLOE_OK;
}

static int32_t text_map_find(const struct text_map *m, const char *s, size_t len)
{
	for (uint64_t h = hash_bytes(s, len) & m->mask; m->slot[h] >= 0; h = (h + 1) & m->mask) {
		const struct floe_gguf_str *t = &m->texts[m->slot[h]];
		if (t->len == len && memcmp(t->s, s, len) == 0)
			return m->slot[h];
	}
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Merge table                                                               */
/* ------------------------------------------------------------------------ */

static uint64_t pair_hash(int32_t a, int32_t b)
{
	uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;

	k *= 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 31);
}

static const struct merge_slot *merge_find(const struct floe_tokenizer *tok, int32_t a, int32_t b)
{
	for (uint64_t h = pair_hash(a, b) & tok->merge_mask;; h = (h + 1) & tok->merge_mask) {
		const struct merge_slot *s = &tok->merges[h];
		if (s->a < 0)
			return NULL;
		if (s->a == a && s->b == b)
			return s;
	}
}

/* Insert unless present: like llama.cpp, the first (lowest) rank wins. */
static void merge_insert(struct floe_tokenizer *tok, int32_t a, int32_t b, int32_t result, uint32_t rank)
{
	uint64_t h = pair_hash(a, b) & tok->merge_mask;

	for (; tok->merges[h].a >= 0; h = (h + 1) & tok->merge_mask)
		if (tok->merges[h].a == a && tok->merges[h].b == b)
			return;
	tok->merges[h] = (struct merge_slot){a, b, result, rank};
}

static int load_merges(struct floe_tokenizer *tok, const struct floe_gguf *g, const struct text_map *tm,
		       struct floe_err *err)
{
	const struct floe_gguf_str *m;
	uint64_t n, size = 16, skipped = 0;
	char *cat = NULL;
	size_t cat_cap = 0;
	int st;

	st = floe_gguf_get_arr(g, "tokenizer.ggml.merges", FLOE_GGUF_STRING, (const void **)&m, &n, err);
	if (st)
		return st;
	if (n > UINT32_MAX / 4)
		return floe_fail(err, FLOE_EFORMAT, "tokenizer.ggml.merges: %llu merges is too many",
				 (unsigned long long)n);
	while (size < 2 * n)
		size <<= 1;
	tok->merges = malloc(size * sizeof(*tok->merges));
	if (!tok->merges)
		return floe_fail(err, FLOE_ENOMEM, "merge table of %llu slots", (unsigned long long)size);
	memset(tok->merges, 0xff, size * sizeof(*tok->merges));
	tok->merge_mask = size - 1;

	for (uint64_t r = 0; r < n; r++) {
		const char *s = m[r].s;
		const char *sp = m[r].len > 1 ? memchr(s + 1, ' ', m[r].len - 1) : NULL;
		size_t la, lb;
		int32_t a, b, c;

		if (!sp) {
			free(cat);
			return floe_fail(err, FLOE_EFORMAT,
					 "tokenizer.ggml.merges[%llu]: no space in \"%.40s\"",
					 (unsigned long long)r, s);
		}
		la = (size_t)(sp - s);
		lb = m[r].len - la - 1;
		if (la + lb > cat_cap) {
			char *p = realloc(cat, 2 * (la + lb));
			if (!p) {
				free(cat);
				return floe_fail(err, FLOE_ENOMEM, "merge text");
			}
			cat = p;
			cat_cap = 2 * (la + lb);
		}
		memcpy(cat, s, la);
		memcpy(cat + la, sp + 1, lb);
		a = text_map_find(tm, s, la);
		b = text_map_find(tm, sp + 1, lb);
		c = text_map_find(tm, cat, la + lb);
		if (a < 0 || b < 0 || c < 0) {
			/* llama.cpp would merge and then fall back to bytes;
			 * a merge outside the vocab can never help, drop it. */
			skipped++;
			continue;
		}
		merge_insert(tok, a, b, c, (uint32_t)r);
	}
	free(cat);
	if (skipped)
		floe_debug("tokenizer: %llu merges name tokens outside the vocab; skipped",
			   (unsigned long long)skipped);
	return FLOE_OK;
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

static bool type_is_literal(uint8_t t)
{
	return t == FLOE_TOKEN_CONTROL || t == FLOE_TOKEN_USER_DEFINED || t == FLOE_TOKEN_UNUSED ||
	       t == FLOE_TOKEN_UNKNOWN;
}

/* Byte-level decode of one token text into out (never longer than the text).
 * A code point outside the byte map (or a bad sequence) is copied as is. */
static size_t decode_text(const char *s, size_t n, char *out, const int16_t *cp_byte)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_next((const uint8_t *)s + i, n - i, &cp);

		if (k == 0) {
			out[o++] = s[i++];
			continue;
		}
		if (cp < 512 && cp_byte[cp] >= 0) {
			out[o++] = (char)cp_byte[cp];
		} else {
			memcpy(out + o, s + i, k);
			o += k;
		}
		i += k;
	}
	return o;
}

static int load_bytes(struct floe_tokenizer *tok, const struct floe_gguf_str *texts)
{
	int16_t cp_byte[512];
	uint64_t total = 0;

	for (uint32_t i = 0; i < tok->n_vocab; i++)
		total += texts[i].len;
	if (total >= UINT32_MAX)
		return FLOE_EFORMAT;
	tok->bytes = malloc(total ? total : 1);
	tok->off = malloc((tok->n_vocab + 1ull) * sizeof(*tok->off));
	if (!tok->bytes || !tok->off)
		return FLOE_ENOMEM;
	memset(cp_byte, 0xff, sizeof(cp_byte));
	for (int b = 0; b < 256; b++)
		cp_byte[byte_to_cp((uint8_t)b)] = (int16_t)b;

	uint32_t o = 0;
	for (uint32_t i = 0; i < tok->n_vocab; i++) {
		size_t k;

		tok->off[i] = o;
		if (type_is_literal(tok->types[i])) {
			memcpy(tok->bytes + o, texts[i].s, texts[i].len);
			k = texts[i].len;
		} else {
			k = decode_text(texts[i].s, texts[i].len, tok->bytes + o, cp_byte);
		}
		o += (uint32_t)k;
		if (k > tok->max_len)
			tok->max_len = (uint32_t)k;
	}
	tok->off[tok->n_vocab] = o;
	return FLOE_OK;
}

static int load_types(struct floe_tokenizer *tok, const struct floe_gguf *g, struct floe_err *err)
{
	const int32_t *t;
	uint64_t n;
	int st;

	tok->types = malloc(tok->n_vocab);
	if (!tok->types)
		return floe_fail(err, FLOE_ENOMEM, "token types");
	if (!floe_gguf_find(g, "tokenizer.ggml.token_type")) {
		memset(tok->types, FLOE_TOKEN_NORMAL, tok->n_vocab); /* as llama.cpp */
		return FLOE_OK;
	}
	st = floe_gguf_get_arr(g, "tokenizer.ggml.token_type", FLOE_GGUF_INT32, (const void **)&t, &n, err);
	if (st)
		return st;
	if (n != tok->n_vocab)
		return floe_fail(err, FLOE_EFORMAT,
				 "tokenizer.ggml.token_type has %llu entries, tokens has %u",
				 (unsigned long long)n, tok->n_vocab);
	for (uint32_t i = 0; i < tok->n_vocab; i++) {
		if (t[i] < FLOE_TOKEN_UNDEFINED || t[i] > FLOE_TOKEN_BYTE)
			return floe_fail(err, FLOE_EFORMAT,
					 "tokenizer.ggml.token_type[%u] = %d, expected 0..6", i, t[i]);
		tok->types[i] = (uint8_t)t[i];
	}
	return FLOE_OK;
}

/* Optional id key: -1 when absent, FLOE_EFORMAT when out of range. */
static int load_id(const struct floe_tokenizer *tok, const struct floe_gguf *g, const char *key, int32_t *id,
		   struct floe_err *err)
{
	uint32_t v;
	int st;

	*id = -1;
	if (!floe_gguf_find(g, key))
		return FLOE_OK;
	st = floe_gguf_get_u32(g, key, &v, err);
	if (st)
		return st;
	if (v >= tok->n_vocab)
		return floe_fail(err, FLOE_EFORMAT, "%s = %u is outside the vocab of %u tokens", key, v,
				 tok->n_vocab);
	*id = (int32_t)v;
	return FLOE_OK;
}

static int load_byte_tokens(struct floe_tokenizer *tok, const struct text_map *tm, struct floe_err *err)
{
	for (int b = 0; b < 256; b++) {
		char u[4];
		size_t k = utf8_put(byte_to_cp((uint8_t)b), u);

		tok->byte_id[b] = text_map_find(tm, u, k);
		if (tok->byte_id[b] < 0)
			return floe_fail(err, FLOE_EFORMAT, "byte-level vocab has no token for byte 0x%02x",
					 b);
	}
	return FLOE_OK;
}

static int cmp_special(const void *pa, const void *pb)
{
	const struct special *a = pa, *b = pb;

	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return a->id < b->id ? -1 : 1;
}

static int load_specials(struct floe_tokenizer *tok)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < tok->n_vocab; i++) {
		uint8_t t = tok->types[i];
		if ((t == FLOE_TOKEN_CONTROL || t == FLOE_TOKEN_USER_DEFINED || t == FLOE_TOKEN_UNKNOWN) &&
		    tok->off[i + 1] > tok->off[i])
			n++;
	}
	tok->specials = calloc(n ? n : 1, sizeof(*tok->specials));
	if (!tok->specials)
		return FLOE_ENOMEM;
	for (uint32_t i = 0; i < tok->n_vocab; i++) {
		uint8_t t = tok->types[i];
		if ((t == FLOE_TOKEN_CONTROL || t == FLOE_TOKEN_USER_DEFINED || t == FLOE_TOKEN_UNKNOWN) &&
		    tok->off[i + 1] > tok->off[i])
			tok->specials[tok->n_specials++] = (struct special){
			    (int32_t)i, tok->off[i + 1] - tok->off[i], tok->bytes + tok->off[i]};
	}
	qsort(tok->specials, tok->n_specials, sizeof(*tok->specials), cmp_special);
	return FLOE_OK;
}

static int32_t find_special(const struct floe_tokenizer *tok, const char *text)
{
	size_t len = strlen(text);

	for (uint32_t i = 0; i < tok->n_specials; i++)
		if (tok->specials[i].len == len && memcmp(tok->specials[i].text, text, len) == 0)
			return tok->specials[i].id;
	return -1;
}

static void add_eog(struct floe_tokenizer *tok, int32_t id)
{
	if (id < 0 || floe_tokenizer_is_eog(tok, id) || tok->n_eog == MAX_EOG)
		return;
	tok->eog[tok->n_eog++] = id;
}

static int load_special_ids(struct floe_tokenizer *tok, const struct floe_gguf *g, struct floe_err *err)
{
	bool b;
	int st;

	if ((st = load_id(tok, g, "tokenizer.ggml.bos_token_id", &tok->bos, err)) ||
	    (st = load_id(tok, g, "tokenizer.ggml.eos_token_id", &tok->eos, err)) ||
	    (st = load_id(tok, g, "tokenizer.ggml.padding_token_id", &tok->pad, err)) ||
	    (st = load_id(tok, g, "tokenizer.ggml.eot_token_id", &tok->eot, err)))
		return st;
	if (floe_gguf_find(g, "tokenizer.ggml.add_bos_token")) {
		st = floe_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, err);
		if (st)
			return st;
		tok->add_bos = b;
	}
	for (size_t i = 0; tok->eot < 0 && i < sizeof(eot_texts) / sizeof(eot_texts[0]); i++)
		tok->eot = find_special(tok, eot_texts[i]);
	add_eog(tok, tok->eos);
	add_eog(tok, tok->eot);
	for (size_t i = 0; i < sizeof(eog_texts) / sizeof(eog_texts[0]); i++)
		add_eog(tok, find_special(tok, eog_texts[i]));
	return FLOE_OK;
}

static int load_regex(struct floe_tokenizer *tok, const struct floe_gguf *g, struct floe_err *err)
{
	struct floe_gguf_str pre = {"(missing)", 9};
	const struct pretok *p = NULL;
	int ec;
	PCRE2_SIZE eo;

	if (floe_gguf_find(g, "tokenizer.ggml.pre")) {
		int st = floe_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
		if (st)
			return st;
	}
	for (size_t i = 0; i < sizeof(pretoks) / sizeof(pretoks[0]); i++)
		if (strcmp(pre.s, pretoks[i].name) == 0)
			p = &pretoks[i];
	if (!p)
		return floe_fail(err, FLOE_EUNSUPPORTED,
				 "pre-tokenizer \"%.64s\" is not supported (supported: qwen2)", pre.s);
	tok->re =
	    pcre2_compile((PCRE2_SPTR)p->regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
	if (!tok->re) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return floe_fail(err, FLOE_EINTERNAL, "pre-tokenizer %s regex at %zu: %s", p->name,
				 (size_t)eo, (const char *)msg);
	}
	pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	return FLOE_OK;
}

static int load_vocab(struct floe_tokenizer *tok, const struct floe_gguf *g, struct floe_err *err)
{
	struct floe_gguf_str model;
	const struct floe_gguf_str *texts;
	struct text_map tm = {0};
	uint64_t n;
	int st;

	st = floe_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
	if (st)
		return st;
	if (strcmp(model.s, "gpt2") != 0)
		return floe_fail(
		    err, FLOE_EUNSUPPORTED,
		    "tokenizer model \"%.64s\" is not supported (supported: gpt2 byte-level BPE)", model.s);
	st = load_regex(tok, g, err);
	if (st)
		return st;
	st = floe_gguf_get_arr(g, "tokenizer.ggml.tokens", FLOE_GGUF_STRING, (const void **)&texts, &n, err);
	if (st)
		return st;
	if (n == 0 || n > INT32_MAX)
		return floe_fail(err, FLOE_EFORMAT, "tokenizer.ggml.tokens has %llu entries",
				 (unsigned long long)n);
	tok->n_vocab = (uint32_t)n;
	if ((st = load_types(tok, g, err)))
		return st;
	if (text_map_build(&tm, texts, tok->n_vocab))
		return floe_fail(err, FLOE_ENOMEM, "token text map");
	if ((st = load_byte_tokens(tok, &tm, err)) || (st = load_merges(tok, g, &tm, err)))
		goto free_map;
	if ((st = load_bytes(tok, texts)) || (st = load_specials(tok))) {
		st = floe_fail(err, st, "token bytes: %s", st == FLOE_ENOMEM ? "out of memory" : "over 4 GB");
		goto free_map;
	}
	st = load_special_ids(tok, g, err);
free_map:
	free(tm.slot);
	return st;
}

int floe_tokenizer_load(const struct floe_gguf *g, struct floe_tokenizer **out, struct floe_err *err)
{
	struct floe_tokenizer *tok = calloc(1, sizeof(*tok));
	int st;

	*out = NULL;
	if (!tok)
		return floe_fail(err, FLOE_ENOMEM, "tokenizer");
	tok->bos = tok->eos = tok->eot = tok->pad = -1;
	st = load_vocab(tok, g, err);
	if (st) {
		floe_fail_prefix(err, "tokenizer: ");
		floe_tokenizer_free(tok);
		return st;
	}
	*out = tok;
	return FLOE_OK;
}

void floe_tokenizer_free(struct floe_tokenizer *tok)
{
	if (!tok)
		return;
	pcre2_code_free(tok->re);
	free(tok->types);
	free(tok->bytes);
	free(tok->off);
	free(tok->merges);
	free(tok->specials);
	free(tok);
}

/* ------------------------------------------------------------------------ */
/* Encode                                                                    */
/* ------------------------------------------------------------------------ */

struct frag {
	size_t off, len;
	int32_t id; /* >= 0: a special token; -1: raw text */
};

struct heap_ent {
	uint32_t rank;
	int32_t left;
	int32_t a, b; /* ids of left and right when pushed */
};

/* Per-call state: output ids, fragments, BPE scratch, regex match data. */
struct enc {
	const struct floe_tokenizer *tok;
	int32_t *ids;
	size_t n_ids, cap_ids;
	struct frag *frags, *frags2;
	size_t n_frags, cap_frags;
	int32_t *sym_id, *sym_prev, *sym_next; /* (cap_syms) */
	struct heap_ent *heap;		       /* (3 * cap_syms) */
	size_t cap_syms;
	pcre2_match_data *md;
};

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static bool push_id(struct enc *e, int32_t id)
{
	if (!grow((void **)&e->ids, &e->cap_ids, e->n_ids + 1, sizeof(*e->ids)))
		return false;
	e->ids[e->n_ids++] = id;
	return true;
}

static bool heap_less(const struct heap_ent *x, const struct heap_ent *y)
{
	return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static void heap_push(struct heap_ent *h, size_t *n, struct heap_ent v)
{
	size_t i = (*n)++;

	while (i > 0 && heap_less(&v, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static struct heap_ent heap_pop(struct heap_ent *h, size_t *n)
{
	struct heap_ent top = h[0], last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
			c++;
		if (!heap_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* Queue the pair starting at symbol left, if it is a known merge. */
static void try_pair(struct enc *e, size_t *nh, int32_t left)
{
	int32_t right;
	const struct merge_slot *m;

	if (left < 0 || (right = e->sym_next[left]) < 0)
		return;
	m = merge_find(e->tok, e->sym_id[left], e->sym_id[right]);
	if (m)
		heap_push(e->heap, nh, (struct heap_ent){m->rank, left, m->a, m->b});
}

/* BPE over one pre-tokenized piece: start from byte tokens, apply the
 * lowest-ranked (then leftmost) merge until none applies. */
static bool bpe_piece(struct enc *e, const uint8_t *w, size_t n)
{
	size_t nh = 0;

	if (n == 1)
		return push_id(e, e->tok->byte_id[w[0]]);
	if (n > e->cap_syms) {
		size_t c = e->cap_syms;
		size_t c2 = c, c3 = c, c4 = 3 * c;
		if (!grow((void **)&e->sym_id, &c, n, sizeof(int32_t)) ||
		    !grow((void **)&e->sym_prev, &c2, n, sizeof(int32_t)) ||
		    !grow((void **)&e->sym_next, &c3, n, sizeof(int32_t)) ||
		    !grow((void **)&e->heap, &c4, 3 * c, sizeof(struct heap_ent)))
			return false;
		e->cap_syms = c;
	}
	for (size_t i = 0; i < n; i++) {
		e->sym_id[i] = e->tok->byte_id[w[i]];
		e->sym_prev[i] = (int32_t)i - 1;
		e->sym_next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		try_pair(e, &nh, (int32_t)i);
	while (nh) {
		struct heap_ent t = heap_pop(e->heap, &nh);
		int32_t l = t.left, r = e->sym_next[l];

		/* Stale if either side has merged since: a symbol's id only
		 * ever changes by growing, so equal ids mean unchanged. */
		if (e->sym_id[l] != t.a || r < 0 || e->sym_id[r] != t.b)
			continue;
		e->sym_id[l] = merge_find(e->tok, t.a, t.b)->result;
		e->sym_id[r] = -1;
		e->sym_next[l] = e->sym_next[r];
		if (e->sym_next[r] >= 0)
			e->sym_prev[e->sym_next[r]] = l;
		try_pair(e, &nh, e->sym_prev[l]);
		try_pair(e, &nh, l);
	}
	for (int32_t i = 0; i >= 0; i = e->sym_next[i])
		if (!push_id(e, e->sym_id[i]))
			return false;
	return true;
}

/* Split valid UTF-8 text with the pre-tokenizer regex; every match (and,
 * defensively, any gap between matches) is one BPE piece. */
static int split_regex(struct enc *e, const uint8_t *s, size_t n)
{
	size_t at = 0;

	while (at < n) {
		int rc = pcre2_match(e->tok->re, s, n, at, PCRE2_NO_UTF_CHECK, e->md, NULL);
		PCRE2_SIZE *ov;
		size_t b, end;

		if (rc == PCRE2_ERROR_NOMATCH)
			return bpe_piece(e, s + at, n - at) ? FLOE_OK : FLOE_ENOMEM;
		if (rc < 0)
			return FLOE_EINTERNAL;
		ov = pcre2_get_ovector_pointer(e->md);
		b = ov[0];
		end = ov[1];
		if (b > at && !bpe_piece(e, s + at, b - at))
			return FLOE_ENOMEM;
		if (end == b) { /* empty match: take one character */
			uint32_t cp;
			end = b + utf8_next(s + b, n - b, &cp);
		}
		if (!bpe_piece(e, s + b, end - b))
			return FLOE_ENOMEM;
		at = end;
	}
	return FLOE_OK;
}

/* Raw text: valid UTF-8 runs go through the regex; each byte that is not
 * part of a well-formed sequence is a piece of its own. */
static int encode_raw(struct enc *e, const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		uint32_t cp;
		int st;

		for (size_t k; j < n && (k = utf8_next(s + j, n - j, &cp)) > 0;)
			j += k;
		if (j > i && (st = split_regex(e, s + i, j - i)))
			return st;
		if (j < n && !push_id(e, e->tok->byte_id[s[j]]))
			return FLOE_ENOMEM;
		i = j + 1;
	}
	return FLOE_OK;
}

/* Cut every occurrence of special token sp out of the raw fragments. */
static bool partition_one(struct enc *e, const char *text, const struct special *sp)
{
	size_t n2 = 0, cap2 = e->cap_frags;

	for (size_t i = 0; i < e->n_frags; i++) {
		struct frag f = e->frags[i];

		while (f.id < 0 && f.len >= sp->len) {
			const char *hit = memmem(text + f.off, f.len, sp->text, sp->len);
			size_t pre;

			if (!hit)
				break;
			pre = (size_t)(hit - (text + f.off));
			if (!grow((void **)&e->frags2, &cap2, n2 + 2, sizeof(struct frag)))
				return false;
			if (pre)
				e->frags2[n2++] = (struct frag){f.off, pre, -1};
			e->frags2[n2++] = (struct frag){f.off + pre, sp->len, sp->id};
			f.off += pre + sp->len;
			f.len -= pre + sp->len;
		}
		if (f.id >= 0 || f.len) {
			if (!grow((void **)&e->frags2, &cap2, n2 + 1, sizeof(struct frag)))
				return false;
			e->frags2[n2++] = f;
		}
	}
	/* frags and frags2 share cap_frags: keep both at least cap2. */
	if (!grow((void **)&e->frags, &e->cap_frags, cap2, sizeof(struct frag)))
		return false;
	struct frag *t = e->frags;
	e->frags = e->frags2;
	e->frags2 = t;
	e->n_frags = n2;
	return true;
}

static int encode_all(struct enc *e, const char *text, size_t len, bool parse_special)
{
	const struct floe_tokenizer *tok = e->tok;
	int st;

	if (!len)
		return FLOE_OK;
	if (!grow((void **)&e->frags, &e->cap_frags, 16, sizeof(struct frag)))
		return FLOE_ENOMEM;
	e->frags2 = malloc(e->cap_frags * sizeof(struct frag));
	if (!e->frags2)
		return FLOE_ENOMEM;
	e->frags[0] = (struct frag){0, len, -1};
	e->n_frags = 1;
	for (uint32_t i = 0; i < tok->n_specials; i++) {
		uint8_t t = tok->types[tok->specials[i].id];
		if (!parse_special && t != FLOE_TOKEN_USER_DEFINED)
			continue;
		if (!partition_one(e, text, &tok->specials[i]))
			return FLOE_ENOMEM;
	}
	e->md = pcre2_match_data_create_from_pattern(tok->re, NULL);
	if (!e->md)
		return FLOE_ENOMEM;
	for (size_t i = 0; i < e->n_frags; i++) {
		const struct frag *f = &e->frags[i];
		if (f->id >= 0)
			st = push_id(e, f->id) ? FLOE_OK : FLOE_ENOMEM;
		else
			st = encode_raw(e, (const uint8_t *)text + f->off, f->len);
		if (st)
			return st;
	}
	return FLOE_OK;
}

static void enc_free_scratch(struct enc *e)
{
	free(e->frags);
	free(e->frags2);
	free(e->sym_id);
	free(e->sym_prev);
	free(e->sym_next);
	free(e->heap);
	pcre2_match_data_free(e->md);
}

int floe_tokenizer_encode_alloc(const struct floe_tokenizer *tok, const char *text, size_t len,
				bool parse_special, int32_t **ids, size_t *n_out, struct floe_err *err)
{
	struct enc e = {.tok = tok};
	int st;

	*ids = NULL;
	*n_out = 0;
	if (!text && len)
		return floe_fail(err, FLOE_EARG, "tokenizer: NULL text of length %zu", len);
	st = encode_all(&e, text, len, parse_special);
	enc_free_scratch(&e);
	if (st) {
		free(e.ids);
		return floe_fail(err, st, "tokenizer: encoding %zu bytes: %s", len,
				 st == FLOE_ENOMEM ? "out of memory" : "regex match failed");
	}
	*ids = e.ids;
	*n_out = e.n_ids;
	return FLOE_OK;
}

int floe_tokenizer_encode(const struct floe_tokenizer *tok, const char *text, size_t len, bool parse_special,
			  int32_t *ids, size_t cap, size_t *n_out, struct floe_err *err)
{
	int32_t *all;
	size_t n;
	int st = floe_tokenizer_encode_alloc(tok, text, len, parse_special, &all, &n, err);

	*n_out = n;
	if (st)
		return st;
	if (n && cap)
		memcpy(ids, all, (n < cap ? n : cap) * sizeof(*ids));
	free(all);
	if (n > cap)
		return floe_fail(err, FLOE_EARG, "tokenizer: text needs %zu ids, buffer holds %zu", n, cap);
	return FLOE_OK;
}

/* ------------------------------------------------------------------------ */
/* Getters                                                                   */
/* ------------------------------------------------------------------------ */

const char *floe_tokenizer_token_bytes(const struct floe_tokenizer *tok, int32_t id, size_t *len)
{
	if (id < 0 || (uint32_t)id >= tok->n_vocab) {
		*len = 0;
		return NULL;
	}
	*len = tok->off[id + 1] - tok->off[id];
	return tok->bytes + tok->off[id];
}

static bool silent(uint8_t type)
{
	return type == FLOE_TOKEN_CONTROL || type == FLOE_TOKEN_UNUSED;
}

int floe_tokenizer_decode(const struct floe_tokenizer *tok, const int32_t *ids, size_t n, bool special,
			  char *buf, size_t cap, size_t *len, struct floe_err *err)
{
	size_t at = 0;

	*len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k;
		const char *b = floe_tokenizer_token_bytes(tok, ids[i], &k);

		if (!b)
			return floe_fail(err, FLOE_EARG,
					 "tokenizer: decode: ids[%zu] = %d outside the vocab of %u", i,
					 ids[i], tok->n_vocab);
		if (!special && silent(tok->types[ids[i]]))
			continue;
		if (at < cap)
			memcpy(buf + at, b, k < cap - at ? k : cap - at);
		at += k;
	}
	*len = at;
	if (at >= cap)
		return floe_fail(err, FLOE_EARG, "tokenizer: decode needs %zu bytes + NUL, buffer holds %zu",
				 at, cap);
	buf[at] = '\0';
	return FLOE_OK;
}

enum floe_token_type floe_tokenizer_token_type(const struct floe_tokenizer *tok, int32_t id)
{
	if (id < 0 || (uint32_t)id >= tok->n_vocab)
		return FLOE_TOKEN_UNDEFINED;
	return (enum floe_token_type)tok->types[id];
}

int32_t floe_tokenizer_find(const struct floe_tokenizer *tok, const char *text, size_t len)
{
	for (uint32_t i = 0; i < tok->n_specials; i++)
		if (tok->specials[i].len == len && memcmp(tok->specials[i].text, text, len) == 0)
			return tok->specials[i].id;
	for (uint32_t i = 0; i < tok->n_vocab; i++)
		if (tok->off[i + 1] - tok->off[i] == len && memcmp(tok->bytes + tok->off[i], text, len) == 0)
			return (int32_t)i;
	return -1;
}

uint32_t floe_tokenizer_n_vocab(const struct floe_tokenizer *tok)
{
	return tok->n_vocab;
}
int32_t floe_tokenizer_bos(const struct floe_tokenizer *tok)
{
	return tok->bos;
}
int32_t floe_tokenizer_eos(const struct floe_tokenizer *tok)
{
	return tok->eos;
}
int32_t floe_tokenizer_eot(const struct floe_tokenizer *tok)
{
	return tok->eot;
}
int32_t floe_tokenizer_pad(const struct floe_tokenizer *tok)
{
	return tok->pad;
}
bool floe_tokenizer_add_bos(const struct floe_tokenizer *tok)
{
	return tok->add_bos;
}

bool floe_tokenizer_is_eog(const struct floe_tokenizer *tok, int32_t id)
{
	for (uint32_t i = 0; i < tok->n_eog; i++)
		if (tok->eog[i] == id)
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */
/* Streaming detokenizer                                                     */
/* ------------------------------------------------------------------------ */

int floe_detok_init(struct floe_detok *d, const struct floe_tokenizer *tok, bool emit_control,
		    struct floe_err *err)
{
	memset(d, 0, sizeof(*d));
	d->tok = tok;
	d->emit_control = emit_control;
	d->cap = (size_t)tok->max_len + sizeof(d->held);
	d->buf = malloc(d->cap);
	if (!d->buf)
		return floe_fail(err, FLOE_ENOMEM, "detokenizer buffer of %zu bytes", d->cap);
	return FLOE_OK;
}

void floe_detok_free(struct floe_detok *d)
{
	free(d->buf);
	d->buf = NULL;
}

/* Bytes at the end of p[0..n) that begin a multi-byte sequence still missing
 * its last bytes (0..3).  Anything else is final, valid or not. */
static size_t incomplete_tail(const uint8_t *p, size_t n)
{
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		uint8_t c = p[n - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* continuation: look further back */
		if (c >= 0xc2 && c <= 0xdf)
			need = 2;
		else if (c >= 0xe0 && c <= 0xef)
			need = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 4;
		else
			return 0;
		return back < need ? back : 0;
	}
	return 0;
}

int floe_detok_push(struct floe_detok *d, int32_t id, const char **out, size_t *len, struct floe_err *err)
{
	size_t k, n, tail;
	const char *b = floe_tokenizer_token_bytes(d->tok, id, &k);

	*out = d->buf;
	*len = 0;
	if (!b)
		return floe_fail(err, FLOE_EARG, "detokenizer: token id %d outside the vocab of %u", id,
				 d->tok->n_vocab);
	if (!d->emit_control && silent(d->tok->types[id]))
		k = 0; /* as llama_token_to_piece without special */
	memcpy(d->buf, d->held, d->n_held);
	memcpy(d->buf + d->n_held, b, k);
	n = d->n_held + k;
	tail = incomplete_tail((const uint8_t *)d->buf, n);
	memcpy(d->held, d->buf + n - tail, tail);
	d->n_held = tail;
	*len = n - tail;
	return FLOE_OK;
}

void floe_detok_flush(struct floe_detok *d, const char **out, size_t *len)
{
	memcpy(d->buf, d->held, d->n_held);
	*out = d->buf;
	*len = d->n_held;
	d->n_held = 0;
}

/* Tests for src/chat/chat_template: exact prompt strings as Qwen3's Jinja
 * template renders them (system + user, history with reasoning stripped,
 * enable_thinking off, a trailing assistant turn, tool results), the
 * continuing-turn formatter, buffer sizing, detection from metadata, and the
 * special-token ids the prompt tokenizes to (against llama.cpp's ids for the
 * same text in tokenizer_goldens.jsonl). */
#include "harness.h"
#include "gguf_bytes.h"

#include <jansson.h>
#include <stdint.h>

#include "chat/chat_template.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static char buf[4096];

/* Format and compare with want; on mismatch print both. */
static bool formats_to(enum floe_chat_kind kind, const struct floe_chat_msg *m, int n, bool gen, bool think,
		       const char *want)
{
	struct floe_err err = {0};
	size_t len;
	int st = floe_chat_format_ex(kind, m, n, gen, think, buf, sizeof(buf), &len, &err);

	if (st != FLOE_OK) {
		fprintf(stderr, "  format: %s\n", err.msg);
		return false;
	}
	if (len != strlen(want) || strcmp(buf, want) != 0) {
		fprintf(stderr, "  got:  [%s]\n  want: [%s]\n", buf, want);
		return false;
	}
	return true;
}

static void test_system_user(void)
{
	struct floe_chat_msg m[] = {{"system", "You are helpful."}, {"user", "Hi"}};

	CHECK(formats_to(FLOE_CHAT_QWEN3, m, 2, true, true,
			 "<|im_start|>system\nYou are helpful.<|im_end|>\n"
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
	CHECK(formats_to(FLOE_CHAT_QWEN3, m + 1, 1, true, true,
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
	CHECK(formats_to(FLOE_CHAT_QWEN3, m + 1, 1, false, true, "<|im_start|>user\nHi<|im_end|>\n"));
	CHECK(formats_to(FLOE_CHAT_CHATML, m, 2, true, true,
			 "<|im_start|>system\nYou are helpful.<|im_end|>\n"
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
	/* floe_chat_format = thinking enabled */
	size_t len;
	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, m + 1, 1, true, buf, sizeof(buf), &len, NULL) == FLOE_OK);
	CHECK(strcmp(buf, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0 && len == 52);
}

static void test_thinking_off(void)
{
	struct floe_chat_msg m[] = {{"user", "Hi"}};

	CHECK(formats_to(FLOE_CHAT_QWEN3, m, 1, true, false,
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"));
	/* plain ChatML has no thinking switch */
	CHECK(formats_to(FLOE_CHAT_CHATML, m, 1, true, false,
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
}

static void test_history_drops_reasoning(void)
{
	struct floe_chat_msg m[] = {
	    {"user", "Hi"},
	    {"assistant", "<think>\nLet me greet.\n</think>\n\nHello!"},
	    {"user", "Bye"},
	};

	CHECK(formats_to(FLOE_CHAT_QWEN3, m, 3, true, true,
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
			 "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"));
	/* ChatML keeps the content as it is */
	CHECK(formats_to(FLOE_CHAT_CHATML, m, 3, false, true,
			 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nLet me greet.\n"
			 "</think>\n\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"));
}

static void test_trailing_assistant(void)
{
	/* after the last query, the last assistant turn always gets a think
	 * block (empty here); one with reasoning keeps it, stripped */
	struct floe_chat_msg m[] = {{"user", "Q"}, {"assistant", "A"}};
	struct floe_chat_msg r[] = {{"user", "Q"}, {"assistant", "<think>\n\nwhy\n\n</think>\n\n\nA"}};

	CHECK(formats_to(
	    FLOE_CHAT_QWEN3, m, 2, false, true,
	    "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n"));
	CHECK(formats_to(
	    FLOE_CHAT_QWEN3, r, 2, false, true,
	    "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nwhy\n</think>\n\nA<|im_end|>\n"));
}

static void test_tool_turns(void)
{
	struct floe_chat_msg m[] = {
	    {"user", "Weather?"},
	    {"assistant", "<tool_call>\n{\"name\": \"w\"}\n</tool_call>"},
	    {"tool", "sunny"},
	    {"tool", "22C"},
	};

	CHECK(formats_to(FLOE_CHAT_QWEN3, m, 4, true, true,
			 "<|im_start|>user\nWeather?<|im_end|>\n"
			 "<|im_start|>assistant\n<tool_call>\n{\"name\": \"w\"}\n</tool_call><|im_end|>\n"
			 "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n22C\n"
			 "</tool_response><|im_end|>\n<|im_start|>assistant\n"));
	struct floe_chat_msg bad[] = {{"narrator", "x"}};
	struct floe_err err = {0};
	size_t len;
	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, bad, 1, true, buf, sizeof(buf), &len, &err) == FLOE_EARG);
	CHECK(strstr(err.msg, "narrator") != NULL);
	CHECK(floe_chat_format(FLOE_CHAT_UNKNOWN, m, 1, true, buf, sizeof(buf), &len, &err) == FLOE_EARG);
}

/* first turn + generated reply + continuation == the whole chat rendered
 * at once (for a reply without reasoning, which Qwen3 would strip) */
static void test_continue(void)
{
	struct floe_chat_msg all[] = {
	    {"system", "S"}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "More"}};
	char first[512], cont[512], whole[512];
	size_t l1, l2, l3;
	struct floe_err err = {0};

	REQUIRE(floe_chat_format(FLOE_CHAT_QWEN3, all, 2, true, first, sizeof(first), &l1, &err) == FLOE_OK);
	REQUIRE(floe_chat_format_continue(FLOE_CHAT_QWEN3, all + 3, 1, false, true, cont, sizeof(cont), &l2,
					  &err) == FLOE_OK);
	CHECK(strcmp(cont, "<|im_end|>\n<|im_start|>user\nMore<|im_end|>\n<|im_start|>assistant\n") == 0);
	REQUIRE(floe_chat_format(FLOE_CHAT_QWEN3, all, 4, true, whole, sizeof(whole), &l3, &err) == FLOE_OK);
	char joined[2048];
	snprintf(joined, sizeof(joined), "%s%s%s", first, "Hello!", cont);
	CHECK(strcmp(joined, whole) == 0 && l1 + 6 + l2 == l3);

	REQUIRE(floe_chat_format_continue(FLOE_CHAT_QWEN3, all + 3, 1, true, false, cont, sizeof(cont), &l2,
					  &err) == FLOE_OK);
	CHECK(strcmp(cont,
		     "\n<|im_start|>user\nMore<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n") ==
	      0);
}

static void test_buffer_sizing(void)
{
	struct floe_chat_msg m[] = {{"user", "Hi"}};
	const char *want = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
	struct floe_err err = {0};
	char small[52];
	size_t len = 0;

	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, m, 1, true, NULL, 0, &len, &err) == FLOE_EARG);
	CHECK(len == strlen(want));
	/* exactly len bytes is one short (no room for the NUL) */
	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, m, 1, true, small, 52, &len, &err) == FLOE_EARG && len == 52);
	char fit[53];
	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, m, 1, true, fit, sizeof(fit), &len, &err) == FLOE_OK);
	CHECK(len == 52 && strcmp(fit, want) == 0);
	struct floe_chat_msg nul[] = {{"user", NULL}};
	CHECK(floe_chat_format(FLOE_CHAT_QWEN3, nul, 1, true, fit, sizeof(fit), &len, &err) == FLOE_EARG);
}

/* ------------------------------------------------------------------------ */
/* Detection and tokenization                                                */
/* ------------------------------------------------------------------------ */

/* A GGUF with only general.architecture and maybe a chat template. */
static enum floe_chat_kind detect_meta(const char *arch, const char *tmpl)
{
	struct bb b = {0};
	struct floe_err err = {0};
	struct floe_gguf *g;
	uint32_t v = 3;
	uint64_t zero = 0, n_kv = tmpl ? 2 : 1;
	enum floe_chat_kind k = (enum floe_chat_kind) - 1;

	bb_raw(&b, "GGUF", 4);
	bb_raw(&b, &v, 4);
	bb_raw(&b, &zero, 8);
	bb_raw(&b, &n_kv, 8);
	bb_kv_str(&b, "general.architecture", arch);
	if (tmpl)
		bb_kv_str(&b, "tokenizer.chat_template", tmpl);
	while (b.n % 32)
		bb_raw(&b, "", 1);
	if (floe_gguf_parse(b.p, b.n, b.n, &g, &err) == FLOE_OK) {
		k = floe_chat_detect(g);
		floe_gguf_close(g);
	} else {
		fprintf(stderr, "  parse: %s\n", err.msg);
	}
	free(b.p);
	return k;
}

static void test_detect(void)
{
	struct floe_err err = {0};
	struct floe_gguf *g;

	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-reduced8k.gguf"), &g, &err) == FLOE_OK);
	CHECK(floe_chat_detect(g) == FLOE_CHAT_QWEN3); /* arch qwen2, Qwen3 template */
	floe_gguf_close(g);
	CHECK(detect_meta("qwen3moe", NULL) == FLOE_CHAT_QWEN3);
	CHECK(detect_meta("qwen35moe", NULL) == FLOE_CHAT_QWEN3);
	CHECK(detect_meta("qwen3", NULL) == FLOE_CHAT_QWEN3);
	CHECK(detect_meta("qwen2", NULL) == FLOE_CHAT_CHATML);
	CHECK(detect_meta("llama", NULL) == FLOE_CHAT_UNKNOWN);
	CHECK(detect_meta("llama", "{{ '<|im_start|>' + role }}") == FLOE_CHAT_CHATML);
	CHECK(detect_meta("qwen3moe", "{{ bos_token + '[INST]' }}") == FLOE_CHAT_QWEN3);
	CHECK(strcmp(floe_chat_kind_name(FLOE_CHAT_QWEN3), "qwen3") == 0);
}

/* llama.cpp's ids for the chat_special golden line (reduced vocab). */
static size_t golden_chat_ids(int32_t *ids, size_t cap, const char **text_out)
{
	FILE *f = fopen(FIXTURE("tokenizer_goldens.jsonl"), "r");
	static char text[256];
	char line[16384];
	size_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		if (o && strcmp(json_string_value(json_object_get(o, "name")), "chat_special") == 0) {
			json_t *a = json_object_get(o, "reduced_special");
			snprintf(text, sizeof(text), "%s", json_string_value(json_object_get(o, "text")));
			for (n = 0; n < json_array_size(a) && n < cap; n++)
				ids[n] = (int32_t)json_integer_value(json_array_get(a, n));
		}
		json_decref(o);
	}
	fclose(f);
	*text_out = text;
	return n;
}

static void test_tokenized_specials(void)
{
	struct floe_err err = {0};
	struct floe_gguf *g;
	struct floe_tokenizer *tok;
	struct floe_chat_msg m[] = {{"system", "Be brief."}, {"user", "hi"}};
	int32_t ids[64], gold[64];
	size_t n, len, n_gold;
	const char *gold_text = "";

	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-reduced8k.gguf"), &g, &err) == FLOE_OK);
	REQUIRE(floe_tokenizer_load(g, &tok, &err) == FLOE_OK);
	floe_gguf_close(g);

	/* the golden text is exactly our one-user-message prompt */
	n_gold = golden_chat_ids(gold, 64, &gold_text);
	REQUIRE(floe_chat_format(FLOE_CHAT_QWEN3, m + 1, 1, true, buf, sizeof(buf), &len, &err) == FLOE_OK);
	CHECK(strcmp(buf, gold_text) == 0);
	CHECK(floe_tokenizer_encode(tok, buf, len, true, ids, 64, &n, &err) == FLOE_OK);
	CHECK(n_gold > 0 && n == n_gold && memcmp(ids, gold, n * sizeof(*ids)) == 0);

	/* system + user: <|im_start|> x3, <|im_end|> x2, at the turn starts */
	REQUIRE(floe_chat_format(FLOE_CHAT_QWEN3, m, 2, true, buf, sizeof(buf), &len, &err) == FLOE_OK);
	REQUIRE(floe_tokenizer_encode(tok, buf, len, true, ids, 64, &n, &err) == FLOE_OK);
	int starts = 0, ends = 0;
	for (size_t i = 0; i < n; i++) {
		starts += ids[i] == 8184;
		ends += ids[i] == 8185;
		if (ids[i] == 8185)
			CHECK(i + 1 < n && ids[i + 1] == 198 && ids[i + 2] == 8184); /* "\n" then next turn */
	}
	CHECK(ids[0] == 8184 && starts == 3 && ends == 2);
	CHECK(n >= 4 && ids[n - 4] == 395 && ids[n - 3] == 380 && ids[n - 2] == 517 && ids[n - 1] == 198);
	/* ("assistant" is 3 tokens in the reduced vocab, then "\n") */
	/* without parse_special the markers are plain text */
	REQUIRE(floe_tokenizer_encode(tok, buf, len, false, ids, 64, &n, &err) == FLOE_OK);
	for (size_t i = 0; i < n; i++)
		CHECK(ids[i] != 8184 && ids[i] != 8185);
	floe_tokenizer_free(tok);
}

int main(void)
{
	RUN(test_system_user);
	RUN(test_thinking_off);
	RUN(test_history_drops_reasoning);
	RUN(test_trailing_assistant);
	RUN(test_tool_turns);
	RUN(test_continue);
	RUN(test_buffer_sizing);
	RUN(test_detect);
	RUN(test_tokenized_specials);
	return harness_finish();
}

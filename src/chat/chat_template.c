/* chat_template: ChatML and Qwen3's rendering of it, written out in C.
 *
 * The Qwen3 rules below mirror the Jinja template shipped in Qwen3's
 * tokenizer_config.json (also in the fixtures' tokenizer.chat_template) for
 * conversations without tools; each rule cites the template line it
 * reproduces.  Output goes through a bounded writer that keeps counting past
 * the end of the buffer, so a call with a small buffer reports the size
 * needed. */
#include "chat/chat_template.h"

#include <string.h>

/* Bounded writer: copies what fits, counts everything. */
struct out {
	char *buf;
	size_t cap, len;
};

static void put_n(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put(struct out *o, const char *s)
{
	put_n(o, s, strlen(s));
}

/* A piece of a message, Python-slice style. */
struct span {
	const char *s;
	size_t n;
};

static struct span span_of(const char *s)
{
	return (struct span){s, s ? strlen(s) : 0};
}

static struct span lstrip_nl(struct span x)
{
	while (x.n && x.s[0] == '\n')
		x.s++, x.n--;
	return x;
}

static struct span rstrip_nl(struct span x)
{
	while (x.n && x.s[x.n - 1] == '\n')
		x.n--;
	return x;
}

static const char *find_first(struct span x, const char *pat)
{
	return memmem(x.s, x.n, pat, strlen(pat));
}

static const char *find_last(struct span x, const char *pat)
{
	const char *last = NULL, *p = x.s;
	size_t k = strlen(pat);

	while ((p = memmem(p, x.n - (size_t)(p - x.s), pat, k)) != NULL)
		last = p++;
	return last;
}

static bool starts_with(struct span x, const char *pat)
{
	size_t k = strlen(pat);
	return x.n >= k && memcmp(x.s, pat, k) == 0;
}

static bool ends_with(struct span x, const char *pat)
{
	size_t k = strlen(pat);
	return x.n >= k && memcmp(x.s + x.n - k, pat, k) == 0;
}

static bool is_role(const struct floe_chat_msg *m, const char *role)
{
	return strcmp(m->role, role) == 0;
}

/* ------------------------------------------------------------------------ */
/* ChatML                                                                    */
/* ------------------------------------------------------------------------ */

static void chatml_block(struct out *o, const char *role, struct span content)
{
	put(o, "<|im_start|>");
	put(o, role);
	put(o, "\n");
	put_n(o, content.s, content.n);
	put(o, "<|im_end|>\n");
}

static void format_chatml(struct out *o, const struct floe_chat_msg *msgs, int n)
{
	for (int i = 0; i < n; i++)
		chatml_block(o, msgs[i].role, span_of(msgs[i].content));
}

/* ------------------------------------------------------------------------ */
/* Qwen3                                                                     */
/* ------------------------------------------------------------------------ */

/* ns.last_query_index: the last user message that is not a wrapped tool
 * response; n - 1 if there is none. */
static int last_query_index(const struct floe_chat_msg *msgs, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		struct span c = span_of(msgs[i].content);
		if (is_role(&msgs[i], "user") &&
		    !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>")))
			return i;
	}
	return n - 1;
}

/* content.split('</think>')[-1].lstrip('\n') and
 * content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') */
static void split_reasoning(struct span c, struct span *content, struct span *reasoning)
{
	const char *end = find_last(c, "</think>");
	const char *first_end, *open;
	struct span r;

	*content = c;
	*reasoning = (struct span){"", 0};
	if (!end)
		return;
	*content = lstrip_nl((struct span){end + 8, c.n - (size_t)(end + 8 - c.s)});
	first_end = find_first(c, "</think>");
	r = rstrip_nl((struct span){c.s, (size_t)(first_end - c.s)});
	open = find_last(r, "<think>");
	if (open)
		r = (struct span){open + 7, r.n - (size_t)(open + 7 - r.s)};
	*reasoning = lstrip_nl(r);
}

static void qwen3_assistant(struct out *o, const struct floe_chat_msg *msgs, int n, int i, int lq)
{
	struct span content, reasoning;

	split_reasoning(span_of(msgs[i].content), &content, &reasoning);
	put(o, "<|im_start|>assistant\n");
	/* {%- if loop.index0 > ns.last_query_index %}{%- if loop.last or reasoning_content %} */
	if (i > lq && (i == n - 1 || reasoning.n)) {
		put(o, "<think>\n");
		reasoning = rstrip_nl(lstrip_nl(reasoning));
		put_n(o, reasoning.s, reasoning.n);
		put(o, "\n</think>\n\n");
		content = lstrip_nl(content);
	}
	put_n(o, content.s, content.n);
	put(o, "<|im_end|>\n");
}

static int format_qwen3(struct out *o, const struct floe_chat_msg *msgs, int n, struct floe_err *err)
{
	int lq = last_query_index(msgs, n);

	for (int i = 0; i < n; i++) {
		const struct floe_chat_msg *m = &msgs[i];

		if (is_role(m, "system") || is_role(m, "user")) {
			chatml_block(o, m->role, span_of(m->content));
		} else if (is_role(m, "assistant")) {
			qwen3_assistant(o, msgs, n, i, lq);
		} else if (is_role(m, "tool")) {
			/* consecutive tool results share one user turn */
			if (i == 0 || !is_role(&msgs[i - 1], "tool"))
				put(o, "<|im_start|>user");
			put(o, "\n<tool_response>\n");
			put(o, m->content);
			put(o, "\n</tool_response>");
			if (i == n - 1 || !is_role(&msgs[i + 1], "tool"))
				put(o, "<|im_end|>\n");
		} else {
			return floe_fail(err, FLOE_EARG,
					 "chat: message %d has role \"%.32s\" (qwen3 knows "
					 "system, user, assistant, tool)",
					 i, m->role);
		}
	}
	return FLOE_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */
/* ------------------------------------------------------------------------ */

static int check_msgs(const struct floe_chat_msg *msgs, int n, struct floe_err *err)
{
	if (n < 0 || (n > 0 && !msgs))
		return floe_fail(err, FLOE_EARG, "chat: %d messages", n);
	for (int i = 0; i < n; i++)
		if (!msgs[i].role || !msgs[i].role[0] || !msgs[i].content)
			return floe_fail(err, FLOE_EARG, "chat: message %d has no role or content", i);
	return FLOE_OK;
}

static int format_body(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n, struct out *o,
		       struct floe_err *err)
{
	int st = check_msgs(msgs, n, err);

	if (st)
		return st;
	switch (kind) {
	case FLOE_CHAT_CHATML:
		format_chatml(o, msgs, n);
		return FLOE_OK;
	case FLOE_CHAT_QWEN3:
		return format_qwen3(o, msgs, n, err);
	default:
		return floe_fail(err, FLOE_EARG, "chat: unknown template kind %d", (int)kind);
	}
}

static void generation_prompt(enum floe_chat_kind kind, bool enable_thinking, struct out *o)
{
	put(o, "<|im_start|>assistant\n");
	if (kind == FLOE_CHAT_QWEN3 && !enable_thinking)
		put(o, "<think>\n\n</think>\n\n");
}

static int finish(struct out *o, size_t *len, struct floe_err *err)
{
	*len = o->len;
	if (o->len >= o->cap)
		return floe_fail(err, FLOE_EARG, "chat: prompt needs %zu bytes + NUL, buffer holds %zu",
				 o->len, o->cap);
	o->buf[o->len] = '\0';
	return FLOE_OK;
}

int floe_chat_format_ex(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
			bool add_generation_prompt, bool enable_thinking, char *buf, size_t cap, size_t *len,
			struct floe_err *err)
{
	struct out o = {buf, buf ? cap : 0, 0};
	int st = format_body(kind, msgs, n, &o, err);

	*len = 0;
	if (st)
		return st;
	if (add_generation_prompt)
		generation_prompt(kind, enable_thinking, &o);
	return finish(&o, len, err);
}

int floe_chat_format(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
		     bool add_generation_prompt, char *buf, size_t cap, size_t *len, struct floe_err *err)
{
	return floe_chat_format_ex(kind, msgs, n, add_generation_prompt, true, buf, cap, len, err);
}

int floe_chat_format_continue(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
			      bool eot_in_cache, bool enable_thinking, char *buf, size_t cap, size_t *len,
			      struct floe_err *err)
{
	struct out o = {buf, buf ? cap : 0, 0};
	int st;

	*len = 0;
	put(&o, eot_in_cache ? "\n" : "<|im_end|>\n");
	st = format_body(kind, msgs, n, &o, err);
	if (st)
		return st;
	generation_prompt(kind, enable_thinking, &o);
	return finish(&o, len, err);
}

/* ------------------------------------------------------------------------ */
/* Detection                                                                 */
/* ------------------------------------------------------------------------ */

static bool str_value(const struct floe_gguf *g, const char *key, const char **s)
{
	const struct floe_gguf_kv *kv = floe_gguf_find(g, key);

	if (!kv || kv->value.type != FLOE_GGUF_STRING)
		return false;
	*s = kv->value.v.str.s;
	return true;
}

enum floe_chat_kind floe_chat_detect(const struct floe_gguf *g)
{
	static const char *const qwen3_arch[] = {"qwen3", "qwen3moe", "qwen35moe", "qwen35"};
	static const char *const chatml_arch[] = {"qwen2", "qwen2moe"};
	const char *t, *arch;

	if (str_value(g, "tokenizer.chat_template", &t) && strstr(t, "<|im_start|>"))
		return strstr(t, "</think>") ? FLOE_CHAT_QWEN3 : FLOE_CHAT_CHATML;
	if (!str_value(g, "general.architecture", &arch))
		return FLOE_CHAT_UNKNOWN;
	for (size_t i = 0; i < sizeof(qwen3_arch) / sizeof(qwen3_arch[0]); i++)
		if (strcmp(arch, qwen3_arch[i]) == 0)
			return FLOE_CHAT_QWEN3;
	for (size_t i = 0; i < sizeof(chatml_arch) / sizeof(chatml_arch[0]); i++)
		if (strcmp(arch, chatml_arch[i]) == 0)
			return FLOE_CHAT_CHATML;
	return FLOE_CHAT_UNKNOWN;
}

const char *floe_chat_kind_name(enum floe_chat_kind kind)
{
	switch (kind) {
	case FLOE_CHAT_CHATML:
		return "chatml";
	case FLOE_CHAT_QWEN3:
		return "qwen3";
	default:
		return "unknown";
	}
}

/* chat_template: turns a list of chat messages into the prompt text a model
 * was trained on.  No Jinja: each supported family is a small C formatter that
 * reproduces its template's output for the cases it handles.
 *
 *   FLOE_CHAT_CHATML  "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message,
 *                     "<|im_start|>assistant\n" as generation prompt.
 *   FLOE_CHAT_QWEN3   ChatML as Qwen3's template renders it without tools:
 *                     assistant turns before the last user query lose their
 *                     <think>...</think> part; an assistant turn after it
 *                     keeps its reasoning in "<think>\nR\n</think>\n\n";
 *                     consecutive "tool" messages become one user turn of
 *                     <tool_response> blocks.  enable_thinking = false adds
 *                     "<think>\n\n</think>\n\n" after the generation prompt
 *                     (the template's switch to skip reasoning); true (the
 *                     template's default) adds nothing and lets the model
 *                     think.
 * The special tokens in the output (<|im_start|>, <|im_end|>) must be
 * tokenized with parse_special = true.
 *
 * Output convention (like snprintf): on success buf holds a NUL-terminated
 * string of *len bytes.  If cap < *len + 1 nothing useful is in buf, *len is
 * the length needed and the status is FLOE_EARG; buf may be NULL when cap is
 * 0. */
#ifndef FLOE_CHAT_CHAT_TEMPLATE_H
#define FLOE_CHAT_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "gguf/gguf.h"

enum floe_chat_kind {
	FLOE_CHAT_UNKNOWN = 0,
	FLOE_CHAT_CHATML,
	FLOE_CHAT_QWEN3,
};

struct floe_chat_msg {
	const char *role;    /* "system", "user", "assistant" or "tool" */
	const char *content; /* NUL-terminated UTF-8 */
};

/* From metadata: tokenizer.chat_template containing "<|im_start|>" is ChatML,
 * and Qwen3's flavour when it also handles "</think>"; without a template,
 * general.architecture qwen3 / qwen3moe / qwen35moe / qwen35 gives QWEN3 and
 * qwen2 / qwen2moe gives CHATML.  Anything else is FLOE_CHAT_UNKNOWN. */
enum floe_chat_kind floe_chat_detect(const struct floe_gguf *g);
const char *floe_chat_kind_name(enum floe_chat_kind kind);

/* The whole conversation msgs[0..n), then the generation prompt if asked.
 * Thinking is enabled (the template's default).  FLOE_EARG for an unknown
 * kind or role, or cap too small (see above); err may be NULL. */
int floe_chat_format(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
		     bool add_generation_prompt, char *buf, size_t cap, size_t *len, struct floe_err *err);

/* The same with enable_thinking chosen (false: the empty think block). */
int floe_chat_format_ex(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
			bool add_generation_prompt, bool enable_thinking, char *buf, size_t cap, size_t *len,
			struct floe_err *err);

/* A continuing turn for a session that keeps its KV cache: the text to feed
 * after the previous assistant reply, i.e. the end of that reply, the new
 * messages msgs[0..n) (usually one user message), then the generation
 * prompt.  The end of the reply is "<|im_end|>\n" when the model's
 * <|im_end|> was not fed back into the cache (the usual case: generation
 * stops at an end-of-generation token without decoding it), or "\n" when
 * eot_in_cache says it was.  Note: the cache keeps the reply's reasoning,
 * whereas re-rendering the whole chat with floe_chat_format would drop it
 * from earlier assistant turns (Qwen3). */
int floe_chat_format_continue(enum floe_chat_kind kind, const struct floe_chat_msg *msgs, int n,
			      bool eot_in_cache, bool enable_thinking, char *buf, size_t cap, size_t *len,
			      struct floe_err *err);

#endif

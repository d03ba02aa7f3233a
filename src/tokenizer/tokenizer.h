/* tokenizer: text <-> token ids from a GGUF's tokenizer.* metadata.
 *
 * Supported: tokenizer.ggml.model = "gpt2" (byte-level BPE) with the
 * pre-tokenizer tokenizer.ggml.pre = "qwen2".  Anything else is refused with
 * FLOE_EUNSUPPORTED naming the model or pre-tokenizer.  The behaviour follows
 * llama.cpp's llama_tokenize (the fixtures pin it down id for id):
 *   - special tokens are cut out of the text first, longest first: CONTROL
 *     (and UNKNOWN) tokens only when parse_special is true, USER_DEFINED
 *     tokens always;
 *   - each remaining fragment is split by the pre-tokenizer regex (PCRE2,
 *     UTF + UCP), each piece is mapped to byte tokens and merged by BPE rank;
 *   - no Unicode normalization (no NFC), nothing is added: the caller asks
 *     floe_tokenizer_add_bos() and prepends BOS itself if it wants.
 * Invalid UTF-8 never fails: a byte that is not part of a valid sequence
 * becomes a piece of its own (its byte token), so any input round-trips.
 *
 * A loaded tokenizer is immutable: encode and the getters may be called from
 * several threads at once.  It copies what it needs and does not borrow the
 * floe_gguf after load. */
#ifndef FLOE_TOKENIZER_TOKENIZER_H
#define FLOE_TOKENIZER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "gguf/gguf.h"

struct floe_tokenizer;

/* Token types as stored in tokenizer.ggml.token_type (llama.cpp numbering). */
enum floe_token_type {
	FLOE_TOKEN_UNDEFINED = 0,
	FLOE_TOKEN_NORMAL = 1,
	FLOE_TOKEN_UNKNOWN = 2,
	FLOE_TOKEN_CONTROL = 3,
	FLOE_TOKEN_USER_DEFINED = 4,
	FLOE_TOKEN_UNUSED = 5,
	FLOE_TOKEN_BYTE = 6,
};

/* Build a tokenizer from g's metadata.  On success *out is owned by the
 * caller (floe_tokenizer_free).  Errors: FLOE_EUNSUPPORTED for an unknown
 * tokenizer model or pre-tokenizer, FLOE_EFORMAT for missing/ill-typed keys,
 * a bad token type, an id out of range or a missing byte token, FLOE_ENOMEM. */
int floe_tokenizer_load(const struct floe_gguf *g, struct floe_tokenizer **out, struct floe_err *err);
void floe_tokenizer_free(struct floe_tokenizer *tok);

/* Tokenize text[0..len) (any bytes; NUL is an ordinary byte).  Writes up to
 * cap ids and sets *n_out to the number of ids the text needs.  Returns
 * FLOE_OK, or FLOE_EARG if cap < *n_out (ids then holds the first cap ids),
 * or FLOE_ENOMEM.  Allocates scratch per call (this is not a per-token path). */
int floe_tokenizer_encode(const struct floe_tokenizer *tok, const char *text, size_t len, bool parse_special,
			  int32_t *ids, size_t cap, size_t *n_out, struct floe_err *err);

/* The same, into a malloc'd array the caller frees (NULL when *n_out is 0). */
int floe_tokenizer_encode_alloc(const struct floe_tokenizer *tok, const char *text, size_t len,
				bool parse_special, int32_t **ids, size_t *n_out, struct floe_err *err);

/* The bytes a token stands for: byte-level decoded for ordinary tokens, the
 * literal text for CONTROL / USER_DEFINED / UNUSED tokens.  Not
 * NUL-terminated; lives as long as tok.  NULL (and *len = 0) if id is out of
 * range. */
const char *floe_tokenizer_token_bytes(const struct floe_tokenizer *tok, int32_t id, size_t *len);

/* Whole-sequence decode: the bytes of ids[0..n) back to back, CONTROL and
 * UNUSED tokens included only if special.  Like snprintf: *len is the full
 * length; buf gets a NUL-terminated copy if cap > *len, else FLOE_EARG
 * (buf may be NULL when cap is 0).  FLOE_EARG for an id out of range. */
int floe_tokenizer_decode(const struct floe_tokenizer *tok, const int32_t *ids, size_t n, bool special,
			  char *buf, size_t cap, size_t *len, struct floe_err *err);

enum floe_token_type floe_tokenizer_token_type(const struct floe_tokenizer *tok, int32_t id);

/* Id of the token whose bytes (as floe_tokenizer_token_bytes gives them) are
 * exactly text[0..len), preferring special tokens; -1 if there is none. */
int32_t floe_tokenizer_find(const struct floe_tokenizer *tok, const char *text, size_t len);

uint32_t floe_tokenizer_n_vocab(const struct floe_tokenizer *tok);
/* Special ids, -1 when the vocab has none. */
int32_t floe_tokenizer_bos(const struct floe_tokenizer *tok);
int32_t floe_tokenizer_eos(const struct floe_tokenizer *tok);
/* End of turn: tokenizer.ggml.eot_token_id, else <|im_end|>, <|eot_id|>, ...
 * found in the vocab, else -1. */
int32_t floe_tokenizer_eot(const struct floe_tokenizer *tok);
int32_t floe_tokenizer_pad(const struct floe_tokenizer *tok);
/* tokenizer.ggml.add_bos_token (false when absent). */
bool floe_tokenizer_add_bos(const struct floe_tokenizer *tok);
/* End of generation: eos, eot, and the control tokens llama.cpp treats as
 * such (<|endoftext|>, <|im_end|>, <|fim_pad|>, <|repo_name|>, <|file_sep|>,
 * <|eot_id|>, <|end|>, ...). */
bool floe_tokenizer_is_eog(const struct floe_tokenizer *tok, int32_t id);

/* Streaming detokenizer: feed ids one at a time; each push hands back only
 * complete UTF-8 sequences, holding back (at most 3) trailing bytes of a
 * sequence that the next token may complete.  Bytes that can never become
 * valid UTF-8 are passed through as they are.  CONTROL and UNUSED tokens
 * produce no text unless emit_control is set.  Init allocates one buffer (the longest
 * token + 4); push and flush allocate nothing.  The returned pointer is valid
 * until the next call on d. */
struct floe_detok {
	const struct floe_tokenizer *tok; /* borrowed; must outlive d */
	bool emit_control;
	uint8_t held[4];
	size_t n_held;
	char *buf; /* owned */
	size_t cap;
};

int floe_detok_init(struct floe_detok *d, const struct floe_tokenizer *tok, bool emit_control,
		    struct floe_err *err);
void floe_detok_free(struct floe_detok *d);
/* Append token id; *out and *len: the text that is complete now (may be empty).
 * FLOE_EARG for an id out of range (nothing is consumed). */
int floe_detok_push(struct floe_detok *d, int32_t id, const char **out, size_t *len, struct floe_err *err);
/* End of stream: hand back whatever is held (possibly a broken sequence). */
void floe_detok_flush(struct floe_detok *d, const char **out, size_t *len);

#endif

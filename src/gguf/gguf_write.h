/* gguf_write: streaming writer for GGUF v3 files of any size.
 *
 * Usage, in this order:
 *   floe_gguf_writer_open(path, &w, err)
 *   floe_gguf_write_kv_*(w, ...)          any number of metadata values
 *   floe_gguf_write_tensor_info(w, ...)   every tensor: name, ggml type, shape
 *   floe_gguf_write_begin_data(w)         writes the header (kvs + tensor table)
 *   floe_gguf_write_data(w, bytes, n)     the tensors' data in the order of their
 *                                         infos, in chunks of any size; padding to
 *                                         the alignment is inserted between tensors
 *   floe_gguf_writer_close(w, err)        checks every byte arrived, flushes, closes
 *
 * Metadata is serialized as it is added (so values copied from an opened
 * floe_gguf need not outlive the call); tensor data goes through a bounded
 * buffer, so a 17 GB model is written with a few MB of memory.
 *
 * Errors are sticky: the first failure is kept in the writer, later calls
 * return the same status and do nothing, and floe_gguf_writer_close reports
 * it.  floe_gguf_writer_abort closes without checks and unlinks the file
 * unless keep is true (tests use keep to look at a header-only file).
 *
 * The alignment is 32 unless a "general.alignment" integer KV is added, whose
 * value (a power of two) is then used. */
#ifndef FLOE_GGUF_GGUF_WRITE_H
#define FLOE_GGUF_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "gguf/gguf.h"

struct floe_gguf_writer;

int floe_gguf_writer_open(const char *path, struct floe_gguf_writer **out, struct floe_err *err);

/* Scalars.  Integers are written with the exact width of `type`
 * (FLOE_GGUF_UINT8..INT64, BOOL); the value must fit. */
int floe_gguf_write_kv_int(struct floe_gguf_writer *w, const char *key, enum floe_gguf_type type,
			   int64_t v);
int floe_gguf_write_kv_u64(struct floe_gguf_writer *w, const char *key, uint64_t v);
int floe_gguf_write_kv_u32(struct floe_gguf_writer *w, const char *key, uint32_t v);
int floe_gguf_write_kv_f32(struct floe_gguf_writer *w, const char *key, float v);
int floe_gguf_write_kv_f64(struct floe_gguf_writer *w, const char *key, double v);
int floe_gguf_write_kv_bool(struct floe_gguf_writer *w, const char *key, bool v);
int floe_gguf_write_kv_str(struct floe_gguf_writer *w, const char *key, const char *s);
int floe_gguf_write_kv_strn(struct floe_gguf_writer *w, const char *key, const char *s,
			    uint64_t len);

/* Array of n scalars laid out as a C array of the element type (bool as
 * uint8_t), or of n struct floe_gguf_str for FLOE_GGUF_STRING. */
int floe_gguf_write_kv_arr(struct floe_gguf_writer *w, const char *key,
			   enum floe_gguf_type elem_type, const void *data, uint64_t n);

/* Any value as the reader represents it, nested arrays included. */
int floe_gguf_write_kv_value(struct floe_gguf_writer *w, const char *key,
			     const struct floe_gguf_value *v);

/* Copy every KV of g whose key starts with prefix ("" for all; e.g.
 * "tokenizer."), in file order.  Returns the status; *n_copied if non-NULL. */
int floe_gguf_write_kv_copy(struct floe_gguf_writer *w, const struct floe_gguf *g,
			    const char *prefix, uint64_t *n_copied);

/* Declare a tensor: ne[0] is the row length (a multiple of the type's block). */
int floe_gguf_write_tensor_info(struct floe_gguf_writer *w, const char *name, uint32_t type,
				uint32_t n_dims, const uint64_t *ne);

/* Bytes of tensor data declared so far (with padding), and the header size
 * once floe_gguf_write_begin_data ran (0 before). */
uint64_t floe_gguf_writer_data_size(const struct floe_gguf_writer *w);
uint64_t floe_gguf_writer_header_size(const struct floe_gguf_writer *w);

int floe_gguf_write_begin_data(struct floe_gguf_writer *w);
int floe_gguf_write_data(struct floe_gguf_writer *w, const void *data, size_t n);

/* Finish; FLOE_OK only if every step succeeded and every tensor's bytes were
 * written.  On failure the file is removed.  Frees w in all cases. */
int floe_gguf_writer_close(struct floe_gguf_writer *w, struct floe_err *err);
void floe_gguf_writer_abort(struct floe_gguf_writer *w, bool keep);

#endif

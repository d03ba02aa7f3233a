/* gguf: reader for GGUF v2/v3 files (little-endian only).
 *
 * The file is untrusted input.  floe_gguf_open reads only the header region
 * (metadata and tensor table) with pread, never the tensor data, so a 200 GB
 * file opens instantly.  Every count, string length, type, shape and offset is
 * validated against the file size and sane limits before use; a bad file gives
 * FLOE_EFORMAT (or FLOE_EUNSUPPORTED for a valid but unknown tensor type, or
 * a big-endian file) with a message naming the field and its byte offset.
 *
 * All strings returned point into the floe_gguf handle and live as long as it.
 * Strings are NOT NUL-terminated in the file; the reader stores them
 * NUL-terminated (a string containing a NUL byte is accepted; its `len` tells
 * the true length). */
#ifndef FLOE_GGUF_GGUF_H
#define FLOE_GGUF_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* GGUF metadata value types, numbered as in the file. */
enum floe_gguf_type {
	FLOE_GGUF_UINT8 = 0,
	FLOE_GGUF_INT8 = 1,
	FLOE_GGUF_UINT16 = 2,
	FLOE_GGUF_INT16 = 3,
	FLOE_GGUF_UINT32 = 4,
	FLOE_GGUF_INT32 = 5,
	FLOE_GGUF_FLOAT32 = 6,
	FLOE_GGUF_BOOL = 7,
	FLOE_GGUF_STRING = 8,
	FLOE_GGUF_ARRAY = 9,
	FLOE_GGUF_UINT64 = 10,
	FLOE_GGUF_INT64 = 11,
	FLOE_GGUF_FLOAT64 = 12,
};

#define FLOE_GGUF_MAX_DIMS 4

struct floe_gguf_str {
	const char *s; /* NUL-terminated copy */
	uint64_t len;
};

/* One metadata value.  Scalars live in the union: unsigned integers
 * (uint8..uint64) zero-extended in u64, signed ones (int8..int64)
 * sign-extended in i64, float32/float64 in f64, bool in b.  Strings in
 * `str`.  Arrays hold `n` elements of `arr_type`, stored as a C array of the
 * element type (uint8_t..double, bool as uint8_t 0/1, strings as struct
 * floe_gguf_str, nested arrays as struct floe_gguf_value, at most 4 deep). */
struct floe_gguf_value {
	enum floe_gguf_type type;
	union {
		uint64_t u64;
		int64_t i64;
		double f64;
		bool b;
		struct floe_gguf_str str;
		struct {
			enum floe_gguf_type arr_type;
			uint64_t n;
			const void *data;
		} arr;
	} v;
};

struct floe_gguf_kv {
	struct floe_gguf_str key;
	struct floe_gguf_value value;
};

struct floe_gguf_tensor {
	struct floe_gguf_str name;
	uint32_t type;                  /* ggml type id; see quant/quant.h */
	uint32_t n_dims;                /* 1..FLOE_GGUF_MAX_DIMS */
	uint64_t ne[FLOE_GGUF_MAX_DIMS]; /* ne[0] is the row length (fastest); unused dims are 1 */
	uint64_t n_elems;
	uint64_t offset;                /* absolute byte offset in the file (data start + rel) */
	uint64_t size;                  /* bytes of data */
};

struct floe_gguf {
	uint32_t version;         /* 2 or 3 */
	uint64_t file_size;
	uint64_t alignment;       /* general.alignment or 32 */
	uint64_t data_offset;     /* start of tensor data, aligned */
	uint64_t n_kv;
	struct floe_gguf_kv *kv;
	uint64_t n_tensors;
	struct floe_gguf_tensor *tensors;
	/* private: arena and index owned by the handle */
	void *priv;
};

/* Open path and parse its header.  On success *out is owned by the caller
 * (floe_gguf_close).  On failure err says what and where. */
int floe_gguf_open(const char *path, struct floe_gguf **out, struct floe_err *err);

/* Parse a GGUF image already in memory (used by the fuzzer and tests).
 * file_size is the size the image claims to be (>= len when only a prefix is
 * given; tensor data beyond len is then still validated against file_size). */
int floe_gguf_parse(const void *buf, size_t len, uint64_t file_size, struct floe_gguf **out,
		    struct floe_err *err);

void floe_gguf_close(struct floe_gguf *g);

/* Lookups: NULL when absent. */
const struct floe_gguf_kv *floe_gguf_find(const struct floe_gguf *g, const char *key);
const struct floe_gguf_tensor *floe_gguf_find_tensor(const struct floe_gguf *g, const char *name);

/* Typed getters.  Return FLOE_OK, or FLOE_EFORMAT with a message if the key is
 * missing or its type does not convert (integers convert between widths when
 * the value fits; float32/float64 convert to each other). */
int floe_gguf_get_u32(const struct floe_gguf *g, const char *key, uint32_t *out, struct floe_err *err);
int floe_gguf_get_u64(const struct floe_gguf *g, const char *key, uint64_t *out, struct floe_err *err);
int floe_gguf_get_f32(const struct floe_gguf *g, const char *key, float *out, struct floe_err *err);
int floe_gguf_get_bool(const struct floe_gguf *g, const char *key, bool *out, struct floe_err *err);
int floe_gguf_get_str(const struct floe_gguf *g, const char *key, struct floe_gguf_str *out,
		      struct floe_err *err);
/* Array of the given element type (FLOE_GGUF_STRING for string arrays). */
int floe_gguf_get_arr(const struct floe_gguf *g, const char *key, enum floe_gguf_type elem_type,
		      const void **data, uint64_t *n, struct floe_err *err);

const char *floe_gguf_type_name(enum floe_gguf_type t);

#endif

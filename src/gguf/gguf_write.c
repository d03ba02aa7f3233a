/* gguf_write: serialize metadata into a growing buffer, keep the tensor
 * table, write both as the header, then stream tensor data through a fixed
 * buffer with alignment padding between tensors.  See gguf_write.h. */
#include "gguf/gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "quant/quant.h"

#define WRITE_BUF (8u << 20)

struct wtensor {
	char *name;
	uint32_t type, n_dims;
	uint64_t ne[FLOE_GGUF_MAX_DIMS];
	uint64_t size;   /* bytes of data */
	uint64_t offset; /* relative to the data section */
};

struct bytes {
	unsigned char *p;
	size_t n, cap;
};

struct floe_gguf_writer {
	int fd;
	char *path;
	struct floe_err err; /* first failure, sticky */
	uint64_t n_kv;
	struct bytes kv;     /* serialized KVs */
	struct wtensor *tensors;
	uint64_t n_tensors, cap_tensors;
	uint64_t alignment;
	uint64_t data_size;  /* sum of sizes with padding */
	uint64_t header_size;
	bool in_data;
	uint64_t cur;        /* tensor being written */
	uint64_t cur_done;   /* bytes of it written */
	uint64_t file_pos;   /* bytes handed to write() so far + buffered */
	struct bytes out;    /* write buffer, capacity WRITE_BUF */
};

/* ------------------------------------------------------------------------
 * Error and buffer helpers. */

static int wfail(struct floe_gguf_writer *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int wfail(struct floe_gguf_writer *w, int status, const char *fmt, ...)
{
	char msg[FLOE_ERR_LEN];
	va_list ap;

	if (w->err.status)
		return w->err.status;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return floe_fail(&w->err, status, "%s: %s", w->path, msg);
}

static int bytes_put(struct floe_gguf_writer *w, struct bytes *b, const void *src, size_t n)
{
	if (w->err.status)
		return w->err.status;
	if (b->cap - b->n < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->n < n) {
			if (cap > SIZE_MAX / 2)
				return wfail(w, FLOE_ENOMEM, "metadata too large");
			cap *= 2;
		}
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			return wfail(w, FLOE_ENOMEM, "out of memory for %zu bytes of metadata", cap);
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, src, n);
	b->n += n;
	return FLOE_OK;
}

static int put_u32(struct floe_gguf_writer *w, struct bytes *b, uint32_t v)
{
	return bytes_put(w, b, &v, 4);
}

static int put_u64(struct floe_gguf_writer *w, struct bytes *b, uint64_t v)
{
	return bytes_put(w, b, &v, 8);
}

static int put_str(struct floe_gguf_writer *w, struct bytes *b, const char *s, uint64_t len)
{
	int rc = put_u64(w, b, len);
	return rc ? rc : bytes_put(w, b, s, (size_t)len);
}

/* ------------------------------------------------------------------------
 * Open. */

int floe_gguf_writer_open(const char *path, struct floe_gguf_writer **out, struct floe_err *err)
{
	struct floe_gguf_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w || !(w->path = strdup(path)) || !(w->out.p = malloc(WRITE_BUF))) {
		if (w)
			free(w->path);
		free(w);
		return floe_fail(err, FLOE_ENOMEM, "%s: out of memory for a GGUF writer", path);
	}
	w->out.cap = WRITE_BUF;
	w->alignment = 32;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int rc = floe_fail(err, FLOE_EIO, "%s: cannot create: %s", path, strerror(errno));
		free(w->out.p);
		free(w->path);
		free(w);
		return rc;
	}
	*out = w;
	return FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Metadata. */

static int kv_begin(struct floe_gguf_writer *w, const char *key, enum floe_gguf_type type)
{
	int rc;

	if (w->err.status)
		return w->err.status;
	if (w->in_data)
		return wfail(w, FLOE_EARG, "kv '%s' added after the header was written", key);
	if (!key[0])
		return wfail(w, FLOE_EARG, "empty key");
	if ((rc = put_str(w, &w->kv, key, strlen(key))) || (rc = put_u32(w, &w->kv, type)))
		return rc;
	w->n_kv++;
	return FLOE_OK;
}

static uint32_t scalar_bytes(enum floe_gguf_type t)
{
	switch (t) {
	case FLOE_GGUF_UINT8: case FLOE_GGUF_INT8: case FLOE_GGUF_BOOL: return 1;
	case FLOE_GGUF_UINT16: case FLOE_GGUF_INT16: return 2;
	case FLOE_GGUF_UINT32: case FLOE_GGUF_INT32: case FLOE_GGUF_FLOAT32: return 4;
	case FLOE_GGUF_UINT64: case FLOE_GGUF_INT64: case FLOE_GGUF_FLOAT64: return 8;
	default: return 0;
	}
}

static bool int_fits(enum floe_gguf_type t, int64_t v)
{
	switch (t) {
	case FLOE_GGUF_UINT8: return v >= 0 && v <= UINT8_MAX;
	case FLOE_GGUF_INT8: return v >= INT8_MIN && v <= INT8_MAX;
	case FLOE_GGUF_UINT16: return v >= 0 && v <= UINT16_MAX;
	case FLOE_GGUF_INT16: return v >= INT16_MIN && v <= INT16_MAX;
	case FLOE_GGUF_UINT32: return v >= 0 && v <= UINT32_MAX;
	case FLOE_GGUF_INT32: return v >= INT32_MIN && v <= INT32_MAX;
	case FLOE_GGUF_BOOL: return v == 0 || v == 1;
	case FLOE_GGUF_UINT64: return v >= 0;
	case FLOE_GGUF_INT64: return true;
	default: return false;
	}
}

/* A general.alignment KV sets the alignment the data section uses. */
static int note_alignment(struct floe_gguf_writer *w, const char *key, uint64_t v)
{
	if (strcmp(key, "general.alignment") != 0)
		return FLOE_OK;
	if (v == 0 || (v & (v - 1)) || v > (1u << 20))
		return wfail(w, FLOE_EARG, "general.alignment %" PRIu64 " is not a power of two <= 1 MiB",
			     v);
	if (w->n_tensors)
		return wfail(w, FLOE_EARG, "general.alignment set after tensor infos");
	w->alignment = v;
	return FLOE_OK;
}

int floe_gguf_write_kv_int(struct floe_gguf_writer *w, const char *key, enum floe_gguf_type type,
			   int64_t v)
{
	int rc;

	if (!int_fits(type, v))
		return wfail(w, FLOE_EARG, "kv '%s': %" PRId64 " does not fit type %s", key, v,
			     floe_gguf_type_name(type));
	if ((rc = note_alignment(w, key, (uint64_t)v)) || (rc = kv_begin(w, key, type)))
		return rc;
	return bytes_put(w, &w->kv, &v, scalar_bytes(type)); /* little-endian low bytes */
}

int floe_gguf_write_kv_u64(struct floe_gguf_writer *w, const char *key, uint64_t v)
{
	int rc;

	if ((rc = note_alignment(w, key, v)) || (rc = kv_begin(w, key, FLOE_GGUF_UINT64)))
		return rc;
	return put_u64(w, &w->kv, v);
}

int floe_gguf_write_kv_u32(struct floe_gguf_writer *w, const char *key, uint32_t v)
{
	return floe_gguf_write_kv_int(w, key, FLOE_GGUF_UINT32, v);
}

int floe_gguf_write_kv_f32(struct floe_gguf_writer *w, const char *key, float v)
{
	int rc = kv_begin(w, key, FLOE_GGUF_FLOAT32);
	return rc ? rc : bytes_put(w, &w->kv, &v, 4);
}

int floe_gguf_write_kv_f64(struct floe_gguf_writer *w, const char *key, double v)
{
	int rc = kv_begin(w, key, FLOE_GGUF_FLOAT64);
	return rc ? rc : bytes_put(w, &w->kv, &v, 8);
}

int floe_gguf_write_kv_bool(struct floe_gguf_writer *w, const char *key, bool v)
{
	return floe_gguf_write_kv_int(w, key, FLOE_GGUF_BOOL, v);
}

int floe_gguf_write_kv_strn(struct floe_gguf_writer *w, const char *key, const char *s,
			    uint64_t len)
{
	int rc = kv_begin(w, key, FLOE_GGUF_STRING);
	return rc ? rc : put_str(w, &w->kv, s, len);
}

int floe_gguf_write_kv_str(struct floe_gguf_writer *w, const char *key, const char *s)
{
	return floe_gguf_write_kv_strn(w, key, s, strlen(s));
}

/* Array body: element type, count, elements. */
static int put_array(struct floe_gguf_writer *w, enum floe_gguf_type et, const void *data,
		     uint64_t n, int depth)
{
	int rc;

	if (depth > 16)
		return wfail(w, FLOE_EARG, "arrays nested deeper than 16");
	if ((rc = put_u32(w, &w->kv, et)) || (rc = put_u64(w, &w->kv, n)))
		return rc;
	if (et == FLOE_GGUF_STRING) {
		const struct floe_gguf_str *s = data;
		for (uint64_t i = 0; i < n && !rc; i++)
			rc = put_str(w, &w->kv, s[i].s, s[i].len);
		return rc;
	}
	if (et == FLOE_GGUF_ARRAY) {
		const struct floe_gguf_value *v = data;
		for (uint64_t i = 0; i < n && !rc; i++) {
			if (v[i].type != FLOE_GGUF_ARRAY)
				return wfail(w, FLOE_EARG, "array of arrays holds a %s",
					     floe_gguf_type_name(v[i].type));
			rc = put_array(w, v[i].v.arr.arr_type, v[i].v.arr.data, v[i].v.arr.n,
				       depth + 1);
		}
		return rc;
	}
	uint32_t sz = scalar_bytes(et);
	if (!sz)
		return wfail(w, FLOE_EARG, "array element type %d is not a GGUF type", (int)et);
	if (n > SIZE_MAX / sz)
		return wfail(w, FLOE_EARG, "array of %" PRIu64 " elements is too large", n);
	return bytes_put(w, &w->kv, data, (size_t)(n * sz));
}

int floe_gguf_write_kv_arr(struct floe_gguf_writer *w, const char *key,
			   enum floe_gguf_type elem_type, const void *data, uint64_t n)
{
	int rc = kv_begin(w, key, FLOE_GGUF_ARRAY);
	return rc ? rc : put_array(w, elem_type, data, n, 0);
}

int floe_gguf_write_kv_value(struct floe_gguf_writer *w, const char *key,
			     const struct floe_gguf_value *v)
{
	const struct floe_gguf_str *s = &v->v.str;

	switch (v->type) {
	case FLOE_GGUF_UINT8: case FLOE_GGUF_UINT16: case FLOE_GGUF_UINT32:
		return floe_gguf_write_kv_int(w, key, v->type, (int64_t)v->v.u64);
	case FLOE_GGUF_INT8: case FLOE_GGUF_INT16: case FLOE_GGUF_INT32: case FLOE_GGUF_INT64:
		return floe_gguf_write_kv_int(w, key, v->type, v->v.i64);
	case FLOE_GGUF_BOOL:
		return floe_gguf_write_kv_bool(w, key, v->v.b);
	case FLOE_GGUF_UINT64:
		return floe_gguf_write_kv_u64(w, key, v->v.u64);
	case FLOE_GGUF_FLOAT32:
		return floe_gguf_write_kv_f32(w, key, (float)v->v.f64);
	case FLOE_GGUF_FLOAT64:
		return floe_gguf_write_kv_f64(w, key, v->v.f64);
	case FLOE_GGUF_STRING:
		return floe_gguf_write_kv_strn(w, key, s->s, s->len);
	case FLOE_GGUF_ARRAY:
		return floe_gguf_write_kv_arr(w, key, v->v.arr.arr_type, v->v.arr.data, v->v.arr.n);
	}
	return wfail(w, FLOE_EARG, "kv '%s': value type %d is not a GGUF type", key, (int)v->type);
}

int floe_gguf_write_kv_copy(struct floe_gguf_writer *w, const struct floe_gguf *g,
			    const char *prefix, uint64_t *n_copied)
{
	size_t plen = strlen(prefix);
	uint64_t n = 0;
	int rc = FLOE_OK;

	for (uint64_t i = 0; i < g->n_kv && !rc; i++) {
		const struct floe_gguf_kv *kv = &g->kv[i];
		if (kv->key.len < plen || memcmp(kv->key.s, prefix, plen) != 0)
			continue;
		if (strlen(kv->key.s) != kv->key.len)
			return wfail(w, FLOE_EARG, "kv %" PRIu64 ": key contains a NUL byte", i);
		rc = floe_gguf_write_kv_value(w, kv->key.s, &kv->value);
		n++;
	}
	if (n_copied)
		*n_copied = n;
	return rc ? rc : w->err.status;
}

/* ------------------------------------------------------------------------
 * Tensor table and header. */

int floe_gguf_write_tensor_info(struct floe_gguf_writer *w, const char *name, uint32_t type,
				uint32_t n_dims, const uint64_t *ne)
{
	struct wtensor *t;
	uint64_t rows = 1, size, end;

	if (w->err.status)
		return w->err.status;
	if (w->in_data)
		return wfail(w, FLOE_EARG, "tensor '%s' added after the header was written", name);
	if (n_dims < 1 || n_dims > FLOE_GGUF_MAX_DIMS)
		return wfail(w, FLOE_EARG, "tensor '%s': n_dims %" PRIu32, name, n_dims);
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] == 0 || (d && !floe_mul_u64(rows, ne[d], &rows)))
			return wfail(w, FLOE_EARG, "tensor '%s': bad dim %" PRIu32 " = %" PRIu64, name,
				     d, ne[d]);
	}
	uint64_t row = floe_type_row_bytes(type, ne[0]);
	if (!row || !floe_mul_u64(row, rows, &size))
		return wfail(w, FLOE_EARG, "tensor '%s': ne[0] = %" PRIu64 " does not fit type %s",
			     name, ne[0], floe_type_name(type));
	uint64_t off = floe_round_up(w->data_size, w->alignment);
	if (!floe_add_u64(off, size, &end))
		return wfail(w, FLOE_EARG, "tensor '%s': data size overflows", name);
	if (w->n_tensors == w->cap_tensors) {
		uint64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
		struct wtensor *nt = realloc(w->tensors, (size_t)cap * sizeof(*nt));
		if (!nt)
			return wfail(w, FLOE_ENOMEM, "out of memory for tensor infos");
		w->tensors = nt;
		w->cap_tensors = cap;
	}
	t = &w->tensors[w->n_tensors];
	memset(t, 0, sizeof(*t));
	if (!(t->name = strdup(name)))
		return wfail(w, FLOE_ENOMEM, "out of memory for tensor infos");
	t->type = type;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < FLOE_GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->size = size;
	t->offset = off;
	w->data_size = end;
	w->n_tensors++;
	return FLOE_OK;
}

uint64_t floe_gguf_writer_data_size(const struct floe_gguf_writer *w) { return w->data_size; }
uint64_t floe_gguf_writer_header_size(const struct floe_gguf_writer *w) { return w->header_size; }

static int flush_out(struct floe_gguf_writer *w)
{
	size_t done = 0;

	while (done < w->out.n) {
		ssize_t r = write(w->fd, w->out.p + done, w->out.n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return wfail(w, FLOE_EIO, "write at offset %" PRIu64 " failed: %s",
				     w->file_pos - w->out.n + done, r < 0 ? strerror(errno) : "wrote 0");
		done += (size_t)r;
	}
	w->out.n = 0;
	return FLOE_OK;
}

/* Append to the output buffer, flushing when full. */
static int emit(struct floe_gguf_writer *w, const void *src, size_t n)
{
	const unsigned char *p = src;

	while (n) {
		size_t k = w->out.cap - w->out.n;
		if (k > n)
			k = n;
		memcpy(w->out.p + w->out.n, p, k);
		w->out.n += k;
		w->file_pos += k;
		p += k;
		n -= k;
		if (w->out.n == w->out.cap) {
			int rc = flush_out(w);
			if (rc)
				return rc;
		}
	}
	return FLOE_OK;
}

static int emit_zeros(struct floe_gguf_writer *w, uint64_t n)
{
	static const unsigned char zero[256];
	int rc = FLOE_OK;

	while (n && !rc) {
		size_t k = n < sizeof(zero) ? (size_t)n : sizeof(zero);
		rc = emit(w, zero, k);
		n -= k;
	}
	return rc;
}

int floe_gguf_write_begin_data(struct floe_gguf_writer *w)
{
	struct bytes h = {0};
	int rc;

	if (w->err.status)
		return w->err.status;
	if (w->in_data)
		return wfail(w, FLOE_EARG, "header written twice");
	if ((rc = bytes_put(w, &h, "GGUF", 4)) || (rc = put_u32(w, &h, 3)) ||
	    (rc = put_u64(w, &h, w->n_tensors)) || (rc = put_u64(w, &h, w->n_kv)) ||
	    (rc = bytes_put(w, &h, w->kv.p, w->kv.n)))
		goto free_h;
	for (uint64_t i = 0; i < w->n_tensors && !rc; i++) {
		const struct wtensor *t = &w->tensors[i];
		if ((rc = put_str(w, &h, t->name, strlen(t->name))) || (rc = put_u32(w, &h, t->n_dims)))
			break;
		for (uint32_t d = 0; d < t->n_dims && !rc; d++)
			rc = put_u64(w, &h, t->ne[d]);
		if (!rc)
			rc = put_u32(w, &h, t->type);
		if (!rc)
			rc = put_u64(w, &h, t->offset);
	}
	if (rc)
		goto free_h;
	if ((rc = emit(w, h.p, h.n)) || (rc = emit_zeros(w, floe_round_up(h.n, w->alignment) - h.n)))
		goto free_h;
	w->header_size = w->file_pos;
	w->in_data = true;
	w->cur = 0;
	w->cur_done = 0;
	free(w->kv.p);
	w->kv = (struct bytes){0};
free_h:
	free(h.p);
	return rc;
}

int floe_gguf_write_data(struct floe_gguf_writer *w, const void *data, size_t n)
{
	const unsigned char *p = data;
	int rc;

	if (w->err.status)
		return w->err.status;
	if (!w->in_data)
		return wfail(w, FLOE_EARG, "tensor data before floe_gguf_write_begin_data");
	while (n) {
		if (w->cur >= w->n_tensors)
			return wfail(w, FLOE_EARG, "%zu bytes of data beyond the last tensor", n);
		const struct wtensor *t = &w->tensors[w->cur];
		if (w->cur_done == 0) {
			uint64_t at = w->header_size + t->offset;
			if ((rc = emit_zeros(w, at - w->file_pos)))
				return rc;
		}
		uint64_t k = t->size - w->cur_done;
		if (k > n)
			k = n;
		if ((rc = emit(w, p, (size_t)k)))
			return rc;
		p += k;
		n -= (size_t)k;
		w->cur_done += k;
		if (w->cur_done == t->size) {
			w->cur++;
			w->cur_done = 0;
		}
	}
	return FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Close. */

static void writer_free(struct floe_gguf_writer *w)
{
	for (uint64_t i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	free(w->tensors);
	free(w->kv.p);
	free(w->out.p);
	free(w->path);
	free(w);
}

void floe_gguf_writer_abort(struct floe_gguf_writer *w, bool keep)
{
	if (!w)
		return;
	if (keep && !w->err.status)
		flush_out(w);
	close(w->fd);
	if (!keep)
		unlink(w->path);
	writer_free(w);
}

int floe_gguf_writer_close(struct floe_gguf_writer *w, struct floe_err *err)
{
	int rc;

	if (!w->err.status && !w->in_data)
		floe_gguf_write_begin_data(w);
	if (!w->err.status && w->cur < w->n_tensors)
		wfail(w, FLOE_EARG, "closed after %" PRIu64 " of %" PRIu64
		      " tensors' data (tensor '%s' has %" PRIu64 " of %" PRIu64 " bytes)",
		      w->cur, w->n_tensors, w->tensors[w->cur].name, w->cur_done,
		      w->tensors[w->cur].size);
	if (!w->err.status)
		flush_out(w);
	if (close(w->fd) != 0 && !w->err.status)
		wfail(w, FLOE_EIO, "close failed: %s", strerror(errno));
	rc = w->err.status;
	if (rc) {
		floe_fail(err, rc, "%s", w->err.msg);
		unlink(w->path);
	}
	w->fd = -1;
	writer_free(w);
	return rc;
}

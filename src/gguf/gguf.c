/* gguf: parse and validate the header region of a GGUF v2/v3 file.
 *
 * The header is read through a cursor over a byte buffer.  In file mode the
 * buffer starts small and grows with pread as the parser walks past its end,
 * so only the metadata and tensor table are ever read (a 200 GB model opens in
 * milliseconds); in memory mode (floe_gguf_parse, the fuzzer) the buffer is
 * the caller's.  Every count is bounded by the header bytes that could still
 * hold it before anything is allocated, so a hostile count fails cleanly
 * instead of asking for gigabytes.  Strings and arrays are copied into an
 * arena owned by the handle; keys and tensor names are indexed by sorted
 * arrays, which also catch duplicates. */
#include "gguf/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
#include "quant/quant.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

#define GGUF_MAGIC_LE 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_MAGIC_BE 0x47475546u /* a byte-swapped magic ("FUGG") */

/* Sane limits.  The header of the largest real models is a few tens of MB
 * (vocab + merges); anything far beyond is hostile. */
#define GGUF_MAX_HEADER (256ull << 20)
#define GGUF_MAX_NAME 65535u   /* key / tensor name length */
#define GGUF_MAX_DEPTH 4       /* nesting of arrays inside arrays */
#define GGUF_MAX_ALIGN (1u << 20)
#define GGUF_DEFAULT_ALIGN 32u
#define GGUF_FIRST_READ (256u << 10)

/* ------------------------------------------------------------------------
 * Arena: bump allocation in chunks, freed all at once with the handle. */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_block *head;
	size_t next_cap; /* blocks grow from 16 KiB to 1 MiB */
};

static void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t need = (size + 15) & ~(size_t)15;

	if (need < size)
		return NULL;
	if (!b || b->cap - b->used < need) {
		size_t cap = a->next_cap ? a->next_cap : (16u << 10);
		if (cap < (1u << 20))
			a->next_cap = cap * 2;
		if (cap < need)
			cap = need;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		/* A big one-off block goes behind the current head so the
		 * head's free space stays usable. */
		if (a->head && need > (1u << 19) && need == cap) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += need;
	return p;
}

static void arena_free(struct arena *a)
{
	struct arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

/* ------------------------------------------------------------------------
 * Name index over keys or tensor names: pointers to the names, sorted.
 * Sorting (rather than hashing) keeps lookups and the duplicate check
 * O(n log n) in the worst case, so no crafted set of names can make a
 * hostile file slow to open. */

struct index {
	const struct floe_gguf_str **by_name;
	uint64_t n;
};

/* Lookups turn a found name back into its entry. */
_Static_assert(offsetof(struct floe_gguf_kv, key) == 0, "key first in floe_gguf_kv");
_Static_assert(offsetof(struct floe_gguf_tensor, name) == 0, "name first in floe_gguf_tensor");

static int name_cmp(const char *a, uint64_t alen, const char *b, uint64_t blen)
{
	int c = memcmp(a, b, alen < blen ? (size_t)alen : (size_t)blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Equal names keep their file order (the pointers point into one array). */
static int index_entry_cmp(const void *x, const void *y)
{
	const struct floe_gguf_str *a = *(const struct floe_gguf_str *const *)x;
	const struct floe_gguf_str *b = *(const struct floe_gguf_str *const *)y;
	int c = name_cmp(a->s, a->len, b->s, b->len);
	if (c)
		return c;
	return a < b ? -1 : a > b;
}

/* Index the n names at first, first + stride, ...  If names repeat,
 * *dup_later is the earliest entry (in file order) whose name an earlier
 * entry *dup_first already has; both are UINT64_MAX if all names differ. */
static int index_build(struct index *ix, const struct floe_gguf_str *first, size_t stride, uint64_t n,
		       uint64_t *dup_first, uint64_t *dup_later)
{
	*dup_first = *dup_later = UINT64_MAX;
	ix->n = n;
	ix->by_name = malloc((size_t)(n ? n : 1) * sizeof(*ix->by_name));
	if (!ix->by_name)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		ix->by_name[i] = (const void *)((const char *)first + (size_t)i * stride);
	qsort(ix->by_name, (size_t)n, sizeof(*ix->by_name), index_entry_cmp);
	for (uint64_t i = 1; i < n; i++) {
		const struct floe_gguf_str *a = ix->by_name[i - 1], *b = ix->by_name[i];
		if (name_cmp(a->s, a->len, b->s, b->len) == 0) {
			uint64_t ia = (uint64_t)((const char *)a - (const char *)first) / stride;
			uint64_t ib = (uint64_t)((const char *)b - (const char *)first) / stride;
			/* Report the duplicate that appears earliest in the file. */
			if (ib < *dup_later) {
				*dup_first = ia;
				*dup_later = ib;
			}
		}
	}
	return 0;
}

static const struct floe_gguf_str *index_find(const struct index *ix, const char *s, uint64_t len)
{
	uint64_t lo = 0, hi = ix->n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const struct floe_gguf_str *m = ix->by_name[mid];
		int c = name_cmp(m->s, m->len, s, len);
		if (c == 0) {
			/* The first of equal names (only possible while parsing). */
			while (mid > 0 && name_cmp(ix->by_name[mid - 1]->s, ix->by_name[mid - 1]->len,
						   s, len) == 0)
				mid--;
			return ix->by_name[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct priv {
	struct arena arena;
	struct index kv_ix, tensor_ix;
};

/* ------------------------------------------------------------------------
 * Cursor: the bytes of the header, grown by pread in file mode. */

struct cursor {
	const unsigned char *buf;
	uint64_t len;       /* bytes valid in buf */
	uint64_t pos;
	uint64_t file_size;
	uint64_t limit;     /* header bytes that may exist: min(file size, len or max header) */
	int fd;             /* -1 in memory mode */
	unsigned char *own; /* buf when we own it (file mode) */
	char what[192];     /* current item, for messages: "kv 7 'key'" */
	struct floe_err *err;
};

static int cur_fail(struct cursor *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cur_fail(struct cursor *c, int status, const char *fmt, ...)
{
	char msg[FLOE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return floe_fail(c->err, status, "%s: %s", c->what, msg);
}

/* Make the next n bytes available, reading more of the file if needed. */
static int cur_need(struct cursor *c, uint64_t n, const char *field)
{
	uint64_t end;

	if (!floe_add_u64(c->pos, n, &end) || end > c->limit) {
		if (c->limit == GGUF_MAX_HEADER && end <= c->file_size)
			return cur_fail(c, FLOE_EFORMAT,
					"%s at offset %" PRIu64 " needs %" PRIu64
					" bytes: header larger than the %llu MiB limit",
					field, c->pos, n, GGUF_MAX_HEADER >> 20);
		if (c->limit < c->file_size && end <= c->file_size)
			return cur_fail(c, FLOE_EFORMAT,
					"%s at offset %" PRIu64 " needs %" PRIu64
					" bytes: header extends past the %" PRIu64 " bytes given",
					field, c->pos, n, c->limit);
		return cur_fail(c, FLOE_EFORMAT,
				"%s truncated at offset %" PRIu64 ": needs %" PRIu64
				" bytes, file has %" PRIu64,
				field, c->pos, n, c->file_size - (c->pos < c->file_size ? c->pos : c->file_size));
	}
	if (end <= c->len)
		return FLOE_OK;
	/* File mode: grow geometrically up to the limit. */
	uint64_t want = c->len * 2;
	if (want < end)
		want = end;
	if (want > c->limit)
		want = c->limit;
	unsigned char *nb = realloc(c->own, want);
	if (!nb)
		return cur_fail(c, FLOE_ENOMEM, "cannot grow header buffer to %" PRIu64 " bytes", want);
	c->own = nb;
	c->buf = nb;
	uint64_t got;
	int st = floe_pread_full(c->fd, nb + c->len, want - c->len, c->len, &got);
	c->len += got;
	if (st)
		return floe_fail(c->err, FLOE_EIO, "read at offset %" PRIu64 " failed: %s", c->len,
				 st < 0 ? strerror(-st) : "unexpected end of file");
	return FLOE_OK;
}

static uint64_t cur_remaining(const struct cursor *c) { return c->limit - c->pos; }

static int rd_u32(struct cursor *c, uint32_t *v, const char *field)
{
	int rc = cur_need(c, 4, field);
	if (rc)
		return rc;
	memcpy(v, c->buf + c->pos, 4);
	c->pos += 4;
	return FLOE_OK;
}

static int rd_u64(struct cursor *c, uint64_t *v, const char *field)
{
	int rc = cur_need(c, 8, field);
	if (rc)
		return rc;
	memcpy(v, c->buf + c->pos, 8);
	c->pos += 8;
	return FLOE_OK;
}

/* A string: u64 length then bytes; copied NUL-terminated into the arena. */
static int rd_str(struct cursor *c, struct arena *a, struct floe_gguf_str *out, uint64_t max_len,
		  const char *field)
{
	uint64_t at = c->pos, len;
	int rc = rd_u64(c, &len, field);

	if (rc)
		return rc;
	if (len > max_len)
		return cur_fail(c, FLOE_EFORMAT,
				"%s length %" PRIu64 " at offset %" PRIu64 " exceeds limit %" PRIu64,
				field, len, at, max_len);
	if (len > cur_remaining(c))
		return cur_fail(c, FLOE_EFORMAT,
				"%s length %" PRIu64 " exceeds remaining %" PRIu64
				" bytes at offset %" PRIu64,
				field, len, cur_remaining(c), at);
	if ((rc = cur_need(c, len, field)))
		return rc;
	char *s = arena_alloc(a, (size_t)len + 1);
	if (!s)
		return cur_fail(c, FLOE_ENOMEM, "%s: out of memory for %" PRIu64 " bytes", field, len);
	memcpy(s, c->buf + c->pos, (size_t)len);
	s[len] = '\0';
	c->pos += len;
	out->s = s;
	out->len = len;
	return FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Metadata values. */

static const char *const type_names[] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
};

const char *floe_gguf_type_name(enum floe_gguf_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "unknown";
}

/* Bytes of one scalar in the file; 0 for string/array/unknown. */
static uint32_t scalar_size(uint32_t t)
{
	switch (t) {
	case FLOE_GGUF_UINT8: case FLOE_GGUF_INT8: case FLOE_GGUF_BOOL: return 1;
	case FLOE_GGUF_UINT16: case FLOE_GGUF_INT16: return 2;
	case FLOE_GGUF_UINT32: case FLOE_GGUF_INT32: case FLOE_GGUF_FLOAT32: return 4;
	case FLOE_GGUF_UINT64: case FLOE_GGUF_INT64: case FLOE_GGUF_FLOAT64: return 8;
	}
	return 0;
}

static bool type_known(uint32_t t) { return t <= FLOE_GGUF_FLOAT64; }

/* Decode one scalar at p into v (type already set). */
static void decode_scalar(const unsigned char *p, struct floe_gguf_value *v)
{
	uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
	float f32;

	switch (v->type) {
	case FLOE_GGUF_UINT8: memcpy(&u8, p, 1); v->v.u64 = u8; break;
	case FLOE_GGUF_INT8: memcpy(&i8, p, 1); v->v.i64 = i8; break;
	case FLOE_GGUF_UINT16: memcpy(&u16, p, 2); v->v.u64 = u16; break;
	case FLOE_GGUF_INT16: memcpy(&i16, p, 2); v->v.i64 = i16; break;
	case FLOE_GGUF_UINT32: memcpy(&u32, p, 4); v->v.u64 = u32; break;
	case FLOE_GGUF_INT32: memcpy(&i32, p, 4); v->v.i64 = i32; break;
	case FLOE_GGUF_FLOAT32: memcpy(&f32, p, 4); v->v.f64 = f32; break;
	case FLOE_GGUF_BOOL: v->v.b = p[0] != 0; break;
	case FLOE_GGUF_UINT64: memcpy(&v->v.u64, p, 8); break;
	case FLOE_GGUF_INT64: memcpy(&v->v.i64, p, 8); break;
	case FLOE_GGUF_FLOAT64: memcpy(&v->v.f64, p, 8); break;
	default: break;
	}
}

static int rd_value(struct cursor *c, struct arena *a, struct floe_gguf_value *v, uint32_t type,
		    int depth);

/* Smallest number of file bytes one element of type t can take. */
static uint64_t elem_min_bytes(uint32_t t)
{
	if (t == FLOE_GGUF_STRING)
		return 8;
	if (t == FLOE_GGUF_ARRAY)
		return 12;
	return scalar_size(t);
}

static int rd_array(struct cursor *c, struct arena *a, struct floe_gguf_value *v, int depth)
{
	uint64_t at = c->pos, n;
	uint32_t et;
	int rc;

	if (depth >= GGUF_MAX_DEPTH)
		return cur_fail(c, FLOE_EFORMAT, "array nesting deeper than %d at offset %" PRIu64,
				GGUF_MAX_DEPTH, at);
	if ((rc = rd_u32(c, &et, "array element type")))
		return rc;
	if (!type_known(et))
		return cur_fail(c, FLOE_EFORMAT, "array element type %" PRIu32 " at offset %" PRIu64
				" is not a GGUF type", et, at);
	at = c->pos;
	if ((rc = rd_u64(c, &n, "array length")))
		return rc;
	uint64_t min = elem_min_bytes(et);
	if (n > cur_remaining(c) / min)
		return cur_fail(c, FLOE_EFORMAT,
				"array length %" PRIu64 " exceeds remaining %" PRIu64
				" bytes at offset %" PRIu64,
				n, cur_remaining(c), at);
	v->v.arr.arr_type = et;
	v->v.arr.n = n;
	/* Have the array's minimum bytes in hand before allocating for it,
	 * so memory stays proportional to what was really read. */
	if ((rc = cur_need(c, n * min, "array data")))
		return rc;
	if (et == FLOE_GGUF_STRING || et == FLOE_GGUF_ARRAY) {
		size_t esz = et == FLOE_GGUF_STRING ? sizeof(struct floe_gguf_str)
						      : sizeof(struct floe_gguf_value);
		void *d = arena_alloc(a, (size_t)n * esz);
		if (!d && n)
			return cur_fail(c, FLOE_ENOMEM, "out of memory for array of %" PRIu64, n);
		v->v.arr.data = d;
		for (uint64_t i = 0; i < n; i++) {
			if (et == FLOE_GGUF_STRING)
				rc = rd_str(c, a, (struct floe_gguf_str *)d + i, UINT64_MAX,
					    "array string");
			else
				rc = rd_value(c, a, (struct floe_gguf_value *)d + i, FLOE_GGUF_ARRAY,
					      depth + 1);
			if (rc)
				return rc;
		}
		return FLOE_OK;
	}
	uint64_t bytes = n * min;
	if ((rc = cur_need(c, bytes, "array data")))
		return rc;
	unsigned char *d = arena_alloc(a, (size_t)bytes);
	if (!d && bytes)
		return cur_fail(c, FLOE_ENOMEM, "out of memory for array of %" PRIu64, n);
	if (bytes)
		memcpy(d, c->buf + c->pos, (size_t)bytes);
	if (et == FLOE_GGUF_BOOL)
		for (uint64_t i = 0; i < n; i++)
			d[i] = d[i] != 0;
	c->pos += bytes;
	v->v.arr.data = d;
	return FLOE_OK;
}

static int rd_value(struct cursor *c, struct arena *a, struct floe_gguf_value *v, uint32_t type,
		    int depth)
{
	int rc;

	v->type = type;
	if (type == FLOE_GGUF_STRING)
		return rd_str(c, a, &v->v.str, UINT64_MAX, "string value");
	if (type == FLOE_GGUF_ARRAY)
		return rd_array(c, a, v, depth);
	uint32_t sz = scalar_size(type);
	if ((rc = cur_need(c, sz, floe_gguf_type_name(type))))
		return rc;
	decode_scalar(c->buf + c->pos, v);
	c->pos += sz;
	return FLOE_OK;
}

/* ------------------------------------------------------------------------
 * Header, KVs, tensor table. */

static int parse_preamble(struct cursor *c, struct floe_gguf *g)
{
	uint32_t magic, version;
	int rc;

	snprintf(c->what, sizeof(c->what), "header");
	if ((rc = rd_u32(c, &magic, "magic")))
		return rc;
	if (magic == GGUF_MAGIC_BE)
		return cur_fail(c, FLOE_EUNSUPPORTED, "big-endian GGUF is not supported");
	if (magic != GGUF_MAGIC_LE)
		return cur_fail(c, FLOE_EFORMAT, "magic at offset 0 is 0x%08" PRIx32
				", expected \"GGUF\" (0x%08x): not a GGUF file", magic, GGUF_MAGIC_LE);
	if ((rc = rd_u32(c, &version, "version")))
		return rc;
	if (version != 0 && (version & 0xffff) == 0 && __builtin_bswap32(version) <= 0xffff)
		return cur_fail(c, FLOE_EUNSUPPORTED,
				"big-endian GGUF is not supported (version field 0x%08" PRIx32
				" at offset 4 is byte-swapped)", version);
	if (version == 1)
		return cur_fail(c, FLOE_EUNSUPPORTED,
				"version 1 at offset 4: GGUF v1 is not supported (only v2 and v3)");
	if (version != 2 && version != 3)
		return cur_fail(c, FLOE_EUNSUPPORTED,
				"version %" PRIu32 " at offset 4 is not supported (only v2 and v3)", version);
	g->version = version;
	if ((rc = rd_u64(c, &g->n_tensors, "tensor count")))
		return rc;
	if ((rc = rd_u64(c, &g->n_kv, "kv count")))
		return rc;
	/* A KV is at least 13 bytes, a tensor info at least 32. */
	if (g->n_kv > cur_remaining(c) / 13)
		return cur_fail(c, FLOE_EFORMAT, "kv count %" PRIu64 " at offset 16 exceeds remaining %"
				PRIu64 " bytes", g->n_kv, cur_remaining(c));
	if (g->n_tensors > cur_remaining(c) / 32 || g->n_tensors > UINT32_MAX - 1)
		return cur_fail(c, FLOE_EFORMAT, "tensor count %" PRIu64
				" at offset 8 exceeds remaining %" PRIu64 " bytes",
				g->n_tensors, cur_remaining(c));
	if (13 * g->n_kv + 32 * g->n_tensors > cur_remaining(c))
		return cur_fail(c, FLOE_EFORMAT, "kv count %" PRIu64 " and tensor count %" PRIu64
				" need more than the remaining %" PRIu64 " bytes",
				g->n_kv, g->n_tensors, cur_remaining(c));
	/* Read those minimum bytes before allocating tables for the counts. */
	return cur_need(c, 13 * g->n_kv + 32 * g->n_tensors, "kv and tensor tables");
}

static int parse_kvs(struct cursor *c, struct floe_gguf *g, struct priv *p)
{
	int rc;

	g->kv = arena_alloc(&p->arena, (size_t)g->n_kv * sizeof(*g->kv) + 1);
	if (!g->kv)
		return cur_fail(c, FLOE_ENOMEM, "out of memory for %" PRIu64 " kvs", g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct floe_gguf_kv *kv = &g->kv[i];
		uint64_t at = c->pos;
		uint32_t type;

		snprintf(c->what, sizeof(c->what), "kv %" PRIu64, i);
		if ((rc = rd_str(c, &p->arena, &kv->key, GGUF_MAX_NAME, "key")))
			return rc;
		snprintf(c->what, sizeof(c->what), "kv %" PRIu64 " '%.120s'", i, kv->key.s);
		if (kv->key.len == 0)
			return cur_fail(c, FLOE_EFORMAT, "empty key at offset %" PRIu64, at);
		at = c->pos;
		if ((rc = rd_u32(c, &type, "value type")))
			return rc;
		if (!type_known(type))
			return cur_fail(c, FLOE_EFORMAT, "value type %" PRIu32 " at offset %" PRIu64
					" is not a GGUF type", type, at);
		if ((rc = rd_value(c, &p->arena, &kv->value, type, 0)))
			return rc;
	}
	uint64_t first, later;
	if (index_build(&p->kv_ix, &g->kv[0].key, sizeof(*g->kv), g->n_kv, &first, &later))
		return cur_fail(c, FLOE_ENOMEM, "out of memory indexing %" PRIu64 " kvs", g->n_kv);
	if (later != UINT64_MAX) {
		snprintf(c->what, sizeof(c->what), "kv %" PRIu64 " '%.120s'", later, g->kv[later].key.s);
		return cur_fail(c, FLOE_EFORMAT, "duplicate key (first is kv %" PRIu64 ")", first);
	}
	return FLOE_OK;
}

static int parse_alignment(struct cursor *c, struct floe_gguf *g, struct priv *p)
{
	const struct floe_gguf_kv *kv = floe_gguf_find(g, "general.alignment");
	(void)p;

	g->alignment = GGUF_DEFAULT_ALIGN;
	if (!kv)
		return FLOE_OK;
	snprintf(c->what, sizeof(c->what), "kv %td 'general.alignment'", kv - g->kv);
	uint32_t t = kv->value.type;
	bool is_unsigned = t == FLOE_GGUF_UINT8 || t == FLOE_GGUF_UINT16 || t == FLOE_GGUF_UINT32 ||
			   t == FLOE_GGUF_UINT64;
	bool is_signed = t == FLOE_GGUF_INT8 || t == FLOE_GGUF_INT16 || t == FLOE_GGUF_INT32 ||
			 t == FLOE_GGUF_INT64;
	if (!is_unsigned && !is_signed)
		return cur_fail(c, FLOE_EFORMAT, "alignment has type %s, expected uint32",
				floe_gguf_type_name(t));
	uint64_t a = kv->value.v.u64;
	if (is_signed && kv->value.v.i64 < 0)
		return cur_fail(c, FLOE_EFORMAT, "alignment %" PRId64 " is negative", kv->value.v.i64);
	if (a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGN)
		return cur_fail(c, FLOE_EFORMAT,
				"alignment %" PRIu64 " is not a power of two in [1, %u]", a,
				GGUF_MAX_ALIGN);
	g->alignment = a;
	return FLOE_OK;
}

static int parse_tensor(struct cursor *c, struct floe_gguf *g, struct priv *p, uint64_t i)
{
	struct floe_gguf_tensor *t = &g->tensors[i];
	uint64_t at = c->pos;
	int rc;

	snprintf(c->what, sizeof(c->what), "tensor %" PRIu64, i);
	if ((rc = rd_str(c, &p->arena, &t->name, GGUF_MAX_NAME, "name")))
		return rc;
	snprintf(c->what, sizeof(c->what), "tensor %" PRIu64 " '%.120s'", i, t->name.s);
	at = c->pos;
	if ((rc = rd_u32(c, &t->n_dims, "n_dims")))
		return rc;
	if (t->n_dims < 1 || t->n_dims > FLOE_GGUF_MAX_DIMS)
		return cur_fail(c, FLOE_EFORMAT, "n_dims %" PRIu32 " at offset %" PRIu64
				" is not in [1, %d]", t->n_dims, at, FLOE_GGUF_MAX_DIMS);
	t->n_elems = 1;
	for (uint32_t d = 0; d < FLOE_GGUF_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d >= t->n_dims)
			continue;
		at = c->pos;
		if ((rc = rd_u64(c, &t->ne[d], "dim")))
			return rc;
		if (t->ne[d] == 0)
			return cur_fail(c, FLOE_EFORMAT, "dim %" PRIu32 " is 0 at offset %" PRIu64, d, at);
		if (!floe_mul_u64(t->n_elems, t->ne[d], &t->n_elems) || t->n_elems > (uint64_t)INT64_MAX)
			return cur_fail(c, FLOE_EFORMAT, "dim %" PRIu32 " = %" PRIu64 " at offset %"
					PRIu64 ": element count overflows", d, t->ne[d], at);
	}
	at = c->pos;
	if ((rc = rd_u32(c, &t->type, "type")))
		return rc;
	const struct floe_type_info *ti = floe_type_info(t->type);
	if (!ti)
		return cur_fail(c, FLOE_EUNSUPPORTED, "type %" PRIu32 " at offset %" PRIu64
				" is not a known ggml type", t->type, at);
	uint64_t row = floe_type_row_bytes(t->type, t->ne[0]);
	if (!row)
		return cur_fail(c, FLOE_EFORMAT, "row length ne[0] = %" PRIu64
				" is not a multiple of the %s block size %" PRIu32,
				t->ne[0], ti->name, ti->block_elems);
	if (!floe_mul_u64(row, t->n_elems / t->ne[0], &t->size))
		return cur_fail(c, FLOE_EFORMAT, "data size overflows (%" PRIu64 " rows of %" PRIu64
				" bytes)", t->n_elems / t->ne[0], row);
	at = c->pos;
	if ((rc = rd_u64(c, &t->offset, "offset")))
		return rc;
	/* Keep the relative offset for now; made absolute once data_offset is known. */
	(void)at;
	return FLOE_OK;
}

static int cmp_by_offset(const void *a, const void *b)
{
	const struct floe_gguf_tensor *x = *(const struct floe_gguf_tensor *const *)a;
	const struct floe_gguf_tensor *y = *(const struct floe_gguf_tensor *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Offsets: aligned, inside the file, no overlap.  Makes offsets absolute. */
static int check_tensor_data(struct cursor *c, struct floe_gguf *g)
{
	uint64_t data_size = g->file_size - g->data_offset;
	int rc = FLOE_OK;

	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct floe_gguf_tensor *t = &g->tensors[i];
		snprintf(c->what, sizeof(c->what), "tensor %" PRIu64 " '%.120s'", i, t->name.s);
		if (t->offset % g->alignment)
			return cur_fail(c, FLOE_EFORMAT, "data offset %" PRIu64
					" is not a multiple of the alignment %" PRIu64,
					t->offset, g->alignment);
		if (t->offset > data_size || t->size > data_size - t->offset)
			return cur_fail(c, FLOE_EFORMAT, "data [%" PRIu64 ", +%" PRIu64
					") lies outside the %" PRIu64 " data bytes of the file (data start %"
					PRIu64 ", file size %" PRIu64 ")",
					t->offset, t->size, data_size, g->data_offset, g->file_size);
		t->offset += g->data_offset;
	}
	if (g->n_tensors < 2)
		return FLOE_OK;
	const struct floe_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof(*order));
	if (!order)
		return floe_fail(c->err, FLOE_ENOMEM, "out of memory sorting %" PRIu64 " tensors",
				 g->n_tensors);
	for (uint64_t i = 0; i < g->n_tensors; i++)
		order[i] = &g->tensors[i];
	qsort(order, (size_t)g->n_tensors, sizeof(*order), cmp_by_offset);
	for (uint64_t i = 1; i < g->n_tensors; i++) {
		const struct floe_gguf_tensor *a = order[i - 1], *b = order[i];
		if (b->offset < a->offset + a->size) {
			snprintf(c->what, sizeof(c->what), "tensor %td '%.120s'", b - g->tensors,
				 b->name.s);
			rc = cur_fail(c, FLOE_EFORMAT, "data at offset %" PRIu64
				      " overlaps tensor %td '%.120s' [%" PRIu64 ", %" PRIu64 ")",
				      b->offset, a - g->tensors, a->name.s, a->offset,
				      a->offset + a->size);
			break;
		}
	}
	free(order);
	return rc;
}

static int parse_all(struct cursor *c, struct floe_gguf *g)
{
	struct priv *p = g->priv;
	int rc;

	if ((rc = parse_preamble(c, g)) || (rc = parse_kvs(c, g, p)) ||
	    (rc = parse_alignment(c, g, p)))
		return rc;
	g->tensors = arena_alloc(&p->arena, (size_t)g->n_tensors * sizeof(*g->tensors) + 1);
	if (!g->tensors)
		return floe_fail(c->err, FLOE_ENOMEM, "out of memory for %" PRIu64 " tensors",
				 g->n_tensors);
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if ((rc = parse_tensor(c, g, p, i)))
			return rc;
	uint64_t first, later;
	if (index_build(&p->tensor_ix, &g->tensors[0].name, sizeof(*g->tensors), g->n_tensors,
			&first, &later))
		return floe_fail(c->err, FLOE_ENOMEM, "out of memory indexing %" PRIu64 " tensors",
				 g->n_tensors);
	if (later != UINT64_MAX) {
		snprintf(c->what, sizeof(c->what), "tensor %" PRIu64 " '%.120s'", later,
			 g->tensors[later].name.s);
		return cur_fail(c, FLOE_EFORMAT, "duplicate tensor name (first is tensor %" PRIu64 ")",
				first);
	}
	/* The data section starts at the next multiple of the alignment; with
	 * no tensors a file may end right after the header. */
	g->data_offset = floe_round_up(c->pos, g->alignment);
	if (g->data_offset > g->file_size) {
		if (g->n_tensors) {
			snprintf(c->what, sizeof(c->what), "header");
			return cur_fail(c, FLOE_EFORMAT, "data section start %" PRIu64
					" (header end %" PRIu64 " aligned to %" PRIu64
					") is beyond the file size %" PRIu64,
					g->data_offset, c->pos, g->alignment, g->file_size);
		}
		g->data_offset = g->file_size;
	}
	return check_tensor_data(c, g);
}

static int gguf_new(struct floe_gguf **out, struct floe_err *err)
{
	struct floe_gguf *g = calloc(1, sizeof(*g));
	struct priv *p = calloc(1, sizeof(*p));

	if (!g || !p) {
		free(g);
		free(p);
		return floe_fail(err, FLOE_ENOMEM, "out of memory for a GGUF handle");
	}
	g->priv = p;
	*out = g;
	return FLOE_OK;
}

void floe_gguf_close(struct floe_gguf *g)
{
	struct priv *p;

	if (!g)
		return;
	p = g->priv;
	if (p) {
		arena_free(&p->arena);
		free(p->kv_ix.by_name);
		free(p->tensor_ix.by_name);
		free(p);
	}
	free(g);
}

int floe_gguf_parse(const void *buf, size_t len, uint64_t file_size, struct floe_gguf **out,
		    struct floe_err *err)
{
	struct cursor c = { .buf = buf, .len = len, .file_size = file_size, .fd = -1 };
	struct floe_gguf *g;
	int rc;

	*out = NULL;
	if (file_size < len)
		return floe_fail(err, FLOE_EARG, "gguf: buffer of %zu bytes exceeds file size %" PRIu64,
				 len, file_size);
	if ((rc = gguf_new(&g, err)))
		return rc;
	c.limit = len < GGUF_MAX_HEADER ? len : GGUF_MAX_HEADER;
	c.err = err;
	g->file_size = file_size;
	rc = parse_all(&c, g);
	if (rc) {
		floe_gguf_close(g);
		return rc;
	}
	*out = g;
	return FLOE_OK;
}

int floe_gguf_open(const char *path, struct floe_gguf **out, struct floe_err *err)
{
	struct cursor c = { .fd = -1, .err = err };
	struct floe_gguf *g = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	c.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0)
		return floe_fail(err, FLOE_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(c.fd, &st) != 0) {
		rc = floe_fail(err, FLOE_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = floe_fail(err, FLOE_EARG, "%s: not a regular file", path);
		goto close_fd;
	}
	c.file_size = (uint64_t)st.st_size;
	c.limit = c.file_size < GGUF_MAX_HEADER ? c.file_size : GGUF_MAX_HEADER;
	if ((rc = gguf_new(&g, err)))
		goto close_fd;
	g->file_size = c.file_size;
	/* The first read covers small headers whole. */
	c.len = 0;
	{
		uint64_t first = c.limit < GGUF_FIRST_READ ? c.limit : GGUF_FIRST_READ;
		c.pos = 0;
		if (first && (rc = cur_need(&c, first, "header")))
			goto fail;
	}
	rc = parse_all(&c, g);
	if (rc)
		goto fail;
	free(c.own);
	close(c.fd);
	*out = g;
	return FLOE_OK;
fail:
	floe_fail_prefix(err, "%s: ", path);
	floe_gguf_close(g);
	free(c.own);
close_fd:
	close(c.fd);
	return rc;
}

/* ------------------------------------------------------------------------
 * Lookups and typed getters. */

const struct floe_gguf_kv *floe_gguf_find(const struct floe_gguf *g, const char *key)
{
	const struct priv *p = g->priv;
	const struct floe_gguf_str *k = index_find(&p->kv_ix, key, strlen(key));

	/* key is the first member of struct floe_gguf_kv */
	return k ? (const struct floe_gguf_kv *)(const void *)k : NULL;
}

const struct floe_gguf_tensor *floe_gguf_find_tensor(const struct floe_gguf *g, const char *name)
{
	const struct priv *p = g->priv;
	const struct floe_gguf_str *n = index_find(&p->tensor_ix, name, strlen(name));

	/* name is the first member of struct floe_gguf_tensor */
	return n ? (const struct floe_gguf_tensor *)(const void *)n : NULL;
}

static const struct floe_gguf_kv *need_kv(const struct floe_gguf *g, const char *key,
					  struct floe_err *err)
{
	const struct floe_gguf_kv *kv = floe_gguf_find(g, key);
	if (!kv)
		floe_fail(err, FLOE_EFORMAT, "gguf: missing key '%s'", key);
	return kv;
}

static bool is_uint_type(uint32_t t)
{
	return t == FLOE_GGUF_UINT8 || t == FLOE_GGUF_UINT16 || t == FLOE_GGUF_UINT32 ||
	       t == FLOE_GGUF_UINT64;
}

static bool is_sint_type(uint32_t t)
{
	return t == FLOE_GGUF_INT8 || t == FLOE_GGUF_INT16 || t == FLOE_GGUF_INT32 ||
	       t == FLOE_GGUF_INT64;
}

int floe_gguf_get_u64(const struct floe_gguf *g, const char *key, uint64_t *out, struct floe_err *err)
{
	const struct floe_gguf_kv *kv = need_kv(g, key, err);

	if (!kv)
		return FLOE_EFORMAT;
	if (is_uint_type(kv->value.type)) {
		*out = kv->value.v.u64;
		return FLOE_OK;
	}
	if (is_sint_type(kv->value.type)) {
		if (kv->value.v.i64 < 0)
			return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' is %" PRId64
					 ", expected a non-negative integer", key, kv->value.v.i64);
		*out = (uint64_t)kv->value.v.i64;
		return FLOE_OK;
	}
	return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' has type %s, expected an integer", key,
			 floe_gguf_type_name(kv->value.type));
}

int floe_gguf_get_u32(const struct floe_gguf *g, const char *key, uint32_t *out, struct floe_err *err)
{
	uint64_t v;
	int rc = floe_gguf_get_u64(g, key, &v, err);

	if (rc)
		return rc;
	if (v > UINT32_MAX)
		return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' = %" PRIu64 " does not fit in uint32",
				 key, v);
	*out = (uint32_t)v;
	return FLOE_OK;
}

int floe_gguf_get_f32(const struct floe_gguf *g, const char *key, float *out, struct floe_err *err)
{
	const struct floe_gguf_kv *kv = need_kv(g, key, err);

	if (!kv)
		return FLOE_EFORMAT;
	if (kv->value.type != FLOE_GGUF_FLOAT32 && kv->value.type != FLOE_GGUF_FLOAT64)
		return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' has type %s, expected float32", key,
				 floe_gguf_type_name(kv->value.type));
	*out = (float)kv->value.v.f64;
	return FLOE_OK;
}

int floe_gguf_get_bool(const struct floe_gguf *g, const char *key, bool *out, struct floe_err *err)
{
	const struct floe_gguf_kv *kv = need_kv(g, key, err);

	if (!kv)
		return FLOE_EFORMAT;
	if (kv->value.type != FLOE_GGUF_BOOL)
		return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' has type %s, expected bool", key,
				 floe_gguf_type_name(kv->value.type));
	*out = kv->value.v.b;
	return FLOE_OK;
}

int floe_gguf_get_str(const struct floe_gguf *g, const char *key, struct floe_gguf_str *out,
		      struct floe_err *err)
{
	const struct floe_gguf_kv *kv = need_kv(g, key, err);

	if (!kv)
		return FLOE_EFORMAT;
	if (kv->value.type != FLOE_GGUF_STRING)
		return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' has type %s, expected string", key,
				 floe_gguf_type_name(kv->value.type));
	*out = kv->value.v.str;
	return FLOE_OK;
}

int floe_gguf_get_arr(const struct floe_gguf *g, const char *key, enum floe_gguf_type elem_type,
		      const void **data, uint64_t *n, struct floe_err *err)
{
	const struct floe_gguf_kv *kv = need_kv(g, key, err);

	if (!kv)
		return FLOE_EFORMAT;
	if (kv->value.type != FLOE_GGUF_ARRAY)
		return floe_fail(err, FLOE_EFORMAT, "gguf: key '%s' has type %s, expected array of %s",
				 key, floe_gguf_type_name(kv->value.type),
				 floe_gguf_type_name(elem_type));
	if (kv->value.v.arr.arr_type != elem_type)
		return floe_fail(err, FLOE_EFORMAT,
				 "gguf: key '%s' is an array of %s, expected array of %s", key,
				 floe_gguf_type_name(kv->value.v.arr.arr_type),
				 floe_gguf_type_name(elem_type));
	*data = kv->value.v.arr.data;
	*n = kv->value.v.arr.n;
	return FLOE_OK;
}

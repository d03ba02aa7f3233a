/* Tests for src/gguf/gguf_write: a file with every value type and a few
 * tensors round-trips through the reader; copying KVs from an opened file
 * reproduces them; misuse is reported. */
#include "harness.h"

#include <inttypes.h>
#include <stdint.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"

static void tmp_path(char *buf, size_t n)
{
	snprintf(buf, n, "/tmp/floe-gguf-write-XXXXXX");
	int fd = mkstemp(buf);
	if (fd >= 0)
		close(fd);
}

static size_t elem_size(enum floe_gguf_type t)
{
	switch (t) {
	case FLOE_GGUF_UINT8: case FLOE_GGUF_INT8: case FLOE_GGUF_BOOL: return 1;
	case FLOE_GGUF_UINT16: case FLOE_GGUF_INT16: return 2;
	case FLOE_GGUF_UINT32: case FLOE_GGUF_INT32: case FLOE_GGUF_FLOAT32: return 4;
	default: return 8;
	}
}

/* Deep equality of two values as the reader returns them. */
static bool value_eq(const struct floe_gguf_value *a, const struct floe_gguf_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case FLOE_GGUF_STRING:
		return a->v.str.len == b->v.str.len && memcmp(a->v.str.s, b->v.str.s, a->v.str.len) == 0;
	case FLOE_GGUF_ARRAY:
		if (a->v.arr.arr_type != b->v.arr.arr_type || a->v.arr.n != b->v.arr.n)
			return false;
		for (uint64_t i = 0; i < a->v.arr.n; i++) {
			if (a->v.arr.arr_type == FLOE_GGUF_STRING) {
				const struct floe_gguf_str *x = a->v.arr.data, *y = b->v.arr.data;
				if (x[i].len != y[i].len || memcmp(x[i].s, y[i].s, x[i].len))
					return false;
			} else if (a->v.arr.arr_type == FLOE_GGUF_ARRAY) {
				const struct floe_gguf_value *x = a->v.arr.data, *y = b->v.arr.data;
				if (!value_eq(&x[i], &y[i]))
					return false;
			}
		}
		if (a->v.arr.arr_type != FLOE_GGUF_STRING && a->v.arr.arr_type != FLOE_GGUF_ARRAY)
			return a->v.arr.n == 0 || memcmp(a->v.arr.data, b->v.arr.data,
							 a->v.arr.n * elem_size(a->v.arr.arr_type)) == 0;
		return true;
	case FLOE_GGUF_FLOAT32:
	case FLOE_GGUF_FLOAT64:
		return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
	case FLOE_GGUF_BOOL:
		return a->v.b == b->v.b;
	default:
		return a->v.u64 == b->v.u64;
	}
}

/* Fill n bytes with a pattern that depends on the tensor and position. */
static void pattern(unsigned char *p, size_t n, uint64_t start, int tensor)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((start + i) * 131 + (uint64_t)tensor * 17 + ((start + i) >> 9));
}

struct rt_tensor {
	const char *name;
	uint32_t type, n_dims;
	uint64_t ne[4];
};

static const struct rt_tensor rt_tensors[] = {
	{"a.f32", FLOE_TYPE_F32, 1, {100, 1, 1, 1}},
	{"b.q8_0", FLOE_TYPE_Q8_0, 2, {64, 3, 1, 1}},
	{"c.q4_K", FLOE_TYPE_Q4_K, 3, {256, 2, 5, 1}},
	{"d.f16", FLOE_TYPE_F16, 4, {7, 2, 3, 2}},
	{"e.iq2_xxs", FLOE_TYPE_IQ2_XXS, 2, {256, 1, 1, 1}},
};
#define N_RT (sizeof(rt_tensors) / sizeof(rt_tensors[0]))

static void test_round_trip(void)
{
	char path[64];
	struct floe_err e = {0};
	struct floe_gguf_writer *w;
	tmp_path(path, sizeof(path));
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);

	uint8_t a_u8[3] = {0, 7, 255};
	int8_t a_i8[2] = {-128, 127};
	uint16_t a_u16[2] = {1, 65535};
	int16_t a_i16[2] = {-32768, 5};
	uint32_t a_u32[2] = {0, 4000000000u};
	int32_t a_i32[3] = {-1, 0, 2147483647};
	float a_f32[2] = {1.5f, -0.0f};
	uint8_t a_bool[3] = {1, 0, 1};
	uint64_t a_u64[1] = {UINT64_MAX};
	int64_t a_i64[2] = {INT64_MIN, 3};
	double a_f64[2] = {3.141592653589793, 1e300};
	struct floe_gguf_str a_str[3] = {{"hello", 5}, {"", 0}, {"a\0b", 3}};
	struct floe_gguf_value inner[2] = {
		{.type = FLOE_GGUF_ARRAY, .v.arr = {FLOE_GGUF_INT32, 3, a_i32}},
		{.type = FLOE_GGUF_ARRAY, .v.arr = {FLOE_GGUF_STRING, 3, a_str}},
	};
	struct floe_gguf_value outer = {.type = FLOE_GGUF_ARRAY,
					.v.arr = {FLOE_GGUF_ARRAY, 2, inner}};

	CHECK(floe_gguf_write_kv_str(w, "general.architecture", "test") == 0);
	CHECK(floe_gguf_write_kv_u32(w, "general.alignment", 64) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.u8", FLOE_GGUF_UINT8, 200) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.i8", FLOE_GGUF_INT8, -100) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.u16", FLOE_GGUF_UINT16, 60000) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.i16", FLOE_GGUF_INT16, -30000) == 0);
	CHECK(floe_gguf_write_kv_u32(w, "t.u32", 4000000000u) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.i32", FLOE_GGUF_INT32, -2000000000) == 0);
	CHECK(floe_gguf_write_kv_f32(w, "t.f32", 1e-6f) == 0);
	CHECK(floe_gguf_write_kv_bool(w, "t.bool", true) == 0);
	CHECK(floe_gguf_write_kv_u64(w, "t.u64", UINT64_MAX - 1) == 0);
	CHECK(floe_gguf_write_kv_int(w, "t.i64", FLOE_GGUF_INT64, INT64_MIN) == 0);
	CHECK(floe_gguf_write_kv_f64(w, "t.f64", -2.5e-300) == 0);
	CHECK(floe_gguf_write_kv_strn(w, "t.strnul", "x\0y", 3) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.u8", FLOE_GGUF_UINT8, a_u8, 3) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.i8", FLOE_GGUF_INT8, a_i8, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.u16", FLOE_GGUF_UINT16, a_u16, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.i16", FLOE_GGUF_INT16, a_i16, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.u32", FLOE_GGUF_UINT32, a_u32, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.i32", FLOE_GGUF_INT32, a_i32, 3) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.f32", FLOE_GGUF_FLOAT32, a_f32, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.bool", FLOE_GGUF_BOOL, a_bool, 3) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.u64", FLOE_GGUF_UINT64, a_u64, 1) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.i64", FLOE_GGUF_INT64, a_i64, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.f64", FLOE_GGUF_FLOAT64, a_f64, 2) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.str", FLOE_GGUF_STRING, a_str, 3) == 0);
	CHECK(floe_gguf_write_kv_arr(w, "a.empty", FLOE_GGUF_UINT32, NULL, 0) == 0);
	CHECK(floe_gguf_write_kv_value(w, "a.nested", &outer) == 0);
	/* Bad values are refused without spoiling the writer... they are
	 * sticky, so check that on a second writer below. */

	for (size_t i = 0; i < N_RT; i++)
		CHECK(floe_gguf_write_tensor_info(w, rt_tensors[i].name, rt_tensors[i].type,
						  rt_tensors[i].n_dims, rt_tensors[i].ne) == 0);
	uint64_t data_size = floe_gguf_writer_data_size(w);
	CHECK(floe_gguf_write_begin_data(w) == 0);
	CHECK(floe_gguf_writer_header_size(w) % 64 == 0);
	/* Data in odd chunk sizes that straddle tensor boundaries. */
	uint64_t total = 0, sizes[N_RT];
	for (size_t i = 0; i < N_RT; i++) {
		const struct rt_tensor *t = &rt_tensors[i];
		sizes[i] = floe_type_row_bytes(t->type, t->ne[0]) * t->ne[1] * t->ne[2] * t->ne[3];
		total += sizes[i];
	}
	unsigned char *all = malloc(total), *p = all;
	REQUIRE(all != NULL);
	for (size_t i = 0; i < N_RT; i++) {
		pattern(p, sizes[i], 0, (int)i);
		p += sizes[i];
	}
	for (uint64_t off = 0, k = 1; off < total; off += k, k = k * 3 % 97 + 1) {
		if (k > total - off)
			k = total - off;
		CHECK(floe_gguf_write_data(w, all + off, k) == 0);
	}
	REQUIRE(floe_gguf_writer_close(w, &e) == 0);

	struct floe_gguf *g;
	REQUIRE(floe_gguf_open(path, &g, &e) == 0);
	CHECK(g->alignment == 64 && g->version == 3);
	CHECK(g->n_kv == 28 && g->n_tensors == N_RT);
	CHECK(g->file_size == g->data_offset + data_size);
	uint64_t u64;
	uint32_t u32;
	float f;
	bool b;
	struct floe_gguf_str s;
	const struct floe_gguf_kv *kv;
	CHECK(floe_gguf_get_u32(g, "t.u8", &u32, &e) == 0 && u32 == 200);
	CHECK((kv = floe_gguf_find(g, "t.i8")) && kv->value.type == FLOE_GGUF_INT8 &&
	      kv->value.v.i64 == -100);
	CHECK(floe_gguf_get_u32(g, "t.u16", &u32, &e) == 0 && u32 == 60000);
	CHECK((kv = floe_gguf_find(g, "t.i16")) && kv->value.v.i64 == -30000);
	CHECK(floe_gguf_get_u32(g, "t.u32", &u32, &e) == 0 && u32 == 4000000000u);
	CHECK((kv = floe_gguf_find(g, "t.i32")) && kv->value.v.i64 == -2000000000);
	CHECK(floe_gguf_get_u32(g, "t.i32", &u32, &e) == FLOE_EFORMAT);
	CHECK(floe_gguf_get_f32(g, "t.f32", &f, &e) == 0 && f == 1e-6f);
	CHECK(floe_gguf_get_bool(g, "t.bool", &b, &e) == 0 && b);
	CHECK(floe_gguf_get_u64(g, "t.u64", &u64, &e) == 0 && u64 == UINT64_MAX - 1);
	CHECK(floe_gguf_get_u32(g, "t.u64", &u32, &e) == FLOE_EFORMAT);
	CHECK((kv = floe_gguf_find(g, "t.i64")) && kv->value.v.i64 == INT64_MIN);
	CHECK((kv = floe_gguf_find(g, "t.f64")) && kv->value.type == FLOE_GGUF_FLOAT64 &&
	      kv->value.v.f64 == -2.5e-300);
	CHECK(floe_gguf_get_str(g, "t.strnul", &s, &e) == 0 && s.len == 3 &&
	      memcmp(s.s, "x\0y", 4) == 0);
	const void *d;
	uint64_t n;
	CHECK(floe_gguf_get_arr(g, "a.u8", FLOE_GGUF_UINT8, &d, &n, &e) == 0 && n == 3 &&
	      memcmp(d, a_u8, 3) == 0);
	CHECK(floe_gguf_get_arr(g, "a.i8", FLOE_GGUF_INT8, &d, &n, &e) == 0 && !memcmp(d, a_i8, 2));
	CHECK(floe_gguf_get_arr(g, "a.u16", FLOE_GGUF_UINT16, &d, &n, &e) == 0 && !memcmp(d, a_u16, 4));
	CHECK(floe_gguf_get_arr(g, "a.i16", FLOE_GGUF_INT16, &d, &n, &e) == 0 && !memcmp(d, a_i16, 4));
	CHECK(floe_gguf_get_arr(g, "a.u32", FLOE_GGUF_UINT32, &d, &n, &e) == 0 && !memcmp(d, a_u32, 8));
	CHECK(floe_gguf_get_arr(g, "a.i32", FLOE_GGUF_INT32, &d, &n, &e) == 0 && !memcmp(d, a_i32, 12));
	CHECK(floe_gguf_get_arr(g, "a.f32", FLOE_GGUF_FLOAT32, &d, &n, &e) == 0 && !memcmp(d, a_f32, 8));
	CHECK(floe_gguf_get_arr(g, "a.bool", FLOE_GGUF_BOOL, &d, &n, &e) == 0 && !memcmp(d, a_bool, 3));
	CHECK(floe_gguf_get_arr(g, "a.u64", FLOE_GGUF_UINT64, &d, &n, &e) == 0 && !memcmp(d, a_u64, 8));
	CHECK(floe_gguf_get_arr(g, "a.i64", FLOE_GGUF_INT64, &d, &n, &e) == 0 && !memcmp(d, a_i64, 16));
	CHECK(floe_gguf_get_arr(g, "a.f64", FLOE_GGUF_FLOAT64, &d, &n, &e) == 0 && !memcmp(d, a_f64, 16));
	CHECK(floe_gguf_get_arr(g, "a.empty", FLOE_GGUF_UINT32, &d, &n, &e) == 0 && n == 0);
	CHECK(floe_gguf_get_arr(g, "a.str", FLOE_GGUF_STRING, &d, &n, &e) == 0 && n == 3);
	if (n == 3) {
		const struct floe_gguf_str *rs = d;
		CHECK(rs[0].len == 5 && strcmp(rs[0].s, "hello") == 0);
		CHECK(rs[1].len == 0 && rs[1].s[0] == 0);
		CHECK(rs[2].len == 3 && memcmp(rs[2].s, "a\0b", 3) == 0);
	}
	CHECK((kv = floe_gguf_find(g, "a.nested")) && value_eq(&kv->value, &outer));

	/* Tensors: shapes, types, and data bytes at their offsets. */
	size_t flen;
	unsigned char *img = harness_read_file(path, &flen);
	REQUIRE(img != NULL && flen == g->file_size);
	for (size_t i = 0; i < N_RT; i++) {
		const struct floe_gguf_tensor *t = floe_gguf_find_tensor(g, rt_tensors[i].name);
		REQUIRE(t != NULL);
		CHECK(t->type == rt_tensors[i].type && t->n_dims == rt_tensors[i].n_dims);
		CHECK(memcmp(t->ne, rt_tensors[i].ne, sizeof(t->ne)) == 0);
		CHECK(t->size == sizes[i] && t->offset % 64 == 0);
		unsigned char *want = malloc(sizes[i]);
		pattern(want, sizes[i], 0, (int)i);
		CHECKF(memcmp(img + t->offset, want, sizes[i]) == 0, "tensor %zu data", i);
		free(want);
	}
	free(img);
	free(all);
	floe_gguf_close(g);
	unlink(path);
}

/* Copying all KVs of the reduced vocab reproduces them exactly. */
static void test_copy_vocab(void)
{
	char path[64];
	struct floe_err e = {0};
	struct floe_gguf *src, *dst;
	struct floe_gguf_writer *w;
	uint64_t copied = 0;

	REQUIRE(floe_gguf_open(FIXTURE("vocab-qwen3-reduced8k.gguf"), &src, &e) == 0);
	tmp_path(path, sizeof(path));
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_kv_copy(w, src, "tokenizer.", &copied) == 0);
	REQUIRE(floe_gguf_writer_close(w, &e) == 0);
	REQUIRE(floe_gguf_open(path, &dst, &e) == 0);
	uint64_t n_tok = 0;
	for (uint64_t i = 0; i < src->n_kv; i++) {
		const struct floe_gguf_kv *a = &src->kv[i];
		if (strncmp(a->key.s, "tokenizer.", 10) != 0) {
			CHECK(floe_gguf_find(dst, a->key.s) == NULL);
			continue;
		}
		n_tok++;
		const struct floe_gguf_kv *b = floe_gguf_find(dst, a->key.s);
		CHECKF(b && value_eq(&a->value, &b->value), "key %s", a->key.s);
	}
	CHECK(copied == n_tok && dst->n_kv == n_tok && n_tok >= 8);
	CHECK(dst->n_tensors == 0);
	floe_gguf_close(dst);
	floe_gguf_close(src);
	unlink(path);
}

static void test_misuse(void)
{
	char path[64];
	struct floe_err e = {0};
	struct floe_gguf_writer *w;
	uint64_t ne[2] = {32, 2};

	tmp_path(path, sizeof(path));
	/* Too little data: close fails and removes the file. */
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_tensor_info(w, "x", FLOE_TYPE_F32, 2, ne) == 0);
	CHECK(floe_gguf_write_begin_data(w) == 0);
	CHECK(floe_gguf_write_data(w, "abcd", 4) == 0);
	CHECK(floe_gguf_writer_close(w, &e) == FLOE_EARG && strstr(e.msg, "'x' has 4 of 256"));
	CHECK(access(path, F_OK) != 0);
	/* Too much data. */
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_tensor_info(w, "x", FLOE_TYPE_F32, 1, ne) == 0);
	CHECK(floe_gguf_write_begin_data(w) == 0);
	unsigned char buf[200] = {0};
	CHECK(floe_gguf_write_data(w, buf, sizeof(buf)) == FLOE_EARG);
	CHECK(floe_gguf_writer_close(w, &e) == FLOE_EARG && strstr(e.msg, "beyond the last tensor"));
	/* Bad shapes and values; errors are sticky. */
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	uint64_t bad[2] = {33, 2};
	CHECK(floe_gguf_write_tensor_info(w, "q", FLOE_TYPE_Q4_0, 2, bad) == FLOE_EARG);
	CHECK(floe_gguf_write_kv_u32(w, "k", 1) == FLOE_EARG);
	CHECK(floe_gguf_writer_close(w, &e) == FLOE_EARG && strstr(e.msg, "'q'"));
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_kv_int(w, "k", FLOE_GGUF_UINT8, 300) == FLOE_EARG);
	floe_gguf_writer_abort(w, false);
	REQUIRE(floe_gguf_writer_open(path, &w, &e) == 0);
	CHECK(floe_gguf_write_kv_u32(w, "general.alignment", 48) == FLOE_EARG);
	floe_gguf_writer_abort(w, false);
	CHECK(access(path, F_OK) != 0);
	CHECK(floe_gguf_writer_open("/nonexistent/dir/x.gguf", &w, &e) == FLOE_EIO);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_copy_vocab);
	RUN(test_misuse);
	return harness_finish();
}

/* harness: the one small test harness.  A test file defines functions and a
 * main that calls RUN(fn) for each, then returns harness_finish().  CHECK
 * records a failure with file:line and goes on; REQUIRE also leaves the test.
 * The run ends with "N passed, N failed" counted in test functions. */
#ifndef FLOE_TESTS_HARNESS_H
#define FLOE_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_passed, harness_failed, harness_cur_failed;
static const char *harness_cur_name;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  FAIL %s: %s:%d: %s\n", harness_cur_name,  \
				__FILE__, __LINE__, #cond);                          \
			harness_cur_failed = 1;                                      \
		}                                                                    \
	} while (0)

#define CHECKF(cond, ...)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  FAIL %s: %s:%d: %s: ", harness_cur_name,  \
				__FILE__, __LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			harness_cur_failed = 1;                                      \
		}                                                                    \
	} while (0)

#define REQUIRE(cond)                                                                \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  FAIL %s: %s:%d: %s\n", harness_cur_name,  \
				__FILE__, __LINE__, #cond);                          \
			harness_cur_failed = 1;                                      \
			return;                                                      \
		}                                                                    \
	} while (0)

#define RUN(fn)                                                                      \
	do {                                                                         \
		harness_cur_name = #fn;                                              \
		harness_cur_failed = 0;                                              \
		fn();                                                                \
		if (harness_cur_failed) {                                            \
			harness_failed++;                                            \
			fprintf(stderr, "FAIL %s\n", #fn);                           \
		} else {                                                             \
			harness_passed++;                                            \
			fprintf(stderr, "ok   %s\n", #fn);                           \
		}                                                                    \
	} while (0)

static inline int harness_finish(void)
{
	printf("%d passed, %d failed\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}

/* Read a whole file into a malloc'd buffer; NULL if it cannot be read. */
static inline void *harness_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			*size = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Fixtures live in tests/fixtures; tests run from the repository root. */
#define FIXTURE(name) "tests/fixtures/" name

#endif

/* experts_testfile: scratch files of known pseudo-random content for the io
 * and expert cache tests.  Byte i of every file is testfile_byte(i), so any
 * slice can be checked without keeping a copy.  Files go under /var/tmp (a
 * real disk filesystem: O_DIRECT works there) or /dev/shm (tmpfs: O_DIRECT is
 * refused), never /tmp, which may be either. */
#ifndef FLOE_TESTS_EXPERTS_TESTFILE_H
#define FLOE_TESTS_EXPERTS_TESTFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline uint64_t testfile_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint8_t testfile_byte(uint64_t i)
{
	return (uint8_t)(testfile_mix(i / 8) >> ((i % 8) * 8));
}

/* Create dir/floe_<tag>_XXXXXX of size bytes; the path goes to path[len].
 * Returns false if dir is unusable. */
static inline bool testfile_create(const char *dir, const char *tag, uint64_t size, char *path, size_t len)
{
	unsigned char buf[65536];
	FILE *f;
	int fd;

	snprintf(path, len, "%s/floe_%s_XXXXXX", dir, tag);
	fd = mkstemp(path);
	if (fd < 0)
		return false;
	f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		unlink(path);
		return false;
	}
	for (uint64_t at = 0; at < size;) {
		size_t n = size - at < sizeof(buf) ? (size_t)(size - at) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = testfile_byte(at + i);
		if (fwrite(buf, 1, n, f) != n) {
			fclose(f);
			unlink(path);
			return false;
		}
		at += n;
	}
	if (fclose(f) != 0) {
		unlink(path);
		return false;
	}
	return true;
}

/* Whether p[0..n) holds the file's bytes at offset off; prints the first
 * difference. */
static inline bool testfile_matches(const void *p, uint64_t off, uint64_t n)
{
	const uint8_t *b = p;

	for (uint64_t i = 0; i < n; i++) {
		if (b[i] != testfile_byte(off + i)) {
			fprintf(stderr, "  byte %llu of slice at %llu: got %u want %u\n",
				(unsigned long long)i, (unsigned long long)off, b[i], testfile_byte(off + i));
			return false;
		}
	}
	return true;
}

static inline bool dir_exists(const char *dir)
{
	return access(dir, W_OK) == 0;
}

#endif

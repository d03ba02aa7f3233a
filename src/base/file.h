/* file: whole reads from a file descriptor. */
#ifndef FLOE_BASE_FILE_H
#define FLOE_BASE_FILE_H

#include <stdint.h>

/* Read len bytes at offset off into buf, retrying short reads and EINTR.
 * Returns 0 when all were read, 1 if the file ended first, or -errno; *done
 * is how many bytes were read before it stopped (so the caller can name the
 * offset where a read failed). */
int floe_pread_full(int fd, void *buf, uint64_t len, uint64_t off, uint64_t *done);

#endif

/* file: whole reads from a file descriptor. */
#include "base/file.h"

#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

int floe_pread_full(int fd, void *buf, uint64_t len, uint64_t off, uint64_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t r = pread(fd, (char *)buf + *done, len - *done, (off_t)(off + *done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 1;
		*done += (uint64_t)r;
	}
	return 0;
}

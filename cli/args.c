/* args: argv value parsing with messages that name the flag. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *cli_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "floe: %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

bool cli_parse_size(const char *flag, const char *s, uint64_t *out)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		goto bad;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b')
		end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
	if (*end || v * mul > 1.8e19)
		goto bad;
	*out = (uint64_t)(v * mul);
	return true;
bad:
	fprintf(stderr, "floe: %s: '%s' is not a size (examples: 6G, 1500M, 65536)\n", flag, s);
	return false;
}

bool cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi) {
		fprintf(stderr, "floe: %s: '%s' is not an integer in %ld..%ld\n", flag, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

bool cli_parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi)) {
		fprintf(stderr, "floe: %s: '%s' is not a number in %g..%g\n", flag, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

const char *cli_fmt_bytes(uint64_t bytes, char *buf, int len)
{
	double b = (double)bytes;
	if (b >= 1e9)
		snprintf(buf, (size_t)len, "%.2f GB", b / 1e9);
	else if (b >= 1e6)
		snprintf(buf, (size_t)len, "%.1f MB", b / 1e6);
	else if (b >= 1e3)
		snprintf(buf, (size_t)len, "%.1f KB", b / 1e3);
	else
		snprintf(buf, (size_t)len, "%llu B", (unsigned long long)bytes);
	return buf;
}

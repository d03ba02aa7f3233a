/* args: small argv helpers shared by the floe subcommands.  Parsing errors
 * print a message naming the flag and return false; callers exit(2). */
#ifndef FLOE_CLI_ARGS_H
#define FLOE_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* "6G", "1500M", "512K", "0.5G", "123456" (bytes) -> bytes. */
bool cli_parse_size(const char *flag, const char *s, uint64_t *out);
bool cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out);
bool cli_parse_float(const char *flag, const char *s, double lo, double hi, double *out);

/* The value of flag argv[*i] (advancing *i), or NULL with a message. */
const char *cli_value(int argc, char **argv, int *i);

/* "1.23 GB" style, into buf. */
const char *cli_fmt_bytes(uint64_t bytes, char *buf, int len);

#endif

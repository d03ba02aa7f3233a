/* common: the options every model-running subcommand shares (model, budget,
 * threads, I/O, sampling), opening a model with its tokenizer and printing
 * the memory plan, and the end-of-run stats line. */
#ifndef FLOE_CLI_COMMON_H
#define FLOE_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "floe.h"

struct floe_tokenizer;

struct cli_opts {
	const char *model;
	uint64_t mem;          /* 0 = unlimited */
	long ctx, threads, batch, io_depth;
	int io;                /* enum floe_io_backend */
	bool buffered, kv_f16, ref;
	int log_level;
	int policy;            /* enum floe_cache_policy */
	int prefetch;          /* enum floe_prefetch */
	long prefetch_k;       /* 0 = all k */
	const char *trace_out, *trace_replay;
	/* sampling */
	double temp, top_p, min_p, repeat_penalty;
	long top_k, repeat_last_n;
	uint64_t seed;
	bool seed_set;
};

void cli_opts_default(struct cli_opts *o);

/* If argv[*i] is a common option, consume it (and its value) and set
 * *matched.  Returns false on a bad value (message printed). */
bool cli_opts_parse(int argc, char **argv, int *i, struct cli_opts *o, bool *matched);

/* Usage text of the common options. */
extern const char cli_opts_help[];

/* Open the model (printing the plan to stderr unless quiet) and its
 * tokenizer.  Prints the error and returns non-zero on failure. */
int cli_open(const struct cli_opts *o, floe_model **m, struct floe_tokenizer **tok, bool quiet);

struct floe_sampler;
/* A sampler from the sampling options (a random seed unless --seed); prints
 * the error and returns non-zero on failure. */
int cli_sampler_create(const struct cli_opts *o, uint32_t n_vocab, struct floe_sampler **out);

/* A seed from the clock and pid, for runs without --seed (logged at -v). */
uint64_t cli_random_seed(void);

/* A whole file, NUL-terminated (*len without the NUL); NULL with a message
 * naming `who` and the path on failure. */
char *cli_read_file(const char *who, const char *path, size_t *len);

/* Print the stats line to stderr. */
void cli_print_stats(const floe_model *m);

#endif

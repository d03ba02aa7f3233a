/* floe perplexity: how well the model predicts a text, scored the way
 * llama.cpp's llama-perplexity scores it, so the two numbers can be put side
 * by side (a quick check that a quantized or streamed model still works).
 *
 * The text is tokenized once and cut into chunks of n_ctx tokens (the tail
 * that does not fill a chunk is dropped).  Each chunk is evaluated from an
 * empty KV cache with all logits kept; only the second half of each chunk is
 * scored (the first half gives every scored token some context): position j
 * predicts token j + 1 with -log softmax(logits_j)[token], in double.
 * Printed: the running perplexity after each chunk, then
 * "Final estimate: PPL = X +/- E" with E from the spread of the per-token
 * log-likelihoods, as llama.cpp prints it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "tokenizer/tokenizer.h"

#define DEFAULT_PPL_CTX 512

/* -log p(token) under softmax(logits): max, then the sum of exp(l - max) in
 * double, as llama.cpp's log_softmax. */
static double neg_log_prob(const float *logits, int n_vocab, int32_t token)
{
	float max = logits[0];
	double sum = 0.0;

	for (int v = 1; v < n_vocab; v++)
		max = logits[v] > max ? logits[v] : max;
	for (int v = 0; v < n_vocab; v++)
		sum += (double)expf(logits[v] - max);
	return -((double)(logits[token] - max) - log(sum));
}

static void usage(void)
{
	fprintf(stderr, "usage: floe perplexity -m FILE -f TEXT [-c N (default %d)] [--chunks N]\n%s",
		DEFAULT_PPL_CTX, cli_opts_help);
}

int cmd_perplexity(int argc, char **argv)
{
	struct cli_opts o;
	const char *path = NULL;
	long max_chunks = 0;
	floe_model *m = NULL;
	floe_session *s = NULL;
	struct floe_tokenizer *tok = NULL;
	struct floe_err err = {0};
	int32_t *ids = NULL, *chunk = NULL;
	size_t n_ids = 0, text_len = 0;
	char *text = NULL;
	double nll = 0.0, nll2 = 0.0;
	long count = 0;
	int rc = 1;

	cli_opts_default(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool matched;
		if (!cli_opts_parse(argc, argv, &i, &o, &matched))
			return 2;
		if (matched)
			continue;
		if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			if (!(path = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "--chunks")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 30, &max_chunks))
				return 2;
		} else {
			fprintf(stderr, "floe perplexity: unknown option '%s'\n\n", a);
			usage();
			return 2;
		}
	}
	if (!path || !o.model) {
		fprintf(stderr, "floe perplexity: give -m MODEL and -f TEXT\n\n");
		usage();
		return 2;
	}
	if (o.ctx == 0)
		o.ctx = DEFAULT_PPL_CTX;
	if (o.ctx < 4) {
		fprintf(stderr, "floe perplexity: -c %ld is too short to score anything\n", o.ctx);
		return 2;
	}
	if (!(text = cli_read_file("floe perplexity", path, &text_len)))
		return 1;
	if (cli_open(&o, &m, &tok, false))
		goto out;
	if (floe_tokenizer_encode_alloc(tok, text, text_len, false, &ids, &n_ids, &err)) {
		fprintf(stderr, "floe perplexity: %s: %s\n", path, err.msg);
		goto out;
	}
	const int n_ctx = (int)o.ctx, first = n_ctx / 2;
	long n_chunks = (long)(n_ids / (size_t)n_ctx);
	if (max_chunks > 0 && max_chunks < n_chunks)
		n_chunks = max_chunks;
	if (n_chunks == 0) {
		fprintf(stderr, "floe perplexity: %s has %zu tokens, fewer than one chunk of %d (-c)\n", path, n_ids,
			n_ctx);
		goto out;
	}
	if (floe_session_create(m, &s)) {
		fprintf(stderr, "floe perplexity: cannot create a session\n");
		goto out;
	}
	if (!(chunk = malloc((size_t)n_ctx * sizeof(int32_t))))
		goto out;
	fprintf(stderr, "floe perplexity: %zu tokens, %ld chunks of %d, scoring the last %d of each\n", n_ids,
		n_chunks, n_ctx, n_ctx - 1 - first);
	const int n_vocab = floe_session_n_vocab(s);
	for (long c = 0; c < n_chunks; c++) {
		memcpy(chunk, ids + (size_t)c * (size_t)n_ctx, (size_t)n_ctx * sizeof(int32_t));
		/* llama.cpp puts BOS in the chunk's first place when the vocab
		 * wants one (it is not scored) */
		if (floe_tokenizer_add_bos(tok) && floe_tokenizer_bos(tok) >= 0)
			chunk[0] = floe_tokenizer_bos(tok);
		floe_session_reset(s);
		if (floe_session_eval(s, chunk, n_ctx, true)) {
			fprintf(stderr, "\nfloe perplexity: %s\n", floe_session_error(s));
			goto out;
		}
		for (int j = first; j < n_ctx - 1; j++) {
			double v = neg_log_prob(floe_session_logits(s, j), n_vocab,
						ids[(size_t)c * (size_t)n_ctx + (size_t)j + 1]);
			nll += v;
			nll2 += v * v;
			count++;
		}
		printf("[%ld]%.4f,", c + 1, exp(nll / (double)count));
		fflush(stdout);
	}
	double mean = nll / (double)count, ppl = exp(mean), var = nll2 / (double)count - mean * mean;
	double e = count > 1 && var > 0 ? sqrt(var / (double)(count - 1)) * ppl : 0.0;
	printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, e);
	cli_print_stats(m);
	rc = 0;
out:
	free(chunk);
	free(ids);
	free(text);
	floe_session_free(s);
	floe_tokenizer_free(tok);
	floe_model_close(m);
	return rc;
}

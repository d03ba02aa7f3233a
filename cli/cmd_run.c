/* floe run: generate text from a prompt, streaming it to stdout.
 *
 * The prompt comes from -p TEXT, -f FILE or --tokens 1,2,3; special tokens
 * written in the text (<|im_start|>) are recognised, as llama.cpp does for
 * prompts.  --chat wraps the prompt in the model's chat template as one user
 * turn.  Generated text alone goes to stdout (or the ids with --print-ids);
 * the plan, logs and the closing stats line go to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "chat/chat_template.h"
#include "chat/sampler.h"
#include "commands.h"
#include "common.h"
#include "tokenizer/tokenizer.h"

static int parse_token_list(const char *s, int32_t **out, size_t *n_out)
{
	size_t n = 1, k = 0;
	int32_t *ids;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	ids = malloc(n * sizeof(int32_t));
	if (!ids)
		return -1;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
			fprintf(stderr, "floe run: --tokens: expected comma-separated token ids\n");
			free(ids);
			return -1;
		}
		ids[k++] = (int32_t)v;
		s = *end ? end + 1 : end;
	}
	*out = ids;
	*n_out = k;
	return 0;
}

static int write_logits(const char *path, floe_session *s, int n_rows)
{
	FILE *f = fopen(path, "wb");
	int n_vocab = floe_session_n_vocab(s);

	if (!f) {
		fprintf(stderr, "floe run: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n_rows; i++) {
		const float *row = floe_session_logits(s, i);
		if (!row || fwrite(row, sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) {
			fprintf(stderr, "floe run: cannot write logits row %d to %s\n", i, path);
			fclose(f);
			return 1;
		}
	}
	if (fclose(f)) {
		fprintf(stderr, "floe run: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

/* Tokens of the prompt: from --tokens, or the text (optionally in the chat
 * template) tokenized with special tokens recognised. */
static int prompt_tokens(const struct floe_tokenizer *tok, const char *text, size_t len, const char *tokens_arg,
			 enum floe_chat_kind kind, int32_t **ids, size_t *n)
{
	struct floe_err err = {0};
	char *formatted = NULL;
	int st;

	if (tokens_arg)
		return parse_token_list(tokens_arg, ids, n);
	if (kind != FLOE_CHAT_UNKNOWN) {
		struct floe_chat_msg msg = {"user", text};
		size_t cap = len + 256, flen;
		formatted = malloc(cap);
		if (!formatted || floe_chat_format(kind, &msg, 1, true, formatted, cap, &flen, NULL)) {
			free(formatted);
			fprintf(stderr, "floe run: cannot format the chat prompt\n");
			return -1;
		}
		text = formatted;
		len = flen;
	}
	st = floe_tokenizer_encode_alloc(tok, text, len, true, ids, n, &err);
	free(formatted);
	if (st) {
		fprintf(stderr, "floe run: %s\n", err.msg);
		return -1;
	}
	if (floe_tokenizer_add_bos(tok) && floe_tokenizer_bos(tok) >= 0) {
		int32_t *p = realloc(*ids, (*n + 1) * sizeof(int32_t));
		if (!p)
			return -1;
		memmove(p + 1, p, *n * sizeof(int32_t));
		p[0] = floe_tokenizer_bos(tok);
		*ids = p;
		(*n)++;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct cli_opts o;
	const char *prompt = NULL, *prompt_file = NULL, *tokens_arg = NULL, *logits_out = NULL;
	long n_predict = 128;
	bool print_ids = false, chat = false, ignore_eos = false;
	floe_model *m = NULL;
	floe_session *s = NULL;
	struct floe_tokenizer *tok = NULL;
	struct floe_sampler *smp = NULL;
	struct floe_detok dt = {0};
	struct floe_err err = {0};
	int32_t *ids = NULL;
	size_t n_ids = 0, text_len = 0;
	char *text = NULL;
	int rc = 1, st;

	cli_opts_default(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool matched;
		if (!cli_opts_parse(argc, argv, &i, &o, &matched))
			return 2;
		if (matched)
			continue;
		if (!strcmp(a, "--print-ids")) {
			print_ids = true;
		} else if (!strcmp(a, "--chat")) {
			chat = true;
		} else if (!strcmp(a, "--ignore-eos")) {
			ignore_eos = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			if (!(prompt = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			if (!(prompt_file = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "--tokens")) {
			if (!(tokens_arg = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "--logits-out")) {
			if (!(logits_out = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 24, &n_predict))
				return 2;
		} else {
			fprintf(stderr, "floe run: unknown option '%s'\n\nusage: floe run -m FILE (-p TEXT | -f FILE | "
					"--tokens 1,2,3) [-n N] [--chat] [--print-ids] [--logits-out FILE] "
					"[--ignore-eos]\n%s",
				a, cli_opts_help);
			return 2;
		}
	}
	if (!!prompt + !!prompt_file + !!tokens_arg != 1) {
		fprintf(stderr, "floe run: give exactly one of -p TEXT, -f FILE, --tokens 1,2,3\n");
		return 2;
	}
	if (prompt_file && !(text = cli_read_file("floe run", prompt_file, &text_len)))
		return 1;
	if (prompt) {
		text = strdup(prompt);
		text_len = strlen(prompt);
	}
	if (cli_open(&o, &m, &tok, false))
		goto out;
	if (chat && floe_chat_detect(floe_model_gguf(m)) == FLOE_CHAT_UNKNOWN) {
		fprintf(stderr, "floe run: --chat: this model has no chat template floe knows\n");
		goto out;
	}
	if (prompt_tokens(tok, text, text_len, tokens_arg, chat ? floe_chat_detect(floe_model_gguf(m)) : FLOE_CHAT_UNKNOWN,
			  &ids, &n_ids))
		goto out;
	if (n_ids == 0) {
		fprintf(stderr, "floe run: the prompt is empty\n");
		goto out;
	}
	if (cli_sampler_create(&o, floe_tokenizer_n_vocab(tok), &smp))
		goto out;
	if (floe_detok_init(&dt, tok, false, &err)) {
		fprintf(stderr, "floe run: %s\n", err.msg);
		goto out;
	}
	if ((st = floe_session_create(m, &s))) {
		fprintf(stderr, "floe run: %s\n", floe_model_error(m));
		goto out;
	}
	for (size_t i = 0; i < n_ids; i++)
		floe_sampler_accept(smp, ids[i]);
	if ((st = floe_session_eval(s, ids, (int)n_ids, logits_out != NULL))) {
		fprintf(stderr, "floe run: %s\n", floe_session_error(s));
		goto out;
	}
	if (logits_out && write_logits(logits_out, s, (int)n_ids))
		goto out;
	for (long i = 0; i < n_predict; i++) {
		int32_t id = floe_sampler_sample(smp, floe_session_logits(s, -1));
		const char *piece;
		size_t plen;

		floe_sampler_accept(smp, id);
		if (!ignore_eos && floe_tokenizer_is_eog(tok, id))
			break;
		if (print_ids) {
			printf(i ? " %d" : "%d", id);
		} else if (floe_detok_push(&dt, id, &piece, &plen, &err) == FLOE_OK) {
			fwrite(piece, 1, plen, stdout);
		}
		fflush(stdout);
		if (i + 1 == n_predict)
			break;
		if ((st = floe_session_eval(s, &id, 1, false))) {
			fprintf(stderr, "\nfloe run: %s\n", floe_session_error(s));
			goto out;
		}
	}
	if (!print_ids) {
		const char *piece;
		size_t plen;
		floe_detok_flush(&dt, &piece, &plen);
		fwrite(piece, 1, plen, stdout);
	}
	printf("\n");
	fflush(stdout);
	rc = 0;
out:
	if (m && o.trace_out && floe_model_trace_save(m, NULL)) {
		fprintf(stderr, "floe run: %s\n", floe_model_error(m));
		rc = 1;
	}
	if (m)
		cli_print_stats(m);
	floe_detok_free(&dt);
	floe_sampler_free(smp);
	floe_session_free(s);
	floe_tokenizer_free(tok);
	floe_model_close(m);
	free(ids);
	free(text);
	return rc;
}

/* floe chat: an interactive conversation with line editing and history
 * (libedit).  The KV cache is kept between turns: each turn feeds only the
 * new text (the end of the previous reply, the user's message, the
 * generation prompt), so a long chat does not re-read its history.
 *
 * Commands: /reset (new conversation), /stats, /quit (or Ctrl-D). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include "args.h"
#include "chat/chat_template.h"
#include "chat/sampler.h"
#include "commands.h"
#include "common.h"
#include "tokenizer/tokenizer.h"

struct chat {
	floe_model *m;
	floe_session *s;
	struct floe_tokenizer *tok;
	struct floe_sampler *smp;
	struct floe_detok dt;
	enum floe_chat_kind kind;
	const char *system;
	bool think;
	bool started;      /* a turn has been fed since the last reset */
	long n_predict;
};

/* Feed text (special tokens recognised) into the session. */
static int feed(struct chat *c, const char *text, size_t len)
{
	struct floe_err err = {0};
	int32_t *ids = NULL;
	size_t n = 0;
	int st = floe_tokenizer_encode_alloc(c->tok, text, len, true, &ids, &n, &err);

	if (st) {
		fprintf(stderr, "floe chat: %s\n", err.msg);
		return st;
	}
	for (size_t i = 0; i < n; i++)
		floe_sampler_accept(c->smp, ids[i]);
	st = n ? floe_session_eval(c->s, ids, (int)n, false) : FLOE_OK;
	if (st)
		fprintf(stderr, "floe chat: %s\n", floe_session_error(c->s));
	free(ids);
	return st;
}

static int reply(struct chat *c)
{
	for (long i = 0; i < c->n_predict; i++) {
		int32_t id = floe_sampler_sample(c->smp, floe_session_logits(c->s, -1));
		const char *piece;
		size_t len;
		int st;

		floe_sampler_accept(c->smp, id);
		if (floe_tokenizer_is_eog(c->tok, id))
			break;
		if (floe_detok_push(&c->dt, id, &piece, &len, NULL) == FLOE_OK)
			fwrite(piece, 1, len, stdout);
		fflush(stdout);
		if ((st = floe_session_eval(c->s, &id, 1, false))) {
			fprintf(stderr, "\nfloe chat: %s (use /reset)\n", floe_session_error(c->s));
			return st;
		}
	}
	{
		const char *piece;
		size_t len;
		floe_detok_flush(&c->dt, &piece, &len);
		fwrite(piece, 1, len, stdout);
	}
	printf("\n");
	fflush(stdout);
	return FLOE_OK;
}

static int turn(struct chat *c, const char *line)
{
	struct floe_chat_msg msgs[2];
	size_t cap = strlen(line) + (c->system ? strlen(c->system) : 0) + 512, len;
	char *buf = malloc(cap);
	int n = 0, st;

	if (!buf)
		return FLOE_ENOMEM;
	if (!c->started && c->system)
		msgs[n++] = (struct floe_chat_msg){"system", c->system};
	msgs[n++] = (struct floe_chat_msg){"user", line};
	st = c->started ? floe_chat_format_continue(c->kind, msgs, n, false, c->think, buf, cap, &len, NULL)
			: floe_chat_format_ex(c->kind, msgs, n, true, c->think, buf, cap, &len, NULL);
	if (st == FLOE_OK)
		st = feed(c, buf, len);
	free(buf);
	if (st)
		return st;
	c->started = true;
	return reply(c);
}

static void reset(struct chat *c)
{
	floe_session_reset(c->s);
	floe_sampler_reset(c->smp);
	c->started = false;
}

int cmd_chat(int argc, char **argv)
{
	struct cli_opts o;
	struct chat c = {.think = true, .n_predict = 1024};
	struct floe_err err = {0};
	int rc = 1;

	cli_opts_default(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool matched;
		if (!cli_opts_parse(argc, argv, &i, &o, &matched))
			return 2;
		if (matched)
			continue;
		if (!strcmp(a, "--system")) {
			if (!(c.system = cli_value(argc, argv, &i)))
				return 2;
		} else if (!strcmp(a, "--no-think")) {
			c.think = false;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 24, &c.n_predict))
				return 2;
		} else {
			fprintf(stderr, "floe chat: unknown option '%s'\n\nusage: floe chat -m FILE [--system TEXT] "
					"[--no-think] [-n N]\n%s",
				a, cli_opts_help);
			return 2;
		}
	}
	if (cli_open(&o, &c.m, &c.tok, false))
		return 1;
	c.kind = floe_chat_detect(floe_model_gguf(c.m));
	if (c.kind == FLOE_CHAT_UNKNOWN) {
		fprintf(stderr, "floe chat: this model has no chat template floe knows\n");
		goto out;
	}
	if (cli_sampler_create(&o, floe_tokenizer_n_vocab(c.tok), &c.smp))
		goto out;
	if (floe_detok_init(&c.dt, c.tok, false, &err)) {
		fprintf(stderr, "floe chat: %s\n", err.msg);
		goto out;
	}
	if (floe_session_create(c.m, &c.s)) {
		fprintf(stderr, "floe chat: %s\n", floe_model_error(c.m));
		goto out;
	}
	fprintf(stderr, "floe chat: %s template; /reset, /stats, /quit\n", floe_chat_kind_name(c.kind));
	for (;;) {
		char *line = readline("> ");
		if (!line)
			break;
		if (!*line) {
			free(line);
			continue;
		}
		add_history(line);
		if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
			free(line);
			break;
		} else if (!strcmp(line, "/reset")) {
			reset(&c);
		} else if (!strcmp(line, "/stats")) {
			cli_print_stats(c.m);
		} else if (turn(&c, line) == FLOE_ECONTEXT) {
			fprintf(stderr, "floe chat: the context is full; starting over\n");
			reset(&c);
		}
		free(line);
	}
	rc = 0;
out:
	cli_print_stats(c.m);
	floe_detok_free(&c.dt);
	floe_sampler_free(c.smp);
	floe_session_free(c.s);
	floe_tokenizer_free(c.tok);
	floe_model_close(c.m);
	return rc;
}

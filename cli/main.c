/* floe command line: the only code that reads argv or exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "floe.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{"run", cmd_run, "-m FILE -p TEXT [-n N] [--mem SIZE] ...   generate text"},
	{"chat", cmd_chat, "-m FILE [--system TEXT]   interactive chat (keeps the KV cache between turns)"},
	{"bench", cmd_bench, "-m FILE --mem A,B,C | --io -m FILE | --policies   speed, disk peak, eviction policies"},
	{"mkmodel", cmd_mkmodel, "--preset NAME -o OUT.gguf [--type T]   write a random-weight model"},
	{"perplexity", cmd_perplexity, "-m FILE -f TEXT [-c N] [--chunks N]   perplexity of a text, as llama.cpp scores it"},
	{"inspect", cmd_inspect, "MODEL.gguf [--ctx N] [--tensors] [--json]   what a model holds and needs"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: floe <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "floe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

/* floe command line: the only code that reads argv or exits. */
#include <stdio.h>
#include <string.h>

#include "floe.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: floe <command> [options]\n"
		   "commands:\n"
		   "  inspect MODEL.gguf   show architecture, sizes and memory needs\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	fprintf(stderr, "floe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

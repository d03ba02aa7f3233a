/* commands: one entry point per floe subcommand.  Each takes the argv that
 * starts at the subcommand's name and returns the process exit status. */
#ifndef FLOE_CLI_COMMANDS_H
#define FLOE_CLI_COMMANDS_H

int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);

#endif

/* Subcommands of the protoecg CLI: each is a thin layer over the library. */
#ifndef PE_CLI_COMMANDS_H
#define PE_CLI_COMMANDS_H

int cmd_prepare(int argc, char **argv);

#endif

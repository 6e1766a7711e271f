/* Tiny option parsing shared by the subcommands: "--name value" and "--flag". */
#ifndef PE_CLI_ARGS_H
#define PE_CLI_ARGS_H

#include <stdio.h>

#include "protoecg.h"

/* Returns 1 and sets *val if argv[*i] is `name` followed by a value (advancing *i). */
int arg_value(int argc, char **argv, int *i, const char *name, const char **val);
/* Parses an int / double option value; prints an error naming the option on failure. */
int arg_int(const char *name, const char *val, int lo, int hi, int *out);
int arg_double(const char *name, const char *val, double *out);
/* --fs HZ: a sampling rate above 0. */
int arg_rate(const char *val, double *out);
/* --stride S of predict and eval (cmd): the seconds between 10-s windows, in (0, 10]. */
int arg_stride(const char *cmd, const char *val, double *out);
/* The bootstrap options of eval and report: --bootstrap N, --seed N, --threads N.
 * Returns 1 if argv[*i] was one of them (consumed), 0 if not, -1 on a bad value (an
 * error naming the option is printed). */
int arg_bootstrap_opts(int argc, char **argv, int *i, int *n_boot, int *seed, int *threads);
/* The end of every command's option loop: `--quiet` (when quiet is given: sets it and
 * returns -1, go on parsing), `--help`/`-h` (usage on stdout, returns 0) or an unknown
 * option (named with the command, usage on stderr, returns 2): exit with a result >= 0. */
int arg_last(const char *cmd, const char *arg, int *quiet, void (*usage)(FILE *));
/* Sets the OpenMP thread count (0 = all cores). */
void set_threads(int threads);
/* Creates a directory and its parents unless they exist (mkdir -p). */
int make_dir(const char *dir, pe_error *e);

#endif

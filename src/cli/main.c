/* protoecg: command-line entry point; dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "protoecg.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"prepare", cmd_prepare, "read, filter and standardize PTB-XL into a binary cache"},
    {"train", cmd_train, "train the prototype model (all stages) or the plain baseline"},
    {"eval", cmd_eval, "macro-AUROC, per-class AUROC, F1, bootstrap intervals on a split"},
    {"predict", cmd_predict, "rhythm labels and probabilities for WFDB records"},
    {"explain", cmd_explain, "why a record got its labels: the prototypes (training ECGs) behind them"},
    {"gallery", cmd_gallery, "every prototype with its source ECG and per-class statistics"},
    {"bench", cmd_bench, "training and inference speed and memory of the engine"},
    {"calibrate", cmd_calibrate, "add an int8 calibration to a model (for --precision int8)"},
    {"convert", cmd_convert, "rewrite a model file with bf16 (half size) or fp32 parameters"},
    {"report", cmd_report, "one HTML page (and JSON) summarizing a training run"},
};

static void usage(FILE *f) {
    fprintf(f, "protoecg %s: interpretable ECG rhythm classification (ProtoECGNet rhythm branch)\n\n",
            PE_VERSION_STRING);
    fprintf(f, "usage: protoecg <command> [options]   (protoecg <command> --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("protoecg %s\n", PE_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "protoecg: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/* protoecg convert: rewrites a model file with its parameters in bfloat16 (about half
 * the size; BN statistics and metadata stay float32) or back in float32. Loading
 * widens bf16 to float32, so a converted model runs on every path and precision. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "model/modelfile.h"
#include "util/error.h"

static void usage(FILE *f) {
    fprintf(f, "usage: protoecg convert (--bf16-weights | --fp32-weights) IN OUT\n"
               "  rewrites model IN as OUT with its parameters stored in bfloat16 (about half\n"
               "  the size; predictions change by about 1e-3) or in float32\n");
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int cmd_convert(int argc, char **argv) {
    int bf16 = -1;
    const char *paths[2] = {NULL, NULL};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bf16-weights") || !strcmp(argv[i], "--bf16")) {
            bf16 = 1;
        } else if (!strcmp(argv[i], "--fp32-weights") || !strcmp(argv[i], "--fp32")) {
            bf16 = 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || np == 2) {
            fprintf(stderr, "protoecg convert: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            paths[np++] = argv[i];
        }
    }
    if (bf16 < 0 || np != 2) {
        usage(stderr);
        return 2;
    }
    pe_error e = {{0}};
    pe_model m;
    if (pe_model_load(&m, paths[0], 1, 0, &e)) {
        fprintf(stderr, "protoecg convert: %s\n", e.msg);
        return 1;
    }
    int rc = pe_model_save(&m, paths[1], bf16, &e);
    pe_model_free(&m);
    if (rc) {
        fprintf(stderr, "protoecg convert: %s\n", e.msg);
        return 1;
    }
    printf("%s (%ld bytes) -> %s (%ld bytes, %s parameters)\n", paths[0], file_size(paths[0]),
           paths[1], file_size(paths[1]), bf16 ? "bf16" : "fp32");
    return 0;
}

/* protoecg predict: labels and probabilities for WFDB records. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/net.h"
#include "protoecg.h"
#include "util/error.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg predict --model M [--json FILE] [--threshold X]\n"
            "                        [--precision fp32|bf16|int8] RECORD...\n"
            "  RECORD   WFDB record path without extension (e.g. records100/00000/00001_lr);\n"
            "           12 leads, 10 s at 100 Hz (500 Hz and other integer rates are resampled)\n");
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *json = NULL, *v;
    double threshold = 0.5;
    int threads = 1, first_rec = argc;
    pe_precision prec = PE_PREC_FP32;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &model_path) ||
            arg_value(argc, argv, &i, "--json", &json))
            continue;
        if (arg_value(argc, argv, &i, "--threshold", &v)) {
            if (arg_double("--threshold", v, &threshold)) return 2;
        } else if (arg_value(argc, argv, &i, "--precision", &v)) {
            if (pe_precision_parse(v, &prec)) {
                fprintf(stderr, "protoecg predict: --precision must be fp32, bf16 or int8\n");
                return 2;
            }
        } else if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "protoecg predict: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            first_rec = i;
            break;
        }
    }
    if (!model_path || first_rec >= argc) {
        usage(stderr);
        return 2;
    }
    set_threads(threads);
    pe_error e = {{0}};
    pe_classifier *c = pe_classifier_load(model_path, &e);
    if (!c) {
        fprintf(stderr, "protoecg predict: %s\n", e.msg);
        return 1;
    }
    const char *note = NULL;
    pe_classifier_set_precision(c, (int)prec, &note);
    if (note) fprintf(stderr, "protoecg predict: %s\n", note);
    cJSON *out = cJSON_CreateArray();
    int failures = 0;
    for (int i = first_rec; i < argc; i++) {
        float *sig = NULL, probs[PE_NUM_CLASSES];
        int nl;
        long ns;
        double fs;
        if (pe_record_read(argv[i], &sig, &nl, &ns, &fs, &e) ||
            pe_classify(c, sig, nl, ns, fs, probs, &e)) {
            fprintf(stderr, "protoecg predict: %s: %s\n", argv[i], e.msg);
            free(sig);
            failures++;
            continue;
        }
        free(sig);
        printf("%s:", argv[i]);
        int any = 0;
        for (int k = 0; k < PE_NUM_CLASSES; k++)
            if (probs[k] >= threshold) printf(" %s (%.3f)", pe_class_names[k], probs[k]), any = 1;
        printf("%s\n", any ? "" : " no rhythm label above the threshold");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "record", argv[i]);
        cJSON *labels = cJSON_AddArrayToObject(o, "labels");
        cJSON *p = cJSON_AddObjectToObject(o, "probabilities");
        for (int k = 0; k < PE_NUM_CLASSES; k++) {
            cJSON_AddNumberToObject(p, pe_class_names[k], probs[k]);
            if (probs[k] >= threshold) cJSON_AddItemToArray(labels, cJSON_CreateString(pe_class_names[k]));
        }
        cJSON_AddItemToArray(out, o);
    }
    int rc = 0;
    if (json) {
        char *s = cJSON_Print(out);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        if (rc) fprintf(stderr, "protoecg predict: %s\n", e.msg);
        free(s);
    }
    cJSON_Delete(out);
    pe_classifier_free(c);
    return (rc || failures) ? 1 : 0;
}

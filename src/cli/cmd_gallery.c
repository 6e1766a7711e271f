/* protoecg gallery: every prototype with the training ECG it was projected onto,
 * and per-class prototype statistics; HTML and JSON. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "explain/gallery.h"
#include "util/error.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f, "usage: protoecg gallery --model M --ptbxl DIR --html FILE [--json FILE]\n");
}

static cJSON *gallery_json(const pe_model *m, const pe_gallery_stats *st) {
    cJSON *o = cJSON_CreateObject();
    cJSON *protos = cJSON_AddArrayToObject(o, "prototypes");
    int K = m->net.cfg.protos_per_class;
    for (int p = 0; p < m->net.n_protos; p++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "prototype", p);
        cJSON_AddStringToObject(x, "class", pe_class_names[p / K]);
        cJSON_AddNumberToObject(x, "source_ecg_id", m->sources[p].ecg_id);
        cJSON_AddNumberToObject(x, "projection_similarity", m->sources[p].similarity);
        cJSON *l = cJSON_AddArrayToObject(x, "source_labels");
        for (int c = 0; c < PE_NUM_CLASSES; c++)
            if (m->sources[p].labels[c]) cJSON_AddItemToArray(l, cJSON_CreateString(pe_class_names[c]));
        cJSON_AddItemToArray(protos, x);
    }
    cJSON *cls = cJSON_AddArrayToObject(o, "classes");
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "class", pe_class_names[c]);
        cJSON_AddNumberToObject(x, "mean_within_class_cosine", st->mean_within_cos[c]);
        cJSON_AddNumberToObject(x, "mean_between_class_cosine", st->mean_between_cos[c]);
        cJSON_AddNumberToObject(x, "sources_with_only_this_class", st->n_single_label[c]);
        cJSON_AddNumberToObject(x, "prototypes_sharing_a_source", st->n_duplicates[c]);
        cJSON_AddItemToArray(cls, x);
    }
    return o;
}

int cmd_gallery(int argc, char **argv) {
    const char *model_path = NULL, *root = NULL, *html = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &model_path) ||
            arg_value(argc, argv, &i, "--ptbxl", &root) || arg_value(argc, argv, &i, "--html", &html) ||
            arg_value(argc, argv, &i, "--json", &json))
            continue;
        return arg_last("gallery", argv[i], NULL, usage);
    }
    if (!model_path || !root || (!html && !json)) {
        usage(stderr);
        return 2;
    }
    pe_error e = {{0}};
    pe_model m;
    if (pe_model_load(&m, model_path, 1, 0, &e)) {
        fprintf(stderr, "protoecg gallery: %s\n", e.msg);
        return 1;
    }
    int rc = 0;
    if (m.net.cfg.head != PE_HEAD_PROTO)
        rc = pe_fail(&e, "%s: a plain ResNet-18 baseline has no prototypes", model_path);
    pe_ptbxl_db db = {0};
    int P = m.net.n_protos, K = m.net.cfg.protos_per_class;
    pe_gallery_item *items = calloc((size_t)P + 1, sizeof *items);
    float **sigs = calloc((size_t)P + 1, sizeof *sigs);
    if (rc == 0 && (!items || !sigs)) rc = pe_fail(&e, "out of memory");
    if (rc == 0) rc = pe_ptbxl_load(root, &db, &e);
    pe_gallery_stats st;
    if (rc == 0) {
        pe_gallery_stats_compute(&m, &st);
        for (int p = 0; p < P; p++) {
            pe_gallery_item *it = &items[p];
            it->prototype = p;
            it->proto_class = p / K;
            it->source_ecg_id = m.sources[p].ecg_id;
            memcpy(it->source_labels, m.sources[p].labels, PE_NUM_CLASSES);
            it->similarity = m.sources[p].similarity;
            pe_error se;
            if (it->source_ecg_id >= 0 &&
                cli_read_ptbxl_record(&db, root, it->source_ecg_id, &sigs[p], &se) != 0)
                fprintf(stderr, "warning: prototype %d: source ECG not shown: %s\n", p, se.msg);
            it->source_sig = sigs[p];
        }
        printf("%-6s %6s %9s %9s %12s %10s\n", "class", "protos", "cos-in", "cos-out", "source-only", "shared");
        for (int c = 0; c < PE_NUM_CLASSES; c++)
            printf("%-6s %6d %9.3f %9.3f %12d %10d\n", pe_class_names[c], K, st.mean_within_cos[c],
                   st.mean_between_cos[c], st.n_single_label[c], st.n_duplicates[c]);
    }
    if (rc == 0 && html) {
        pe_sb sb = {0};
        rc = pe_html_gallery_page(&sb, "protoecg prototype gallery", model_path, items, P,
                                  PE_NUM_SAMPLES, PE_SAMPLING_HZ, &st, &e);
        if (rc == 0) rc = pe_html_write(&sb, html, &e);
        pe_sb_free(&sb);
    }
    if (rc == 0 && json) {
        cJSON *o = gallery_json(&m, &st);
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (rc) fprintf(stderr, "protoecg gallery: %s\n", e.msg);
    for (int p = 0; sigs && p < P; p++) free(sigs[p]);
    free(sigs);
    free(items);
    pe_ptbxl_free(&db);
    pe_model_free(&m);
    return rc ? 1 : 0;
}

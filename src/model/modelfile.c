/* Model file save/load (safetensors + JSON metadata). */
#include "model/modelfile.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "util/error.h"

int pe_model_init(pe_model *m, const pe_net_config *cfg, int max_batch, uint64_t seed,
                  int use_dnnl, pe_error *e) {
    memset(m, 0, sizeof *m);
    if (pe_net_init(&m->net, cfg, max_batch, seed, use_dnnl, e)) return -1;
    m->pre.filter_order = 1;
    m->pre.cutoff_hz = 0.5f;
    m->pre.fs = PE_SAMPLING_HZ;
    for (int l = 0; l < PE_NUM_LEADS; l++) m->pre.std[l] = 1.0f;
    if (cfg->head == PE_HEAD_PROTO) {
        m->sources = calloc((size_t)m->net.n_protos, sizeof *m->sources);
        if (!m->sources) {
            pe_model_free(m);
            return pe_fail(e, "out of memory");
        }
        for (int p = 0; p < m->net.n_protos; p++) m->sources[p].ecg_id = -1;
    }
    return 0;
}

void pe_model_free(pe_model *m) {
    pe_net_free(&m->net);
    free(m->sources);
    free(m->config_json);
    memset(m, 0, sizeof *m);
}

void pe_net_copy_weights(pe_net *dst, const pe_net *src) {
    pe_net_weights_changed(dst);
    memcpy(dst->params, src->params, src->n_params * sizeof(float));
    memcpy(dst->buffers, src->buffers, src->n_buffers * sizeof(float));
    dst->num_batches_tracked = src->num_batches_tracked;
    dst->int8 = src->int8;
}

/* ---- metadata --------------------------------------------------------------- */

static cJSON *float_array(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *labels_array(const uint8_t *y) {
    cJSON *a = cJSON_CreateArray();
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (y[c]) cJSON_AddItemToArray(a, cJSON_CreateString(pe_class_names[c]));
    return a;
}

static int set_json_meta(pe_st_writer *w, const char *key, cJSON *j, pe_error *e) {
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return pe_fail(e, "out of memory");
    int rc = pe_st_set_metadata(w, key, s, e);
    free(s);
    return rc;
}

/* The int8 calibration as JSON (docs/formats.md): {"version", "percentile", "records",
 * "stem", "blocks": [{"c1", "down" (blocks with a downsample), "out"} x 8]}. */
static cJSON *int8_calib_json(const pe_net *net) {
    const pe_int8_calib *c = &net->int8;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", PE_INT8_CALIB_VERSION);
    cJSON_AddNumberToObject(o, "percentile", c->percentile);
    cJSON_AddNumberToObject(o, "records", c->n_records);
    cJSON_AddNumberToObject(o, "stem", c->stem);
    cJSON *blocks = cJSON_AddArrayToObject(o, "blocks");
    for (int i = 0; i < 8; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "c1", c->c1[i]);
        if (net->blocks[i].has_down) cJSON_AddNumberToObject(b, "down", c->down[i]);
        cJSON_AddNumberToObject(b, "out", c->out[i]);
        cJSON_AddItemToArray(blocks, b);
    }
    return o;
}

static int write_metadata(const pe_model *m, pe_st_writer *w, pe_error *e) {
    const pe_net_config *c = &m->net.cfg;
    char buf[64];
    if (pe_st_set_metadata(w, "format", PE_MODEL_FORMAT, e)) return -1;
    snprintf(buf, sizeof buf, "%d", PE_MODEL_FORMAT_VERSION);
    if (pe_st_set_metadata(w, "format_version", buf, e)) return -1;
    if (pe_st_set_metadata(w, "protoecg_version", PE_VERSION_STRING, e)) return -1;

    cJSON *labels = cJSON_CreateArray();
    for (int k = 0; k < c->n_classes; k++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(pe_class_names[k]));
    if (set_json_meta(w, "labels", labels, e)) return -1;

    cJSON *net = cJSON_CreateObject();
    cJSON_AddStringToObject(net, "head", c->head == PE_HEAD_PROTO ? "prototype" : "linear");
    cJSON_AddNumberToObject(net, "base_width", c->base_width);
    cJSON_AddNumberToObject(net, "latent_dim", c->latent_dim);
    cJSON_AddNumberToObject(net, "protos_per_class", c->protos_per_class);
    cJSON_AddNumberToObject(net, "in_leads", c->in_leads);
    cJSON_AddNumberToObject(net, "in_len", c->in_len);
    if (set_json_meta(w, "network", net, e)) return -1;

    cJSON *pre = cJSON_CreateObject();
    cJSON_AddNumberToObject(pre, "filter_order", m->pre.filter_order);
    cJSON_AddNumberToObject(pre, "cutoff_hz", m->pre.cutoff_hz);
    cJSON_AddNumberToObject(pre, "fs", m->pre.fs);
    cJSON_AddBoolToObject(pre, "standardized", m->pre.standardized);
    cJSON_AddItemToObject(pre, "mean", float_array(m->pre.mean, PE_NUM_LEADS));
    cJSON_AddItemToObject(pre, "std", float_array(m->pre.std, PE_NUM_LEADS));
    if (set_json_meta(w, "preprocessing", pre, e)) return -1;

    if (m->sources) {
        cJSON *src = cJSON_CreateArray();
        for (int p = 0; p < m->net.n_protos; p++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "prototype", p);
            cJSON_AddStringToObject(o, "class", pe_class_names[p / c->protos_per_class]);
            cJSON_AddNumberToObject(o, "ecg_id", m->sources[p].ecg_id);
            cJSON_AddNumberToObject(o, "similarity", m->sources[p].similarity);
            cJSON_AddItemToObject(o, "labels", labels_array(m->sources[p].labels));
            cJSON_AddItemToArray(src, o);
        }
        if (set_json_meta(w, "prototype_sources", src, e)) return -1;
    }
    if (m->config_json && pe_st_set_metadata(w, "config", m->config_json, e)) return -1;
    if (m->net.int8.valid && set_json_meta(w, PE_INT8_CALIB_KEY, int8_calib_json(&m->net), e))
        return -1;
    return 0;
}

int pe_model_save(const pe_model *m, const char *path, int bf16, pe_error *e) {
    pe_st_writer *w = pe_st_writer_new();
    if (!w) return pe_fail(e, "%s: out of memory", path);
    const pe_net *net = &m->net;
    int rc = write_metadata(m, w, e);
    for (int i = 0; rc == 0 && i < net->n_tensors; i++) {
        const pe_tensor_info *t = &net->tensors[i];
        const float *d = pe_net_data(net, t);
        int as_bf16 = bf16 && t->kind == PE_T_PARAM;
        rc = as_bf16 ? pe_st_add_bf16(w, t->name, d, t->shape, t->ndim, e)
                     : pe_st_add_f32(w, t->name, d, t->shape, t->ndim, e);
        /* every BN layer has a num_batches_tracked next to its running_var */
        const char *suf = strstr(t->name, ".running_var");
        if (rc == 0 && suf && suf[strlen(".running_var")] == '\0') {
            char n[128];
            snprintf(n, sizeof n, "%.*s.num_batches_tracked", (int)(suf - t->name), t->name);
            int64_t shape0[1] = {0};
            rc = pe_st_add_i64(w, n, &net->num_batches_tracked, shape0, 0, e);
        }
    }
    if (rc == 0) rc = pe_st_write(w, path, e);
    pe_st_writer_free(w);
    return rc;
}

/* ---- load ---------------------------------------------------------------------- */

static cJSON *parse_meta(const pe_st_file *f, const char *key, pe_error *e) {
    const char *s = pe_st_metadata(f, key);
    if (!s) {
        pe_fail(e, "%s: missing metadata '%s' (not a protoecg model?)", pe_st_path(f), key);
        return NULL;
    }
    cJSON *j = cJSON_Parse(s);
    if (!j) pe_fail(e, "%s: metadata '%s' is not valid JSON", pe_st_path(f), key);
    return j;
}

static int json_int(const cJSON *o, const char *k, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valueint;
    return 0;
}

static int read_float_array(const cJSON *o, const char *k, float *out, int n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v)) return -1;
        out[i] = (float)v->valuedouble;
    }
    return 0;
}

static int read_header(const pe_st_file *f, pe_net_config *cfg, pe_preproc *pre, pe_error *e) {
    const char *path = pe_st_path(f);
    const char *fmt = pe_st_metadata(f, "format"), *ver = pe_st_metadata(f, "format_version");
    if (!fmt || strcmp(fmt, PE_MODEL_FORMAT))
        return pe_fail(e, "%s: not a protoecg model (metadata 'format' is %s)", path,
                       fmt ? fmt : "missing");
    if (!ver || atoi(ver) != PE_MODEL_FORMAT_VERSION)
        return pe_fail(e, "%s: model format version %s, this protoecg reads version %d", path,
                       ver ? ver : "missing", PE_MODEL_FORMAT_VERSION);
    cJSON *labels = parse_meta(f, "labels", e);
    if (!labels) return -1;
    int ok = cJSON_IsArray(labels) && cJSON_GetArraySize(labels) == PE_NUM_CLASSES;
    for (int c = 0; ok && c < PE_NUM_CLASSES; c++) {
        const cJSON *s = cJSON_GetArrayItem(labels, c);
        ok = cJSON_IsString(s) && !strcmp(s->valuestring, pe_class_names[c]);
    }
    cJSON_Delete(labels);
    if (!ok)
        return pe_fail(e, "%s: the model's label list differs from protoecg's 16 rhythm labels "
                          "(in order: 1AVB IVCD ... TRIGU)", path);
    cJSON *net = parse_meta(f, "network", e);
    if (!net) return -1;
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(net, "head");
    *cfg = pe_net_config_default(PE_HEAD_PROTO);
    ok = cJSON_IsString(head) && (!strcmp(head->valuestring, "prototype") ||
                                  !strcmp(head->valuestring, "linear"));
    if (ok) cfg->head = !strcmp(head->valuestring, "prototype") ? PE_HEAD_PROTO : PE_HEAD_LINEAR;
    ok = ok && !json_int(net, "base_width", &cfg->base_width) &&
         !json_int(net, "latent_dim", &cfg->latent_dim) &&
         !json_int(net, "protos_per_class", &cfg->protos_per_class) &&
         !json_int(net, "in_leads", &cfg->in_leads) && !json_int(net, "in_len", &cfg->in_len);
    ok = ok && cfg->base_width > 0 && cfg->base_width <= 1024 && cfg->latent_dim > 0 &&
         cfg->latent_dim <= 8192 && cfg->protos_per_class > 0 && cfg->protos_per_class <= 100 &&
         cfg->in_leads == PE_NUM_LEADS && cfg->in_len == PE_NUM_SAMPLES;
    cJSON_Delete(net);
    if (!ok) return pe_fail(e, "%s: metadata 'network' is missing fields or out of range", path);
    cJSON *p = parse_meta(f, "preprocessing", e);
    if (!p) return -1;
    double d;
    const cJSON *v;
    ok = !json_int(p, "filter_order", &pre->filter_order) && pre->filter_order >= 0 &&
         pre->filter_order <= 8;
    ok = ok && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(p, "cutoff_hz"));
    if (ok) d = v->valuedouble, pre->cutoff_hz = (float)d;
    ok = ok && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(p, "fs"));
    if (ok) pre->fs = (float)v->valuedouble;
    ok = ok && cJSON_IsBool(v = cJSON_GetObjectItemCaseSensitive(p, "standardized"));
    if (ok) pre->standardized = cJSON_IsTrue(v);
    ok = ok && !read_float_array(p, "mean", pre->mean, PE_NUM_LEADS) &&
         !read_float_array(p, "std", pre->std, PE_NUM_LEADS);
    cJSON_Delete(p);
    if (!ok) return pe_fail(e, "%s: metadata 'preprocessing' is missing fields or invalid", path);
    return 0;
}

static int read_sources(const pe_st_file *f, pe_model *m, pe_error *e) {
    const char *s = pe_st_metadata(f, "prototype_sources");
    if (!s) return 0; /* never projected */
    cJSON *a = cJSON_Parse(s);
    int P = m->net.n_protos, ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == P;
    for (int p = 0; ok && p < P; p++) {
        const cJSON *o = cJSON_GetArrayItem(a, p), *lab;
        const cJSON *sim = cJSON_GetObjectItemCaseSensitive(o, "similarity");
        ok = !json_int(o, "ecg_id", &m->sources[p].ecg_id) && cJSON_IsNumber(sim) &&
             cJSON_IsArray(lab = cJSON_GetObjectItemCaseSensitive(o, "labels"));
        if (!ok) break;
        m->sources[p].similarity = (float)sim->valuedouble;
        const cJSON *l;
        cJSON_ArrayForEach(l, lab) {
            for (int c = 0; c < PE_NUM_CLASSES; c++)
                if (cJSON_IsString(l) && !strcmp(l->valuestring, pe_class_names[c]))
                    m->sources[p].labels[c] = 1;
        }
    }
    cJSON_Delete(a);
    return ok ? 0 : pe_fail(e, "%s: metadata 'prototype_sources' is invalid", pe_st_path(f));
}

/* A range of the int8 calibration: a finite positive number. */
static int calib_range(const cJSON *o, const char *k, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0) ||
        v->valuedouble > 3.0e38)
        return -1;
    *out = (float)v->valuedouble;
    return 0;
}

/* Reads the optional int8 calibration into m->net.int8 (see int8_calib_json). */
static int read_int8_calib(const pe_st_file *f, pe_model *m, pe_error *e) {
    const char *s = pe_st_metadata(f, PE_INT8_CALIB_KEY);
    if (!s) return 0; /* not calibrated */
    pe_int8_calib c;
    memset(&c, 0, sizeof c);
    const char *why = NULL;
    int version = 0;
    cJSON *o = cJSON_Parse(s);
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(o, "blocks");
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(o, "percentile");
    if (!cJSON_IsObject(o)) why = "not a JSON object";
    else if (json_int(o, "version", &version)) why = "no \"version\"";
    else if (version != PE_INT8_CALIB_VERSION) why = "unsupported \"version\"";
    else if (calib_range(o, "stem", &c.stem)) why = "\"stem\" is not a positive number";
    else if (!cJSON_IsArray(blocks) || cJSON_GetArraySize(blocks) != 8)
        why = "\"blocks\" is not an array of 8";
    for (int i = 0; !why && i < 8; i++) {
        const cJSON *b = cJSON_GetArrayItem(blocks, i);
        int has_down = m->net.blocks[i].has_down;
        if (calib_range(b, "c1", &c.c1[i]) || calib_range(b, "out", &c.out[i]))
            why = "a block's \"c1\" or \"out\" is not a positive number";
        else if (has_down ? calib_range(b, "down", &c.down[i])
                          : cJSON_GetObjectItemCaseSensitive(b, "down") != NULL)
            why = "a block's \"down\" is missing, not a positive number, or on a block "
                  "without a downsample";
    }
    if (!why) {
        c.percentile = cJSON_IsNumber(pct) ? pct->valuedouble : 100.0;
        if (json_int(o, "records", &c.n_records)) c.n_records = 0;
        c.valid = 1;
        m->net.int8 = c;
    }
    cJSON_Delete(o);
    if (!why) return 0;
    if (version > PE_INT8_CALIB_VERSION)
        return pe_fail(e, "%s: metadata '%s' has version %d, this protoecg reads version %d",
                       pe_st_path(f), PE_INT8_CALIB_KEY, version, PE_INT8_CALIB_VERSION);
    return pe_fail(e, "%s: metadata '%s' is invalid: %s", pe_st_path(f), PE_INT8_CALIB_KEY, why);
}

/* The file must hold the largest tensors its 'network' metadata implies, with their
 * shapes, before the net is allocated: a header that claims a wider network than the
 * file holds fails here, not after allocating for it. */
static int check_sizes(const pe_st_file *f, const pe_net_config *c, pe_error *e) {
    int64_t w = 8 * (int64_t)c->base_width, D = c->latent_dim;
    int64_t P = (int64_t)c->protos_per_class * PE_NUM_CLASSES;
    struct { const char *name; int64_t d0, d1, d2; } big[3] = {
        {"feature_extractor.layer4.1.conv2.weight", w, w, 3},
        {"add_on_layers.2.weight", D, D, 0},
        {"prototype_vectors", P, D, 0},
    };
    for (int i = 0; i < (c->head == PE_HEAD_PROTO ? 3 : 1); i++) {
        const pe_st_tensor *t = pe_st_find(f, big[i].name);
        int ndim = big[i].d2 ? 3 : 2;
        if (!t) return pe_fail(e, "%s: missing tensor %s", pe_st_path(f), big[i].name);
        if (t->ndim != ndim || t->shape[0] != big[i].d0 || t->shape[1] != big[i].d1 ||
            (ndim == 3 && t->shape[2] != big[i].d2))
            return pe_fail(e, "%s: tensor %s does not have the shape the metadata 'network' "
                              "implies (base_width %d, latent_dim %d, protos_per_class %d)",
                           pe_st_path(f), big[i].name, c->base_width, c->latent_dim,
                           c->protos_per_class);
    }
    return 0;
}

/* Loads the model of an opened file (closed here). */
static int load_file(pe_model *m, pe_st_file *f, int max_batch, int use_dnnl, pe_error *e) {
    memset(m, 0, sizeof *m);
    if (!f) return -1;
    pe_net_config cfg;
    pe_preproc pre;
    int rc = read_header(f, &cfg, &pre, e);
    if (rc == 0) rc = check_sizes(f, &cfg, e);
    if (rc == 0) rc = pe_model_init(m, &cfg, max_batch, 0, use_dnnl, e);
    if (rc == 0) m->pre = pre;
    pe_net *net = &m->net;
    for (int i = 0; rc == 0 && i < net->n_tensors; i++) {
        const pe_tensor_info *t = &net->tensors[i];
        rc = pe_st_read_f32(f, t->name, pe_net_data(net, t), t->shape, t->ndim, e);
        const char *suf = strstr(t->name, ".running_var");
        if (rc == 0 && suf && suf[strlen(".running_var")] == '\0') {
            char n[128];
            snprintf(n, sizeof n, "%.*s.num_batches_tracked", (int)(suf - t->name), t->name);
            if (pe_st_find(f, n)) rc = pe_st_read_i64(f, n, &net->num_batches_tracked, NULL, 0, e);
        }
    }
    if (rc == 0 && m->sources) rc = read_sources(f, m, e);
    if (rc == 0) rc = read_int8_calib(f, m, e);
    const char *conf = pe_st_metadata(f, "config");
    if (rc == 0 && conf) m->config_json = strdup(conf);
    pe_st_close(f);
    if (rc && m->net.params) pe_model_free(m);
    return rc;
}

int pe_model_load(pe_model *m, const char *path, int max_batch, int use_dnnl, pe_error *e) {
    return load_file(m, pe_st_open(path, e), max_batch, use_dnnl, e);
}

int pe_model_load_memory(pe_model *m, const void *data, size_t len, const char *name,
                         int max_batch, int use_dnnl, pe_error *e) {
    return load_file(m, pe_st_open_memory(data, len, name, e), max_batch, use_dnnl, e);
}

/* libFuzzer target: model file bytes -> pe_st_open_memory and pe_model_load_memory.
 * Any file the safetensors reader accepts must have tensors whose every element can be
 * read (the tensors tile the data section); a loaded model must have the shape its
 * header claims and be freed again; a failure must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/modelfile.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all_tensors(const pe_st_file *f) {
    for (int i = 0; i < pe_st_count(f); i++) {
        const pe_st_tensor *t = pe_st_at(f, i);
        if (!t || t->numel < 0 || (size_t)t->numel > 1u << 24) abort();
        void *buf = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(int64_t));
        if (!buf) abort();
        pe_error e;
        /* either conversion may refuse the dtype, with a message */
        if (pe_st_read_f32(f, t->name, buf, NULL, 0, &e) && e.msg[0] == '\0') abort();
        if (pe_st_read_i64(f, t->name, buf, NULL, 0, &e) && e.msg[0] == '\0') abort();
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pe_error e;
    e.msg[0] = '\0';
    pe_st_file *f = pe_st_open_memory(data, size, "fuzz.safetensors", &e);
    if (f) {
        read_all_tensors(f);
        pe_st_close(f);
    } else if (e.msg[0] == '\0') {
        abort();
    }
    pe_model m;
    e.msg[0] = '\0';
    if (pe_model_load_memory(&m, data, size, "fuzz.safetensors", 1, 0, &e) == 0) {
        if (m.net.cfg.n_classes != PE_NUM_CLASSES || !m.net.params) abort();
        if (m.net.cfg.head == PE_HEAD_PROTO &&
            (!m.sources || m.net.n_protos != m.net.cfg.protos_per_class * PE_NUM_CLASSES))
            abort();
        pe_model_free(&m);
    } else if (e.msg[0] == '\0' || m.net.params || m.sources) {
        abort(); /* a failure leaves the model empty and says why */
    }
    return 0;
}

/* Atomic writes, path joining and the RNG. */
#include "check.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

#include <unistd.h>

int main(void) {
    pe_error e = {{0}};
    char path[256];
    snprintf(path, sizeof path, "/tmp/pe_test_util_%ld.bin", (long)getpid());
    CHECK(pe_write_file_atomic(path, "hello", 5, &e) == 0);
    size_t n = 0;
    char *buf = pe_read_file(path, &n, &e);
    CHECK(buf && n == 5 && !memcmp(buf, "hello", 5));
    free(buf);
    unlink(path);
    CHECK(pe_read_file("/nonexistent/x", &n, &e) == NULL);
    CHECK_CONTAINS(e.msg, "/nonexistent/x");
    CHECK(pe_write_file_atomic("/nonexistent/dir/x", "a", 1, &e) == -1);
    CHECK_CONTAINS(e.msg, "/nonexistent/dir/x");

    char j[64];
    CHECK(pe_path_join(j, sizeof j, "a/b//", "c") == 0 && !strcmp(j, "a/b/c"));
    CHECK(pe_path_join(j, 4, "abc", "def") == -1);

    pe_rng r1, r2;
    pe_rng_seed(&r1, 42);
    pe_rng_seed(&r2, 42);
    double mean = 0, var = 0;
    int N = 200000;
    for (int i = 0; i < N; i++) {
        CHECK(pe_rng_u64(&r1) == pe_rng_u64(&r2));
        double x = pe_rng_normal(&r1);
        pe_rng_normal(&r2);
        mean += x;
        var += x * x;
    }
    mean /= N;
    var = var / N - mean * mean;
    CHECK_CLOSE(mean, 0.0, 0.01, 0);
    CHECK_CLOSE(var, 1.0, 0.02, 0);
    for (int i = 0; i < 1000; i++) CHECK(pe_rng_below(&r1, 7) < 7);
    TEST_END();
}

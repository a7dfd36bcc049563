/* Runs the C interface of nestlat on vectors written by the Rust test
 * tests/capi.rs and compares every output bit for bit with the values the
 * Rust library computed. Prints "N passed, M failed" and exits non-zero on
 * any failure. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nestlat.h"
#include "vectors.h"

static unsigned passed;
static unsigned failed;

static void check(int ok, const char *operation, const char *preset, unsigned token) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAILED: %s %s token %u\n", preset, operation, token);
    }
}

static int same_bits(const float *values, const uint32_t *expected, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        if (bits != expected[i]) {
            return 0;
        }
    }
    return 1;
}

static void run_case(const struct test_case *test) {
    NestlatMatrixInfo info;
    NestlatStatus status = nestlat_matrix_open(test->weights, test->weights_len, &info);
    check(status == NESTLAT_STATUS_OK && info.vector_len == COLS && info.vector_count == ROWS,
          "nestlat_matrix_open", test->preset, 0);

    float scratch[COLS + 8];
    float y[ROWS];
    size_t scratch_len = nestlat_scratch_len(info.coded_len, 1);
    check(scratch_len <= sizeof scratch / sizeof scratch[0], "nestlat_scratch_len", test->preset, 0);

    for (unsigned token = 0; token < TOKENS; token++) {
        float x[COLS];
        memcpy(x, &INPUTS[token * COLS], sizeof x);

        status = nestlat_matvec(test->weights, test->weights_len, x, COLS, scratch, scratch_len, y,
                                ROWS);
        check(status == NESTLAT_STATUS_OK && same_bits(y, &test->dense[token * ROWS], ROWS),
              "nestlat_matvec", test->preset, token);

        status = nestlat_matvec_coded(test->weights, test->weights_len, test->activations,
                                      test->activations_len, token, scratch, scratch_len, y, ROWS);
        check(status == NESTLAT_STATUS_OK && same_bits(y, &test->coded[token * ROWS], ROWS),
              "nestlat_matvec_coded", test->preset, token);
    }
}

static void check_errors(void) {
    float y[ROWS];
    float scratch[COLS + 8];
    float x[COLS];
    const struct test_case *test = &CASES[0];
    memcpy(x, INPUTS, sizeof x);

    check(nestlat_matrix_open(NULL, 16, NULL) == NESTLAT_STATUS_NULL_POINTER, "null buffer", "-", 0);
    check(nestlat_matrix_open(test->weights, test->weights_len - 1, NULL) ==
              NESTLAT_STATUS_INVALID_MATRIX,
          "truncated buffer", "-", 0);
    check(nestlat_matvec(test->weights, test->weights_len, x, COLS, scratch, 2, y,
                         ROWS) == NESTLAT_STATUS_SCRATCH_TOO_SMALL,
          "short scratch", "-", 0);
    check(nestlat_matvec(test->weights, test->weights_len, x, COLS - 1, scratch,
                         COLS + 1, y, ROWS) == NESTLAT_STATUS_SHAPE_MISMATCH,
          "short input", "-", 0);
    check(nestlat_matvec(test->weights, test->weights_len,
                         (const float *)((const char *)x + 1), COLS, scratch, COLS + 1,
                         y, ROWS) == NESTLAT_STATUS_MISALIGNED_POINTER,
          "misaligned input", "-", 0);
    check(strlen(nestlat_status_message(NESTLAT_STATUS_SHAPE_MISMATCH)) > 0, "status message", "-",
          0);
}

int main(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        run_case(&CASES[i]);
    }
    check_errors();
    printf("nestlat capi: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

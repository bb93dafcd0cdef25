/*
 * Minimal OpenMP STREAM triad reference for clusterbench fidelity checks.
 *
 *   a[i] = b[i] + q * c[i]     (double)
 *
 * Build:  gcc -O3 -march=native -fopenmp -o stream_triad stream_triad.c
 * Run:    OMP_PROC_BIND=close OMP_PLACES=cores OMP_NUM_THREADS=<cores> \
 *             ./stream_triad [elements] [iterations]
 *
 * elements   array length in elements (default: STREAM_N, or 33554432)
 * iterations timed iterations (default 20); one untimed warm-up pass runs first
 *
 * Reports STREAM's convention: bytes per iteration = 3 * 8 * N (two reads,
 * one write, no write-allocate traffic counted); best rate = bytes / min time,
 * median rate = bytes / median time, GB/s = 1e9 bytes/s.
 * Output (one line, stdout):
 *   triad_best_gbps=... triad_median_gbps=... min_s=... median_s=... threads=... n=... iters=...
 * Exit status is non-zero if the result check fails or on bad arguments.
 */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef STREAM_N
#define STREAM_N 33554432L
#endif

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v <= 0) {
        fprintf(stderr, "stream_triad: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long n = STREAM_N;
    long iters = 20;
    if (argc > 1) n = parse_long(argv[1], "element count");
    if (argc > 2) iters = parse_long(argv[2], "iteration count");
    if (argc > 3) {
        fprintf(stderr, "usage: %s [elements] [iterations]\n", argv[0]);
        return 2;
    }

    const double q = 3.0;
    double *a, *b, *c;
    size_t bytes = (size_t)n * sizeof(double);
    if (posix_memalign((void **)&a, 4096, bytes) || posix_memalign((void **)&b, 4096, bytes) ||
        posix_memalign((void **)&c, 4096, bytes)) {
        fprintf(stderr, "stream_triad: allocation of 3 x %zu bytes failed\n", bytes);
        return 1;
    }

    /* First touch in parallel with the same static schedule as the kernel. */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 2.0;
        c[i] = 1.0;
    }

    double *times = malloc((size_t)iters * sizeof(double));
    if (!times) return 1;

    /* Untimed warm-up pass. */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) a[i] = b[i] + q * c[i];

    for (long k = 0; k < iters; k++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + q * c[i];
        times[k] = omp_get_wtime() - t0;
    }

    /* Verify: every element must be exactly 2 + 3*1 = 5 (exact in binary). */
    const double expect = 2.0 + q * 1.0;
    long wrong = 0;
#pragma omp parallel for schedule(static) reduction(+ : wrong)
    for (long i = 0; i < n; i++)
        if (a[i] != expect) wrong++;

    int threads = omp_get_max_threads();

    qsort(times, (size_t)iters, sizeof(double), cmp_double);
    double tmin = times[0];
    double tmed = (iters % 2) ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    double moved = 3.0 * sizeof(double) * (double)n;

    if (wrong) {
        fprintf(stderr, "stream_triad: verification FAILED: %ld of %ld elements wrong\n", wrong, n);
        return 1;
    }
    printf("triad_best_gbps=%.4f triad_median_gbps=%.4f min_s=%.9f median_s=%.9f threads=%d n=%ld iters=%ld\n",
           moved / tmin / 1e9, moved / tmed / 1e9, tmin, tmed, threads, n, iters);

    free(times);
    free(a);
    free(b);
    free(c);
    return 0;
}

/*
 * Minimal OpenMP STREAM copy and triad reference for clusterbench fidelity checks,
 * each with regular stores and with streaming (non-temporal) stores.
 *
 *   copy   c[i] = a[i]
 *   triad  a[i] = b[i] + q * c[i]     (double)
 *
 * Build:  gcc -O3 -march=native -fopenmp -o stream_kernels stream_kernels.c
 * Run:    OMP_PROC_BIND=close OMP_PLACES=cores OMP_NUM_THREADS=<cores> \
 *             ./stream_kernels [elements] [iterations]
 *
 * elements   array length in elements (default: STREAM_N, or 33554432)
 * iterations timed iterations per variant (default 20); one untimed warm-up pass of
 *            each variant runs first
 *
 * The streaming variants (copy_nt, triad_nt) write the destination with streaming
 * (non-temporal) stores, as STREAM built with streaming stores does: AVX's
 * _mm256_stream_pd where the compiler targets AVX (-march=native on an AVX CPU, as
 * clusterbench picks AVX at run time), else SSE2's _mm_stream_pd. Each thread's
 * chunk gets plain stores up to the first vector-aligned address and after the last
 * full vector, streaming stores in between, and an sfence at its end. Without SSE2
 * only the regular variants run; the stores used are printed to stderr.
 *
 * Reports STREAM's convention: bytes per iteration = 2 * 8 * N for copy, 3 * 8 * N
 * for triad (no write-allocate traffic counted); best rate = bytes / min time,
 * median rate = bytes / median time, GB/s = 1e9 bytes/s.
 * Output (stdout), one line per variant:
 *   variant=copy best_gbps=... median_gbps=... min_s=... median_s=... threads=... n=... iters=...
 * Exit status is non-zero if a result check fails or on bad arguments.
 */
#include <errno.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#define NT_LANES 4
#define NT_STORES "avx _mm256_stream_pd"
#elif defined(__SSE2__)
#include <emmintrin.h>
#define NT_LANES 2
#define NT_STORES "sse2 _mm_stream_pd"
#endif

#ifndef STREAM_N
#define STREAM_N 33554432L
#endif

static const double q = 3.0;

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
        fprintf(stderr, "stream_kernels: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

enum kernel { COPY, TRIAD };

/* This thread's share [lo, hi) of n elements, as schedule(static) splits them. */
static void my_chunk(long n, long *lo, long *hi)
{
    long t = omp_get_thread_num(), nt = omp_get_num_threads();
    long per = n / nt, extra = n % nt;
    *lo = t * per + (t < extra ? t : extra);
    *hi = *lo + per + (t < extra);
}

static void run_regular(enum kernel k, double *a, double *b, double *c, long n)
{
    if (k == COPY) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) c[i] = a[i];
    } else {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + q * c[i];
    }
}

#ifdef __SSE2__
static void run_streaming(enum kernel k, double *a, double *b, double *c, long n)
{
#pragma omp parallel
    {
        long lo, hi;
        my_chunk(n, &lo, &hi);
        double *dst = k == COPY ? c : a;
        long i = lo;
        while (i < hi && ((uintptr_t)(dst + i) & (NT_LANES * sizeof(double) - 1)) != 0) {
            dst[i] = k == COPY ? a[i] : b[i] + q * c[i];
            i++;
        }
        long body_end = i + (hi - i) / NT_LANES * NT_LANES;
#ifdef __AVX__
        if (k == COPY) {
            for (; i < body_end; i += 4) _mm256_stream_pd(c + i, _mm256_loadu_pd(a + i));
        } else {
            const __m256d vq = _mm256_set1_pd(q);
            for (; i < body_end; i += 4)
                _mm256_stream_pd(a + i, _mm256_add_pd(_mm256_loadu_pd(b + i),
                                                      _mm256_mul_pd(vq, _mm256_loadu_pd(c + i))));
        }
#else
        if (k == COPY) {
            for (; i < body_end; i += 2) _mm_stream_pd(c + i, _mm_loadu_pd(a + i));
        } else {
            const __m128d vq = _mm_set1_pd(q);
            for (; i < body_end; i += 2)
                _mm_stream_pd(a + i, _mm_add_pd(_mm_loadu_pd(b + i), _mm_mul_pd(vq, _mm_loadu_pd(c + i))));
        }
#endif
        for (; i < hi; i++) dst[i] = k == COPY ? a[i] : b[i] + q * c[i];
        _mm_sfence();
    }
}
#endif

/* Every element of the kernel's destination against its exact expected value. */
static long count_wrong(enum kernel k, const double *a, const double *c, long n, double expect)
{
    const double *dst = k == COPY ? c : a;
    long wrong = 0;
#pragma omp parallel for schedule(static) reduction(+ : wrong)
    for (long i = 0; i < n; i++)
        if (dst[i] != expect) wrong++;
    return wrong;
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

    double *a, *b, *c;
    size_t bytes = (size_t)n * sizeof(double);
    if (posix_memalign((void **)&a, 4096, bytes) || posix_memalign((void **)&b, 4096, bytes) ||
        posix_memalign((void **)&c, 4096, bytes)) {
        fprintf(stderr, "stream_kernels: allocation of 3 x %zu bytes failed\n", bytes);
        return 1;
    }

    /* First touch in parallel with the same static split as the kernels. */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = 1.0;
        b[i] = 2.0;
        c[i] = 0.0;
    }

    double *times = malloc((size_t)iters * sizeof(double));
    if (!times) return 1;
    int threads = omp_get_max_threads();
#ifdef __SSE2__
    fprintf(stderr, "stream_kernels: streaming stores: %s\n", NT_STORES);
#endif

    struct {
        const char *name;
        enum kernel k;
        int streaming;
    } variants[] = {
        {"copy", COPY, 0},
        {"copy_nt", COPY, 1},
        {"triad", TRIAD, 0},
        {"triad_nt", TRIAD, 1},
    };
    /* Copy makes c = a = 1, then triad a = b + q c = 2 + 3 * 1 = 5: exact in binary. */
    const double expect_copy = 1.0, expect_triad = 2.0 + q * 1.0;

    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        enum kernel k = variants[v].k;
#ifdef __SSE2__
        void (*kernel)(enum kernel, double *, double *, double *, long) =
            variants[v].streaming ? run_streaming : run_regular;
#else
        if (variants[v].streaming) {
            fprintf(stderr, "stream_kernels: no SSE2; %s not run\n", variants[v].name);
            continue;
        }
        void (*kernel)(enum kernel, double *, double *, double *, long) = run_regular;
#endif
        kernel(k, a, b, c, n); /* untimed warm-up */
        for (long it = 0; it < iters; it++) {
            double t0 = omp_get_wtime();
            kernel(k, a, b, c, n);
            times[it] = omp_get_wtime() - t0;
        }
        long wrong = count_wrong(k, a, c, n, k == COPY ? expect_copy : expect_triad);
        if (wrong) {
            fprintf(stderr, "stream_kernels: %s verification FAILED: %ld of %ld elements wrong\n",
                    variants[v].name, wrong, n);
            return 1;
        }
        qsort(times, (size_t)iters, sizeof(double), cmp_double);
        double tmin = times[0];
        double tmed = (iters % 2) ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
        double moved = (k == COPY ? 2.0 : 3.0) * sizeof(double) * (double)n;
        printf("variant=%s best_gbps=%.4f median_gbps=%.4f min_s=%.9f median_s=%.9f threads=%d n=%ld iters=%ld\n",
               variants[v].name, moved / tmin / 1e9, moved / tmed / 1e9, tmin, tmed, threads, n, iters);
        fflush(stdout);
    }

    free(times);
    free(a);
    free(b);
    free(c);
    return 0;
}

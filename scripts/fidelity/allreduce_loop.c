/*
 * Minimal MPI all-reduce timing loop: reference for clusterbench fidelity checks.
 *
 * Build:  mpicc -O2 -o allreduce_loop allreduce_loop.c
 * Run:    mpirun -np 2 --bind-to core ./allreduce_loop [iters] [warmup] [min_bytes] [max_bytes]
 *
 * iters      timed iterations per size (default 200)
 * warmup     untimed iterations per size (default 20)
 * min_bytes  smallest message in bytes (default 8)
 * max_bytes  largest message in bytes (default 16777216); sizes double each step
 *
 * Per size: MPI_Allreduce(float, MPI_SUM, out of place) W times untimed,
 * MPI_Barrier once, then N back-to-back calls with no barrier in between.
 * One MPI_Wtime read per iteration: t[k] is taken after call k, the time of
 * iteration k is t[k] - t[k-1], and t[-1] is read right after the barrier.
 * The per-iteration times are then MAX-reduced across ranks elementwise (an
 * all-reduce: see below).
 * Rank 0 prints one line per size:
 *   bytes=<B> mean_us=<mean of per-iter max> median_us=<median of per-iter max>
 *   loop_us=<max over ranks of (total loop time / N)> min_us=<min of per-iter max>
 * The result of the last iteration is checked (sum of rank+1 over ranks);
 * the exit status is non-zero if it is wrong.
 *
 * The buffers start on a page boundary, as OSU's and clusterbench's do. malloc would
 * place these large ones 16 bytes past one (its mmap chunk header): every message
 * then spans one page more, and above the eager limit, where Open MPI's shared-memory
 * transport copies between processes page by page (CMA), a 16 KiB all-reduce took
 * about 7% longer at offset 16 than at offset 0 on a 2-core Xeon, with every other
 * offset in the page as slow as 16: the reference, not the tool, was off.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static long arg_long(int argc, char **argv, int i, long dflt)
{
    if (argc <= i) return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v <= 0) {
        fprintf(stderr, "allreduce_loop: bad argument '%s'\n", argv[i]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return v;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    long iters = arg_long(argc, argv, 1, 200);
    long warm = arg_long(argc, argv, 2, 20);
    long min_bytes = arg_long(argc, argv, 3, 8);
    long max_bytes = arg_long(argc, argv, 4, 16777216);
    if (min_bytes < (long)sizeof(float) || max_bytes < min_bytes) {
        if (rank == 0) fprintf(stderr, "allreduce_loop: bad size range\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    size_t max_count = (size_t)max_bytes / sizeof(float);
    float *sbuf = NULL, *rbuf = NULL;
    if (posix_memalign((void **)&sbuf, 4096, max_count * sizeof(float)) != 0) sbuf = NULL;
    if (posix_memalign((void **)&rbuf, 4096, max_count * sizeof(float)) != 0) rbuf = NULL;
    double *stamp = malloc((size_t)iters * sizeof(double));
    double *dt = malloc((size_t)iters * sizeof(double));
    double *dtmax = malloc((size_t)iters * sizeof(double));
    if (!sbuf || !rbuf || !stamp || !dt || !dtmax) {
        fprintf(stderr, "allreduce_loop: allocation failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* Touch everything once before timing anything. */
    for (size_t i = 0; i < max_count; i++) {
        sbuf[i] = (float)(rank + 1);
        rbuf[i] = 0.0f;
    }
    const float expect = (float)size * (float)(size + 1) / 2.0f;
    int bad = 0;

    for (long bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
        int count = (int)(bytes / (long)sizeof(float));

        for (long k = 0; k < warm; k++)
            MPI_Allreduce(sbuf, rbuf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);

        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long k = 0; k < iters; k++) {
            MPI_Allreduce(sbuf, rbuf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            stamp[k] = MPI_Wtime();
        }

        double prev = t0;
        for (long k = 0; k < iters; k++) {
            dt[k] = stamp[k] - prev;
            prev = stamp[k];
        }
        double loop = (stamp[iters - 1] - t0) / (double)iters, loop_max;

        for (int i = 0; i < count; i++)
            if (rbuf[i] != expect) {
                bad = 1;
                break;
            }

        /* All-reduces, not reduces to rank 0: a reduce sends its 8 B one way only.
         * On Open MPI's shared-memory fast boxes (a ring of 32-byte slots for each
         * direction) that shifts the two rings a slot against each other, so each
         * size would run in the other ring phase from the size before; 4-8 B
         * all-reduces are about 0.1 us slower in one phase than in the other on 2
         * ranks. clusterbench's own control messages go both ways alike too. */
        MPI_Allreduce(dt, dtmax, (int)iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&loop, &loop_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

        if (rank == 0) {
            double sum = 0.0;
            for (long k = 0; k < iters; k++) sum += dtmax[k];
            qsort(dtmax, (size_t)iters, sizeof(double), cmp_double);
            double med = (iters % 2) ? dtmax[iters / 2]
                                     : 0.5 * (dtmax[iters / 2 - 1] + dtmax[iters / 2]);
            printf("bytes=%ld mean_us=%.3f median_us=%.3f loop_us=%.3f min_us=%.3f\n", bytes,
                   sum / (double)iters * 1e6, med * 1e6, loop_max * 1e6, dtmax[0] * 1e6);
            fflush(stdout);
        }
    }

    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_bad && rank == 0) fprintf(stderr, "allreduce_loop: result check FAILED\n");

    free(sbuf);
    free(rbuf);
    free(stamp);
    free(dt);
    free(dtmax);
    MPI_Finalize();
    return any_bad ? 1 : 0;
}

/* Minimal MPI ping-pong between ranks 0 and 1, the reference clusterbench's p2p
 * latency and bandwidth are compared with (scripts/fidelity.sh).
 *
 *   mpirun -np 2 pingpong ITERS WARMUP MINBYTES MAXBYTES [WINDOW]
 *
 * For each size (doubling), rank 0 prints one line:
 *   bytes lat_mean_us lat_median_us lat_iqm_us bw_mean_GBps bw_median_GBps bw_iqm_GBps window
 * (mean, median and interquartile mean -- the mean of the middle half of the sorted
 * samples, [n/4, 3n/4) -- of the per-iteration samples; compare_p2p.py computes the
 * same three from clusterbench's samples).
 * latency: half the round trip of MPI_Send/MPI_Recv. The clock is read on rank 0
 * right after each ping is sent (while it travels), so the read is off the round
 * trip's critical path; consecutive reads are one back-to-back round trip apart and
 * the ITERS samples add up to the loop's time (mean = loop time / ITERS / 2).
 * bandwidth: a window of MPI_Isend (rank 0) / MPI_Irecv (rank 1) per iteration, then
 * MPI_Waitall and a 4-byte acknowledgement, as OSU's osu_bw does; each iteration is
 * timed on rank 0; mean = bytes x window / mean iteration time.
 * The window is WINDOW (default 64), fewer where a window would exceed 64 MiB.
 * Everything else mirrors clusterbench's p2p: WARMUP iterations, a barrier, one
 * untimed round trip (latency), then ITERS timed ones; separate page-aligned send and
 * receive buffers; the sender sends the same buffer WINDOW times into WINDOW
 * consecutive receive slots. The clock is CLOCK_MONOTONIC; clusterbench reads the
 * CPU's time-stamp counter where it ticks at a constant rate (src/clock.rs), a
 * cheaper read, which here lies off the critical path either way. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IN_FLIGHT (64L << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean, median and interquartile mean (sorts in place). */
static void summarise(double *v, long n, double out[3]) {
    double sum = 0, mid = 0;
    for (long i = 0; i < n; i++) sum += v[i];
    out[0] = sum / (double)n;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[1] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    long lo = n / 4, hi = 3 * n / 4;
    if (hi <= lo) lo = 0, hi = n;
    for (long i = lo; i < hi; i++) mid += v[i];
    out[2] = mid / (double)(hi - lo);
}

static void *page_alloc(size_t bytes, int fill) {
    void *p = NULL;
    if (posix_memalign(&p, 4096, bytes ? bytes : 1)) {
        fprintf(stderr, "pingpong: cannot allocate %zu bytes\n", bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(p, fill, bytes ? bytes : 1);
    return p;
}

static void pong(char *s, char *r, int n, int peer, int rank) {
    if (rank == 0) {
        MPI_Send(s, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
        MPI_Recv(r, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
        MPI_Recv(r, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(s, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
    }
}

static void window_once(char *s, char *r, char *ack, int n, int window, int peer, int rank,
                        MPI_Request *req) {
    if (rank == 0) {
        for (int w = 0; w < window; w++)
            MPI_Isend(s, n, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[w]);
        MPI_Waitall(window, req, MPI_STATUSES_IGNORE);
        MPI_Recv(ack, 4, MPI_BYTE, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
        for (int w = 0; w < window; w++)
            MPI_Irecv(r + (size_t)w * (size_t)n, n, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[w]);
        MPI_Waitall(window, req, MPI_STATUSES_IGNORE);
        MPI_Send(ack, 4, MPI_BYTE, peer, 3, MPI_COMM_WORLD);
    }
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv,
                    getenv("PINGPONG_THREAD_MULTIPLE") ? MPI_THREAD_MULTIPLE : MPI_THREAD_SINGLE,
                    &provided);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 5 || size != 2) {
        if (rank == 0) fprintf(stderr, "usage: mpirun -np 2 pingpong ITERS WARMUP MINBYTES MAXBYTES [WINDOW]\n");
        MPI_Finalize();
        return 2;
    }
    long iters = atol(argv[1]), warmup = atol(argv[2]);
    size_t minb = strtoull(argv[3], NULL, 10), maxb = strtoull(argv[4], NULL, 10);
    int max_window = argc > 5 ? atoi(argv[5]) : 64;
    if (iters < 1 || max_window < 1 || minb < 1) {
        if (rank == 0) fprintf(stderr, "pingpong: ITERS, MINBYTES and WINDOW must be at least 1\n");
        MPI_Finalize();
        return 2;
    }
    double *samples = malloc(sizeof(double) * (size_t)iters);
    MPI_Request *req = malloc(sizeof(MPI_Request) * (size_t)max_window);
    char *ack = page_alloc(4, 0);
    if (!samples || !req) MPI_Abort(MPI_COMM_WORLD, 1);
    int peer = 1 - rank;
    for (size_t bytes = minb; bytes <= maxb; bytes *= 2) {
        int n = (int)bytes;
        long fit = MAX_IN_FLIGHT / (long)bytes;
        int window = fit < 1 ? 1 : (fit < max_window ? (int)fit : max_window);
        double lat[3], t[3];

        /* latency */
        char *s = page_alloc(bytes, rank + 1), *r = page_alloc(bytes, 0);
        for (long i = 0; i < warmup; i++) pong(s, r, n, peer, rank);
        MPI_Barrier(MPI_COMM_WORLD);
        double mark = 0;
        for (long i = -1; i < iters; i++) { /* i == -1: the untimed first round trip */
            if (rank == 0) {
                MPI_Send(s, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
                double sent = now();
                if (i >= 0) samples[i] = (sent - mark) / 2;
                mark = sent;
                MPI_Recv(r, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                pong(s, r, n, peer, rank);
            }
        }
        if (rank == 0) summarise(samples, iters, lat);
        free(s);
        free(r);

        /* bandwidth */
        s = page_alloc(bytes, rank + 1);
        r = page_alloc(bytes * (size_t)window, 0);
        for (long i = 0; i < warmup; i++) window_once(s, r, ack, n, window, peer, rank, req);
        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < iters; i++) {
            if (rank != 0) {
                window_once(s, r, ack, n, window, peer, rank, req);
                continue;
            }
            double t0 = now();
            window_once(s, r, ack, n, window, peer, rank, req);
            samples[i] = now() - t0;
        }
        if (rank == 0) {
            summarise(samples, iters, t);
            double moved = (double)bytes * window;
            printf("%zu %.4f %.4f %.4f %.4f %.4f %.4f %d\n", bytes, lat[0] * 1e6, lat[1] * 1e6,
                   lat[2] * 1e6, moved / t[0] / 1e9, moved / t[1] / 1e9, moved / t[2] / 1e9, window);
            fflush(stdout);
        }
        free(s);
        free(r);
    }
    MPI_Finalize();
    return 0;
}

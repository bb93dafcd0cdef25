/* Minimal MPI ping-pong between ranks 0 and 1, the reference clusterbench's p2p
 * latency and bandwidth are compared with (scripts/fidelity.sh).
 *
 *   mpirun -np 2 pingpong ITERS WARMUP MINBYTES MAXBYTES [WINDOW]
 *
 * For each size (doubling), prints one line:
 *   bytes latency_us bandwidth_GBps
 * latency: half the round trip of MPI_Send/MPI_Recv, averaged over ITERS;
 * bandwidth: WINDOW MPI_Isend (rank 0) / MPI_Irecv (rank 1) per iteration, then
 * MPI_Waitall and a 4-byte acknowledgement, as OSU's osu_bw does.
 * Buffers are page-aligned, as clusterbench's are. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv,
                    getenv("PINGPONG_THREAD_MULTIPLE") ? MPI_THREAD_MULTIPLE : MPI_THREAD_SINGLE,
                    &provided);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 5 || size < 2) {
        if (rank == 0) fprintf(stderr, "usage: mpirun -np 2 pingpong ITERS WARMUP MINBYTES MAXBYTES [WINDOW]\n");
        MPI_Finalize();
        return 2;
    }
    long iters = atol(argv[1]), warmup = atol(argv[2]);
    size_t minb = strtoull(argv[3], NULL, 10), maxb = strtoull(argv[4], NULL, 10);
    int window = argc > 5 ? atoi(argv[5]) : 64;
    char *buf[64], *ack;
    if (window > 64) window = 64;
    for (int w = 0; w < window; w++) {
        if (posix_memalign((void **)&buf[w], 4096, maxb ? maxb : 1)) return 1;
        memset(buf[w], rank + 1, maxb);
    }
    if (posix_memalign((void **)&ack, 4096, 4096)) return 1;
    MPI_Request req[64];
    if (rank < 2) {
        for (size_t bytes = minb; bytes <= maxb; bytes *= 2) {
            int n = (int)bytes, peer = 1 - rank;
            double t0 = 0;
            for (long i = 0; i < warmup + iters; i++) {
                if (i == warmup) t0 = MPI_Wtime();
                if (rank == 0) {
                    MPI_Send(buf[0], n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
                    MPI_Recv(buf[0], n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(buf[0], n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(buf[0], n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
                }
            }
            double lat = (MPI_Wtime() - t0) / iters / 2;
            for (long i = 0; i < warmup + iters; i++) {
                if (i == warmup) t0 = MPI_Wtime();
                if (rank == 0) {
                    for (int w = 0; w < window; w++)
                        MPI_Isend(buf[w], n, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[w]);
                    MPI_Waitall(window, req, MPI_STATUSES_IGNORE);
                    MPI_Recv(ack, 4, MPI_BYTE, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    for (int w = 0; w < window; w++)
                        MPI_Irecv(buf[w], n, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[w]);
                    MPI_Waitall(window, req, MPI_STATUSES_IGNORE);
                    MPI_Send(ack, 4, MPI_BYTE, peer, 3, MPI_COMM_WORLD);
                }
            }
            double bw = (double)bytes * window * iters / (MPI_Wtime() - t0) / 1e9;
            if (rank == 0) printf("%zu %.4f %.4f\n", bytes, lat * 1e6, bw);
            if (bytes == 0) break;
        }
    }
    MPI_Finalize();
    return 0;
}

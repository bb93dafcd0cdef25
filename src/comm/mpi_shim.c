#include <mpi.h>

/* MPI_IN_PLACE is a preprocessor constant ((void *) 1 in Open MPI, (void *) -1 in MPICH). */
void *clusterbench_mpi_in_place(void) { return MPI_IN_PLACE; }

#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the integration tests that drive
# the built binary alone and under mpirun with 2 and 4 ranks.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
# setup.sh installed the CUDA wheels: the tests that need them must run, not skip.
if [ "${CLUSTERBENCH_SKIP_CUDA_WHEELS:-0}" != 1 ]; then
  export CLUSTERBENCH_REQUIRE_CUDA_WHEELS=1
fi

# Open MPI refuses to run as root unless told; CI runs as root.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# The single-process build without MPI, hwloc or CUDA must build and pass too.
cargo test --locked --no-default-features
# The report tests leave screenshots of the rendered HTML report here, for CI to keep.
echo "test: report screenshots in target/tmp/report-screenshots/"

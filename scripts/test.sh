#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, the integration tests that drive
# the built binary alone and under mpirun with 2 and 4 ranks, and the relocatable bundle.
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
# Tests whose verdict rests on measured speed (a bandwidth cap, an injected slowdown)
# are named serial_*: they run afterwards, one at a time, so that other tests running
# beside them on a small machine cannot disturb what they measure.
cargo test --locked -- --skip serial_
cargo test --locked --test integration serial_ -- --test-threads=1
# The single-process build without MPI, hwloc or CUDA must build and pass too.
cargo test --locked --no-default-features -- --skip serial_
cargo test --locked --no-default-features --test integration serial_ -- --test-threads=1
# The report tests leave screenshots of the rendered HTML report here, for CI to keep.
echo "test: report screenshots in target/tmp/report-screenshots/"

# Regression gate: the quick CPU suite, one process, release build, compared with the
# baseline captured the same way on this machine class (2 cores). A benchmark fails
# only when the 95% interval of its records' geometric-mean time ratio lies wholly
# above 1.5x, which a noisy 2-core machine does not reach and a 2x slowdown does. The
# second run, with a 2x slowdown injected, is compared side by side with the first
# to prove the gate fails on it.
cargo build --release --locked
gate=$(mktemp -d)
trap 'rm -rf "$gate"' EXIT
baseline=results/baselines/quick-cpu-2core.json
target/release/clusterbench run --suite quick --backend cpu -q --output "$gate/now"
target/release/clusterbench compare "$baseline" "$gate"/now/*.json --threshold 0.5 --gate benchmarks --format markdown
target/release/clusterbench run --suite quick --backend cpu -q --output "$gate/slow" --debug-slowdown 2
set +e
target/release/clusterbench compare "$gate"/now/*.json "$gate"/slow/*.json --threshold 0.5 --gate benchmarks > "$gate/slow.txt"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  cat "$gate/slow.txt"
  echo "test: the regression gate did not catch an injected 2x slowdown (compare exited $code)" >&2
  exit 1
fi
echo "test: regression gate passes the current build and catches an injected 2x slowdown"

# The relocatable bundle: package.sh reuses the release build above and compiles only
# the single-process build anew. Its binaries then run with Open MPI and hwloc made
# unloadable (a mount namespace, as root), under mpirun, and in the GPU validation's
# dry run.
scripts/package.sh
version=$(target/release/clusterbench --version | awk '{print $2}')
export CLUSTERBENCH_BUNDLE=$PWD/dist/clusterbench-$version-linux-x86_64
if [ "$(id -u)" -eq 0 ]; then
  export CLUSTERBENCH_REQUIRE_UNSHARE=1
fi
cargo test --locked --test integration -- bundle:: gpu_validate::

#!/usr/bin/env bash
# Installs what clusterbench builds and runs with (Debian 12 / Ubuntu).
# Safe to run again: what is present already is left alone.
#
#   scripts/setup.sh          system packages to build and run
#   scripts/setup.sh --gpu    also NVIDIA's CUDA 13 NVRTC, cuBLAS and NCCL wheels from PyPI
#                             into a virtual environment clusterbench searches (for GPU
#                             machines that lack those libraries)
#   scripts/setup.sh --test   everything the tests need: the above, and Chromium
set -euo pipefail

WANT_WHEELS=0 WANT_TEST=0
for arg in "$@"; do
  case $arg in
    --gpu) WANT_WHEELS=1 ;;
    --test) WANT_WHEELS=1 WANT_TEST=1 ;;
    *) echo "setup: unknown option '$arg' (use --gpu or --test)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential pkg-config
  libopenmpi-dev openmpi-bin      # MPI (feature `mpi`) and mpirun for the tests
  libhwloc-dev hwloc libudev-dev  # topology (feature `hwloc`); hwloc's static flags name -ludev
  libclang-dev                    # mpi-sys generates its bindings with bindgen
  iproute2 procps                 # ip, tc and sysctl: the simulated cluster of the tests (scripts/simcluster.sh)
)
if [ "$WANT_TEST" = 1 ]; then
  PACKAGES+=(chromium fonts-dejavu-core)  # the tests render the HTML report headless
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi
echo "setup: system packages present"

# CUDA libraries for the GPU-less tests (feature `cuda`): NVRTC compiles the GPU
# kernels to PTX with no GPU, and the real NCCL, cuBLAS and cuBLASLt libraries are
# loaded to resolve every symbol the code calls. PyPI's wheels for CUDA 13 carry them;
# they go into a virtual environment under the user's cache, which clusterbench and
# its tests search like any Python environment. The versions match the CUDA 13.0
# drivers (580 series) of the GPU machines: newer NVRTC emits PTX those cannot load.
# CLUSTERBENCH_SKIP_CUDA_WHEELS=1 skips this (the tests that need them are then skipped).
[ "$WANT_WHEELS" = 1 ] || exit 0
CUDA_WHEELS=(
  nvidia-cuda-nvrtc==13.0.88
  nvidia-cublas==13.0.2.14
  nvidia-nccl-cu13==2.28.9
)
if [ "${CLUSTERBENCH_SKIP_CUDA_WHEELS:-0}" != 1 ]; then
  VENV="${XDG_CACHE_HOME:-$HOME/.cache}/clusterbench/venv"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing python3-venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
  fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # Installed only when a pinned version is missing: the wheels are large.
  installed="$("$VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null || true)"
  missing_wheels=()
  for w in "${CUDA_WHEELS[@]}"; do
    grep -qixF "$w" <<<"$installed" || missing_wheels+=("$w")
  done
  if [ "${#missing_wheels[@]}" -gt 0 ]; then
    echo "setup: installing ${missing_wheels[*]} into $VENV"
    "$VENV/bin/python" -m pip install -q --no-deps --no-cache-dir --disable-pip-version-check "${missing_wheels[@]}"
  fi
  echo "setup: CUDA wheels present in $VENV"
fi

#!/usr/bin/env bash
# Installs what clusterbench builds and runs with (Debian 12 / Ubuntu).
# Safe to run again: what is present already is left alone.
#
#   scripts/setup.sh          system packages to build and run
#   scripts/setup.sh --gpu    also NVIDIA's NVRTC, cuBLAS and NCCL wheels from PyPI, for
#                             the CUDA major of the driver (13, or 12 for R535-R570
#                             drivers), into a virtual environment clusterbench searches
#                             (for GPU machines that lack those libraries)
#   scripts/setup.sh --test   everything the tests need: the CUDA 13 and the CUDA 12
#                             wheels, and Chromium
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
  libopenblas0-pthread            # the CPU matmul's OpenBLAS engine, loaded at run time
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
# kernels with no GPU, and the real NCCL, cuBLAS and cuBLASLt libraries are loaded to
# resolve every symbol the code calls. PyPI's wheels carry them; they go into virtual
# environments under the user's cache, which clusterbench and its tests search like any
# Python environment: the CUDA 13 wheels into venv (for the 580-series drivers of the
# GPU machines), the CUDA 12 ones into venv-cu12 (for R535-R570 drivers; clusterbench
# chooses them over CUDA 13 builds when the driver is CUDA 12, and the tests check that
# against a stub CUDA 12.2 driver). Two environments, because both NCCL wheels install
# into nvidia/nccl/lib. CLUSTERBENCH_SKIP_CUDA_WHEELS=1 skips this (the tests that need
# them are then skipped).
[ "$WANT_WHEELS" = 1 ] || exit 0
CUDA13_WHEELS=(
  nvidia-cuda-nvrtc==13.0.88
  nvidia-cublas==13.0.2.14
  nvidia-nccl-cu13==2.28.9
)
CUDA12_WHEELS=(
  nvidia-cuda-nvrtc-cu12==12.9.86
  nvidia-cublas-cu12==12.9.1.4
  nvidia-nccl-cu12==2.28.9
)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/clusterbench"

# The CUDA major the installed driver supports ("CUDA Version: 12.2" in nvidia-smi's
# header); empty without a driver.
driver_cuda_major() {
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\)\..*/\1/p' | head -1
}

# install_wheels VENV WHEEL...: each pinned wheel, when that version is missing there.
install_wheels() {
  local venv=$1; shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # Installed only when a pinned version is missing: the wheels are large.
  local installed missing_wheels=()
  installed="$("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null || true)"
  for w in "$@"; do
    grep -qixF "$w" <<<"$installed" || missing_wheels+=("$w")
  done
  if [ "${#missing_wheels[@]}" -gt 0 ]; then
    echo "setup: installing ${missing_wheels[*]} into $venv"
    "$venv/bin/python" -m pip install -q --no-deps --no-cache-dir --disable-pip-version-check "${missing_wheels[@]}"
  fi
  echo "setup: CUDA wheels present in $venv"
}

if [ "${CLUSTERBENCH_SKIP_CUDA_WHEELS:-0}" != 1 ]; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing python3-venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
  fi
  major="$(driver_cuda_major)"
  if [ "$WANT_TEST" = 1 ] || [ "$major" != 12 ]; then
    install_wheels "$CACHE/venv" "${CUDA13_WHEELS[@]}"
  fi
  if [ "$WANT_TEST" = 1 ] || [ "$major" = 12 ]; then
    install_wheels "$CACHE/venv-cu12" "${CUDA12_WHEELS[@]}"
  fi
fi

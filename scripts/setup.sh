#!/usr/bin/env bash
# Installs the system packages clusterbench builds and runs with (Debian 12 / Ubuntu).
# Safe to run again: packages already present are left alone.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  libopenmpi-dev openmpi-bin      # MPI (feature `mpi`) and mpirun for the tests
  libhwloc-dev hwloc libudev-dev  # topology (feature `hwloc`); hwloc's static flags name -ludev
  libclang-dev                    # mpi-sys generates its bindings with bindgen
  iproute2                        # ip and tc: the simulated cluster of the tests (scripts/simcluster.sh)
)

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

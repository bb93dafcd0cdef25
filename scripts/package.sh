#!/usr/bin/env bash
# Builds the relocatable bundle: dist/clusterbench-<version>-linux-x86_64/ and a
# .tar.gz beside it, for machines without Rust, and GPU nodes without MPI or hwloc.
#
#   scripts/package.sh            # after scripts/setup.sh (Open MPI, hwloc, the toolchain)
#
# Inside: bin/clusterbench, a launcher that runs libexec/clusterbench-mpi (default
# features; needs the node's Open MPI) under an MPI launcher where libmpi.so.40
# loads, else libexec/clusterbench-local (hwloc and CUDA, no MPI: every single-node
# benchmark, -g N included); lib/ holds the hwloc library and what it needs, found
# through the builds' $ORIGIN-relative run path. The CUDA driver and libraries are
# found on the node at run time, as by any build. Debug information goes to
# dist/clusterbench-<version>-linux-x86_64.debug/, which is not in the tarball.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
# The run path is given to the final link only (`cargo rustc`), so the dependencies
# built for `cargo build --release` are reused as they are. DT_RPATH rather than
# DT_RUNPATH: it also applies to the libraries' own dependencies (libhwloc needs
# libudev), and it lists nothing but the bundle's two libraries.
link_args=(-C "link-arg=-Wl,-rpath,\$ORIGIN/../lib" -C "link-arg=-Wl,--disable-new-dtags")

build() { # build FEATURE-ARGS... ; leaves the binary at $target/release/clusterbench
  cargo rustc --release --locked --bin clusterbench "$@" -- "${link_args[@]}"
}

echo "package: the MPI build (default features)"
build
version=$("$target/release/clusterbench" --version | awk '{print $2}')
name="clusterbench-$version-linux-x86_64"
dist=dist
out="$dist/$name"
debug="$dist/$name.debug"
rm -rf "$out" "$debug" "$dist/$name.tar.gz"
mkdir -p "$out/bin" "$out/libexec" "$out/lib" "$out/share/licenses" "$out/scripts/gpu" "$debug"
cp "$target/release/clusterbench" "$out/libexec/clusterbench-mpi"

echo "package: the single-process build (hwloc and CUDA, no MPI)"
build --no-default-features --features hwloc,cuda
cp "$target/release/clusterbench" "$out/libexec/clusterbench-local"
# Leave target/release/clusterbench the ordinary build, as `cargo build --release` makes it.
cargo build --release --locked

# hwloc and its own dependencies, from where the loader finds them for the build.
# Everything else the builds link (libc, libm, libgcc_s, the loader) is on every glibc
# system; libmpi is the node's own, for the MPI build only.
for lib in libhwloc.so.15 libudev.so.1; do
  path=$(ldd "$out/libexec/clusterbench-local" | awk -v l="$lib" '$1 == l {print $3}')
  if [[ -z $path || ! -f $path ]]; then
    echo "package: $lib not found for the single-process build (install libhwloc-dev: scripts/setup.sh)" >&2
    exit 1
  fi
  cp -L "$path" "$out/lib/$lib"
  chmod 644 "$out/lib/$lib"
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  if [[ -n $pkg && -f /usr/share/doc/$pkg/copyright ]]; then
    cp "/usr/share/doc/$pkg/copyright" "$out/share/licenses/$pkg.copyright"
  fi
done
missing=$(ldd "$out/libexec/clusterbench-local" | grep -E 'not found|libmpi|libopen-' || true)
if [[ -n $missing ]]; then
  echo "package: the single-process build needs libraries the bundle lacks: $missing" >&2
  exit 1
fi

# Symbols stay (panic backtraces name functions); debug information moves out.
for bin in "$out"/libexec/*; do
  objcopy --only-keep-debug "$bin" "$debug/$(basename "$bin").debug"
  strip --strip-debug "$bin"
  objcopy --add-gnu-debuglink="$debug/$(basename "$bin").debug" "$bin"
done

install -m 755 scripts/bundle/clusterbench "$out/bin/clusterbench"
install -m 755 scripts/gpu_validate.sh "$out/scripts/gpu_validate.sh"
install -m 644 scripts/gpu/ratio_table.py scripts/gpu/torch_side.py "$out/scripts/gpu/"
mkdir -p "$out/harness"
cp -r harness/suites harness/launch "$out/harness/"

# The newest glibc symbol version any binary or library of the bundle asks for.
glibc=$(for f in "$out"/libexec/* "$out"/lib/*; do objdump -T "$f"; done |
  grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
cat > "$out/VERSION" <<EOF
clusterbench $version
commit $commit
built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")
glibc $glibc or newer (x86_64 Linux)
mpi build: $(ldd "$out/libexec/clusterbench-mpi" | awk '$1 ~ /^libmpi/ {print $1}') (Open MPI 4 or 5), used under an MPI launcher
EOF
cat > "$out/README" <<EOF
clusterbench $version, relocatable bundle for x86_64 Linux with glibc $glibc or newer.

  bin/clusterbench run --suite quick              # one process: CPU, or every GPU path
  bin/clusterbench run --backend cuda --bench allreduce -g 8   # one process, 8 GPUs
  mpirun -np 16 bin/clusterbench run ...          # several ranks: the node's Open MPI
  scripts/gpu_validate.sh OUT_DIR                 # a GPU node's whole validation run

bin/clusterbench picks one of two builds. Under an MPI launcher (mpirun, mpiexec,
srun) where the node's libmpi.so.40 (Open MPI 4 or 5) loads, it runs
libexec/clusterbench-mpi; otherwise libexec/clusterbench-local, which needs no MPI and
runs every single-node benchmark. Launched with several ranks and no loadable
libmpi.so.40, it stops with one line saying so. CLUSTERBENCH_BUILD=mpi or =local
forces one. hwloc comes with the bundle (lib/, licenses in share/licenses/). The NVIDIA
driver, NVRTC, cuBLAS and NCCL are found on the node at run time (system paths,
LD_LIBRARY_PATH, CUDA_HOME, a conda or Python environment's nvidia wheels);
\`bin/clusterbench cuda-check\` says where. Suites and launch templates are in
harness/ (CLUSTERBENCH=\$PWD/bin/clusterbench harness/launch/mpirun.sh ...).
EOF

tar -C "$dist" --sort=name --owner=0 --group=0 --numeric-owner -czf "$dist/$name.tar.gz" "$name"
size=$(du -sm "$out" | cut -f1)
tar_size=$(($(stat -c %s "$dist/$name.tar.gz") >> 20))
echo "package: $out ($size MiB) and $dist/$name.tar.gz ($tar_size MiB); needs glibc $glibc or newer"

#!/usr/bin/env bash
# Installs what `cargo build --release --features cuda` needs on a machine with no CUDA toolkit
# and no GPU, from PyPI wheels, into .cuda-toolchain/ (git-ignored), then prints the variables
# to export. Re-running it is cheap (pip skips what is there).
#
#   bash scripts/setup_cuda_toolchain.sh            # CUDA 13.0, PTX for compute capability 9.0
#   CUDA_COMPUTE_CAP=80 bash scripts/setup_cuda_toolchain.sh
#   eval "$(bash scripts/setup_cuda_toolchain.sh --env)"   # only print the exports
#
# Why CUDA 13.0: PTX built by nvcc 13.N loads only on drivers of CUDA >= 13.N, so the oldest
# 13.x toolkit runs on every CUDA 13 driver; the binary links the .so.13 libraries that
# PyTorch's cu13 wheels also ship (the GPU machines provide them at run time).
# libcuda is the driver, so a link-time stub is made here; the real one loads on the GPU machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${CUDA_TOOLCHAIN_DIR:-$ROOT/.cuda-toolchain}"
PYTHON="${PYTHON:-python3}"
CAP="${CUDA_COMPUTE_CAP:-90}"
CU="$DEST/py/nvidia/cu13"

print_env() {
    cat <<ENV
export PATH="$CU/bin:\$PATH"
export CUDA_HOME="$CU" CUDA_PATH="$CU" CUDA_ROOT="$CU"
export CUDA_COMPUTE_CAP=$CAP
export CUDARC_CUDA_VERSION=13000
export CUDAFORGE_THREADS=\${CUDAFORGE_THREADS:-1}
ENV
}

if [[ "${1:-}" == "--env" ]]; then
    print_env
    exit 0
fi

WHEELS=(
    "nvidia-cuda-nvcc==13.0.88"    # nvcc, ptxas, fatbinary
    "nvidia-nvvm==13.0.88"         # cicc + libdevice, which nvcc runs
    "nvidia-cuda-crt==13.0.88"     # crt/ headers nvcc includes
    "nvidia-cuda-runtime==13.0.96" # cuda_runtime.h and friends, libcudart.so.13
    "nvidia-cuda-cccl==13.0.85"    # cuda/std headers used by the kernels
    "nvidia-cuda-nvrtc==13.0.88"   # libnvrtc.so.13 (linked)
    "nvidia-cublas==13.0.2.14"     # libcublas(Lt).so.13 (linked)
    "nvidia-curand==10.4.0.35"     # libcurand.so.10 (linked)
)

mkdir -p "$DEST"
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    # pip only downloads and unpacks here; a private venv is enough when the system python lacks it
    [[ -x "$DEST/venv/bin/python" ]] || "$PYTHON" -m venv "$DEST/venv" >&2
    PYTHON="$DEST/venv/bin/python"
fi
if [[ -x "$CU/bin/nvcc" ]] && "$CU/bin/nvcc" --version | grep -q 'release 13.0' && [[ -e "$CU/lib/libcurand.so.10" ]] &&
    [[ -e "$CU/lib/libcublas.so.13" ]] && [[ -e "$CU/lib/libnvrtc.so.13" ]]; then
    echo "CUDA 13.0 wheels already in $DEST/py" >&2
else
    echo "installing CUDA 13.0 wheels into $DEST/py ..." >&2
    "$PYTHON" -m pip install --quiet --no-deps --upgrade --target "$DEST/py" "${WHEELS[@]}" >&2
fi

# The linker wants unversioned names (-lcublas finds libcublas.so); the wheels ship only the
# versioned ones.
for lib in cudart nvrtc cublas cublasLt curand; do
    real="$(ls "$CU/lib/lib$lib.so."* | grep -v -- '-builtins' | grep -v '\.alt\.' | head -n1)"
    ln -sf "$(basename "$real")" "$CU/lib/lib$lib.so"
done

# libcuda.so stub (soname libcuda.so.1) defining every driver function cudarc may call; cudarc's
# build script adds $CUDA_HOME/lib/stubs to the link search path. The names come from
# cudarc's own bindings, so the list always matches the crate version in Cargo.lock.
mkdir -p "$CU/lib/stubs"
CUDARC_SYS="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys/mod.rs 2>/dev/null | sort -V | tail -n1 || true)"
if [[ -z "$CUDARC_SYS" ]]; then
    (cd "$ROOT" && cargo fetch >&2)
    CUDARC_SYS="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys/mod.rs | sort -V | tail -n1)"
fi
grep -oE '^\s+fn cu[A-Za-z0-9_]+\(' "$CUDARC_SYS" | sed -E 's/^\s+fn (cu[A-Za-z0-9_]+)\(/\1/' | sort -u |
    awk '{ print "int " $1 "(void) { return 999; }" }' >"$CU/lib/stubs/libcuda_stub.c"
cc -shared -fPIC -o "$CU/lib/stubs/libcuda.so" -Wl,-soname,libcuda.so.1 "$CU/lib/stubs/libcuda_stub.c"

# A stand-in libcurand.so.10 for GPU machines without one (PyTorch's cu13 wheels ship none):
# candle creates a cuRAND generator when it opens a device, and the binary links cuRAND, but
# ADD never draws random numbers on the GPU (weights are made on the CPU). Creating, seeding
# and destroying a generator succeed; generating fails with CURAND_STATUS_INTERNAL_ERROR.
# scripts/gpu_check.sh puts it on the library path only when no real libcurand is found.
RUNTIME="$DEST/runtime"
mkdir -p "$RUNTIME"
CURAND_SYS="${CUDARC_SYS%/driver/sys/mod.rs}/curand/sys/mod.rs"
{
    echo '#include <stddef.h>'
    echo 'static int generator;'
    echo 'int curandCreateGenerator(void **g, int kind) { (void)kind; *g = &generator; return 0; }'
    echo 'int curandDestroyGenerator(void *g) { (void)g; return 0; }'
    echo 'int curandSetPseudoRandomGeneratorSeed(void *g, unsigned long long s) { (void)g; (void)s; return 0; }'
    echo 'int curandSetGeneratorOffset(void *g, unsigned long long o) { (void)g; (void)o; return 0; }'
    echo 'int curandSetStream(void *g, void *stream) { (void)g; (void)stream; return 0; }'
    grep -oE '^\s+fn curand[A-Za-z0-9_]+\(' "$CURAND_SYS" | sed -E 's/^\s+fn (curand[A-Za-z0-9_]+)\(/\1/' | sort -u |
        grep -vxE 'curand(CreateGenerator|DestroyGenerator|SetPseudoRandomGeneratorSeed|SetGeneratorOffset|SetStream)' |
        awk '{ print "int " $1 "(void) { return 999; }" }'
} >"$RUNTIME/curand_shim.c"
echo 'libcurand.so.10 { global: *; };' >"$RUNTIME/curand_shim.map"
cc -shared -fPIC -o "$RUNTIME/libcurand.so.10" -Wl,-soname,libcurand.so.10 \
    -Wl,--version-script="$RUNTIME/curand_shim.map" "$RUNTIME/curand_shim.c"

echo "nvcc: $("$CU/bin/nvcc" --version | tail -n1)" >&2
echo "stub: $(grep -c . "$CU/lib/stubs/libcuda_stub.c") driver functions in $CU/lib/stubs/libcuda.so" >&2
echo "# export these, then: cargo build --release --features cuda" >&2
print_env

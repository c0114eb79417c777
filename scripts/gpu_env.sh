# Sourced by the GPU scripts (gpu_check.sh, gpu_train.sh) on a machine with an NVIDIA driver
# and PyTorch's CUDA wheels but no Rust toolchain: unpacks the binaries that
# build_gpu_check.sh packed into $PACK, and points LD_LIBRARY_PATH at the CUDA libraries they
# link (the driver from the system, the rest from PyTorch's wheels, libcurand from the pack).
# Sets BIN (a temporary folder holding `add` and `gpu-tests`) and ADD.
PACK="${GPU_CHECK_DIR:-$PWD/gpu-check}"
BIN="$(mktemp -d)" # not under $OUT: only results go there
for b in add gpu-tests; do
    if [[ -f "$PACK/$b.xz" ]]; then # xz, or Python's lzma where there is no xz
        { xz -dc "$PACK/$b.xz" 2>/dev/null || python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$PACK/$b.xz"; } >"$BIN/$b" && chmod +x "$BIN/$b"
    elif [[ -f "$PACK/$b.gz" ]]; then
        gzip -dc "$PACK/$b.gz" >"$BIN/$b" && chmod +x "$BIN/$b"
    elif [[ -x "$PACK/$b" ]]; then
        cp "$PACK/$b" "$BIN/$b"
    fi
done
ADD="$BIN/add"
[[ -x "$ADD" ]] || { echo "no $PACK/add.xz: run scripts/build_gpu_check.sh and carry gpu-check/" >&2; exit 2; }
libdirs="$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")])
for r in sorted(roots):
    for d in sorted(glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "*", "*", "lib"))):
        print(d)
    if os.path.isdir(os.path.join(r, "torch", "lib")):
        print(os.path.join(r, "torch", "lib"))
PY
)"
for d in $libdirs /usr/local/cuda/lib64; do
    [[ -d "$d" ]] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
if ldd "$ADD" | grep -q 'libcurand.so.10 => not found'; then
    echo "no libcurand.so.10 here (PyTorch's cu13 wheels ship none): using the stand-in from $PACK/lib" >&2
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PACK/lib"
fi

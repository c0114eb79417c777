#!/usr/bin/env bash
# Builds what scripts/gpu_check.sh runs on a GPU machine that has no Rust toolchain, into
# gpu-check/ (git-ignored; carry that one folder): the `add` binary with the `cuda` feature and
# the tests/gpu.rs test binary (both stripped and xz-compressed), and the stand-in libcurand (see
# setup_cuda_toolchain.sh).
# Needs no GPU. Set CARGO_BUILD_JOBS / prefix with `nice` on a shared machine.
#
# The pack records what it was built from in gpu-check/BUILT_FROM: the commit, and a hash of the
# sources the binaries are built from (as committed, plus any uncommitted change). `--if-stale`
# builds only when that hash differs from the tree's now, so a session that finds an up-to-date
# pack starts its GPU run at once instead of after the 20-40 minute CUDA build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sources_hash() {
    local inputs=(src tests/gpu.rs tests/support build.rs Cargo.toml Cargo.lock)
    { git ls-files -s -- "${inputs[@]}"; git diff HEAD -- "${inputs[@]}"; git ls-files --others --exclude-standard -z -- "${inputs[@]}" | xargs -0 -r cat; } |
        sha256sum | cut -c1-16
}
if [[ "${1:-}" == "--if-stale" && -f gpu-check/add.xz && -f gpu-check/gpu-tests.xz ]] &&
    grep -qx "sources $(sources_hash)" gpu-check/BUILT_FROM 2>/dev/null; then
    echo "gpu-check/ is up to date ($(head -n 1 gpu-check/BUILT_FROM)): not rebuilt" >&2
    exit 0
fi
stamp="commit $(git rev-parse HEAD)
sources $(sources_hash)" # before building: an edit during the build makes the pack stale
eval "$(bash scripts/setup_cuda_toolchain.sh)"

start=$(date +%s)
cargo build --release --features cuda --bin add
tests_json="$(cargo test --release --features cuda --test gpu --no-run --message-format=json)"
echo "cuda build took $(($(date +%s) - start)) s" >&2

gpu_test="$(printf '%s\n' "$tests_json" | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gpu" and m.get("executable"):
        print(m["executable"])')"
# Stripped, the binaries are ~75 MB each (PTX and candle's static MoE kernels); xz makes them 11 and 6 MB so
# the folder stays well under what a device run carries (64 MiB); gpu_check.sh unpacks them.
rm -rf gpu-check
mkdir -p gpu-check/lib
for pair in "target/release/add:add" "$gpu_test:gpu-tests"; do
    strip -o "gpu-check/${pair##*:}" "${pair%%:*}"
    xz -9e -T0 "gpu-check/${pair##*:}"
done
cp .cuda-toolchain/runtime/libcurand.so.10 gpu-check/lib/
echo "$stamp" >gpu-check/BUILT_FROM
du -sh gpu-check/* >&2

#!/usr/bin/env bash
# Packs what scripts/gpu_train.sh needs besides the tracked files (pytorch/ travels with the
# tree): a CPU `add` binary for the scenes and the cards, stripped and xz-compressed into
# gpu-check/add.xz (git-ignored; carry gpu-check/). A CUDA build from build_gpu_check.sh serves too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --bin add
mkdir -p gpu-check
strip -o gpu-check/add target/release/add
xz -9e -T0 -f gpu-check/add
du -sh gpu-check/* >&2

#!/usr/bin/env bash
# Runs every test in the one build profile we use (release). Installs what the real-window
# test needs on a fresh Debian machine (Xvfb, Mesa GL/Vulkan) when it is missing.
# Tests whose resource may be missing are #[ignore]d in `cargo test`; they run here, after the
# main run, when the resource is present (and then fail if it does not work):
#   the real window (tests/ui_screenshot.rs) when Xvfb is installed, with ADD_REQUIRE_XVFB=1;
#   the PyTorch trainer comparison (tests/torch_trainer.rs) when benches/peer/.venv/bin/python
#   or $ADD_TORCH_PYTHON imports torch.
# Arguments go to the main run (`./scripts/test.sh --test train`); with any, the extra runs
# are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
dpkg -s libgl1-mesa-dri >/dev/null 2>&1 || need+=(libgl1-mesa-dri)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: missing ${need[*]} (install them as root for the real-window test)" >&2
  fi
fi
extra=$(($# == 0))
cargo test --release "$@"
[ "$extra" = 1 ] || exit 0
if command -v Xvfb >/dev/null 2>&1; then
  ADD_REQUIRE_XVFB=1 cargo test --release --test ui_screenshot -- --ignored
else
  echo "note: no Xvfb: the real-window test was left out (reported as ignored)" >&2
fi
if [ -f tests/torch_trainer.rs ]; then
  torch_py=""
  for py in ${ADD_TORCH_PYTHON:+"$ADD_TORCH_PYTHON"} benches/peer/.venv/bin/python; do
    if "$py" -c 'import torch' >/dev/null 2>&1; then
      torch_py=$py
      break
    fi
  done
  if [ -n "$torch_py" ]; then
    ADD_TORCH_PYTHON="$torch_py" cargo test --release --test torch_trainer -- --ignored
    if "$torch_py" -c 'import pytest' >/dev/null 2>&1; then
      "$torch_py" -m pytest -q pytorch/tests
    else
      echo "note: $torch_py has no pytest (bash benches/peer/setup.sh): pytorch/tests were left out" >&2
    fi
  else
    echo "note: no Python with torch (bash benches/peer/setup.sh, or set ADD_TORCH_PYTHON): the PyTorch trainer's tests (tests/torch_trainer.rs, pytorch/tests) were left out" >&2
  fi
fi
echo "suite wall time: $((SECONDS / 60)) min $((SECONDS % 60)) s"

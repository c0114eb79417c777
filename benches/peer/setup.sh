#!/usr/bin/env bash
# Installs the PyTorch peer of `add bench --peer` (and the PyTorch trainer's Python) into
# benches/peer/.venv and prints the flag to pass. Run on demand; CI never needs it.
# PyTorch's CPU wheel index is smaller; where it cannot be reached (a machine that reaches PyPI
# only), PyPI's plain torch wheel is used, which also runs on the CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cpu_index=https://download.pytorch.org/whl/cpu
python3 -m venv "$here/.venv"
index=()
if python3 -c "import urllib.request as u; u.urlopen('$cpu_index/', timeout=5)" >/dev/null 2>&1; then
    index=(--extra-index-url "$cpu_index")
fi
"$here/.venv/bin/pip" install -q "${index[@]}" -r "$here/requirements.txt"
echo "peer ready: add bench --peer $here/.venv/bin/python"

#!/usr/bin/env bash
# Installs the PyTorch peer of `add bench --peer` into benches/peer/.venv and prints the flag
# to pass. Run on demand; CI never needs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
echo "peer ready: add bench --peer $here/.venv/bin/python"

#!/usr/bin/env bash
# Runs every test in the one build profile we use (release). Installs what the real-window
# test needs on a fresh Debian machine (Xvfb, Mesa GL/Vulkan) when it is missing.
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
cargo test --release "$@"

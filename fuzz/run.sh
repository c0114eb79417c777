#!/usr/bin/env bash
# The fuzzing run of fuzz/README.md: builds the targets without a sanitizer, runs each for
# SECONDS_PER_TARGET (600) one after the other, niced, one job, then minimises each corpus
# in place (libFuzzer -merge=1). Logs and numbers go to LOGS (fuzz/logs, ignored):
# <target>/fuzz-0.log (libFuzzer's own, with -print_final_stats), summary.txt.
#   fuzz/run.sh                      all four targets
#   fuzz/run.sh card_parse           one
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_TARGET:-600}
logs=$(realpath -m "${LOGS:-fuzz/logs}")
nice -n 15 cargo +nightly fuzz build -s none --release || exit 1
bin=$(realpath fuzz/target/x86_64-unknown-linux-gnu/release)
mkdir -p "$logs"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image_decode checkpoint_read pickle_guard card_parse)
for t in "${targets[@]}"; do
  corpus=$(realpath fuzz/corpus/$t) art=$(realpath -m fuzz/artifacts/$t)
  mkdir -p "$logs/$t" "$art"
  echo "$t start $(date -u +%FT%TZ) corpus $(ls "$corpus" | wc -l) files" >> "$logs/summary.txt"
  # -jobs=1: one child process, its output in fuzz-0.log in the current folder
  (cd "$logs/$t" && nice -n 15 "$bin/$t" -jobs=1 -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "$corpus" > parent.log 2>&1)
  rc=$?
  echo "$t end $(date -u +%FT%TZ) rc $rc corpus $(ls "$corpus" | wc -l) files, artifacts $(ls "$art" | wc -l)" >> "$logs/summary.txt"
  rm -rf "$logs/$t/merged" && mkdir "$logs/$t/merged"
  (cd "$logs/$t" && nice -n 15 "$bin/$t" -merge=1 -timeout=30 -rss_limit_mb=2048 merged "$corpus" > merge.log 2>&1) &&
  rm -rf "$corpus" && mv "$logs/$t/merged" "$corpus"
  echo "$t merged $(ls "$corpus" | wc -l) files, $(du -sb "$corpus" | cut -f1) bytes" >> "$logs/summary.txt"
done

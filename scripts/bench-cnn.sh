#!/usr/bin/env bash
# One training step of the study's network, radose against PyTorch, back to
# back on this machine, at the sizes docs/performance.md reports: each size
# runs PyTorch, radose on the widest kernel path the CPU has, and radose
# with each lower x86 path forced (RADOSE_SIMD), one thread unless THREADS
# says otherwise. Prints one line per run and a table of medians and ratios.
#
#   scripts/bench-cnn.sh [RADOSE_BINARY]     (default target/release/radose)
#
# Environment: PYTHON (a Python with torch; default python3), TORCH_STEP
# (dose_cnn_step.py; default ../shared/reference/torch/dose_cnn_step.py),
# THREADS (1), SIZES ("4:40x60x60 16:20x24x24 4:80x120x120"), STEPS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/radose}
PYTHON=${PYTHON:-python3}
TORCH_STEP=${TORCH_STEP:-../shared/reference/torch/dose_cnn_step.py}
THREADS=${THREADS:-1}
SIZES=${SIZES:-"4:40x60x60 16:20x24x24 4:80x120x120"}
STEPS=${STEPS:-5}
export RAYON_NUM_THREADS=$THREADS

paths=$("$BIN" --db :memory: bench devices | grep -o 'the CPU has [a-z0-9]*' | awk '{print $4}')
case "$paths" in
  avx512) forced="avx512 avx2 portable" ;;
  avx2) forced="avx2 portable" ;;
  *) forced="portable" ;;
esac
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $THREADS thread(s)"
printf '| input | PyTorch |'
for p in $forced; do printf ' radose %s | ratio |' "$p"; done
echo
for item in $SIZES; do
  batch=${item%%:*}; size=${item#*:}
  read -r d h w <<< "$(echo "$size" | tr x ' ')"
  torch=$("$PYTHON" "$TORCH_STEP" --threads "$THREADS" --batch "$batch" --size "$d" "$h" "$w" --steps "$STEPS" --warmup 1 \
    | grep -o '"median_step_s": [0-9.]*' | awk '{print $2}')
  line="| [$batch,1,$d,$h,$w] | $torch |"
  for p in $forced; do
    s=$(RADOSE_SIMD=$p "$BIN" --db :memory: bench step --batch "$batch" --size "$size" --steps "$STEPS" --warmup 1 | tail -1)
    line="$line $(printf '%.4f' "$s") | $(awk -v a="$s" -v b="$torch" 'BEGIN { printf "%.2f", a / b }') |"
  done
  echo "$line"
done

#!/usr/bin/env bash
# GPU check of radose's deep model, for a GPU machine that may have no Rust
# toolchain and no internet. Build on the build machine, carry the binary:
#
#   cargo build --release --features wgpu
#   cp target/release/radose gpu-bundle/ && cp scripts/gpu-check.sh gpu-bundle/
#   (on the GPU machine)  bash gpu-check.sh ./radose [OUTDIR]
#
# Prints: whether a Vulkan driver is present; one training step of the
# network at [16,1,80,120,120] on --device gpu (median of 3 after a warm-up)
# and on the CPU for comparison; a 2-epoch training of T1+T1C+T2+Dose at the
# paper's input size on the simulated paper-size cohort (time per epoch,
# per step); the peak GPU memory seen by nvidia-smi during each part.
set -u
BIN=${1:-./radose}
OUT=${2:-gpu-check-out}
mkdir -p "$OUT"
log() { echo "== $*"; }

log "binary: $BIN ($("$BIN" --version 2>&1))"
log "Vulkan driver"
found=0
for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
  if ls "$d"/*.json >/dev/null 2>&1; then echo "ICD files in $d: $(ls "$d")"; found=1; fi
done
ldconfig -p 2>/dev/null | grep -q "libvulkan.so" && echo "libvulkan: present" || echo "libvulkan: MISSING"
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>&1 | head -30
[ "$found" = 1 ] || echo "no Vulkan ICD file found: wgpu will find no GPU adapter (install the vendor's Vulkan driver, e.g. libnvidia-gl / nvidia ICD)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

# Peak GPU memory while a command runs (nvidia-smi sampled every 0.2 s).
with_gpu_peak() {
  local name=$1; shift
  local peak_file="$OUT/$name.gpu_peak_mib"
  echo 0 > "$peak_file"
  if command -v nvidia-smi >/dev/null; then
    ( peak=0; while :; do
        m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
        [ -n "$m" ] && [ "$m" -gt "$peak" ] 2>/dev/null && peak=$m && echo "$peak" > "$peak_file"
        sleep 0.2
      done ) &
    local sampler=$!
  fi
  local start=$(date +%s.%N)
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local end=$(date +%s.%N)
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  echo "$name: exit $rc, $(echo "$end - $start" | bc) s wall, peak GPU memory $(cat "$peak_file") MiB (nvidia-smi)"
  tail -5 "$OUT/$name.log"
  return $rc
}

log "one training step, [16,1,80,120,120]"
with_gpu_peak step_gpu "$BIN" --db ":memory:" -c "bench step --batch 16 --size 80x120x120 --device gpu --steps 3 --warmup 1"
with_gpu_peak step_cpu "$BIN" --db ":memory:" -c "bench step --batch 4 --size 80x120x120 --device cpu --steps 1 --warmup 0"

log "2-epoch training at the paper size on the simulated cohort"
cat > "$OUT/two_epochs.radose" <<SCRIPT
simulate --out $OUT/sim --size paper --seed 7 --if-absent
load A0 $OUT/sim/A
preprocess A0 --to $OUT/sim/pre/A
load A $OUT/sim/pre/A
extract A --sequences T1,T1C,T2 --roi ptv --to $OUT/sim/features/A
model M8 = T1+T1C+T2+Dose --pca 32 --input 80x120x120
train M8 on A --folds 5 --grid epochs=2 batch=16 --device gpu
runs --where "kind = train-fold" --sort id
SCRIPT
with_gpu_peak two_epochs "$BIN" --db "$OUT/runs.db" run "$OUT/two_epochs.radose"
grep -E "train M8|fold" "$OUT/two_epochs.log" | head -20
echo "per-epoch times: see the train-fold runs' durations in $OUT/runs.db (radose --db $OUT/runs.db -c 'runs')"

#!/usr/bin/env bash
# The GPU check of radose's deep model, for a GPU node that has the NVIDIA
# driver and a Python with PyTorch, but no Rust toolchain and no network.
# Made by scripts/gpu-pack.sh; run on the node from the folder that holds
# gpu-bundle/ and gpu-loader/:
#
#   bash gpu-bundle/gpu-check.sh [OUTDIR]        (default gpu-check-out)
#
# It changes nothing outside OUTDIR: the Vulkan loader is unpacked there and
# found through LD_LIBRARY_PATH only when the system has none; NVIDIA's
# Vulkan driver file is looked for in the standard folders and under
# /usr/local/nvidia (named to the loader by VK_DRIVER_FILES), or written into
# OUTDIR when only the driver library is mounted. Then, each part under its
# own timeout (at most about 9 minutes in all; the epoch is skipped when the
# parts before it took over 5½ minutes):
#   1. nvidia-smi and the adapters radose finds (`radose bench devices`);
#   2. one training step at [16,1,80,120,120] on the GPU (median of 3 after a
#      warm-up) and the same step in PyTorch on the same GPU
#      (dose_cnn_step.py --device cuda, its peak CUDA memory), and one step on
#      the CPU at the same batch for scale;
#   3. one epoch of T1+T1C+T2+Dose at the paper's size on a simulated
#      paper-size cohort, on the GPU, and the paper protocol's wall time
#      projected from it;
# with the peak GPU memory nvidia-smi saw during each part. Figures and logs
# go to OUTDIR (summary.txt, one .log per part); the last line is
# `VERDICT: …`, naming what worked and what was missing.
#
# Environment (for smaller runs, e.g. the test on a machine without a GPU):
# GPU_CHECK_BIN (a radose binary instead of the bundle's), GPU_CHECK_BATCH
# (16), GPU_CHECK_SIZE (80x120x120), GPU_CHECK_TORCH (path of
# dose_cnn_step.py), GPU_CHECK_PYTHON (python3).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-gpu-check-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BATCH=${GPU_CHECK_BATCH:-16}
SIZE=${GPU_CHECK_SIZE:-80x120x120}
PYTHON=${GPU_CHECK_PYTHON:-python3}
TORCH_STEP=${GPU_CHECK_TORCH:-$HERE/dose_cnn_step.py}
LOADER_DEBS=${GPU_CHECK_LOADER:-$HERE/../gpu-loader}
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
log() { echo "== $*"; }
worked=()
missing=()

# ---- the binary ---------------------------------------------------------
if [ -n "${GPU_CHECK_BIN:-}" ]; then
  BIN=$GPU_CHECK_BIN
elif [ -f "$HERE/radose.xz" ]; then
  mkdir -p "$OUT/bin"
  # xz where the node has it, else Python's lzma (a node with PyTorch has Python).
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$HERE/radose.xz" > "$OUT/bin/radose"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$HERE/radose.xz" "$OUT/bin/radose"
  fi
  chmod +x "$OUT/bin/radose"
  BIN="$OUT/bin/radose"
elif [ -f "$HERE/radose.gz" ]; then
  mkdir -p "$OUT/bin"
  gzip -dc "$HERE/radose.gz" > "$OUT/bin/radose" && chmod +x "$OUT/bin/radose"
  BIN="$OUT/bin/radose"
else
  BIN="$HERE/radose"
fi
if ! "$BIN" --version > "$OUT/version.log" 2>&1; then
  say "radose binary: $BIN does not run ($(head -1 "$OUT/version.log"))"
  echo "VERDICT: nothing run: the radose binary $BIN does not start (see $OUT/version.log)" | tee -a "$SUMMARY"
  exit 1
fi
say "radose: $(cat "$OUT/version.log") ($BIN)"

# ---- the Vulkan loader --------------------------------------------------
loader="system"
if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  say "Vulkan loader: the system's libvulkan.so.1"
else
  unpack_deb() { # $1 = .deb, $2 = folder: dpkg-deb, else Python reads the ar archive
    if command -v dpkg-deb > /dev/null; then
      dpkg-deb -x "$1" "$2"
    else
      "$PYTHON" - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not a Debian package"
at = 8
while at < len(data):
    name = data[at:at + 16].decode().strip().rstrip("/")
    size = int(data[at + 48:at + 58].decode().strip())
    body = data[at + 60:at + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    at += 60 + size + (size % 2)
PY
    fi
  }
  if ls "$LOADER_DEBS"/*.deb > /dev/null 2>&1; then
    mkdir -p "$OUT/loader"
    for deb in "$LOADER_DEBS"/*.deb; do unpack_deb "$deb" "$OUT/loader" || say "could not unpack $deb"; done
    libdir="$OUT/loader/usr/lib/x86_64-linux-gnu"
    if [ -e "$libdir/libvulkan.so.1" ]; then
      export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      loader="bundled"
      say "Vulkan loader: none on the system; using the bundled one ($libdir)"
    else
      loader="missing"
      say "Vulkan loader: none on the system, and the bundle's packages held no libvulkan.so.1"
    fi
  else
    loader="missing"
    say "Vulkan loader: none on the system and no gpu-loader/ packages beside the bundle"
  fi
fi
[ "$loader" = missing ] && missing+=("Vulkan loader")

# ---- NVIDIA's Vulkan driver file ---------------------------------------
icd=""
if [ -n "${VK_DRIVER_FILES:-}" ]; then
  icd=$VK_DRIVER_FILES
  say "Vulkan driver file: VK_DRIVER_FILES=$icd (given)"
else
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia; do
    [ -d "$d" ] || continue
    f=$(find "$d" -maxdepth 5 -name 'nvidia_icd*.json' 2>/dev/null | head -1)
    if [ -n "$f" ]; then icd=$f; break; fi
  done
  if [ -z "$icd" ]; then
    # Containers often mount the driver's libraries but not its JSON file.
    lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}')
    [ -z "$lib" ] && lib=$(find /usr/local/nvidia /usr/lib64 /usr/lib/x86_64-linux-gnu -maxdepth 3 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
    if [ -n "$lib" ]; then
      icd="$OUT/nvidia_icd.json"
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$lib" > "$icd"
      say "Vulkan driver file: none installed; written for $lib"
    fi
  fi
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    say "Vulkan driver file: $icd"
  else
    say "Vulkan driver file: no nvidia_icd.json in the standard folders or /usr/local/nvidia, and no libGLX_nvidia.so.0 (the container may mount the driver's compute libraries only: NVIDIA_DRIVER_CAPABILITIES needs 'graphics')"
    missing+=("NVIDIA Vulkan driver file")
  fi
fi

# ---- nvidia-smi and the adapters ----------------------------------------
gpu_name=""
if command -v nvidia-smi > /dev/null; then
  timeout 20 nvidia-smi > "$OUT/nvidia-smi.log" 2>&1
  cat "$OUT/nvidia-smi.log"
  gpu_name=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  say "nvidia-smi: ${gpu_name:-no GPU listed}"
else
  say "nvidia-smi: not found"
  missing+=("nvidia-smi")
fi
timeout 30 "$BIN" --db ":memory:" bench devices > "$OUT/devices.log" 2>&1
cat "$OUT/devices.log"
adapter=$(grep -E '^\s*│?\s*adapter [0-9]' "$OUT/devices.log" | grep -v -i 'Cpu;' | head -1)
[ -z "$adapter" ] && adapter=$(grep -E 'adapter [0-9]' "$OUT/devices.log" | grep -v -i 'Cpu;' | head -1)
if [ -n "$adapter" ]; then
  say "adapter radose finds: $(echo "$adapter" | tr -s ' │|' ' ')"
  worked+=("GPU adapter")
else
  say "adapter radose finds: none"
  missing+=("GPU adapter")
fi

# Peak GPU memory (MiB, nvidia-smi every 0.2 s) while a command runs.
# $1 name, $2 timeout seconds, then the command; output in $OUT/$1.log.
run_part() {
  local name=$1 limit=$2; shift 2
  local peak_file="$OUT/$name.gpu_peak_mib" sampler=""
  echo 0 > "$peak_file"
  if command -v nvidia-smi > /dev/null; then
    ( peak=0; while :; do
        m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
        if [ -n "$m" ] && [ "$m" -gt "$peak" ] 2>/dev/null; then peak=$m; echo "$peak" > "$peak_file"; fi
        sleep 0.2
      done ) &
    sampler=$!
  fi
  local start end rc
  start=$(date +%s.%N)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  [ -n "$sampler" ] && kill "$sampler" 2> /dev/null && wait "$sampler" 2> /dev/null
  local wall
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  [ "$rc" = 124 ] && say "$name: timed out after $limit s" || say "$name: exit $rc, $wall s wall, peak GPU memory $(cat "$peak_file") MiB (nvidia-smi)"
  tail -3 "$OUT/$name.log"
  return $rc
}
# The median seconds `bench step` prints as its last line.
median_of() { tail -1 "$OUT/$1.log" | grep -E '^[0-9.]+$'; }

# ---- one training step -------------------------------------------------
read -r D H W <<< "$(echo "$SIZE" | tr 'x' ' ')"
log "one training step, [$BATCH,1,$D,$H,$W]"
gpu_step=""
if [ -n "$adapter" ]; then
  if run_part step_gpu 120 "$BIN" --db ":memory:" bench step --batch "$BATCH" --size "$SIZE" --device gpu --steps 3 --warmup 1; then
    gpu_step=$(median_of step_gpu)
    say "radose GPU step: ${gpu_step} s (median of 3)"
    worked+=("radose GPU step ${gpu_step} s")
  else
    missing+=("radose GPU step (see step_gpu.log)")
  fi
else
  say "radose GPU step: not run (no GPU adapter)"
fi
torch_step=""
if [ -f "$TORCH_STEP" ] && command -v nvidia-smi > /dev/null; then
  if run_part step_torch 90 "$PYTHON" "$TORCH_STEP" --device cuda --threads 1 --batch "$BATCH" --size "$D" "$H" "$W" --steps 3 --warmup 1; then
    torch_step=$(grep -o '"median_step_s": [0-9.]*' "$OUT/step_torch.log" | awk '{print $2}')
    torch_peak=$(grep -o '"cuda_peak_mib": [0-9.]*' "$OUT/step_torch.log" | awk '{print $2}')
    if [ -n "$torch_step" ]; then
      say "PyTorch CUDA step: $torch_step s, peak CUDA memory $torch_peak MiB"
      worked+=("PyTorch CUDA step $torch_step s")
    else
      missing+=("PyTorch CUDA step (see step_torch.log)")
    fi
  else
    missing+=("PyTorch CUDA step (see step_torch.log)")
  fi
else
  say "PyTorch CUDA step: not run ($([ -f "$TORCH_STEP" ] && echo 'no nvidia-smi' || echo "no $TORCH_STEP"))"
fi
if [ -n "$gpu_step" ] && [ -n "$torch_step" ]; then
  say "ratio radose GPU / PyTorch CUDA: $(awk -v a="$gpu_step" -v b="$torch_step" 'BEGIN { printf "%.2f", a / b }')"
fi
cpu_step=""
if run_part step_cpu 60 "$BIN" --db ":memory:" bench step --batch "$BATCH" --size "$SIZE" --device cpu --steps 1 --warmup 0; then
  cpu_step=$(median_of step_cpu)
  say "radose CPU step: ${cpu_step} s ($(nproc) cores)"
  worked+=("CPU step ${cpu_step} s")
else
  missing+=("CPU step (see step_cpu.log)")
fi

# ---- one epoch at the paper's size --------------------------------------
# The cohort is made and its radiomics extracted first (CPU work), then the
# training is timed alone: two folds of one epoch each, so one fold trains on
# half the cohort. The projection scales that to the paper's protocol: 2
# learning rates × 5 folds × 4 dose models (each fold on 4/5 of the cohort)
# plus 4 retrains on all of it, 300 epochs each (the radiomics-only models
# train in seconds and are left out).
if [ -n "$gpu_step" ] && [ "$SECONDS" -gt 330 ]; then
  say "paper-size epoch on the GPU: not run (the check has used $SECONDS s; it keeps within 10 minutes)"
  missing+=("paper-size epoch (no time left)")
elif [ -n "$gpu_step" ]; then
  log "one epoch of T1+T1C+T2+Dose at the paper size on the GPU"
  cat > "$OUT/epoch_prep.radose" <<SCRIPT
simulate --out $OUT/sim --size paper --seed 7 --if-absent
load A0 $OUT/sim/A
preprocess A0 --to $OUT/sim/pre/A
load A $OUT/sim/pre/A
extract A --sequences T1,T1C,T2 --roi ptv --to $OUT/sim/features/A
SCRIPT
  cat > "$OUT/epoch_train.radose" <<SCRIPT
load A $OUT/sim/pre/A --features $OUT/sim/features/A
model M8 = T1+T1C+T2+Dose --pca 32 --input $SIZE
train M8 on A --folds 2 --grid epochs=1 batch=$BATCH --device gpu
runs --where "kind = train-fold" --sort id
SCRIPT
  if run_part epoch_prep 120 "$BIN" --db "$OUT/runs.db" run "$OUT/epoch_prep.radose" \
    && run_part epoch_train 90 "$BIN" --db "$OUT/runs.db" run "$OUT/epoch_train.radose"; then
    train_wall=$(grep -o '^epoch_train: exit 0, [0-9.]* s' "$SUMMARY" | awk '{print $4}')
    fold_epoch=$(awk -v t="$train_wall" 'BEGIN { printf "%.1f", t / 2 }')
    hours=$(awk -v e="$fold_epoch" 'BEGIN { printf "%.1f", e * 300 * (40 * 1.6 + 4 * 2.0) / 3600 }')
    say "paper-size epoch: ${fold_epoch} s per fold (half the cohort; process start and loading included)"
    say "projected paper protocol on this GPU: ${hours} h (40 trainings on 4/5 of the cohort + 4 retrains on all of it, 300 epochs each)"
    worked+=("paper-size epoch ${fold_epoch} s per fold, protocol ~${hours} h")
    grep -E 'train-fold' "$OUT/epoch_train.log" | tee -a "$SUMMARY"
  else
    missing+=("paper-size epoch (see epoch_prep.log, epoch_train.log)")
  fi
else
  say "paper-size epoch on the GPU: not run (no GPU step)"
fi

# ---- verdict --------------------------------------------------------------
join() { local IFS=";"; echo "$*" | sed 's/;/; /g'; }
if [ -n "$gpu_step" ]; then
  verdict="GPU path works on ${gpu_name:-the GPU}: $(join "${worked[@]}")"
  [ "${#missing[@]}" -gt 0 ] && verdict="$verdict; missing: $(join "${missing[@]}")"
elif [ -z "$adapter" ]; then
  verdict="no GPU adapter: the GPU path did not run (missing: $(join "${missing[@]}")); worked: $(join "${worked[@]:-nothing}")"
else
  verdict="a GPU adapter was found but training on it failed (missing: $(join "${missing[@]}")); worked: $(join "${worked[@]}")"
fi
echo "VERDICT: $verdict" | tee -a "$SUMMARY"

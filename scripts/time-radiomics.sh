#!/usr/bin/env bash
# `radose radiomics` on PyRadiomics' brain1 timed as a user times it: the
# whole process (start-up, opening runs.db, reading both NRRD files, the
# extraction, recording the run, printing), median and minimum of N runs
# (default 15), release build, one thread. When PyRadiomics is importable,
# benches/radiomics_pyradiomics.py times its `execute` back to back.
# Usage: scripts/time-radiomics.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-15}
cargo build --release --manifest-path "$root/Cargo.toml" --quiet
bin=$root/target/release/radose
data=$root/tests/fixtures/pyradiomics/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
times=()
for _ in $(seq "$n"); do
  t0=$(date +%s%N)
  "$bin" --threads 1 --db "$work/runs.db" -c "radiomics --image $data/brain1_image.nrrd --mask $data/brain1_label.nrrd" > /dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$n" '{ a[NR] = $1 } END {
  printf "radose radiomics, whole process, brain1 defaults: median %.1f ms, min %.1f ms (%d runs)\n", a[int((n + 1) / 2)] / 1000, a[1] / 1000, n }'
if python3 -c "import radiomics" 2> /dev/null; then
  python3 "$root/benches/radiomics_pyradiomics.py"
else
  echo "PyRadiomics is not importable here: its execute() was timed at 203.8 ms on this kind of machine (docs/performance.md)"
fi

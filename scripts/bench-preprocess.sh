#!/usr/bin/env bash
# Preprocessing at the paper's size, timed with the release binary:
#   1. N4 on one paper-size MR volume (160×160×128 at 1 mm), radose
#      (`cargo bench --bench n4 -- IMAGE`) and, when SimpleITK is installed,
#      SimpleITK 2.5.7 with the same defaults (benches/n4_simpleitk.py);
#   2. the whole simulated paper-size cohorts A (97) and B (20):
#      `preprocess` with the paper profile's settings (--resample 1,1,1 --n4
#      --margin-mm 3, no shrink), then `extract` of T1/T1C/T2 in the PTV;
#      the preprocess tables end with the time by stage.
# Usage: scripts/bench-preprocess.sh [WORK_FOLDER]   (default target/bench-preprocess; ~7 GB)
#        SKIP_SIMPLEITK=1 leaves out SimpleITK's N4 (about two minutes per run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-preprocess}
cargo build --release --manifest-path "$root/Cargo.toml" --quiet
bin=$root/target/release/radose
rm -rf "$work"
mkdir -p "$work"
cd "$work"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
t=$(now)
"$bin" --db runs.db -c "simulate --out sim --size paper --seed 7" > simulate.log
echo "simulate --size paper (A 97 + B 20 patients): $(since "$t") s"

image=sim/A/images/A001/T1.nii.gz
(cd "$root" && cargo bench --bench n4 --quiet -- "$work/$image") | grep "160x160"
(cd "$root" && RAYON_NUM_THREADS=1 cargo bench --bench n4 --quiet -- "$work/$image") | grep "160x160" | sed 's/^/one thread: /'
if [ -n "${SKIP_SIMPLEITK:-}" ]; then
    echo "SimpleITK skipped (SKIP_SIMPLEITK)"
elif python3 -c "import SimpleITK" 2> /dev/null; then
    python3 "$root/benches/n4_simpleitk.py" "$image" | grep "160x160"
    THREADS=1 python3 "$root/benches/n4_simpleitk.py" "$image" | grep "160x160"
else
    echo "SimpleITK not installed: pip install SimpleITK==2.5.7 for the ratio"
fi

total=$(now)
for c in A B; do
    t=$(now)
    "$bin" --db runs.db -c "load ${c}0 sim/$c; preprocess ${c}0 --resample 1,1,1 --n4 --margin-mm 3 --to pre/$c" > "preprocess-$c.log"
    echo "preprocess $c: $(since "$t") s — $(grep 'time by stage' "preprocess-$c.log")"
done
for c in A B; do
    t=$(now)
    "$bin" --db runs.db -c "load $c pre/$c; extract $c --sequences T1,T1C,T2 --roi ptv --to features/$c" > "extract-$c.log"
    echo "extract $c: $(since "$t") s"
done
echo "preprocess + extract of A and B: $(since "$total") s"

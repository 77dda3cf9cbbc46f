#!/usr/bin/env bash
# Wall time of the small grid (2 learning rates × 2 folds, 17³ dose input,
# 2 epochs, 30 simulated patients) trained locally and through work items
# with 1, 2 and 4 concurrent workers: `--backend queue` on SQLite (workers
# started here) and, when RADOSE_TEST_PG and SLURM_CONF are set
# (.ci/services.sh), `--backend slurm --max-parallel K --wait` on PostgreSQL.
#
#   scripts/bench-cluster.sh [path/to/radose]    (default: target/release/radose)
set -euo pipefail
bin=$(realpath "${1:-target/release/radose}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
setup="load A pre/A; extract A --sequences T1 --roi ptv --to feat/A; model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance oversample"
grid="--folds 2 --grid lr=1e-3,3e-4 epochs=2 batch=8 --seed 3"
"$bin" --db runs.db -c "simulate --out sim --n-a 24 --n-b 6; load A0 sim/A; preprocess A0 --to pre/A; $setup" >/dev/null
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
t=$(now); "$bin" --db runs.db -c "$setup; train Q on A $grid" >/dev/null; echo "local (one process):            $(since "$t") s"
for k in 1 2 4; do
    t=$(now)
    out=$("$bin" --db runs.db -c "$setup; train Q on A $grid --backend queue")
    run=$(echo "$out" | grep -o '^run [0-9]*' | head -1 | cut -d' ' -f2)
    for _ in $(seq 1 "$k"); do "$bin" --db runs.db worker --parent "$run" >/dev/null & done
    wait
    c=$(now)
    "$bin" --db runs.db worker --collect "$run" >/dev/null
    echo "queue, $k worker(s), SQLite:       $(since "$t") s (the collector, items all done: $(since "$c") s)"
done
if [ -n "${RADOSE_TEST_PG:-}" ] && [ -n "${SLURM_CONF:-}" ]; then
    pg=${RADOSE_TEST_PG%/*}/radose_bench_cluster
    psql "$RADOSE_TEST_PG" -qc "DROP DATABASE IF EXISTS radose_bench_cluster WITH (FORCE)" -c "CREATE DATABASE radose_bench_cluster" >/dev/null
    "$bin" --db "$pg" -c "$setup" >/dev/null
    t=$(now); "$bin" --db "$pg" -c "$setup; train Q on A $grid" >/dev/null; echo "local, PostgreSQL:              $(since "$t") s"
    for k in 1 2 4; do
        t=$(now)
        "$bin" --db "$pg" -c "$setup; train Q on A $grid --backend slurm --max-parallel $k --wait" >/dev/null
        echo "slurm, --max-parallel $k, PostgreSQL: $(since "$t") s"
    done
fi

#!/usr/bin/env bash
# Throwaway services for the test suite: a PostgreSQL server and a
# single-node Slurm cluster (slurmctld + slurmd + munge) on 127.0.0.1, all
# state in one temporary folder, stopped by their pids.
#
#   source .ci/services.sh
#   services_install          # as root: Debian's packages when missing
#   services_start DIR        # exports RADOSE_TEST_PG and RADOSE_TEST_SLURM
#   services_stop             # always (a trap): stops what was started
#
# Needs root (the daemons run as their own users, Slurm as root) and no
# systemd. Each start is checked; a service that cannot start is reported
# and left unset, so the tests that need it fail where they are required.

services_pg_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    return 1
}

services_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
    local want=()
    services_pg_bin >/dev/null || want+=(postgresql)
    command -v slurmctld >/dev/null 2>&1 || want+=(slurmctld)
    command -v slurmd >/dev/null 2>&1 || want+=(slurmd)
    command -v sbatch >/dev/null 2>&1 || want+=(slurm-client)
    command -v munged >/dev/null 2>&1 || want+=(munge)
    [ ${#want[@]} = 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # The packages' own scripts would start their services (PostgreSQL's
    # `main` cluster, munged) through invoke-rc.d; Debian's policy-rc.d
    # hook (exit 101: "action forbidden") keeps them from starting, so
    # nothing runs that services_stop does not know. Removed afterwards
    # unless the system had one of its own.
    local policy=/usr/sbin/policy-rc.d placed=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && placed=1
    fi
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null \
        || echo "warning: could not install ${want[*]}" >&2
    [ -n "$placed" ] && rm -f "$policy"
    return 0
}

# A free TCP port on 127.0.0.1.
services_free_port() {
    python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
EOF
}

services_start_postgres() {
    local dir=$1 bin port
    bin=$(services_pg_bin) || { echo "services: no PostgreSQL installed" >&2; return 1; }
    port=$(services_free_port)
    mkdir -p "$dir/pg" "$dir/pgsock"
    chown postgres "$dir/pg" "$dir/pgsock" 2>/dev/null || true
    chmod 700 "$dir/pg"
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$bin/initdb" -D "$dir/pg/data" -U radose --auth=trust --no-sync >"$dir/pg-initdb.log" 2>&1 \
        || { cat "$dir/pg-initdb.log" >&2; return 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pgsock -c fsync=off -c max_connections=200" start \
        >"$dir/pg-start.log" 2>&1 || { cat "$dir/pg-start.log" "$dir/pg/server.log" >&2; return 1; }
    SERVICES_PG_PID=$(head -1 "$dir/pg/data/postmaster.pid")
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U radose radose_test || return 1
    export RADOSE_TEST_PG="postgres://radose@127.0.0.1:$port/radose_test"
    echo "services: PostgreSQL on 127.0.0.1:$port (pid $SERVICES_PG_PID)"
}

services_start_slurm() {
    local dir=$1/slurm host cpus
    command -v slurmctld >/dev/null && command -v munged >/dev/null || {
        echo "services: no Slurm installed" >&2
        return 1
    }
    host=$(hostname -s)
    cpus=$(nproc)
    mkdir -p "$dir/spool/ctld" "$dir/spool/d" "$dir/log" "$dir/munge"
    chown munge "$dir/munge" && chmod 700 "$dir/munge"
    dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null
    chown munge "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key"
    runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" --force || return 1
    SERVICES_MUNGE_PID=$(cat "$dir/munge/munged.pid")
    cat >"$dir/slurm.conf" <<EOF
ClusterName=radose-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(services_free_port)
SlurmdPort=$(services_free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MpiDefault=none
KillWait=5
MinJobAge=300
NodeName=localhost NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$SLURM_CONF" || { cat "$dir/log/slurmctld.log" >&2; return 1; }
    slurmd -f "$SLURM_CONF" || { cat "$dir/log/slurmd.log" >&2; return 1; }
    local i state
    for i in $(seq 1 100); do
        state=$(sinfo -h -o %T 2>/dev/null | head -1)
        case $state in idle*|mixed*|alloc*) break ;; esac
        sleep 0.2
    done
    SERVICES_SLURMCTLD_PID=$(cat "$dir/slurmctld.pid" 2>/dev/null)
    SERVICES_SLURMD_PID=$(cat "$dir/slurmd.pid" 2>/dev/null)
    case $state in
        idle*|mixed*|alloc*) ;;
        *) echo "services: the Slurm node did not come up (state '$state')" >&2
           tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2
           return 1 ;;
    esac
    export RADOSE_TEST_SLURM=1
    echo "services: Slurm on $host ($cpus CPUs, slurmctld pid $SERVICES_SLURMCTLD_PID)"
}

services_start() {
    SERVICES_DIR=$1
    mkdir -p "$SERVICES_DIR"
    chmod 755 "$SERVICES_DIR"
    services_start_postgres "$SERVICES_DIR" || echo "services: PostgreSQL did not start" >&2
    if [ "$(id -u)" = 0 ]; then
        services_start_slurm "$SERVICES_DIR" || echo "services: Slurm did not start" >&2
    fi
    return 0
}

# Stops what services_start started, by pid, whatever state it is in.
services_stop() {
    local pid
    for pid in ${SERVICES_SLURMD_PID:-} ${SERVICES_SLURMCTLD_PID:-} ${SERVICES_MUNGE_PID:-} ${SERVICES_PG_PID:-}; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${SERVICES_SLURMD_PID:-} ${SERVICES_SLURMCTLD_PID:-} ${SERVICES_MUNGE_PID:-} ${SERVICES_PG_PID:-}; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    SERVICES_SLURMD_PID= SERVICES_SLURMCTLD_PID= SERVICES_MUNGE_PID= SERVICES_PG_PID=
}

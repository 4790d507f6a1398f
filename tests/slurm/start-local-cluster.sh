#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (node "localhost", partition "debug", one fake GPU)
# for tests/test_slurm.py. Debian 12, as root. Installs munge + Slurm 22.05 from Debian if missing,
# writes /etc/slurm/{slurm.conf,gres.conf}, starts munged, slurmctld and slurmd, and waits until the
# node is idle. Idempotent: if the node is already up it only says so. Undo: stop-local-cluster.sh.
set -euo pipefail

PARTITION=debug
CONF=/etc/slurm/slurm.conf
GRES=/etc/slurm/gres.conf
MARK="# written by stdo tests/slurm/start-local-cluster.sh"
OURS=/run/stdo-local-slurm   # pid files of the daemons this script started (read by stop-local-cluster.sh)
LOGS=/var/log/slurm
WAIT_S=${STDO_SLURM_WAIT_S:-60}

die() {
    echo "start-local-cluster: ERROR: $*" >&2
    exit 1
}

node_state() {  # e.g. idle, mixed, down*, drained; empty when the controller does not answer
    timeout 10 sinfo --noheader --partition "$PARTITION" --nodes localhost --format %T 2>/dev/null | head -n 1 || true
}

node_up() {
    case "$(node_state)" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

alive() {  # alive PIDFILE: the daemon recorded in PIDFILE is running
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

[[ $(id -u) == 0 ]] || die "run me as root: I install packages, write /etc/slurm and start daemons"

if command -v sinfo >/dev/null && node_up; then
    echo "start-local-cluster: Slurm is already running, node localhost is $(node_state) in partition $PARTITION"
    exit 0
fi

# 1. packages
if ! command -v munged >/dev/null || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null; then
    echo "start-local-cluster: installing munge and Slurm from the Debian archive"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null \
        || die "apt-get install munge slurmctld slurmd slurm-client failed"
fi
for tool in munged munge unmunge slurmctld slurmd sinfo sbatch squeue scontrol; do
    command -v "$tool" >/dev/null || die "$tool is missing after the install"
done

# 2. configuration (never overwrite a slurm.conf someone else wrote)
if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; I leave a real cluster alone"
fi
hw=$(slurmd -C | head -n 1)
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
cpus=$(field CPUs) boards=$(field Boards) sockets=$(field SocketsPerBoard)
cores=$(field CoresPerSocket) threads=$(field ThreadsPerCore) memory=$(field RealMemory)
[[ -n $cpus && -n $memory ]] || die "could not read CPUs and RealMemory from 'slurmd -C': $hw"
memory=$((memory * 9 / 10))  # below what slurmd reports, or the node registers as "Low RealMemory"

mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd "$LOGS" "$OURS"
cat >"$CONF.tmp" <<EOF
$MARK
# One node, no accounting database: job status comes from squeue, which keeps finished jobs
# for MinJobAge seconds.
ClusterName=stdo-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Boards=${boards:-1} SocketsPerBoard=${sockets:-1} CoresPerSocket=${cores:-$cpus} ThreadsPerCore=${threads:-1} RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.tmp" "$CONF"
cat >"$GRES" <<EOF
$MARK
# A fake GPU: lets jobs that ask for --gres=gpu:1 be scheduled; there is no CUDA device behind it.
NodeName=localhost Name=gpu File=/dev/null
EOF

# 3. daemons
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
        || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    su -s /bin/sh munge -c /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    cp /run/munge/munged.pid "$OURS/munged.pid"
fi
munge -n | unmunge >/dev/null 2>&1 || die "munge does not work (see /var/log/munge/munged.log)"

if ! alive /run/slurmctld.pid; then
    /usr/sbin/slurmctld || die "slurmctld did not start (see $LOGS/slurmctld.log)"
    for _ in $(seq 20); do alive /run/slurmctld.pid && break; sleep 0.5; done
    alive /run/slurmctld.pid || die "slurmctld exited (see $LOGS/slurmctld.log): $(tail -n 5 $LOGS/slurmctld.log)"
    cp /run/slurmctld.pid "$OURS/slurmctld.pid"
fi
if ! alive /run/slurmd.pid; then
    /usr/sbin/slurmd -N localhost || die "slurmd did not start (see $LOGS/slurmd.log)"
    for _ in $(seq 20); do alive /run/slurmd.pid && break; sleep 0.5; done
    alive /run/slurmd.pid || die "slurmd exited (see $LOGS/slurmd.log): $(tail -n 5 $LOGS/slurmd.log)"
    cp /run/slurmd.pid "$OURS/slurmd.pid"
fi

# 4. wait for the node
for ((i = 0; i < WAIT_S; i++)); do
    node_up && break
    case "$(node_state)" in down* | drain* | fail*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;; esac
    sleep 1
done
if ! node_up; then
    echo "--- sinfo: $(timeout 10 sinfo 2>&1 || true)" >&2
    echo "--- $LOGS/slurmctld.log:" >&2 && tail -n 15 "$LOGS/slurmctld.log" >&2 || true
    echo "--- $LOGS/slurmd.log:" >&2 && tail -n 15 "$LOGS/slurmd.log" >&2 || true
    die "node localhost is not idle after ${WAIT_S}s (state: '$(node_state)')"
fi
echo "start-local-cluster: Slurm $(sinfo --version | cut -d' ' -f2) is up: node localhost ($cpus CPUs," \
    "${memory} MB, gpu:1 fake) is $(node_state) in partition $PARTITION"

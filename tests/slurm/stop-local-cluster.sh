#!/usr/bin/env bash
# Stop the one-node Slurm cluster that start-local-cluster.sh started: cancel every job, then stop
# slurmd, slurmctld and munged, each only if that script started it (it kept their pid files in
# /run/stdo-local-slurm). Safe to run twice, and when nothing is running.
set -uo pipefail

OURS=/run/stdo-local-slurm

stop() {  # stop NAME: end the daemon whose pid start-local-cluster.sh recorded, by that pid only
    local pidfile=$OURS/$1.pid pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]; then
        kill -TERM "$pid"
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop-local-cluster: $1 ($pid) ignored SIGTERM for 10 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "stop-local-cluster: stopped $1 ($pid)"
    fi
    rm -f "$pidfile"
}

if [[ ! -d $OURS ]] || [[ -z $(ls -A "$OURS" 2>/dev/null) ]]; then
    echo "stop-local-cluster: no daemon started by start-local-cluster.sh is recorded; nothing to stop"
    exit 0
fi

if [[ -s $OURS/slurmctld.pid ]] && command -v squeue >/dev/null; then
    jobs=$(timeout 10 squeue --noheader --format %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
        echo "stop-local-cluster: cancelling jobs $jobs"
        # shellcheck disable=SC2086
        timeout 20 scancel $jobs 2>/dev/null || true
        for _ in $(seq 20); do  # give slurmd the time to end the job steps
            [[ -z $(timeout 10 squeue --noheader --states=PENDING,RUNNING,COMPLETING --format %i 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
fi

stop slurmd
stop slurmctld
stop munged
rmdir "$OURS" 2>/dev/null || true
echo "stop-local-cluster: done"

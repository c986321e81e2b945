#!/usr/bin/env bash
# Starts or stops a private one-node Slurm cluster (Debian 12 slurm-wlm 22.05
# and munge) whose every file lives in one folder, for the slurm tests.
#
#   scripts/slurm-cluster.sh start DIR   # prints the SLURM_CONF line to export
#   scripts/slurm-cluster.sh stop DIR
#
# start writes DIR/slurm.conf for this host (all CPUs, one partition "debug"),
# creates a munge key, and starts munged, slurmctld and slurmd as root on free
# ports with their own socket, state, spool, log and pid files under DIR. It
# waits until the node is idle and writes DIR/env (`export SLURM_CONF=...`).
# It exits 1 with the daemons' log tail when a daemon cannot start, so a
# caller can skip instead of fail. stop kills only the daemons whose pid files
# are in DIR. Requires root, because slurmd must start jobs as other users.
set -euo pipefail

action=${1:-}
dir=${2:-}
if [[ -z $action || -z $dir ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop_daemons() {
  local name pid
  for name in slurmd slurmctld munged; do
    [[ -f $dir/run/$name.pid ]] || continue
    pid=$(cat "$dir/run/$name.pid")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/run/$name.pid"
  done
}

fail_start() {
  echo "slurm-cluster: $1" >&2
  for log in "$dir"/log/*.log; do
    [[ -f $log ]] || continue
    echo "--- $log" >&2
    tail -n 15 "$log" >&2
  done
  stop_daemons
  exit 1
}

# Returns a TCP port that nothing on this host listens on, from 20000-29999.
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 10000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

if [[ $action == stop ]]; then
  stop_daemons
  exit 0
fi
if [[ $action != start ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "slurm-cluster: must run as root (slurmd starts jobs as their user)" >&2
  exit 1
fi
for tool in munged mungekey slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || fail_start "'$tool' not found; install slurm-wlm and munge"
done

mkdir -p "$dir"/{munge,state,spool,log,run}
chmod 700 "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)

# munge: a private key and socket, so the host's munged (if any) is not used.
if [[ ! -f $dir/munge/munge.key ]]; then
  mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
    fail_start "mungekey could not create $dir/munge/munge.key"
fi
chmod 600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
  --seed-file="$dir/munge/munged.seed" ||
  fail_start "munged did not start"

cat >"$dir/slurm.conf" <<EOF
# One-node cluster written by scripts/slurm-cluster.sh.
ClusterName=scalelock
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MaxArraySize=1001
SchedulerParameters=sched_interval=1
MessageTimeout=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"

slurmctld -f "$SLURM_CONF" -i >"$dir/log/slurmctld.stdout" 2>&1 ||
  fail_start "slurmctld did not start"
slurmd -f "$SLURM_CONF" >"$dir/log/slurmd.stdout" 2>&1 || fail_start "slurmd did not start"

# The node registers within a few seconds; wait up to 30 s for it to be idle.
for _ in $(seq 60); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  if [[ $state == idle ]]; then
    echo "export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.5
done
fail_start "node $host did not become idle within 30 s (state '${state:-unknown}')"

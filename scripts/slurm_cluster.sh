#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the test suite's Slurm end-to-end tests.
#
#   bash scripts/slurm_cluster.sh start    install (root, Debian: slurm-wlm, munge) when missing,
#                                          configure, start munged/slurmctld/slurmd, wait for idle
#   bash scripts/slurm_cluster.sh status   exit 0 when the node answers and is usable
#   bash scripts/slurm_cluster.sh stop     stop the daemons this script started
#
# Idempotent: when the cluster already answers, start only waits for the node to be idle.
# Everything it writes lives in /etc/slurm/slurm.conf (only when there is none, or when it is
# ours: it starts with the marker line below) and /var/lib/stilt-slurm; it removes nothing else.
set -euo pipefail

marker="# stilt test cluster (scripts/slurm_cluster.sh)"
state=/var/lib/stilt-slurm
conf=/etc/slurm/slurm.conf
say() { printf '\033[1m[slurm cluster]\033[0m %s\n' "$*" >&2; }

node_ready() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local s
  s="$(timeout 10 sinfo -h -N -o '%t' 2>/dev/null | head -1)" || return 1
  case "$s" in idle|mix|alloc|comp) return 0 ;; *) return 1 ;; esac
}

wait_idle() {
  for _ in $(seq 1 60); do
    if [ "$(timeout 10 sinfo -h -N -o '%t' 2>/dev/null | head -1)" = idle ]; then
      say "node $(hostname -s) is idle"; return 0
    fi
    # a node that was down (previous boot) is brought back
    timeout 10 scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  say "the node did not become idle; sinfo says:"; sinfo -N >&2 || true
  for f in "$state"/slurmctld.log "$state"/slurmd.log; do [ -f "$f" ] && tail -20 "$f" >&2; done
  return 1
}

install() {
  if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
     && command -v munged >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    say "Slurm is not installed and this is not root: install slurm-wlm and munge"; exit 1
  fi
  say "installing slurm-wlm and munge with apt-get"
  if [ -z "${STILT_APT_UPDATED:-}" ]; then apt-get update -qq; export STILT_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

configure() {
  local host cpus mem
  host="$(hostname -s)"
  cpus="$(nproc)"
  [ "$cpus" -gt 2 ] && cpus=2
  mem=2048
  mkdir -p /etc/slurm "$state"/spool/ctld "$state"/spool/d
  if [ -f "$conf" ] && [ "$(head -1 "$conf")" != "$marker" ]; then
    say "$conf exists and is not ours: using it as it is"; return 0
  fi
  cat > "$conf.tmp" <<EOF
$marker
ClusterName=stilt-test
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.log
MinJobAge=3600
KillWait=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ReturnToService=2
MaxArraySize=1001
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
}

start_daemons() {
  if ! pgrep -x munged >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
      say "creating a munge key"
      mkdir -p /etc/munge
      dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
      chown munge:munge /etc/munge/munge.key 2>/dev/null || true
      chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    say "starting munged"
    if id munge >/dev/null 2>&1; then
      su -s /bin/sh munge -c munged 2>/dev/null || munged --force
    else
      munged --force
    fi
  fi
  if ! pgrep -x slurmctld >/dev/null 2>&1; then
    say "starting slurmctld"
    slurmctld
  fi
  if ! pgrep -x slurmd >/dev/null 2>&1; then
    say "starting slurmd"
    slurmd
  fi
}

stop_daemons() {
  for pidfile in "$state"/slurmd.pid "$state"/slurmctld.pid; do
    if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
}

case "${1:-}" in
  start)
    if node_ready; then wait_idle; exit $?; fi
    install
    configure
    start_daemons
    wait_idle ;;
  status)
    node_ready ;;
  stop)
    stop_daemons ;;
  *)
    echo "usage: bash scripts/slurm_cluster.sh (start|status|stop)" >&2; exit 2 ;;
esac

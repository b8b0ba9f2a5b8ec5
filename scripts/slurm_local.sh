#!/usr/bin/env bash
# A real single-node Slurm on this machine, for trying sweeps on a laptop and for the tests:
#
#   deno task slurm:local start    # munged + slurmctld + slurmd, all state under one folder
#   deno task slurm:local status   # whether they run, and the line that points clients at them
#   deno task slurm:local stop     # stops the three daemons by their pid files
#
# Everything lives under $METALAB_SLURM_DIR (default /tmp/metalab-slurm): slurm.conf, munge's
# key and socket, pid files, state, spool and logs; nothing is written to /etc or /run, so a
# system Slurm or munge on the same machine is left alone. Clients find this cluster through
# SLURM_CONF=$METALAB_SLURM_DIR/slurm.conf (start prints the export line).
#
# What a container or a machine without systemd needs (measured on Debian 12, Slurm 22.05.8,
# munge 0.5.15): proctrack/linuxproc and task/none (the cgroup plugins crash slurmd where no
# cgroup hierarchy is delegated), no accounting database (so sacct does not work: poll squeue),
# MailProg=/bin/true, munged started by hand as the munge user (nothing creates its run
# folder without systemd), and slurmctld started with -c (a clean state). Run as root; as
# another user munged and slurmctld run as you, and slurmd can run only your own jobs.
set -euo pipefail

DIR="${METALAB_SLURM_DIR:-/tmp/metalab-slurm}"
PORT="${METALAB_SLURM_PORT:-6817}" # slurmctld's port; slurmd takes the next one
CONF="$DIR/slurm.conf"
MUNGE_SOCKET="$DIR/munge/munge.socket"

die() {
  echo "slurm:local: $*" >&2
  exit 1
}

need() {
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 ||
      die "$b not found: install Slurm and munge first (Debian: apt-get install slurm-wlm munge)"
  done
}

# The pid in a pid file, when that process is alive.
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Runs a command as the munge user when we are root (munged refuses to trust root's files
# the way it trusts its own user's), else as ourselves.
as_munge() {
  if [ "$(id -u)" = 0 ] && id munge >/dev/null 2>&1; then
    setpriv --reuid=munge --regid=munge --init-groups "$@"
  else
    "$@"
  fi
}

wait_for() { # seconds, description, command…
  local seconds=$1 what=$2
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not come up within ${seconds} s (logs: $DIR/log/)"
}

write_conf() {
  local host cpus mem user
  host=$(hostname -s)
  cpus=$(nproc --all)
  # Memory in MB, a little under the total so that `--mem` requests up to it are accepted.
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.95 }' /proc/meminfo)
  user=$(id -un)
  cat >"$CONF" <<EOF
# Written by scripts/slurm_local.sh: a single-node Slurm under $DIR.
ClusterName=metalab-local
SlurmctldHost=$host
SlurmUser=$user
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
MpiDefault=none
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
# Cores are shared out, memory is not counted: jobs asking for no --mem still run side by side.
SelectTypeParameters=CR_Core
# A finished job stays visible to squeue for this many seconds.
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  need munged munge unmunge slurmctld slurmd sinfo setpriv
  if alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid" || alive "$DIR/munge/munged.pid"; then
    die "already running under $DIR (deno task slurm:local stop first)"
  fi
  mkdir -p "$DIR"/{state,spool,log,munge,munge-key}
  write_conf
  # munged wants its socket's folder open to all (clients connect) and its key private.
  chmod 0755 "$DIR" "$DIR/munge"
  chmod 0700 "$DIR/munge-key"
  if [ ! -s "$DIR/munge-key/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge-key/munge.key" bs=1024 count=1 status=none
  fi
  chmod 0400 "$DIR/munge-key/munge.key"
  if [ "$(id -u)" = 0 ] && id munge >/dev/null 2>&1; then
    chown -R munge:munge "$DIR/munge" "$DIR/munge-key"
  fi
  as_munge test -x "$DIR/munge" ||
    die "the munge user cannot reach $DIR/munge: a folder above it is closed to other users (chmod o+x it, or choose another METALAB_SLURM_DIR)"
  as_munge munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge-key/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge-key/munged.seed" ||
    die "munged did not start: $(tail -3 "$DIR/munge/munged.log" 2>/dev/null)"
  # Slurm cannot authenticate anything before munge answers.
  wait_for 10 munged bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'"
  export SLURM_CONF="$CONF"
  slurmctld -c -f "$CONF" || die "slurmctld did not start: $(tail -3 "$DIR/log/slurmctld.log")"
  wait_for 15 slurmctld scontrol ping
  slurmd -f "$CONF" || die "slurmd did not start: $(tail -3 "$DIR/log/slurmd.log")"
  wait_for 20 "the node" bash -c "sinfo -h -o %t | grep -Eq '^(idle|mix|alloc)'"
  echo "slurm:local: running under $DIR ($(sinfo -h -o '%D node, %c CPUs, partition %P'))"
  echo "  point Slurm's commands at it with:  export SLURM_CONF=$CONF"
}

stop_one() { # name pidfile
  local pid
  if alive "$2"; then
    pid=$(cat "$2")
    kill "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm:local: $1 (pid $pid) did not stop in 10 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "slurm:local: stopped $1 (pid $pid)"
  fi
  rm -f "$2"
}

stop() {
  # Daemons only, by their own pid files: a job still running is ended by slurmd as it stops.
  stop_one slurmd "$DIR/slurmd.pid"
  stop_one slurmctld "$DIR/slurmctld.pid"
  stop_one munged "$DIR/munge/munged.pid"
}

status() {
  local any=0
  for d in slurmctld:"$DIR/slurmctld.pid" slurmd:"$DIR/slurmd.pid" munged:"$DIR/munge/munged.pid"; do
    if alive "${d#*:}"; then
      echo "${d%%:*}: running (pid $(cat "${d#*:}"))"
      any=1
    else
      echo "${d%%:*}: not running"
    fi
  done
  if ((any)); then
    echo "export SLURM_CONF=$CONF"
    SLURM_CONF="$CONF" sinfo 2>/dev/null || true
  fi
  alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && alive "$DIR/munge/munged.pid"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: deno task slurm:local start|stop|status   (state under \$METALAB_SLURM_DIR, default /tmp/metalab-slurm)" >&2
  exit 2
  ;;
esac

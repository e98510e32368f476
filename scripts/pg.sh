#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (issue 18, docs/FLEET.md).
#
#   scripts/pg.sh start [--owner PID]   start one; print its URL (last line)
#   scripts/pg.sh stop URL|DIR           stop it and delete its files
#   scripts/pg.sh run CMD [ARGS…]        start one, run CMD with
#                                        AGORA_TEST_POSTGRES=URL, stop it
#   scripts/pg.sh createdb URL NAME      make database NAME on that server;
#                                        print its URL
#   scripts/pg.sh down URL|DIR           stop the server, keeping its files
#   scripts/pg.sh up URL|DIR             start it again, on the same port
#                                        (tests of a database outage)
#
# Installs Debian's postgresql when initdb is missing (apt-get: needs
# root). The server lives in a new temporary directory, listens on
# 127.0.0.1 on a free port (and a Unix socket in that directory), and
# requires a password over TCP (scram-sha-256), so tests can check what
# wrong credentials look like. As root, the server runs as the `postgres`
# OS user (PostgreSQL refuses to run as root; the Debian package creates
# that user). With --owner, a watcher stops the server once process PID
# has exited: the Rust tests start a server per test process this way.
# The test server runs with fsync=off (tests need speed, not crash
# safety); PG_DURABLE=1 keeps PostgreSQL's defaults (fsync on), for the
# benchmarks. Fails loudly (exit 1, why on stderr) when it cannot install
# or start.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb ]] && { echo "$dir"; return 0; }
  done
  return 1
}

install_postgres() {
  pg_bin >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and only root can apt-get install it"
  echo "pg.sh: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq postgresql >/dev/null 2>&1; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
  fi
  pg_bin >/dev/null || die "postgresql installed, but no initdb under /usr/lib/postgresql"
}

# Runs a command as the server's OS user.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local owner=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --owner) owner=$2; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  install_postgres
  local bin dir port password
  bin=$(pg_bin)
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no postgres OS user (the Debian package makes it)"
  fi
  dir=$(mktemp -d /tmp/agora-pg.XXXXXX)
  chmod 700 "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  as_pg bash -c "umask 077; printf '%s\n' '$password' > '$dir/pwfile'"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local tuning="-c fsync=off"
  [[ ${PG_DURABLE:-} == 1 ]] && tuning=""
  # A free port can be taken between the check and the start: try a few.
  local tries
  for tries in 1 2 3 4 5; do
    port=$(free_port)
    local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir $tuning -c max_connections=200"
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts" \
        start >/dev/null 2>&1 </dev/null; then
      as_pg bash -c "printf '%s\n' '$opts' > '$dir/options'"
      break
    fi
    [[ $tries -eq 5 ]] && { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed"; }
  done
  echo "$port" >"$dir/port"
  if [[ -n $owner ]]; then
    # The watcher: detached, its output nowhere, so a caller reading this
    # script's stdout to the end is not kept waiting.
    setsid bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; \
      '$0' stop '$dir'" </dev/null >/dev/null 2>&1 &
  fi
  echo "postgres://postgres:$password@127.0.0.1:$port/postgres"
}

# The directory of a server of this script, from its URL or directory.
server_dir() {
  local target=${1:-}
  [[ -n $target ]] || die "needs the URL or the directory"
  local dir=$target
  if [[ $target == postgres://* ]]; then
    local port=${target##*@127.0.0.1:}
    port=${port%%/*}
    dir=$(grep -lx "$port" /tmp/agora-pg.*/port 2>/dev/null | head -1 | xargs -r dirname)
    [[ -n $dir ]] || die "no server of this script on port $port"
  fi
  [[ -d $dir/data ]] || die "$dir is not a server of this script"
  echo "$dir"
}

down() {
  local dir bin
  dir=$(server_dir "${1:-}")
  bin=$(pg_bin) || die "no PostgreSQL binaries"
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || die "pg_ctl stop failed"
}

up() {
  local dir bin
  dir=$(server_dir "${1:-}")
  bin=$(pg_bin) || die "no PostgreSQL binaries"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$(cat "$dir/options")" \
    start >/dev/null 2>&1 </dev/null || { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed"; }
}

stop() {
  local dir
  dir=$(server_dir "${1:-}")
  local bin
  bin=$(pg_bin) || die "no PostgreSQL binaries"
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

createdb() {
  local url=${1:-} name=${2:-}
  [[ -n $url && $name =~ ^[a-z_][a-z0-9_]*$ ]] || die "createdb needs a URL and a lower-case name"
  local bin
  bin=$(pg_bin) || die "no PostgreSQL binaries"
  "$bin/psql" -q -v ON_ERROR_STOP=1 "$url" -c "CREATE DATABASE $name" >/dev/null
  local base=${url%%\?*}
  echo "${base%/*}/$name"
}

run() {
  [[ $# -gt 0 ]] || die "run needs a command"
  RUN_URL=$(start | tail -1)
  trap 'stop "$RUN_URL"' EXIT
  AGORA_TEST_POSTGRES=$RUN_URL "$@"
}

cmd=${1:-}
shift || true
case $cmd in
  start) start "$@" ;;
  stop) stop "$@" ;;
  run) run "$@" ;;
  createdb) createdb "$@" ;;
  down) down "$@" ;;
  up) up "$@" ;;
  *) die "usage: scripts/pg.sh start [--owner PID] | stop URL|DIR | run CMD… | createdb URL NAME" ;;
esac

#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (issue 18, docs/FLEET.md).
#
#   scripts/pg.sh start [--owner PID] [--tls|--tls-only]
#                                        start one; print its URL (last line)
#   scripts/pg.sh stop URL|DIR           stop it and delete its files
#   scripts/pg.sh run [--tls|--tls-only] CMD [ARGS…]
#                                        start one, run CMD with
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
#
# --tls turns TLS on (docs/FLEET.md, "Using it"): the script makes a
# throwaway CA and a certificate it signs for localhost and 127.0.0.1
# (openssl, installed from Debian when missing), in DIR/tls/ next to the
# data directory: ca.crt is the CA to verify the server with, server.crt
# and server.key (0600, the server's OS user's) the server's. Clients may
# still connect without TLS. --tls-only also refuses them (pg_hba.conf's
# lines become hostssl). The printed URL then asks for full verification:
#   postgres://postgres:PW@127.0.0.1:PORT/postgres?sslmode=verify-full&sslrootcert=DIR/tls/ca.crt
# Without either option, nothing changes: no TLS, the URL has no query.
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

install_openssl() {
  command -v openssl >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || die "openssl is not installed and only root can apt-get install it"
  echo "pg.sh: installing openssl" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq openssl >/dev/null 2>&1; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq openssl >/dev/null || die "apt-get install openssl failed"
  fi
}

# Makes DIR/tls/: a CA (ca.crt; its key is deleted once it has signed) and
# the server's certificate for localhost and 127.0.0.1 (server.crt,
# server.key), ECDSA P-256, valid ten years.
make_certs() {
  local dir=$1 tls=$1/tls
  install_openssl
  mkdir -p "$tls"
  cat >"$tls/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = agora test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  {
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
      -days 3650 -config "$tls/openssl.cnf" -extensions ca -subj "/CN=agora test CA $(basename "$dir")" \
      -keyout "$tls/ca.key" -out "$tls/ca.crt" &&
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
      -config "$tls/openssl.cnf" -subj "/CN=localhost" \
      -keyout "$tls/server.key" -out "$tls/server.csr" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 \
      -extfile "$tls/openssl.cnf" -extensions server -out "$tls/server.crt"
  } >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "openssl could not make the certificates"; }
  rm -f "$tls/ca.key" "$tls/server.csr" "$tls/openssl.cnf" "$tls/openssl.log"
  chmod 755 "$tls"
  chmod 644 "$tls/ca.crt" "$tls/server.crt"
  chmod 600 "$tls/server.key"
  [[ $(id -u) -eq 0 ]] && chown -R postgres: "$tls"
  return 0
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local owner="" tls=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --owner) owner=$2; shift 2 ;;
      --tls) tls=on; shift ;;
      --tls-only) tls=only; shift ;;
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
  if [[ -n $tls ]]; then
    make_certs "$dir"
    tuning="$tuning -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key"
    if [[ $tls == only ]]; then
      # TCP connections must use TLS: a plain one matches no line.
      as_pg sed -i -E 's/^host([[:space:]])/hostssl\1/' "$dir/data/pg_hba.conf"
    fi
  fi
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
  local query=""
  [[ -n $tls ]] && query="?sslmode=verify-full&sslrootcert=$dir/tls/ca.crt"
  echo "postgres://postgres:$password@127.0.0.1:$port/postgres$query"
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
  local base=${url%%\?*} query=""
  [[ $url == *\?* ]] && query="?${url#*\?}"
  echo "${base%/*}/$name$query"
}

run() {
  local opts=()
  while [[ ${1:-} == --tls || ${1:-} == --tls-only ]]; do opts+=("$1"); shift; done
  [[ $# -gt 0 ]] || die "run needs a command"
  RUN_URL=$(start "${opts[@]}" | tail -1)
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
  *) die "usage: scripts/pg.sh start [--owner PID] [--tls|--tls-only] | stop URL|DIR | run [--tls|--tls-only] CMD… | createdb URL NAME | down URL|DIR | up URL|DIR" ;;
esac

#!/usr/bin/env bash
# The container image (Dockerfile) built and run with a Docker engine on
# this machine, which has no image registry (docs/DEPLOY.md, "Docker"):
#
#   scripts/docker.sh check   CI: hadolint on the Dockerfile, the base image,
#                             the image built from the host's release binary
#                             (BINARY=prebuilt), and a smoke test of it
#   scripts/docker.sh build   the image as a user builds it: compiled inside
#                             the build image (PROFILE=dist, the default: about
#                             40 minutes on 2 cores; PROFILE=release is
#                             quicker), tagged agora:latest; prints its size
#
# What it sets up, when missing: Debian's docker.io (dockerd is started for
# the run, with its own data directory under ~/.cache/agora/docker so images
# are kept between runs, and stopped after), debootstrap, and hadolint
# (scripts/lib/deploy-tools.sh). The
# build image the Dockerfile names (ARG RUST_IMAGE, e.g. rust:1.95-bookworm)
# cannot be pulled here, so it is made: a Debian bookworm from debootstrap
# with gcc and binutils, plus this host's Rust toolchain, imported with
# `docker import` and tagged with that name. Builds and containers use
# --network host, on loopback ports (dockerd runs with no bridge).
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# PROFILE and GIT_COMMIT (build), AGORA_BIN (check: the binary to put in
# the image; default: the release build, made when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-check}"
cache="$HOME/.cache/agora"
target="${CARGO_TARGET_DIR:-target}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

apt_install() {
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
[[ -x /usr/sbin/dockerd ]] || { echo "installing docker.io"; apt_install docker.io; }
command -v debootstrap >/dev/null || apt_install debootstrap

# Debian's client (20.10) builds with its engine's BuildKit; a newer client
# elsewhere on PATH would want the buildx plugin instead.
docker=/usr/bin/docker
run_dir=/run/agora-docker
export DOCKER_HOST="unix://$run_dir/docker.sock"
export DOCKER_BUILDKIT=1
started=""
cleanup() {
  local rc=$?
  for c in $(docker ps -aq --filter label=agora-ci 2>/dev/null); do
    docker rm -f "$c" >/dev/null 2>&1 || true
  done
  for v in $(docker volume ls -q --filter label=agora-ci 2>/dev/null); do
    docker volume rm "$v" >/dev/null 2>&1 || true
  done
  if [[ -n "$started" ]]; then
    kill "$(cat "$run_dir/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [[ -e "$run_dir/dockerd.pid" ]] || break; sleep 0.2; done
  fi
  exit "$rc"
}
trap cleanup EXIT
docker() { "$docker" "$@"; }

if ! docker info >/dev/null 2>&1; then
  mkdir -p "$run_dir" "$cache/docker"
  # A pid file left by a dockerd that died would stop the new one.
  if [[ -e "$run_dir/dockerd.pid" ]] && ! kill -0 "$(cat "$run_dir/dockerd.pid")" 2>/dev/null; then
    rm -f "$run_dir/dockerd.pid"
  fi
  # No iptables rules and no bridge: the tests use the host's network.
  setsid /usr/sbin/dockerd --data-root "$cache/docker" --exec-root "$run_dir/exec" \
    --pidfile "$run_dir/dockerd.pid" -H "$DOCKER_HOST" \
    --iptables=false --ip6tables=false --bridge=none \
    >"$run_dir/dockerd.log" 2>&1 </dev/null &
  started=1
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
  docker info >/dev/null 2>&1 || { tail -20 "$run_dir/dockerd.log"; echo "dockerd did not start" >&2; exit 1; }
fi
echo "docker engine $(docker version -f '{{.Server.Version}}')"

rust_image=$(sed -n 's/^ARG RUST_IMAGE=//p' Dockerfile)

# The build image: Debian bookworm (debootstrap) with a C compiler and
# binutils, and the host's toolchain where the official rust image keeps
# its own (cargo's home /usr/local/cargo).
# Bump when the way the image is made changes: an older one is made again.
build_image_version=2
make_rust_image() {
  local have
  have=$(docker image inspect -f '{{ index .Config.Labels "agora.build-image" }}' "$rust_image" 2>/dev/null || true)
  [[ "$have" == "$build_image_version" ]] && return 0
  echo "making $rust_image: debootstrap bookworm + this host's $(rustc -V)"
  local root
  root=$(mktemp -d)
  debootstrap --variant=minbase --include=gcc,libc6-dev,binutils,ca-certificates,pkg-config \
    bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
  local sysroot
  sysroot=$(rustc --print sysroot)
  mkdir -p "$root/usr/local/rust" "$root/usr/local/cargo"
  tar -C "$sysroot" --exclude=./share/doc --exclude=./lib/rustlib/src -cf - . \
    | tar -C "$root/usr/local/rust" -xf -
  # This machine reaches the registries through a proxy whose CA is in
  # the host's trust store (/usr/local/share/ca-certificates): cargo in
  # the image must trust it too.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  fi
  rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
  tar -C "$root" -cf - . | docker import \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL agora.build-image=$build_image_version" \
    - "$rust_image" >/dev/null
  rm -rf "$root" "$root.log"
}

lint() {
  # shellcheck source=lib/deploy-tools.sh
  . scripts/lib/deploy-tools.sh
  deploy_tools
  echo "-- hadolint Dockerfile"
  "$TOOLS_BIN/hadolint" Dockerfile
}

size_of() {
  local bytes
  bytes=$(docker image inspect -f '{{.Size}}' "$1")
  echo "$1: $(numfmt --to=iec-i --suffix=B "$bytes") ($bytes bytes)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits for the container's HEALTHCHECK to say healthy.
wait_healthy() {
  local c=$1 state=""
  for _ in $(seq 120); do
    state=$(docker inspect -f '{{.State.Health.Status}}' "$c")
    [[ "$state" == healthy ]] && return 0
    [[ "$(docker inspect -f '{{.State.Running}}' "$c")" == true ]] || break
    sleep 0.5
  done
  docker logs "$c" 2>&1 | tail -20
  echo "container $c is $state, not healthy" >&2
  exit 1
}

smoke() {
  local image=$1
  local native http resp host_bin
  native=$(free_port); http=$(free_port); resp=$(free_port)
  host_bin="$target/debug/agora"
  [[ -x "$host_bin" ]] || host_bin="$target/release/agora"
  docker volume create --label agora-ci agora-ci-data >/dev/null
  start() {
    docker run -d --label agora-ci --network host --read-only --tmpfs /tmp \
      -v agora-ci-data:/data \
      -e AGORA_LISTEN="127.0.0.1:$native" -e AGORA_HTTP="127.0.0.1:$http" \
      -e AGORA_RESP="127.0.0.1:$resp" -e AGORA_CACHE_PERSIST=true \
      -e AGORA_DRAIN_PERIOD=1s \
      --health-interval 1s --health-start-period 1s "$image"
  }
  echo "-- smoke test: read-only root, non-root user, ports $native $http $resp"
  local c
  c=$(start)
  wait_healthy "$c"
  local uid
  uid=$(ps -o uid= -p "$(docker inspect -f '{{.State.Pid}}' "$c")" | tr -d ' ')
  [[ "$uid" == 10001 ]] || { echo "the daemon runs as uid $uid, not 10001" >&2; exit 1; }
  docker run --rm --network host --read-only --entrypoint /usr/local/bin/agora "$image" --version
  # Whole bodies into variables first: `curl | grep -q` fails under
  # pipefail when grep stops reading early (curl: (23) Failed writing body).
  local body
  body=$(curl -fsS "http://127.0.0.1:$http/readyz")
  grep -q '"ready"' <<<"$body"
  body=$(curl -fsS "http://127.0.0.1:$http/metrics")
  grep -q '^agora_' <<<"$body"
  [[ "$(redis-cli -p "$resp" SET container-key kept)" == OK ]]
  "$host_bin" ping --addr "127.0.0.1:$native" -c 1 >/dev/null
  # Logs are JSON lines (AGORA_LOG_FORMAT=json in the image).
  local logs
  logs=$(docker logs "$c" 2>&1)
  python3 -c 'import json,sys; json.loads(sys.stdin.readline())' <<<"$logs"
  echo "-- docker stop: SIGTERM, the drain period, exit status 0"
  local t0 t1
  t0=$(date +%s.%N)
  docker stop -t 30 "$c" >/dev/null
  t1=$(date +%s.%N)
  [[ "$(docker inspect -f '{{.State.ExitCode}}' "$c")" == 0 ]] \
    || { docker logs "$c" 2>&1 | tail -5; echo "the daemon exited $(docker inspect -f '{{.State.ExitCode}}' "$c") on SIGTERM" >&2; exit 1; }
  printf 'stopped in %.1f s\n' "$(echo "$t1 - $t0" | bc)"
  docker rm "$c" >/dev/null
  echo "-- a new container on the same volume keeps the data"
  c=$(start)
  wait_healthy "$c"
  [[ "$(redis-cli -p "$resp" GET container-key)" == kept ]] \
    || { echo "the cache key written before the restart is gone" >&2; exit 1; }
  docker rm -f "$c" >/dev/null
}

case "$mode" in
  check)
    command -v redis-cli >/dev/null || apt_install redis-tools
    command -v bc >/dev/null || apt_install bc
    lint
    make_rust_image
    bin="${AGORA_BIN:-$target/release/agora}"
    [[ -n "${AGORA_BIN:-}" ]] || cargo build --release --locked -q -p agora
    mkdir -p .docker
    objcopy --strip-all "$bin" .docker/agora 2>/dev/null || cp "$bin" .docker/agora
    echo "-- docker build (BINARY=prebuilt: $bin)"
    docker build -q --network host --build-arg BINARY=prebuilt -t agora:ci . >/dev/null
    size_of agora:ci
    smoke agora:ci
    rm -rf .docker
    echo "ok"
    ;;
  build)
    make_rust_image
    commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    time docker build --network host --build-arg PROFILE="${PROFILE:-dist}" \
      --build-arg GIT_COMMIT="${GIT_COMMIT:-$commit}" -t agora:latest .
    size_of agora:latest
    ;;
  *)
    echo "usage: scripts/docker.sh [check|build]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Fleet benchmarks (issue 18, docs/FLEET.md) against a release build:
# daemons on one PostgreSQL (PostgreSQL's defaults: fsync on) compared
# with one daemon on SQLite, in one run, the configurations alternated
# round by round.
#   (a) persisted (acknowledged) chat messages per second: SQLite, one
#       node on PostgreSQL, three nodes on PostgreSQL (one load per node
#       at once, summed)
#   (b) chat delivery latency: one room, senders on node A; the members
#       receive on A (one node) or on B and C (across nodes, through
#       LISTEN/NOTIFY); SQLite for reference
#   (c) durable jobs per second end to end (enqueue 20,000 `noop` jobs in
#       batches of 1,000 on one node, run by the daemons' built-in
#       runners): SQLite, one node on PostgreSQL, three nodes on it (the
#       bench waits on the first node's counts, which follow the others'
#       completions through the fleet's notifications)
#   The blog is not on PostgreSQL yet (its single-node figures:
#   scripts/bench-blog.sh).
#
#   scripts/bench-fleet.sh [SECONDS]        (default 5 s per measurement)
#   BENCH_FLEET_ROUNDS=3 BENCH_FLEET_ROWS=abc scripts/bench-fleet.sh
#
# Everything (PostgreSQL, the daemons, the load) shares this machine's
# cores. Installs PostgreSQL (scripts/pg.sh) when missing. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${BENCH_FLEET_ROUNDS:-2}
rows=${BENCH_FLEET_ROWS:-abc}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"
ulimit -n "$(ulimit -Hn)"
export AGORA_JWT_SECRET=bench-fleet-key-0123456789abcdef0123456789

tmp=$(mktemp -d)
server=$(PG_DURABLE=1 scripts/pg.sh start | tail -1)
pids=()
stop_nodes() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() { stop_nodes; scripts/pg.sh stop "$server" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

n=0
# start_node [DATABASE-URL]: starts a daemon (on its own SQLite file
# without a URL) and sets $addr to its protocol address. (Not in a $(…):
# the daemon's pid must reach this shell's list.)
start_node() {
  n=$((n + 1))
  local dir="$tmp/node$n" db=()
  [[ -n ${1:-} ]] && db=(--database "$1")
  "$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 \
    --data "$dir" --ready-file "$dir.ready" --log-level error \
    --chat-rate 1000000 --chat-burst 1000000 "${db[@]}" &
  pids+=($!)
  local _
  for _ in $(seq 200); do [[ -s $dir.ready ]] && break; sleep 0.05; done
  [[ -s $dir.ready ]] || { echo "bench-fleet: a daemon did not start" >&2; exit 1; }
  addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$dir.ready")
}
# fresh_db: sets $url to a new, empty database on the server.
fresh_db() { n=$((n + 1)); url=$(scripts/pg.sh createdb "$server" "bench_fleet_$n"); }
field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(" | ".join(str(r[k]) for k in sys.argv[1:]))' "$@"; }
sum_stored() { python3 -c 'import json,sys; print(round(sum(json.load(open(f))["stored_per_sec"] for f in sys.argv[1:])))' "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); PostgreSQL $("$(ls -d /usr/lib/postgresql/*/bin | tail -1)/postgres" --version | awk '{print $3}') (fsync on), daemons and load on the same machine"

persist() { # ADDR…: one persist load per address at once; prints the sum of stored/s
  local addr out=() files=()
  for addr in "$@"; do
    "$bin" --addr "$addr" --json bench chat persist --senders 16 --pipeline 16 --duration "$secs" >"$tmp/p.$addr" &
    out+=($!)
    files+=("$tmp/p.$addr")
  done
  wait "${out[@]}"
  sum_stored "${files[@]}"
}

if [[ $rows == *a* ]]; then
  echo
  echo "(a) persisted chat messages per second (16 senders × 16 in flight per node, ${secs}s)"
  echo
  echo "| round | SQLite, 1 node | PostgreSQL, 1 node | PostgreSQL, 3 nodes (sum) |"
  echo "|---:|---:|---:|---:|"
  for round in $(seq "$rounds"); do
    start_node; s=$(persist "$addr"); stop_nodes
    fresh_db; start_node "$url"; p1=$(persist "$addr"); stop_nodes
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; b=$addr; start_node "$url"
    p3=$(persist "$a" "$b" "$addr"); stop_nodes
    echo "| $round | $s | $p1 | $p3 |"
  done
fi

if [[ $rows == *b* ]]; then
  echo
  echo "(b) delivery latency: one room, 300 members, 30 senders on node A, 1,000 msg/s, ${secs}s"
  echo
  echo "| round | setup | deliveries/s | p50 ms | p99 ms | max ms |"
  echo "|---:|---|---:|---:|---:|---:|"
  fan() { "$bin" --addr "$1" --json bench chat fanout --members 300 --senders 30 --rate 1000 --duration "$secs" "${@:2}"; }
  for round in $(seq "$rounds"); do
    start_node
    echo "| $round | SQLite, 1 node | $(fan "$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
    fresh_db; start_node "$url"
    echo "| $round | PostgreSQL, 1 node | $(fan "$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; b=$addr; start_node "$url"
    echo "| $round | PostgreSQL, sent on A, received on B and C | $(fan "$a" --receive-addr "$b,$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
  done
fi

if [[ $rows == *c* ]]; then
  echo
  echo "(c) durable jobs: 20,000 noop jobs, batches of 1,000, 4 connections × 4 in flight"
  echo
  echo "| round | setup | enqueued/s | completed/s end to end | wait p50 ms | p99 ms |"
  echo "|---:|---|---:|---:|---:|---:|"
  jobs_row() {
    "$bin" --addr "$addr" --json bench jobs --jobs 20000 --batch 1000 --connections 4 --pipeline 4 |
      field enqueued_per_sec completed_per_sec wait_p50_ms wait_p99_ms
  }
  for round in $(seq "$rounds"); do
    start_node
    echo "| $round | SQLite, 1 node | $(jobs_row) |"
    stop_nodes
    fresh_db; start_node "$url"
    echo "| $round | PostgreSQL, 1 node | $(jobs_row) |"
    stop_nodes
    # Enqueued on A; every node's built-in runner claims them; A's counts
    # follow the others' completions through the fleet's notifications.
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; start_node "$url"; addr=$a
    echo "| $round | PostgreSQL, 3 nodes | $(jobs_row) |"
    stop_nodes
  done
fi

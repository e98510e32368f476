#!/usr/bin/env bash
# Job queue benchmarks against a release build of the real daemon (its
# SQLite file on this machine's disk; every enqueue acknowledged after its
# commit):
#   (a) N no-op jobs enqueued in batches of 1,000, run by the daemon's
#       built-in noop kind
#   (b) the same enqueued by single calls (one job per request)
#   (c) N jobs enqueued in batches, worked by 4 external worker processes
#       (wire/examples/worker.rs: the Rust Worker API over TCP, claiming
#       and acknowledging in batches)
#   (d) the same enqueued by single calls
# Each row: jobs/s enqueued, jobs/s completed end to end (first enqueue to
# last completion), and the wait from when a job could run to when it
# started (p50/p99/max, from the stored jobs).
#
#   scripts/bench-jobs.sh [JOBS]          (default 100000 per row)
#   BENCH_JOBS_ROWS=ac scripts/bench-jobs.sh   (only some of the rows)
#
# Daemon, load generator and workers share this machine's cores. Prints
# Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-100000}
rows=${BENCH_JOBS_ROWS:-abcd}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
# The external workers (rows c and d) are the Rust Worker API example.
if [[ $rows == *[cd]* ]]; then
  cargo build --release -p agora-wire --example worker --locked -q
fi
bin="$CARGO_TARGET_DIR/release/agora"
worker="$CARGO_TARGET_DIR/release/examples/worker"
command -v python3 >/dev/null || { echo "bench-jobs: needs python3" >&2; exit 1; }

tmp=$(mktemp -d)
workers=()
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn &
daemon=$!
cleanup() {
  for w in "${workers[@]}"; do kill "$w" 2>/dev/null || true; done
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
# The workers' account, signed in through the CLI in a home of its own.
echo bench-password | HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/config" \
  "$bin" --addr "$addr" register benchworker --password-stdin >/dev/null
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["token"])' \
  "$tmp/home/config/agora/credentials.json" "$addr")

row() { # LABEL, then agora bench jobs flags
  local label=$1; shift
  "$bin" --addr "$addr" --json bench jobs --jobs "$jobs" "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("| %s | %s | %d×%d | %.0f | %.0f | %d | %d | %d |" % (sys.argv[1], r["batch"], r["connections"], r["pipeline"], r["enqueued_per_sec"], r["completed_per_sec"], r["wait_p50_ms"], r["wait_p99_ms"], r["wait_max_ms"]))' "$label"
}
start_workers() { # QUEUE: 4 worker processes, 250 jobs at once each
  for _ in 1 2 3 4; do
    AGORA_ADDR=$addr AGORA_TOKEN=$token "$worker" "$1" 250 2>/dev/null &
    workers+=($!)
  done
}
stop_workers() {
  for w in "${workers[@]}"; do kill -TERM "$w" 2>/dev/null || true; done
  for w in "${workers[@]}"; do wait "$w" 2>/dev/null || true; done
  workers=()
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $jobs jobs per row; daemon, load generator and workers on the same machine"
echo
echo "| worked by | jobs per enqueue | connections × in flight | enqueued jobs/s | completed jobs/s (end to end) | wait p50 ms | p99 ms | max ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
[[ $rows == *a* ]] && row "built-in noop" --batch 1000 --connections 4 --pipeline 4
[[ $rows == *b* ]] && row "built-in noop" --batch 1 --connections 16 --pipeline 64
if [[ $rows == *c* ]]; then
  start_workers ext-c
  row "4 worker processes" --kind bench.noop --queue ext-c --batch 1000 --connections 4 --pipeline 4
  stop_workers
fi
if [[ $rows == *d* ]]; then
  start_workers ext-d
  row "4 worker processes" --kind bench.noop --queue ext-d --batch 1 --connections 16 --pipeline 64
  stop_workers
fi

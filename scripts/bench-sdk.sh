#!/usr/bin/env bash
# The client SDKs against a release build of the daemon (docs/SDK.md):
#   (a) requests/s and latency of ping and cache GET over ONE connection
#       with 64 requests in flight: the Rust SDK (wire/examples/sdk_bench.rs,
#       a Session), the Python SDK (sdk/python/bench.py, asyncio), and
#       `agora bench ping --connections 1 --pipeline 64` (raw frames, no SDK:
#       the ceiling) for ping;
#   (b) job worker throughput: N no-op jobs enqueued in batches of 1,000,
#       completed by ONE worker process of each SDK (250 at once), next to
#       the daemon's built-in noop kind (the Jobs benchmark's row a).
# Rounds alternate the programs (A B C A B C …); the table shows each
# round's figures and the median. Daemon, load and workers share this
# machine's cores.
#
#   scripts/bench-sdk.sh [ROUNDS] [SECONDS] [JOBS]     (default 3 3 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-3}
jobs=${3:-20000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
cargo build --release -p agora-wire --example sdk_bench --example worker --locked -q
bin="$CARGO_TARGET_DIR/release/agora"
rust_bench="$CARGO_TARGET_DIR/release/examples/sdk_bench"
rust_worker="$CARGO_TARGET_DIR/release/examples/worker"

# The Python SDK in the venv scripts/python-sdk.sh uses (made here if new).
venv=${AGORA_VENV:-$HOME/.cache/agora/venv-sdk}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" 2>/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "msgpack>=1.0" hatchling editables
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation -e sdk/python
py="$venv/bin/python"

tmp=$(mktemp -d)
pids=()
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn &
daemon=$!
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
echo bench-password | HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/config" \
  "$bin" --addr "$addr" register benchsdk --password-stdin >/dev/null
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["token"])' \
  "$tmp/home/config/agora/credentials.json" "$addr")
export AGORA_ADDR=$addr AGORA_TOKEN=$token

# One line per measurement: PROGRAM OP RPS P50_MS P99_MS
results=$tmp/results
: > "$results"
sdk_row() { # PROGRAM, then the command printing the bench JSON
  local program=$1; shift
  "$@" | python3 -c '
import json, sys
r = json.load(sys.stdin)
for x in r["results"]:
    print(sys.argv[1], x["op"], round(x["rps"]), round(x["p50_ms"], 3), round(x["p99_ms"], 3))' "$program" >> "$results"
}
raw_ping() {
  "$bin" --addr "$addr" --json bench ping --connections 1 --pipeline 64 --duration "$seconds" |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
print("agora-bench ping", round(r["requests_per_sec"]), round(r["p50_us"] / 1000, 3), round(r["p99_us"] / 1000, 3))' >> "$results"
}
for _ in $(seq "$rounds"); do
  raw_ping
  sdk_row rust "$rust_bench" "$addr" "$seconds" 64
  sdk_row python "$py" sdk/python/bench.py --addr "$addr" --token "$token" --seconds "$seconds" --inflight 64
done

# Worker throughput: enqueue in batches, one worker process drains the queue.
jobs_row() { # LABEL QUEUE KIND
  "$bin" --addr "$addr" --json bench jobs --jobs "$jobs" --kind "$3" --queue "$2" \
    --batch 1000 --connections 4 --pipeline 4 |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(sys.argv[1], "jobs", round(r["completed_per_sec"]), 0, 0)' "$1" >> "$results"
}
stop_pids() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
for r in $(seq "$rounds"); do
  jobs_row built-in "bi-$r" noop
  "$rust_worker" "rw-$r" 250 >/dev/null 2>&1 & pids+=($!)
  jobs_row rust "rw-$r" bench.noop
  stop_pids
  "$py" sdk/python/bench_worker.py "pw-$r" 250 >/dev/null 2>&1 & pids+=($!)
  jobs_row python "pw-$r" bench.noop
  stop_pids
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr), $("$py" --version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $rounds rounds of ${seconds} s per row; $jobs jobs per worker row"
echo
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    program, op, rps, p50, p99 = line.split()
    rows.setdefault((op, program), []).append((float(rps), float(p50), float(p99)))
print("| op | program | requests/s (rounds) | median req/s | median p50 ms | median p99 ms |")
print("|---|---|---|---:|---:|---:|")
order = {"agora-bench": 0, "built-in": 0, "rust": 1, "python": 2}
for (op, program), xs in sorted(rows.items(), key=lambda kv: (kv[0][0] == "jobs", kv[0][0], order.get(kv[0][1], 9))):
    rps = " / ".join(f"{x[0]:.0f}" for x in xs)
    med = lambda i: statistics.median(x[i] for x in xs)
    unit = "jobs/s" if op == "jobs" else ""
    lat = ("—", "—") if op == "jobs" else (f"{med(1):.3f}", f"{med(2):.3f}")
    print(f"| {op} | {program} | {rps} {unit} | {med(0):.0f} | {lat[0]} | {lat[1]} |")
PY

#!/usr/bin/env bash
# Dashboard benchmarks (issue 12), against release builds:
#   (a) the sampler's CPU cost: an idle daemon sampling once a second,
#       its CPU time over SECONDS (default 60) as % of one core
#   (b) history insert throughput and (c) range query latency over 7 days
#       of one-minute data (daemon/benches/metrics_history.rs)
#   (d) TUI frame render time at 160x48 and 80x24 (criterion,
#       tui/benches/dashboard.rs)
#   (e) 50 concurrent viewers (`agora metrics watch`, real clients): the
#       daemon's CPU over SECONDS, as % of one core
#
#   scripts/bench-dashboard.sh [SECONDS]
#   BENCH_DASHBOARD_ROWS=ae scripts/bench-dashboard.sh   (only some rows)
#
# The viewers run on the same machine; only the daemon's CPU is counted
# (utime + stime from /proc/PID/stat). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
rows=${BENCH_DASHBOARD_ROWS:-abcde}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# % of one core the process used over SECONDS.
cpu_pct() {
  local pid=$1 t0 t1
  t0=$(cpu_ticks "$pid")
  sleep "$secs"
  t1=$(cpu_ticks "$pid")
  python3 -c "print(f'{($t1 - $t0) / $ticks / $secs * 100:.3f}')"
}

if [[ $rows == *a* || $rows == *e* ]]; then
  export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/config"
  "$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
    --ready-file "$tmp/ready.json" --log-level warn --metrics-interval 1s &
  daemon=$!
  pids+=("$daemon")
  for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
  addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
  echo bench-password | "$bin" --addr "$addr" register bench --password-stdin >/dev/null
  sleep 2
  echo "| what | % of one core |"
  echo "|---|---:|"
  if [[ $rows == *a* ]]; then
    echo "| (a) idle daemon sampling every 1 s (processes every 5 s), ${secs} s | $(cpu_pct "$daemon") |"
  fi
  if [[ $rows == *e* ]]; then
    for i in $(seq 50); do
      "$bin" --addr "$addr" metrics watch >/dev/null 2>&1 &
      pids+=("$!")
    done
    sleep 3
    echo "| (e) the same daemon with 50 viewers (\`agora metrics watch\`), ${secs} s | $(cpu_pct "$daemon") |"
  fi
  echo
fi

if [[ $rows == *b* || $rows == *c* ]]; then
  echo "(b), (c) history on a real SQLite file (daemon/benches/metrics_history.rs)"
  echo
  cargo bench -p agora-daemon --bench metrics_history --locked -q 2>/dev/null
  echo
fi

if [[ $rows == *d* ]]; then
  echo "(d) TUI frame render (tui/benches/dashboard.rs, criterion: [low mean high])"
  echo
  cargo bench -p agora-tui --bench dashboard --locked -q -- --noplot 2>/dev/null |
    grep -E '^dashboard|time:' | paste - - | sed 's/  */ /g; s/^/    /'
fi

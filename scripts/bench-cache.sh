#!/usr/bin/env bash
# The agora cache against redis-server, both driven by redis-benchmark over
# loopback on this machine.
#
#   scripts/bench-cache.sh
#
# Rows: SET and GET without pipelining, with -P 16, and with 1 KiB values
# (-d 1024); each row runs agora and redis alternately BENCH_ROUNDS times
# and prints the median requests/s of each, the ratio of the medians and
# the lowest and highest per-round ratio (this machine's neighbours are
# noisy: a single run can be off by 15% either way). Then
# memory after 1,000,000 SETs of 64-byte values to distinct keys: INFO
# used_memory and process RSS of both.
#
# Environment:
#   BENCH_N        requests per redis-benchmark run (default 1000000)
#   BENCH_KEYS     keys for the memory row (default 1000000)
#   BENCH_CLIENTS  parallel connections (default 50)
#   BENCH_ROUNDS   alternating runs per row (default 5)
#   AGORA_FLAGS    extra `agora daemon` flags, e.g. "--resp-threads 2"
#   AGORA_BIN      use this binary instead of `cargo build --release -p agora`
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000000}
KEYS=${BENCH_KEYS:-1000000}
CLIENTS=${BENCH_CLIENTS:-50}
ROUNDS=${BENCH_ROUNDS:-5}

need() { # need CMD PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "bench: installing $2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  }
}
need redis-benchmark redis-tools
need redis-cli redis-tools
need redis-server redis-server

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
if [ -z "${AGORA_BIN:-}" ]; then
  cargo build --release -p agora --locked -q
  AGORA_BIN="$CARGO_TARGET_DIR/release/agora"
fi

tmp=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
"$AGORA_BIN" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 \
  --data "$tmp/data" --ready-file "$tmp/ready.json" --log-level warn ${AGORA_FLAGS:-} &
agora=$!
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$tmp" --daemonize no --loglevel warning >"$tmp/redis.log" 2>&1 &
redis=$!
trap 'kill $agora $redis 2>/dev/null; wait $agora $redis 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
aport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resp"].rsplit(":",1)[1])' "$tmp/ready.json")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

# requests/s of one redis-benchmark test (set or get) against a port.
rps() { # rps PORT TEST EXTRA...
  local port=$1 test=$2; shift 2
  redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" -n "$N" -c "$CLIENTS" -q "$@" 2>/dev/null |
    tr '\r' '\n' |
    # Read to the end (no early exit): under pipefail a SIGPIPE in
    # redis-benchmark would abort the script.
    awk -F'[: ]+' '/requests per second/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { v = $i; break } } END { print v }' || true
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "redis: $(redis-server --version | awk '{print $3}'), date: $(date -u +%Y-%m-%dT%H:%MZ), -n $N -c $CLIENTS, server and benchmark on the same machine"
echo
echo "agora flags: ${AGORA_FLAGS:-(defaults)}; $ROUNDS alternating rounds per row, medians"
echo
echo "| test | options | agora req/s | redis req/s | agora/redis | per-round range |"
echo "|---|---|---:|---:|---:|---:|"
for opts in "" "-P 16" "-d 1024"; do
  for test in set get; do
    as=() rs=()
    for _ in $(seq "$ROUNDS"); do
      # shellcheck disable=SC2086
      as+=("$(rps "$aport" "$test" $opts)")
      # shellcheck disable=SC2086
      rs+=("$(rps "$rport" "$test" $opts)")
    done
    python3 - "$test" "${opts:-—}" "${as[*]}" "${rs[*]}" <<'PY'
import statistics, sys
test, opts, a, r = sys.argv[1:]
a = [float(x) for x in a.split()]
r = [float(x) for x in r.split()]
ratios = [x / y for x, y in zip(a, r)]
ma, mr = statistics.median(a), statistics.median(r)
print(f"| {test.upper()} | {opts} | {ma:,.0f} | {mr:,.0f} | {ma / mr:.2f} | {min(ratios):.2f}–{max(ratios):.2f} |")
PY
  done
done

# Memory: the same KEYS distinct keys with 64-byte values in both.
redis-cli -p "$aport" flushall >/dev/null
redis-cli -p "$rport" flushall >/dev/null
for port in "$aport" "$rport"; do
  redis-benchmark -h 127.0.0.1 -p "$port" -t set -n "$KEYS" -r "$KEYS" -d 64 -c "$CLIENTS" -P 16 -q >/dev/null 2>&1
done
info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
a_keys=$(redis-cli -p "$aport" dbsize); r_keys=$(redis-cli -p "$rport" dbsize)
a_used=$(info "$aport" memory used_memory); r_used=$(info "$rport" memory used_memory)
a_rss=$(( $(rss_kb "$agora") * 1024 )); r_rss=$(( $(rss_kb "$redis") * 1024 ))
mb() { python3 -c "print('%.1f MiB' % ($1 / 1048576))"; }
echo
echo "| memory ($KEYS SETs, -r $KEYS, 64-byte values) | agora | redis | agora/redis |"
echo "|---|---:|---:|---:|"
echo "| keys | $a_keys | $r_keys | |"
echo "| used_memory | $(mb "$a_used") | $(mb "$r_used") | $(python3 -c "print('%.2f' % ($a_used / $r_used))") |"
echo "| RSS | $(mb "$a_rss") | $(mb "$r_rss") | $(python3 -c "print('%.2f' % ($a_rss / $r_rss))") |"

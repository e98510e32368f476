#!/usr/bin/env bash
# The agora cache against redis-server, both driven by redis-benchmark over
# loopback on this machine.
#
#   scripts/bench-cache.sh
#
# Sections (BENCH_SECTIONS, default all four, in this order):
#   setget  SET and GET without pipelining, with -P 16, and with 1 KiB
#           values (-d 1024); each row runs agora and redis alternately
#           BENCH_ROUNDS times and prints the median requests/s of each,
#           the ratio of the medians and the lowest and highest per-round
#           ratio (this machine's neighbours are noisy: a single run can be
#           off by 15% either way).
#   memory  after 1,000,000 SETs of 64-byte values to distinct keys: INFO
#           used_memory and process RSS of both.
#   list    redis-benchmark's default test list (PING_INLINE, PING_MBULK,
#           SET, GET, INCR, LPUSH, RPUSH, LPOP, RPOP, SADD, HSET, SPOP,
#           ZADD, ZPOPMIN, LPUSH for LRANGE, LRANGE_100/300/500/600, MSET),
#           the whole list per run as redis-benchmark runs it (so LPOP pops
#           what LPUSH pushed), -P 1 and -P 16, alternating servers,
#           BENCH_ROUNDS rounds, medians per row.
#   types   memory of BENCH_KEYS sets and BENCH_KEYS sorted sets of 10
#           members each (fresh servers per type): used_memory and RSS
#           growth over the empty server, per key.
#
# Environment:
#   BENCH_N        requests per redis-benchmark run (default 1000000)
#   BENCH_KEYS     keys for the memory row (default 1000000)
#   BENCH_CLIENTS  parallel connections (default 50)
#   BENCH_ROUNDS   alternating runs per row (default 5)
#   BENCH_LIST_N   requests per test in the list section without
#                  pipelining (default 100000; LRANGE_600 alone takes ~5 s
#                  at that size)
#   BENCH_LIST_PN  requests per test in the list section with -P 16
#                  (default 10 x BENCH_LIST_N: at -n 50000 a pipelined
#                  row is over in 40 ms, too short to judge; at 1000000
#                  the short rows last ~1 s, LRANGE_600 ~50 s)
#   BENCH_LIST_OPTS which list runs: "1", "16" or "1 16" (default), the
#                  pipeline depths
#   BENCH_SECTIONS which sections, e.g. "list types" (default all)
#   AGORA_FLAGS    extra `agora daemon` flags, e.g. "--resp-threads 2"
#   AGORA_BIN      use this binary instead of `cargo build --release -p agora`
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000000}
KEYS=${BENCH_KEYS:-1000000}
CLIENTS=${BENCH_CLIENTS:-50}
ROUNDS=${BENCH_ROUNDS:-5}
LIST_N=${BENCH_LIST_N:-100000}
LIST_PN=${BENCH_LIST_PN:-$((10 * LIST_N))}
LIST_OPTS=" ${BENCH_LIST_OPTS:-1 16} "
SECTIONS=" ${BENCH_SECTIONS:-setget memory list types} "

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
agora='' redis=''
stop_servers() {
  [ -n "$agora$redis" ] || return 0
  kill $agora $redis 2>/dev/null || true
  wait $agora $redis 2>/dev/null || true
  agora='' redis=''
}
trap 'stop_servers; rm -rf "$tmp"' EXIT
# start_servers: a fresh agora and a fresh redis-server (empty data dirs);
# sets aport/rport and the pids agora/redis.
start_servers() {
  stop_servers
  rm -rf "$tmp/data" "$tmp/ready.json" "$tmp/dump.rdb"
  rport=$(free_port)
  "$AGORA_BIN" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 \
    --data "$tmp/data" --ready-file "$tmp/ready.json" --log-level warn ${AGORA_FLAGS:-} &
  agora=$!
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --daemonize no --loglevel warning >"$tmp/redis.log" 2>&1 &
  redis=$!
  for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
  aport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resp"].rsplit(":",1)[1])' "$tmp/ready.json")
  for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
start_servers

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
if [[ $SECTIONS == *" setget "* ]]; then
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
fi

info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
mb() { python3 -c "print('%.1f MiB' % ($1 / 1048576))"; }

if [[ $SECTIONS == *" memory "* ]]; then
# Memory: the same KEYS distinct keys with 64-byte values in both.
redis-cli -p "$aport" flushall >/dev/null
redis-cli -p "$rport" flushall >/dev/null
for port in "$aport" "$rport"; do
  redis-benchmark -h 127.0.0.1 -p "$port" -t set -n "$KEYS" -r "$KEYS" -d 64 -c "$CLIENTS" -P 16 -q >/dev/null 2>&1
done
a_keys=$(redis-cli -p "$aport" dbsize); r_keys=$(redis-cli -p "$rport" dbsize)
a_used=$(info "$aport" memory used_memory); r_used=$(info "$rport" memory used_memory)
a_rss=$(( $(rss_kb "$agora") * 1024 )); r_rss=$(( $(rss_kb "$redis") * 1024 ))
echo
echo "| memory ($KEYS SETs, -r $KEYS, 64-byte values) | agora | redis | agora/redis |"
echo "|---|---:|---:|---:|"
echo "| keys | $a_keys | $r_keys | |"
echo "| used_memory | $(mb "$a_used") | $(mb "$r_used") | $(python3 -c "print('%.2f' % ($a_used / $r_used))") |"
echo "| RSS | $(mb "$a_rss") | $(mb "$r_rss") | $(python3 -c "print('%.2f' % ($a_rss / $r_rss))") |"
fi

# The default test list: one whole redis-benchmark run per server and
# round, every row's requests/s parsed from its -q output.
list_run() { # list_run PORT N EXTRA... -> "NAME rps" lines
  local port=$1 n=$2; shift 2
  redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -c "$CLIENTS" -q "$@" 2>/dev/null |
    tr '\r' '\n' |
    awk -F': ' '/requests per second/ { split($2, f, " "); name = $1; gsub(/ /, "_", name); print name, f[1] }' || true
}
if [[ $SECTIONS == *" list "* ]]; then
  start_servers
  echo
  echo "redis-benchmark default test list, -c $CLIENTS, -n $LIST_N unpipelined and -n $LIST_PN at -P 16, $ROUNDS alternating rounds, medians; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| test | options | agora req/s | redis req/s | agora/redis | per-round range | per-round ratios |"
  echo "|---|---|---:|---:|---:|---:|---|"
  for depth in 1 16; do
    [[ $LIST_OPTS == *" $depth "* ]] || continue
    if [ "$depth" = 1 ]; then opts='' n=$LIST_N; else opts="-P $depth" n=$LIST_PN; fi
    : >"$tmp/list.a"; : >"$tmp/list.r"
    for round in $(seq "$ROUNDS"); do
      # shellcheck disable=SC2086
      list_run "$aport" "$n" $opts | sed "s/^/$round /" >>"$tmp/list.a"
      # shellcheck disable=SC2086
      list_run "$rport" "$n" $opts | sed "s/^/$round /" >>"$tmp/list.r"
    done
    python3 - "${opts:-—}" "$tmp/list.a" "$tmp/list.r" <<'PY'
import statistics, sys
opts, fa, fr = sys.argv[1:]
def load(path):
    rows = {}
    order = []
    for line in open(path):
        parts = line.split()
        if len(parts) != 3:
            continue
        rnd, name, rps = parts
        if name not in rows:
            rows[name] = {}
            order.append(name)
        rows[name][rnd] = float(rps)
    return order, rows
order, a = load(fa)
_, r = load(fr)
worst = None
for name in order:
    rounds = sorted(set(a[name]) & set(r.get(name, {})))
    if not rounds:
        print(f"| {name} | {opts} | missing | | | |")
        continue
    xs = [a[name][k] for k in rounds]
    ys = [r[name][k] for k in rounds]
    ratios = [x / y for x, y in zip(xs, ys)]
    ma, mr = statistics.median(xs), statistics.median(ys)
    ratio = ma / mr
    worst = ratio if worst is None else min(worst, ratio)
    each = ", ".join(f"{x:.2f}" for x in ratios)
    print(f"| {name} | {opts} | {ma:,.0f} | {mr:,.0f} | {ratio:.2f} | {min(ratios):.2f}–{max(ratios):.2f} | {each} |")
print(f"| lowest median ratio | {opts} | | | {worst:.2f} | | |" if worst is not None else f"| no rows | {opts} | | | | | |")
PY
    echo "| load average after | $opts | $(cut -d' ' -f1-3 /proc/loadavg) | | | | |"
  done
fi

# Memory per key for sets and sorted sets of 10 members: the commands go
# through redis-cli --pipe (RESP generated here), fresh servers per type.
if [[ $SECTIONS == *" types "* ]]; then
  python3 - "$KEYS" "$tmp" <<'PY'
import sys
keys, tmp = int(sys.argv[1]), sys.argv[2]
def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
members = [b"member:%d" % i for i in range(10)]
with open(f"{tmp}/sets.resp", "wb") as f:
    for k in range(keys):
        f.write(resp([b"SADD", b"set:%d" % k] + members))
with open(f"{tmp}/zsets.resp", "wb") as f:
    for k in range(keys):
        args = [b"ZADD", b"zset:%d" % k]
        for i, m in enumerate(members):
            args += [b"%d" % (i * 7 + k % 13), m]
        f.write(resp(args))
PY
  echo
  echo "| memory per key ($KEYS keys, 10 members each) | agora used_memory | redis used_memory | agora/redis | agora RSS | redis RSS | agora/redis |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for type in sets zsets; do
    start_servers
    a_used0=$(info "$aport" memory used_memory); r_used0=$(info "$rport" memory used_memory)
    a_rss0=$(( $(rss_kb "$agora") * 1024 )); r_rss0=$(( $(rss_kb "$redis") * 1024 ))
    redis-cli -p "$aport" --pipe <"$tmp/$type.resp" >/dev/null
    redis-cli -p "$rport" --pipe <"$tmp/$type.resp" >/dev/null
    a_keys=$(redis-cli -p "$aport" dbsize); r_keys=$(redis-cli -p "$rport" dbsize)
    [ "$a_keys" = "$KEYS" ] && [ "$r_keys" = "$KEYS" ] || echo "warning: $type: agora has $a_keys keys, redis $r_keys" >&2
    a_used=$(( $(info "$aport" memory used_memory) - a_used0 )); r_used=$(( $(info "$rport" memory used_memory) - r_used0 ))
    a_rss=$(( $(rss_kb "$agora") * 1024 - a_rss0 )); r_rss=$(( $(rss_kb "$redis") * 1024 - r_rss0 ))
    python3 - "$type" "$KEYS" "$a_used" "$r_used" "$a_rss" "$r_rss" <<'PY'
import sys
t, keys, au, ru, ar, rr = sys.argv[1], *map(int, sys.argv[2:])
print(f"| {t} | {au/keys:.0f} B | {ru/keys:.0f} B | {au/ru:.2f} | {ar/keys:.0f} B | {rr/keys:.0f} B | {ar/rr:.2f} |")
PY
  done
fi

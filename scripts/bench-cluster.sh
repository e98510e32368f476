#!/usr/bin/env bash
# The agora cluster (docs/CLUSTER.md): a 3-node cluster on 127.0.0.1
# without replication (N=1) and with it (N=3, W=2, R=2) against a single
# node, all driven by redis-benchmark in the same run (alternating,
# BENCH_ROUNDS times), the bytes sent between nodes per replicated write,
# then the time to detect a killed node.
# Each round also drives a 3-node cluster in proxy mode (--cluster-mode
# proxy, N=3) with a plain redis-benchmark (no --cluster) against one
# node, which forwards the commands for keys it is not the primary of.
#
#   scripts/bench-cluster.sh
#
# Environment:
#   BENCH_N        requests per redis-benchmark run (default 200000)
#   BENCH_CLIENTS  parallel clients (default 50)
#   BENCH_ROUNDS   alternations of single/cluster (default 3)
#   BENCH_JOIN_KEYS keys loaded before a fourth node joins (default
#                  1000000; 0 skips the join)
#   BENCH_SECTIONS which parts: "rounds bytes join dead" (default all)
#   BENCH_RUNS     which runs each round makes: "single N1 N3 proxy"
#                  (default all)
#   BENCH_PIPES    pipeline depths (default "1 16")
#   BENCH_TESTS    redis-benchmark tests (default "set,get")
#   AGORA_BIN      a prebuilt agora (default: cargo build --release)
#   AGORA_FLAGS    extra `agora daemon` flags for every node, e.g.
#                  "--resp-busy-poll 0"
#
# Prints one line per run (rps and p99 for SET and GET, -P 1 and -P 16),
# the replication bytes per write (from /metrics), then the detection time of a SIGKILLed node with
# --cluster-failure-timeout 1s, and the time a fourth node takes to get its
# share (by anti-entropy) of BENCH_JOIN_KEYS keys. Record the figures in docs/BENCHMARKS.md
# with the machine, the date and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_N:-200000}
CLIENTS=${BENCH_CLIENTS:-50}
ROUNDS=${BENCH_ROUNDS:-3}
JOIN_KEYS=${BENCH_JOIN_KEYS:-1000000}
SECTIONS=" ${BENCH_SECTIONS:-rounds bytes join dead} "
RUNS=" ${BENCH_RUNS:-single N1 N3 proxy} "
PIPES=${BENCH_PIPES:-1 16}
TESTS=${BENCH_TESTS:-set,get}

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

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
if [ -z "${AGORA_BIN:-}" ]; then
  cargo build --release -p agora --locked -q
  AGORA_BIN="$CARGO_TARGET_DIR/release/agora"
fi

tmp=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT

field() { # field FILE KEY: a value of the ready file
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
wait_ready() { # wait_ready FILE
  for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "bench: no ready file $1" >&2; exit 1
}
# start NAME [cluster flags…]: a daemon with its data in $tmp/NAME; prints
# its ready file's path.
start() {
  local name=$1; shift
  rm -rf "$tmp/$name"; mkdir -p "$tmp/$name"
  "$AGORA_BIN" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 \
    --data "$tmp/$name/data" --ready-file "$tmp/$name/ready.json" --log-level warn "$@" \
    ${AGORA_FLAGS:-} 2>"$tmp/$name/log" &
  pids+=($!)
  echo $! >"$tmp/$name/pid"
  wait_ready "$tmp/$name/ready.json"
}
resp_port() { field "$tmp/$1/ready.json" resp | sed 's/.*://'; }

N1=(--replicas 1 --write-quorum 1 --read-quorum 1)
N3=(--replicas 3 --write-quorum 2 --read-quorum 2)
# start_cluster [daemon flags…]: three nodes (default: N=1).
start_cluster() {
  local q=("$@"); [ ${#q[@]} -gt 0 ] || q=("${N1[@]}")
  start n1 --cluster bench --node-id n1 --cluster-listen 127.0.0.1:0 --cluster-failure-timeout 1s "${q[@]}"
  local seed; seed=$(field "$tmp/n1/ready.json" cluster)
  start n2 --cluster bench --node-id n2 --cluster-listen 127.0.0.1:0 --cluster-failure-timeout 1s --seeds "$seed" "${q[@]}"
  start n3 --cluster bench --node-id n3 --cluster-listen 127.0.0.1:0 --cluster-failure-timeout 1s --seeds "$seed" "${q[@]}"
  local p; p=$(resp_port n1)
  for _ in $(seq 400); do
    redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_size:3' && return 0
    sleep 0.05
  done
  echo "bench: the cluster did not converge" >&2; exit 1
}

# bench LABEL PORT [--cluster]: SET and GET at -P 1 and -P 16.
bench() {
  local label=$1 port=$2; shift 2
  for pipe in $PIPES; do
    redis-benchmark -h 127.0.0.1 -p "$port" "$@" -t "$TESTS" -n "$N" -c "$CLIENTS" -P "$pipe" --csv 2>/dev/null |
      python3 -c '
import csv, sys
label, pipe = sys.argv[1], sys.argv[2]
# With --cluster, redis-benchmark lists the masters before the CSV.
rows = [r for r in csv.reader(sys.stdin) if len(r) >= 7 and r[0] in ("SET", "GET")]
for r in rows:
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    print(f"{label:10} -P {pipe:>2}  {r[0]:4} {float(r[1]):>10.0f} rps  p99 {r[6]} ms")
' "$label" "$pipe"
  done
}

echo "# $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)  N=$N clients=$CLIENTS"
for round in $(seq "$ROUNDS"); do
  [[ $SECTIONS == *" rounds "* ]] || break
  if [[ $RUNS == *" single "* ]]; then
    start single
    bench single "$(resp_port single)"
    stop_all
  fi
  if [[ $RUNS == *" N1 "* ]]; then
    start_cluster "${N1[@]}"
    bench cluster-N1 "$(resp_port n1)" --cluster
    stop_all
  fi
  if [[ $RUNS == *" N3 "* ]]; then
    start_cluster "${N3[@]}"
    bench N3-W2 "$(resp_port n1)" --cluster
    stop_all
  fi
  if [[ $RUNS == *" proxy "* ]]; then
    start_cluster "${N3[@]}" --cluster-mode proxy
    bench proxy-N3 "$(resp_port n1)"
    stop_all
  fi
done

# Replication bytes: SETs of 3-byte values (redis-benchmark's default -d)
# on the N=3 cluster; each is copied to two replicas.
if [[ $SECTIONS == *" bytes "* ]]; then
start_cluster "${N3[@]}"
redis-benchmark -h 127.0.0.1 -p "$(resp_port n1)" --cluster -t set -n "$N" -c "$CLIENTS" -q >/dev/null 2>&1
python3 - "$N" "$tmp"/n*/ready.json <<'PY'
import json, sys, urllib.request
n, files = int(sys.argv[1]), sys.argv[2:]
sent = frames = 0
for f in files:
    http = json.load(open(f))["http"]
    for line in urllib.request.urlopen(f"http://{http}/metrics").read().decode().splitlines():
        if line.startswith("agora_cluster_replication_sent_bytes_total "):
            sent += int(line.split()[1])
        elif line.startswith("agora_cluster_replication_sent_frames_total "):
            frames += int(line.split()[1])
print(f"replication: {sent} bytes in {frames} frames for {n} SETs: "
      f"{sent / max(frames, 1):.0f} bytes per copy, {sent / n:.0f} bytes per write (N=3: two copies)")
PY
stop_all
fi

# A fourth node joins an N=3 cluster holding JOIN_KEYS keys: the time until
# it holds its share (it becomes a replica of about 3/4 of the slots, and
# anti-entropy copies their keys), while a GET load runs against n1.
if [[ $SECTIONS == *" join "* ]] && [ "$JOIN_KEYS" -gt 0 ]; then
start_cluster "${N3[@]}"
p1=$(resp_port n1)
# redis-benchmark --cluster puts every key of a node in one hash tag's
# slot; the join must move keys spread over all slots, so they are
# loaded with redis-cli --pipe, each key sent to its slot's primary.
python3 - "$JOIN_KEYS" "$tmp" "$(resp_port n1)" "$(resp_port n2)" "$(resp_port n3)" <<'PY'
import subprocess, sys
n, tmp, ports = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def table_entry(b):
    crc = b << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
    return crc & 0xFFFF
TABLE = [table_entry(b) for b in range(256)]
def crc16(data):  # CRC16-XMODEM, Redis Cluster's key hash
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ TABLE[(crc >> 8) ^ b]
    return crc
assert crc16(b"123456789") == 0x31C3
# Which port is each slot's primary: CLUSTER SLOTS, flattened by redis-cli.
owner = [None] * 16384
out = subprocess.run(["redis-cli", "-p", ports[0], "--json", "cluster", "slots"],
                     capture_output=True, text=True, check=True).stdout
import json
for start, end, primary, *_ in json.loads(out):
    for s in range(start, end + 1):
        owner[s] = str(primary[1])
files = {p: open(f"{tmp}/load-{p}", "wb") for p in ports}
for i in range(n):
    k = f"key:{i:010d}".encode()
    slot = crc16(k) & 16383
    f = files[owner[slot]]
    f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n" % (len(k), k))
for f in files.values():
    f.close()
procs = [subprocess.Popen(f"redis-cli -p {p} --pipe < {tmp}/load-{p}", shell=True,
                          stdout=subprocess.DEVNULL) for p in ports]
for p in procs:
    p.wait()
PY
total=$(redis-cli -p "$p1" dbsize)
seed=$(field "$tmp/n1/ready.json" cluster)
redis-benchmark -h 127.0.0.1 -p "$p1" --cluster -t get -n 100000000 -r $((JOIN_KEYS * 100)) \
  -c 10 -q >"$tmp/get-load" 2>&1 &
load=$!
t0=$(date +%s.%N)
start n4 --cluster bench --node-id n4 --cluster-listen 127.0.0.1:0 --cluster-failure-timeout 1s \
  --seeds "$seed" "${N3[@]}"
p4=$(resp_port n4)
last=-1 since=$t0 now=$t0
for _ in $(seq 6000); do
  now=$(date +%s.%N)
  n=$(redis-cli -p "$p4" dbsize 2>/dev/null || echo 0)
  if [ "$n" != "$last" ]; then last=$n since=$now; fi
  # Done once the count has not moved for 3 s.
  python3 -c "import sys; sys.exit(0 if $now - $since >= 3 and $last > 0 else 1)" && break
  sleep 0.1
done
kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true
http4=$(field "$tmp/n4/ready.json" http)
pulled=$(curl -s "http://$http4/metrics" | awk '/^agora_cluster_antientropy_pulled_keys_total /{print $2}')
python3 -c "print(f'join: n4 holds {$last} of {$total} keys ({$last / $total:.0%}; anti-entropy pulled ${pulled:-0}) {($since - $t0):.2f} s after it started, while 10 clients ran GETs')"
# The other three then hand over and drop the slots they no longer
# replicate: done when every key is on exactly three nodes.
for _ in $(seq 600); do
  sum=0
  for n in n1 n2 n3 n4; do sum=$((sum + $(redis-cli -p "$(resp_port $n)" dbsize))); done
  [ "$sum" -eq $((3 * total)) ] && break
  sleep 0.1
done
t2=$(date +%s.%N)
python3 -c "print(f'join: {$sum} copies of {$total} keys on the four nodes ({$sum / $total:.2f} per key) {($t2 - $t0):.2f} s after n4 started')"
errors=$(grep -c -i 'error' "$tmp/get-load" || true)
echo "join: GET load errors during the join: $errors"
stop_all
fi

[[ $SECTIONS == *" dead "* ]] || exit 0
# Time to detect a dead node: SIGKILL n3, poll n1 until it says fail.
start_cluster
id3=$(redis-cli -p "$(resp_port n3)" cluster myid)
kill -9 "$(cat "$tmp/n3/pid")"
t0=$(date +%s.%N)
p1=$(resp_port n1)
for _ in $(seq 2000); do
  redis-cli -p "$p1" cluster nodes | grep "^$id3" | grep -q 'master,fail ' && break
  sleep 0.01
done
t1=$(date +%s.%N)
python3 -c "print(f'dead node detected after {($t1 - $t0):.2f} s (failure timeout 1 s)')"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

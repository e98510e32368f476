#!/usr/bin/env bash
# SSH benchmarks (issue 19), against a release build, with OpenSSH's client:
#   (a) daemon anonymous RSS per idle SSH session with the TUI (after one
#       warm-up session of each kind: code pages and one-off state are not
#       per session), against per idle
#       native connection (`agora cache subscribe`, a connection that only
#       waits): N of each, RSS after minus before, divided by N
#   (b) time from starting `ssh` (TCP connect, key exchange, public-key
#       authentication, PTY, shell) to the first frame of the TUI on its
#       stdout (the tab bar's "agora" drawn): median and worst of RUNS
#   (c) the daemon's CPU per session, N sessions on the Dashboard tab
#       (one redraw a second, --metrics-interval 1s), over SECONDS, minus
#       the idle daemon's, as % of one core per session
#
#   scripts/bench-ssh.sh [N] [SECONDS] [RUNS]     (defaults 20, 20, 20)
#   BENCH_SSH_BIN=path/to/agora scripts/bench-ssh.sh   (that binary, no build)
#
# Clients run on the same machine; only the daemon is measured (RSS from
# /proc/PID/status, utime + stime from /proc/PID/stat). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
secs=${2:-20}
runs=${3:-20}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
if [ -n "${BENCH_SSH_BIN:-}" ]; then
  bin=$BENCH_SSH_BIN
else
  cargo build --release -p agora --locked -q
  bin="$CARGO_TARGET_DIR/release/agora"
fi
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
echo "binary: $bin"
echo "N=$n sessions, ${secs}s CPU window, $runs connection runs"
echo

export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/config" XDG_DATA_HOME="$tmp/home/share"
mkdir -p "$HOME"
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn --metrics-interval 1s \
  --ssh 127.0.0.1:0 --ssh-max-sessions-per-user 0 &
daemon=$!
pids+=("$daemon")
for _ in $(seq 200); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
read -r addr port < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["listen"], r["ssh"].rsplit(":",1)[1])' "$tmp/ready.json")
echo bench-password | "$bin" --addr "$addr" register bench --password-stdin >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
"$bin" --addr "$addr" ssh keys add "$tmp/key.pub" >/dev/null
ssh_opts=(-i "$tmp/key" -p "$port" -F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
export TERM=xterm-256color

# Anonymous memory only (RssAnon): the binary's code pages are file-backed
# and shared, paged in once by the first session of a kind, not per session.
rss_kb() { awk '/^RssAnon/ {print $2}' "/proc/$daemon/status"; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
settle() { sleep 3; }

# (a) memory. One session of each kind first, so what is allocated once
# (lazily initialised statics, the runtime's first blocking threads) is not
# counted per session.
"$bin" --addr "$addr" cache subscribe warm-up >/dev/null 2>&1 &
warm=$!
mkfifo "$tmp/in-warm"
ssh "${ssh_opts[@]}" -tt 127.0.0.1 <"$tmp/in-warm" >/dev/null 2>&1 &
warm_ssh=$!
exec {warm_fd}>"$tmp/in-warm"
settle
kill "$warm" "$warm_ssh" 2>/dev/null || true
exec {warm_fd}>&-
wait "$warm" "$warm_ssh" 2>/dev/null || true
settle
base=$(rss_kb)
native=()
for i in $(seq "$n"); do
  "$bin" --addr "$addr" cache subscribe "bench-$i" >/dev/null 2>&1 &
  native+=($!)
done
settle
with_native=$(rss_kb)
kill "${native[@]}" 2>/dev/null || true
wait "${native[@]}" 2>/dev/null || true
settle
base2=$(rss_kb)
sessions=()
fds=()
for i in $(seq "$n"); do
  # A FIFO as stdin keeps the session open without input; stdout is read
  # (to /dev/null), so the client keeps up.
  mkfifo "$tmp/in-$i"
  ssh "${ssh_opts[@]}" -tt 127.0.0.1 <"$tmp/in-$i" >/dev/null 2>&1 &
  sessions+=($!)
  exec {fd}>"$tmp/in-$i"
  fds+=("$fd")
done
settle
settle
with_ssh=$(rss_kb)
per_native=$(( (with_native - base) / n ))
per_ssh=$(( (with_ssh - base2) / n ))
echo "| (a) daemon anonymous RSS (RssAnon), idle | per connection |"
echo "|---|---:|"
echo "| native connection (\`cache subscribe\`) | ${per_native} KB |"
echo "| SSH session with the TUI (its loopback native connection included) | ${per_ssh} KB |"
echo "| SSH beyond native | $((per_ssh - per_native)) KB |"
echo

# (c) CPU: the sessions switch to the Dashboard tab (Alt-2), which redraws
# on each sample, once a second.
for fd in "${fds[@]}"; do
  printf '\0332' >&"$fd"
done
sleep 3
t0=$(cpu_ticks)
sleep "$secs"
t1=$(cpu_ticks)
for fd in "${fds[@]}"; do
  exec {fd}>&-
done
kill "${sessions[@]}" 2>/dev/null || true
wait "${sessions[@]}" 2>/dev/null || true
settle
t2=$(cpu_ticks)
sleep "$secs"
t3=$(cpu_ticks)
python3 - "$t0" "$t1" "$t2" "$t3" "$ticks" "$secs" "$n" <<'EOF'
import sys
t0, t1, t2, t3, ticks, secs, n = map(float, sys.argv[1:])
busy = (t1 - t0) / ticks / secs * 100
idle = (t3 - t2) / ticks / secs * 100
print("| (c) daemon CPU, Dashboard tab (1 redraw/s) | % of one core |")
print("|---|---:|")
print(f"| {int(n)} sessions | {busy:.2f} |")
print(f"| no session | {idle:.2f} |")
print(f"| per session | {(busy - idle) / n:.3f} |")
print()
EOF

# (b) time to the first frame
python3 - "$runs" "${ssh_opts[@]}" <<'EOF'
import os, statistics, subprocess, sys, time
runs = int(sys.argv[1]); opts = sys.argv[2:]
times = []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen(["ssh", *opts, "-tt", "127.0.0.1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = b""
    while b"agora" not in seen:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        seen += chunk
    times.append((time.monotonic() - t0) * 1000)
    p.stdin.write(b"\x03"); p.stdin.flush()
    p.wait(timeout=10)
times.sort()
print("| (b) `ssh` start to the TUI's first frame | ms |")
print("|---|---:|")
print(f"| median of {runs} | {statistics.median(times):.1f} |")
print(f"| worst | {times[-1]:.1f} |")
EOF
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

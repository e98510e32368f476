#!/usr/bin/env bash
# Benchmark of `agora process` against `rg -c ERROR` and `find | xargs wc -l`.
#
# Generates a seeded corpus of about 1 GB of log lines in about 20,000 files
# with heavy-tailed sizes (many small files, a few of 50-100 MB), then times,
# warm cache, with hyperfine:
#   agora process -g '*.log' --no-ignore --hidden --quiet             (lines, bytes, levels)
#   agora process ... --words                                          (plus words)
#   rg --no-ignore --hidden -g '*.log' -c ERROR                        (the reference)
#   find ... -name '*.log' -print0 | xargs -0 -P2 wc -l
# measures peak RSS with /usr/bin/time -v, and the per-file overhead on
# 20,000 one-line files. Prints a Markdown table.
#
# Environment:
#   AGORA_BIN     use this binary instead of building `cargo build --release -p agora`
#   BENCH_DIR     where to put the corpora (default: a temp dir, removed at the end);
#                 an existing corpus there with the same seed is reused
#   BENCH_SEED    corpus seed (default 42)
#   BENCH_RUNS    hyperfine runs per command and round (default 5)
#   BENCH_ROUNDS  alternating rounds of the main comparison (default 3)
#   BENCH_MB      corpus size in MB (default 1024)
set -euo pipefail

SEED=${BENCH_SEED:-42}
RUNS=${BENCH_RUNS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
MB=${BENCH_MB:-1024}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

need() { # need CMD PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "bench: installing $2" >&2
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}
need hyperfine hyperfine
need rg ripgrep
need python3 python3
[ -x /usr/bin/time ] || need /usr/bin/time time

if [ -z "${AGORA_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -p agora >&2)
    TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
    AGORA_BIN=$TARGET/release/agora
fi
[ -x "$AGORA_BIN" ] || { echo "bench: no agora binary at $AGORA_BIN" >&2; exit 1; }

if [ -n "${BENCH_DIR:-}" ]; then
    WORK=$BENCH_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/agora-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
CORPUS=$WORK/corpus
TINY=$WORK/tiny

# ---------------------------------------------------------------- corpus
gen_stamp="seed=$SEED mb=$MB v1"
if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "$gen_stamp" ]; then
    echo "bench: generating ~${MB} MB corpus in $CORPUS (seed $SEED)" >&2
    rm -rf "$CORPUS" "$TINY"
    python3 - "$CORPUS" "$TINY" "$SEED" "$MB" <<'PY'
import os, random, sys
corpus, tiny, seed, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
TOTAL = mb * 1_000_000
N = 20_000

# A 32 MiB pool of log lines; files are slices of it (wrapping around).
levels = ["INFO"] * 70 + ["DEBUG"] * 15 + ["WARN"] * 8 + ["ERROR"] * 5 + ["TRACE"] * 1 + ["FATAL"] * 1
words = ("request served user session cache miss hit retry timeout upstream connection "
         "closed opened payload bytes latency queue worker job started finished failed "
         "db query slow index rebuild token expired refresh").split()
lines = []
size = 0
t = 1_700_000_000
while size < 32 * 1024 * 1024:
    t += rng.randint(0, 3)
    lvl = rng.choice(levels)
    msg = " ".join(rng.choice(words) for _ in range(rng.randint(3, 16)))
    extra = rng.random()
    if extra < 0.02:
        msg += " retry_on=ERROR"          # not an ERROR line
    elif extra < 0.03:
        msg += " ERROR_BUDGET=0.1"        # not an ERROR line either
    style = rng.random()
    ts = f"2024-{1 + t % 12:02d}-{1 + t % 28:02d}T{t % 24:02d}:{t % 60:02d}:{(t * 7) % 60:02d}.{t % 1000:03d}Z"
    if style < 0.7:
        line = f"{ts} {lvl} [worker-{t % 16}] {msg} id={t}\n"
    elif style < 0.9:
        line = f"ts={ts} level={lvl} msg=\"{msg}\" id={t}\n"
    else:
        line = f"{ts} {lvl:<5} {msg}\n"
    lines.append(line)
    size += len(line)
pool = "".join(lines).encode()
starts = [0]
for l in lines[:-1]:
    starts.append(starts[-1] + len(l))

# Heavy-tailed sizes: four files of 50-100 MB, the rest Pareto-distributed.
big = [50, 65, 80, 100]
big = [b * 1_000_000 * mb // 1024 for b in big]
rest = TOTAL - sum(big)
raw = [min(rng.paretovariate(1.1), 2000.0) for _ in range(N - len(big))]
scale = rest / sum(raw)
sizes = [max(100, int(r * scale)) for r in raw] + big
rng.shuffle(sizes)

def write(path, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    off = starts[rng.randrange(len(starts))]
    with open(path, "wb") as f:
        while n > 0:
            piece = pool[off:off + n]
            f.write(piece)
            n -= len(piece)
            off = 0

for i, n in enumerate(sizes):
    d = f"{corpus}/svc{i % 23:02d}/host{(i // 23) % 11:02d}"
    name = f".hidden-{i}.log" if i % 97 == 0 else f"app-{i}.log"
    write(f"{d}/{name}", n)
# Files the pattern must not take.
for i in range(200):
    write(f"{corpus}/svc{i % 23:02d}/notes-{i}.txt", 2000)

# Per-file overhead corpus: 20,000 one-line files.
for i in range(N):
    d = f"{tiny}/d{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.log", "wb") as f:
        f.write(b"2024-01-01T00:00:00Z INFO tiny file\n")
PY
    echo "$gen_stamp" >"$CORPUS/.stamp"
fi

NFILES=$(find "$CORPUS" -name '*.log' | wc -l)
BYTES=$(find "$CORPUS" -name '*.log' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
echo "bench: corpus $NFILES .log files, $BYTES bytes" >&2

# ---------------------------------------------------------------- timings
# The three main commands run in ROUNDS alternating hyperfine invocations
# (-N: no shell in between), and the ratios are taken within each round:
# this machine's neighbours come and go, and one long block per command
# compares different moments rather than different programs.
AG=("$AGORA_BIN" process "$CORPUS" -g '*.log' --no-ignore --hidden --quiet)
RG=(rg --no-ignore --hidden -g '*.log' -c ERROR "$CORPUS")
for round in $(seq "$ROUNDS"); do
    hyperfine -N --style basic --warmup 1 --runs "$RUNS" -i --export-json "$WORK/main-$round.json" \
        -n "agora process (lines+bytes+levels)" "${AG[*]}" \
        -n "agora process --words" "${AG[*]} --words" \
        -n "rg -c ERROR" "${RG[*]}" >&2
done
WC="find $CORPUS -name '*.log' -print0 | xargs -0 -P2 wc -l"
hyperfine --style basic --warmup 1 --runs "$RUNS" -i --export-json "$WORK/wc.json" \
    -n "find | xargs -P2 wc -l" "$WC" >&2

NTINY=$(find "$TINY" -name '*.log' | wc -l)
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/tiny.json" \
    -n "agora process, $NTINY one-line files" \
    "$AGORA_BIN process $TINY -g '*.log' --quiet" \
    -n "rg -c INFO, $NTINY one-line files" \
    "rg -g '*.log' -c INFO $TINY" >&2

rss() { # peak RSS in KiB of a command
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
RSS_AG=$(rss "$AGORA_BIN" process "$CORPUS" -g '*.log' --no-ignore --hidden --quiet)
RSS_W=$(rss "$AGORA_BIN" process "$CORPUS" -g '*.log' --no-ignore --hidden --quiet --words)
RSS_RG=$(rss rg --no-ignore --hidden -g '*.log' -c ERROR "$CORPUS")

# ---------------------------------------------------------------- report
python3 - "$WORK" "$ROUNDS" "$NTINY" "$RSS_AG" "$RSS_W" "$RSS_RG" "$NFILES" "$BYTES" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ntiny, rss_ag, rss_w, rss_rg, nfiles, nbytes = (int(x) for x in sys.argv[3:9])
runs = [json.load(open(f"{work}/main-{i}.json"))["results"] for i in range(1, rounds + 1)]
wc = json.load(open(f"{work}/wc.json"))["results"][0]
tiny = json.load(open(f"{work}/tiny.json"))["results"]
names = [r["command"] for r in runs[0]]
rss = {"agora process (lines+bytes+levels)": rss_ag, "agora process --words": rss_w, "rg -c ERROR": rss_rg}
goal = {"agora process (lines+bytes+levels)": "<= 1.0", "agora process --words": "<= 2.0"}
print(f"Corpus: {nfiles} .log files, {nbytes / 1e9:.2f} GB, warm cache; {rounds} rounds, medians.\n")
print("| command | mean [s] | vs rg -c ERROR | per-round ratios | goal | peak RSS |")
print("|---|---:|---:|---|---|---:|")
for name in names:
    means = [next(r["mean"] for r in rnd if r["command"] == name) for rnd in runs]
    rgs = [next(r["mean"] for r in rnd if r["command"] == "rg -c ERROR") for rnd in runs]
    ratios = [m / g for m, g in zip(means, rgs)]
    m = rss.get(name)
    print(f"| {name} | {statistics.median(means):.3f} | {statistics.median(ratios):.2f} | "
          f"{' '.join('%.2f' % x for x in ratios)} | {goal.get(name, '')} | "
          f"{'%.1f MiB' % (m / 1024) if m else ''} |")
rg_med = statistics.median(next(r["mean"] for r in rnd if r["command"] == "rg -c ERROR") for rnd in runs)
print(f"| find \\| xargs -P2 wc -l | {wc['mean']:.3f} | {wc['mean'] / rg_med:.2f} | | | |")
print()
print("| per-file overhead | mean [s] | per file |")
print("|---|---:|---:|")
for r in tiny:
    print(f"| {r['command']} | {r['mean']:.3f} | {r['mean'] / ntiny * 1e6:.1f} µs |")
PY
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed "s/^ //"); $(rg --version | sed -n 1p); $(hyperfine --version)"

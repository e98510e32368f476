#!/usr/bin/env bash
# Runs each fuzz target briefly (default 30 s): the native frame decoder,
# the RESP decoder and the cache's command dispatcher (arbitrary argument
# vectors for every command), on libFuzzer via cargo-fuzz. Installs cargo-fuzz if
# missing. cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP lets
# the machine's stable toolchain accept them.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../tests/fuzz"
secs=${1:-30}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target-fuzz}"
for target in wire_frames resp_decoder cache_commands; do
  echo "== fuzzing $target for ${secs}s"
  leaks=1
  # mlua 0.12.2 leaks one 16-byte shared reference counter when a cloned
  # Lua reference (a cached script's function, the sandbox's environment)
  # outlives its interpreter, which SCRIPT FLUSH / FUNCTION FLUSH replace:
  # LeakSanitizer stops the run at the first such input, within a second.
  # Bounded (one counter per reference per flush), outside our code; leak
  # detection stays on for the other targets.
  [ "$target" = cache_commands ] && leaks=0
  cargo fuzz run --fuzz-dir . "$target" -- -max_total_time="$secs" -max_len=4096 \
    -detect_leaks="$leaks" 2>&1 |
    grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY|.*panicked)' || true
  # cargo fuzz exits non-zero on a finding; re-check the artifacts
  # directory for every kind (crash, leak, timeout, out of memory).
  if ls "artifacts/$target"/{crash,leak,timeout,oom}-* >/dev/null 2>&1; then
    echo "fuzz: $target found a failing input; see tests/fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzz: no crashes"

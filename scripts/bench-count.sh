#!/usr/bin/env bash
# Criterion benchmark of `agora process`'s counter in memory
# (cli/benches/count.rs): 16 MiB of synthetic log lines, fed in 64 KiB
# pieces; lines+bytes+levels, and with --words.
#   scripts/bench-count.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo bench -p agora --bench count --locked -- --warm-up-time 1 --measurement-time 3 2>&1 |
  grep -E '^count/|time:|thrpt:'

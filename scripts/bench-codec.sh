#!/usr/bin/env bash
# Criterion benchmark of frame encode/decode (wire/benches/codec.rs).
#   scripts/bench-codec.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo bench -p agora-wire --bench codec --locked -- --warm-up-time 1 --measurement-time 3 2>&1 |
  grep -E '^codec/|time:|thrpt:'

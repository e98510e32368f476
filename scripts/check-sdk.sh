#!/usr/bin/env bash
# Release readiness of the Rust SDK, agora-wire (docs/SDK.md): its docs
# build without warnings, it builds with the declared MSRV, `cargo publish
# --dry-run` passes, and `cargo semver-checks` finds no breaking change
# against the saved baseline (wire/semver-baseline/: the packaged last
# release; once a version is on crates.io, compare with the registry's).
# Installs the MSRV toolchain (rustup) and cargo-semver-checks when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"

echo "== cargo doc -p agora-wire (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -q -p agora-wire --no-deps --locked

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
echo "== MSRV: cargo +$msrv check -p agora-wire --all-targets"
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$msrv" --profile minimal >/dev/null
fi
# Its own target directory: another compiler's artefacts would evict ours.
CARGO_TARGET_DIR="$HOME/.cache/agora/msrv-target" cargo "+$msrv" check -q -p agora-wire \
  --all-targets --locked

echo "== cargo publish --dry-run -p agora-wire"
cargo publish -q --dry-run -p agora-wire --locked --allow-dirty

semver_version=0.51.0
baseline=$(ls wire/semver-baseline/agora-wire-*.crate)
echo "== cargo semver-checks against $baseline"
if [[ "$(cargo semver-checks --version 2>/dev/null)" != *"$semver_version"* ]]; then
  echo "installing cargo-semver-checks $semver_version (a few minutes, once)"
  cargo install -q cargo-semver-checks --version "$semver_version" --locked
fi
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$baseline" -C "$unpacked"
cargo semver-checks check-release -p agora-wire --baseline-root "$unpacked"/agora-wire-*

#!/usr/bin/env bash
# Builds what a release ships, into OUT_DIR (default dist/):
#   agora-VERSION-TARGET.tar.gz   the stripped binary, its man pages, shell
#                                 completions (bash, zsh, fish), README.md,
#                                 CHANGELOG.md and the licences
#   agora-VERSION-TARGET.debug    the binary's debug info, split off; gdb and
#                                 addr2line find it through the binary's
#                                 .gnu_debuglink when it sits beside it or
#                                 under /usr/lib/debug
#   SHA256SUMS                    checksums of both
# and prints the sizes. The build uses the `dist` profile (Cargo.toml: fat
# LTO, one codegen unit); AGORA_DIST_PROFILE=release builds quicker and
# larger. SOURCE_DATE_EPOCH, when set, fixes the build date `agora
# --version` prints and the archive's timestamps (reproducible archives).
#
# Usage: scripts/dist.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
profile="${AGORA_DIST_PROFILE:-dist}"
target_dir="${CARGO_TARGET_DIR:-target}"

if ! command -v objcopy >/dev/null; then
  apt-get install -y -qq binutils >/dev/null
fi

cargo build --profile "$profile" --locked -q -p agora
bin="$target_dir/$profile/agora"
version=$("$bin" -V | awk '{print $2}')
triple=$(rustc -vV | sed -n 's/^host: //p')
name="agora-$version-$triple"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/man" "$dir/completions" "$out"

# Debug info off, a link to it in: `objcopy --only-keep-debug`, then the
# binary stripped of everything (symbols too) with .gnu_debuglink naming
# the .debug file (its CRC included, so a mismatched file is ignored).
cp "$bin" "$stage/$name.debug.src"
objcopy --only-keep-debug "$stage/$name.debug.src" "$out/$name.debug"
objcopy --strip-all --add-gnu-debuglink="$out/$name.debug" \
  "$stage/$name.debug.src" "$dir/agora"
chmod 0755 "$dir/agora"

"$dir/agora" man "$dir/man" >/dev/null
"$dir/agora" completions bash >"$dir/completions/agora.bash"
"$dir/agora" completions zsh >"$dir/completions/_agora"
"$dir/agora" completions fish >"$dir/completions/agora.fish"
cp README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE "$dir/"

mtime="@${SOURCE_DATE_EPOCH:-$(date +%s)}"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
  -C "$stage" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" "$name.debug" >SHA256SUMS)

size() { numfmt --to=iec-i --suffix=B "$(stat -c %s "$1")"; }
echo "built with profile $profile: $("$dir/agora" --version)"
echo "  binary as built  $(size "$bin")"
echo "  binary stripped  $(size "$dir/agora")"
echo "  debug info       $(size "$out/$name.debug")"
echo "  archive          $(size "$out/$name.tar.gz")  $out/$name.tar.gz"

#!/usr/bin/env bash
# Builds the Debian package: target/debian/certwatch_<version>_<arch>.deb.
#
#   bash packaging/deb.sh
#
# Needs cargo-deb (cargo install cargo-deb --locked), gzip and dpkg-deb.
# Steps: build certwatch, certwatch-host and certwatchd each with its own
# `cargo build -p` (as tests/support::bin does: a workspace build would
# unify features and ship a CLI linked with the daemon's stack) into
# target/shipped/; generate with the built certwatch its man pages, the
# completions, the systemd user unit (ExecStart=/usr/bin/certwatchd) and
# the host manifests (path /usr/lib/certwatch/certwatch-host), plus the
# extension's packages, into target/shipped/release/deb-assets/; then
# `cargo deb --no-build` with [package.metadata.deb] of cli/Cargo.toml.
# Prints the .deb's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# = 0 ] || { echo "usage: $0" >&2; exit 2; }
command -v cargo-deb >/dev/null || { echo "deb.sh: cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 3; }

export CARGO_TARGET_DIR="$PWD/target/shipped"
out="$CARGO_TARGET_DIR/release"
for pair in certwatch-cli:certwatch certwatch-host:certwatch-host certwatchd:certwatchd; do
  cargo build --quiet --release -p "${pair%%:*}" --bin "${pair##*:}"
done

cw="$out/certwatch"
assets="$out/deb-assets"
rm -rf "$assets"
mkdir -p "$assets"/{man,completions,hosts,extension}

# Man pages: generated ones plus the two hand-written ones, gzip -n (no
# name or time in the header: the same bytes on every build).
"$cw" man --out "$assets/man" >/dev/null
cp packaging/man/certwatchd.1 packaging/man/certwatch-host.1 "$assets/man/"
gzip -9n "$assets"/man/*.1

"$cw" completions bash >"$assets/completions/certwatch"
"$cw" completions zsh >"$assets/completions/_certwatch"
"$cw" completions fish >"$assets/completions/certwatch.fish"
"$cw" completions elvish >"$assets/completions/certwatch.elv"
"$cw" completions powershell >"$assets/completions/certwatch.ps1"

# The unit and the manifests as certwatch itself writes them, for the
# packaged paths (the dry runs print a `# …` line naming the file first).
"$cw" service install --dry-run --daemon-path /usr/bin/certwatchd | tail -n +2 >"$assets/certwatchd.service"
grep -qx 'ExecStart=/usr/bin/certwatchd' "$assets/certwatchd.service"
host=/usr/lib/certwatch/certwatch-host
for b in firefox chromium; do
  "$cw" extension install --dry-run --browser "$b" --host-path "$host" | tail -n +2 >"$assets/hosts/$b.json"
  grep -q "\"path\": \"$host\"" "$assets/hosts/$b.json"
done

"$cw" extension package --out "$assets/extension" >/dev/null
gzip -9n -c packaging/debian/changelog >"$assets/changelog.gz"

# cargo-deb strips the binaries (no debug symbols are shipped).
cargo deb --quiet -p certwatch-cli --no-build --output "$PWD/target/debian/" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
deb="$PWD/target/debian/certwatch_${version}_${arch}.deb"
test -f "$deb"

# cargo-deb lists every asset under /etc as a conffile, symlinks too; the
# one there is a symlink (to the Chromium host manifest), which dpkg
# removes with the package only when it is not a conffile. Rebuild the
# .deb without that conffiles entry (an empty list: no conffiles file).
# (.deb files are ar archives of tarballs: the same contents, rebuilt.)
tree="$out/deb-tree"
rm -rf "$tree"
dpkg-deb -R "$deb" "$tree"
if [ -f "$tree/DEBIAN/conffiles" ]; then
  grep -v '^/etc/chromium/native-messaging-hosts/org.certwatch.host.json$' "$tree/DEBIAN/conffiles" >"$tree/conffiles.new" || true
  if [ -s "$tree/conffiles.new" ]; then mv "$tree/conffiles.new" "$tree/DEBIAN/conffiles"; else rm -f "$tree/conffiles.new" "$tree/DEBIAN/conffiles"; fi
fi
# md5sums too (dpkg --verify, debsums), which cargo-deb does not write.
(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$tree/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz -b "$tree" "$deb" >/dev/null
rm -rf "$tree"
echo "$deb"

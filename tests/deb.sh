#!/usr/bin/env bash
# The Debian package, end to end (tests/run-all.sh runs it; as root only):
# build it with packaging/deb.sh, lintian it (errors and warnings fail),
# `dpkg -i` it, check what it installed (`/usr/bin/certwatch --version`,
# a `check` of a loopback TLS site signed by a CA made here, the unit, the
# host manifests, the man pages), `dpkg -r` it, and check that no file of
# the package is left. Skips, saying why, where it cannot run (not root,
# no dpkg, no cargo-deb, certwatch already installed from elsewhere).
#
# It builds the release binaries (the documented command, as shipped): on
# top of the debug build of the tests: cold, ~10 min on 2 cores alone (9 min
# 20 s for the workspace, shared/docs/tech-notes.md), 28 min measured here
# with four engineers' builds sharing the 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "deb: skipped: $*"; exit 0; }
fail() { echo "deb: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "not root (dpkg -i needs root)"
command -v dpkg >/dev/null || skip "dpkg is not installed (not a Debian system)"
command -v cargo-deb >/dev/null || skip "cargo-deb is not installed (cargo install cargo-deb --locked)"
if dpkg-query -W -f='${Status}' certwatch 2>/dev/null | grep -q ' installed$'; then
  skip "a certwatch package is already installed here; not touching it"
fi
# The name clash: some distributions ship an unrelated /usr/bin/certwatch
# (crypto-utils' certificate-expiry mailer). No Debian package does; if
# one ever did, dpkg -i below would refuse to overwrite it.
if owner=$(dpkg -S /usr/bin/certwatch 2>/dev/null); then
  fail "/usr/bin/certwatch already belongs to a package: $owner (see the README, \"The name certwatch\")"
fi

start=$(date +%s)
deb=$(bash packaging/deb.sh | tail -n 1)
echo "deb: built $deb in $(($(date +%s) - start)) s (bash packaging/deb.sh)"
case "$(basename "$deb")" in
  certwatch_*_*.deb) ;;
  *) fail "unexpected file name $deb" ;;
esac

if command -v lintian >/dev/null; then
  # Info tags (I:) remain; each is explained next to [package.metadata.deb]
  # in cli/Cargo.toml.
  lintian --fail-on error,warning --display-info "$deb" || fail "lintian"
  echo "deb: lintian: no error, no warning"
else
  echo "deb: lintian skipped: not installed (apt-get install lintian)"
fi

work=$(mktemp -d)
installed=0
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  [ "$installed" = 1 ] && dpkg -r certwatch >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

dpkg -i "$deb" >/dev/null
installed=1
dpkg -L certwatch >"$work/files"
[ ! -s /var/lib/dpkg/info/certwatch.conffiles ] || fail "conffiles: $(cat /var/lib/dpkg/info/certwatch.conffiles)"
[ -L /etc/chromium/native-messaging-hosts/org.certwatch.host.json ] || fail "the Chromium manifest is not a symlink"
dpkg --verify certwatch || fail "dpkg --verify (md5sums)"
echo "deb: installed $(wc -l <"$work/files") paths"

for f in /usr/bin/certwatch /usr/bin/certwatchd /usr/lib/certwatch/certwatch-host \
  /usr/share/man/man1/certwatch.1.gz /usr/share/man/man1/certwatch-check.1.gz \
  /usr/share/man/man1/certwatch-pins-add.1.gz /usr/share/man/man1/certwatchd.1.gz \
  /usr/share/man/man1/certwatch-host.1.gz \
  /usr/share/bash-completion/completions/certwatch /usr/share/zsh/vendor-completions/_certwatch \
  /usr/share/fish/vendor_completions.d/certwatch.fish \
  /usr/lib/systemd/user/certwatchd.service \
  /usr/lib/mozilla/native-messaging-hosts/org.certwatch.host.json \
  /etc/chromium/native-messaging-hosts/org.certwatch.host.json \
  /usr/share/certwatch/webextension/manifest.json \
  /usr/share/certwatch/certwatch-0.1.0.xpi /usr/share/certwatch/certwatch-0.1.0-chromium.zip \
  /usr/share/doc/certwatch/copyright; do
  grep -qx "$f" "$work/files" || fail "$f is not in the package"
  [ -e "$f" ] || fail "$f is not on disk"
done

version=$(/usr/bin/certwatch --version)
echo "deb: /usr/bin/certwatch --version: $version"
[ "$version" = "certwatch $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" ] || fail "--version: $version"

# The unit is the one `certwatch service install` writes, for /usr/bin/certwatchd.
diff <(/usr/bin/certwatch service install --dry-run --daemon-path /usr/bin/certwatchd | tail -n +2) \
  /usr/lib/systemd/user/certwatchd.service || fail "the packaged unit differs from the generated one"
grep -qx 'ExecStart=/usr/bin/certwatchd' /usr/lib/systemd/user/certwatchd.service || fail "ExecStart"

# The manifests name the packaged host, which answers the browsers' arguments.
for m in /usr/lib/mozilla/native-messaging-hosts/org.certwatch.host.json \
  /etc/chromium/native-messaging-hosts/org.certwatch.host.json; do
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["path"]=="/usr/lib/certwatch/certwatch-host", m; assert m["name"]=="org.certwatch.host"' "$m" \
    || fail "$m"
done
CERTWATCH_HOME="$work/home" /usr/lib/certwatch/certwatch-host chrome-extension://nidhmbphhnpnodopclngimahlhkpiejl/ </dev/null \
  || fail "the packaged host refused the extension's origin"
if /usr/lib/certwatch/certwatch-host chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/ </dev/null >/dev/null 2>&1; then
  fail "the packaged host answered a foreign extension"
fi
# `certwatch extension install` finds the packaged host by itself.
HOME="$work/user" /usr/bin/certwatch extension install --dry-run --browser firefox | grep -q '"path": "/usr/lib/certwatch/certwatch-host"' \
  || fail "extension install does not default to /usr/lib/certwatch/certwatch-host"

if command -v man >/dev/null; then
  [ "$(man -w certwatch-check)" = /usr/share/man/man1/certwatch-check.1.gz ] || fail "man -w certwatch-check"
  [ "$(man -w certwatchd)" = /usr/share/man/man1/certwatchd.1.gz ] || fail "man -w certwatchd"
fi

# A loopback site: a CA and a leaf for localhost made here, served by openssl.
if command -v openssl >/dev/null; then
  cd "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/O=Deb Test CA/CN=Deb Test Root" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout leaf.key -out leaf.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 20 \
    -extfile leaf.ext -out leaf.pem 2>/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert leaf.pem -key leaf.key -www </dev/null >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  : >empty.pem
  export CERTWATCH_HOME="$work/home" CERTWATCH_ROOTS="$work/ca.pem" CERTWATCH_LOCAL_ROOTS="$work/empty.pem"
  set +e
  out=$(/usr/bin/certwatch check --no-caa --json --connect "127.0.0.1:$port" "localhost:$port")
  rc=$?
  set -e
  echo "deb: /usr/bin/certwatch check localhost:$port (exit $rc): $(echo "$out" | head -c 300)"
  [ "$rc" = 0 ] || fail "check exited $rc"
  /usr/bin/certwatch history --json "localhost:$port" | grep -q "Deb Test" || fail "the CA was not recorded"
  echo "deb: the history records Deb Test CA for localhost:$port"
  kill "$server"
  server=
  unset CERTWATCH_HOME CERTWATCH_ROOTS CERTWATCH_LOCAL_ROOTS
  cd - >/dev/null
else
  echo "deb: loopback check skipped: openssl is not installed"
fi

dpkg -r certwatch >/dev/null
installed=0
status=$(dpkg-query -W -f='${Status}' certwatch 2>/dev/null || true)
case "$status" in
  "" | *not-installed*) ;;
  *) fail "after dpkg -r the package is still '$status' (a conffile left?)" ;;
esac
left=0
while IFS= read -r p; do
  [ "$p" = "/." ] && continue
  if [ -L "$p" ] || [ -f "$p" ]; then
    echo "deb: left after dpkg -r: $p" >&2
    left=1
  elif [ -d "$p" ] && [ -z "$(ls -A "$p")" ] && ! dpkg -S "$p" >/dev/null 2>&1; then
    echo "deb: empty directory left after dpkg -r: $p" >&2
    left=1
  fi
done <"$work/files"
[ "$left" = 0 ] || fail "files of the package were left"
echo "deb: dpkg -r removed all $(wc -l <"$work/files") paths"

#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo deny (licences, bans, sources; advisories need GitHub, unreachable here)"
if command -v cargo-deny >/dev/null; then
  cargo deny --log-level error check bans licenses sources
else
  echo "cargo deny: skipped: not installed (cargo install cargo-deny --locked)"
fi
echo "== cargo build (binaries the integration tests drive; same features as the tests)"
cargo build --workspace --all-targets --quiet
echo "== cargo test"
cargo test --workspace --quiet
echo "== real browsers (Chromium via playwright-core, Firefox via puppeteer-core; the daemon as hub; the permanent Firefox install across a restart)"
if [ -d tests/browser/node_modules ]; then
  node tests/browser/e2e.mjs
  node tests/browser/hub.mjs
  node tests/browser/permanent.mjs
else
  echo "browser e2e: skipped: run 'npm ci --prefix tests/browser' first (.ci/run does)"
fi
echo "== Debian package (packaging/deb.sh: release build, lintian, dpkg -i, a loopback check, dpkg -r leaves nothing)"
bash tests/deb.sh
echo "== fuzz (short run; the long run is documented in fuzz/run.sh)"
if command -v cargo-fuzz >/dev/null; then
  bash fuzz/run.sh "${FUZZ_RUNS:-20000}"
else
  echo "fuzz: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
fi

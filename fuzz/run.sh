#!/usr/bin/env bash
# Runs every fuzz target for RUNS inputs (default 20000: the CI's short run;
# the long run in the closing notes used 2000000). Needs cargo-fuzz
# (`cargo install cargo-fuzz`); works on stable Rust with --sanitizer none.
# Seeds: real certificates from ../shared/data when present, else none.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-20000}
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
shared=../../shared/data
mkdir -p corpus/cert_chain
if [ -d "$shared" ]; then
  find "$shared/chains" "$shared/private_ca" "$shared/sct_pairs" "$shared/mitm" -type f \
    \( -name '*.der' -o -name '*.cer' -o -name '*.pem' \) 2>/dev/null | while read -r f; do
    cp "$f" "corpus/cert_chain/$(sha256sum "$f" | cut -c1-16)"
  done
fi
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  echo "== fuzz $t: $runs runs"
  cargo fuzz run --sanitizer none -O "$t" "corpus/$t" -- -runs="$runs" -max_len=65536 \
    -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|Done|==|SUMMARY|panicked)" || true
  # A crash leaves an artifact and a non-zero exit from cargo fuzz; fail on either.
  if ls "artifacts/$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz: $t found a crash: $(ls artifacts/$t/crash-*)"; exit 1
  fi
done
echo "fuzz: all targets ran $runs inputs with 0 crashes"

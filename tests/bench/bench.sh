#!/usr/bin/env bash
# certwatch benchmarks (README: `bash tests/bench/bench.sh`). Numbers go to
# BENCHMARKS.md by hand, with the machine. Never run as a test.
#
#  1. one `certwatch check` vs `openssl s_client` on the same loopback server
#  2. bulk: 1,000 SNI names, `certwatch check --file` vs sslyze (venv)
#  3. native host: p50/p99 per request, 100,000 sites in the DB (host_bench.py)
#  4. store: bytes per repeated sighting at 1M sightings, history query time
#
# Needs: openssl, hyperfine (apt), python3 -m venv (sslyze from PyPI).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${BENCH_OUT:-$root/target/bench}
mkdir -p "$out"
runs=${BENCH_RUNS:-200}

if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --release -p certwatch-cli -p certwatch-host --quiet
cargo build --release -p certwatch-engine --example store_bench --quiet
cw=$root/target/release/certwatch
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# A test CA and a leaf for *.bench.test + bench.test (ECDSA P-256, like most sites).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.pem" -days 30 -subj "/CN=Bench Root/O=Bench" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
  -out "$work/leaf.csr" -subj "/CN=bench.test" 2>/dev/null
printf 'subjectAltName=DNS:bench.test,DNS:*.bench.test\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/leaf.pem" -days 30 -extfile "$work/ext" 2>/dev/null
cat "$work/leaf.pem" "$work/ca.pem" > "$work/chain.pem"
port=$((20000 + RANDOM % 20000))
openssl s_server -accept "$port" -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/ca.pem" \
  -naccept 1000000 -quiet -no_ticket >/dev/null 2>&1 &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
: > "$work/empty.pem"
export CERTWATCH_HOME=$work/home

echo "== 1. one check vs openssl s_client (loopback, $runs runs)"
"$cw" --roots "$work/ca.pem" --local-roots "$work/empty.pem" check bench.test --connect 127.0.0.1:$port >/dev/null
hyperfine -N --warmup 10 --runs "$runs" --export-json "$out/single.json" \
  -n "certwatch check" "$cw --roots $work/ca.pem --local-roots $work/empty.pem check bench.test --connect 127.0.0.1:$port" \
  -n "openssl s_client" "openssl s_client -connect 127.0.0.1:$port -servername bench.test -brief -no_ign_eof" \
  </dev/null | tee "$out/single.txt"
python3 - "$out/single.json" <<'PY'
import json,sys,statistics
r=json.load(open(sys.argv[1]))["results"]
med={x["command"]:statistics.median(x["times"])*1000 for x in r}
for k,v in med.items(): print(f"median {k}: {v:.2f} ms")
print(f"ratio certwatch/openssl: {med['certwatch check']/med['openssl s_client']:.2f}")
PY

echo "== 2. bulk: 1,000 SNI names"
: > "$work/names.txt"
for i in $(seq 1 1000); do echo "h$i.bench.test" >> "$work/names.txt"; done
rm -rf "$work/home"
start=$(date +%s.%N)
"$cw" --roots "$work/ca.pem" --local-roots "$work/empty.pem" check --file "$work/names.txt" \
  --connect 127.0.0.1:$port --jobs 64 --quiet
end=$(date +%s.%N)
cw_rate=$(python3 -c "print(f'{1000/($end-$start):.0f}')")
echo "certwatch check --file: 1000 sites in $(python3 -c "print(f'{$end-$start:.2f}')") s = $cw_rate sites/s (stored)"

if [ "${BENCH_SKIP_SSLYZE:-0}" != 1 ]; then
  venv=$root/target/bench/sslyze-venv
  if [ ! -x "$venv/bin/sslyze" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q sslyze
  fi
  awk -v p="$port" '{print $1":"p"{127.0.0.1}"}' "$work/names.txt" > "$work/sslyze-targets.txt"
  start=$(date +%s.%N)
  "$venv/bin/sslyze" --certinfo --certinfo_ca_file "$work/ca.pem" --targets_in "$work/sslyze-targets.txt" \
    --quiet --json_out "$work/sslyze.json" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  ok=$(python3 -c "import json;d=json.load(open('$work/sslyze.json'));print(sum(1 for s in d['server_scan_results'] if s['scan_status']=='COMPLETED'))")
  sz_rate=$(python3 -c "print(f'{$ok/($end-$start):.1f}')")
  echo "sslyze --certinfo: $ok sites completed in $(python3 -c "print(f'{$end-$start:.2f}')") s = $sz_rate sites/s"
  python3 -c "print(f'ratio certwatch/sslyze: {$cw_rate/$sz_rate:.0f}x')"
fi

echo "== 3. native host (100,000 sites in the DB)"
python3 "$root/tests/bench/host_bench.py" "$root/target/release" "${BENCH_HOST_N:-500}"

echo "== 4. store: 1,000,000 sightings"
"$root/target/release/examples/store_bench" 1000 1000

#!/usr/bin/env bash
# Daemon idle cost: startup time (until the socket answers), RSS and CPU over
# 60 s with nothing due, and wake-ups (context switches) in that minute.
#   bash tests/bench/daemon_idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
cargo build --release -p certwatchd --bin certwatchd --quiet
cargo build --release -p certwatch-cli --quiet
home=$(mktemp -d)
export CERTWATCH_HOME=$home
start=$(date +%s%N)
target/release/certwatchd 2>"$home/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$home"' EXIT
until target/release/certwatch status --json 2>/dev/null | grep -q '"running":true'; do sleep 0.005; done
end=$(date +%s%N)
echo "startup (until the socket answers status): $(( (end - start) / 1000000 )) ms"
sleep 1
ctx() { awk '/ctxt_switches/ {s += $2} END {print s}' /proc/$pid/task/*/status; }
c0=$(ctx); t0=$(ps -o cputimes= -p $pid 2>/dev/null || ps -o time= -p $pid)
sleep "$secs"
c1=$(ctx)
echo "idle ${secs}s: RSS $(ps -o rss= -p $pid | tr -d ' ') KiB, CPU time $(ps -o time= -p $pid | tr -d ' ') (total since start), threads $(ls /proc/$pid/task | wc -l), context switches in the window: $((c1 - c0))"

#!/usr/bin/env bash
# Fleet mode load (issue 16): a throwaway PostgreSQL from Debian's package
# (postgresql-NN; its binaries under /usr/lib/postgresql/*/bin), listening
# only on a Unix socket in a temp dir, with its default settings (fsync and
# synchronous_commit on). Runs engine/examples/fleet_load.rs against it
# (ingest rows/s, consensus query p50/p90/p99/max), then the peer: pgbench
# with one client inserting one row per transaction into the same table.
#   bash tests/bench/fleet_load.sh [MACHINES=50] [SITES=1000] [PER=10]
# FLEET_LOAD_PARALLEL=N (machines pushing at once) and FLEET_LOAD_ROLES=0
# are passed to the example (see its doc comment); FLEET_LOAD_URL_FORM=url
# gives it a postgresql:// URL instead of key=value. As root, the server
# runs as nobody (65534), since PostgreSQL refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -p certwatch-engine --example fleet_load --quiet

dir=$(mktemp -d /tmp/fleet-load.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$dir"
    as_pg=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
cleanup() {
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" env HOME="$dir" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres \
    --no-sync -E UTF8 --locale=C >"$dir/initdb.log"
"${as_pg[@]}" env HOME="$dir" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k '$dir' -h ''" start >/dev/null

psql_() { "$pgbin/psql" -X -q -h "$dir" -U postgres -d postgres "$@"; }
echo "server: $(psql_ -Atc 'SHOW server_version'), Unix socket only ($dir), data on $(df --output=fstype "$dir" | tail -n 1)"
echo "settings (initdb defaults, none changed):" \
    "$(psql_ -Atc "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
                   FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method',
                   'full_page_writes', 'shared_buffers', 'max_wal_size', 'wal_level', 'max_connections')")"

# tokio-postgres takes both forms; FLEET_LOAD_URL_FORM=url uses the URL one
# (the socket directory percent-encoded as the host).
if [ "${FLEET_LOAD_URL_FORM:-}" = url ]; then
    url="postgresql://postgres@$(printf %s "$dir" | sed 's#/#%2F#g')/postgres"
else
    url="host=$dir user=postgres dbname=postgres"
fi
echo "fleet_url: $url"
target/release/examples/fleet_load "$url" "$@"

cat >"$dir/insert.sql" <<'EOF'
\set r random(1, 1000000000000)
INSERT INTO certwatch.sightings (machine_id, sighting_id, site, operator, ca_name, network, seen_at)
VALUES ('pgbench', :client_id || '-' || :r, 'site-' || (:r % 1000) || '.example:443', 'ISRG',
        'Let''s Encrypt R11', 'bench', now() - (:r % 1209600) * interval '1 second')
ON CONFLICT (machine_id, sighting_id) DO NOTHING;
EOF
# Each transaction waits for its WAL flush, so this measures the disk's
# fdatasync latency as much as PostgreSQL, and right after the ingest that
# is slowed by the OS writing back its dirty pages: `sync` first, then three
# runs show how much it varies.
sync
echo "peer: pgbench -n -c 1 -T 10 -f insert.sql (one single-row INSERT per transaction, as postgres, same table), 3 runs:"
for _ in 1 2 3; do
    "$pgbin/pgbench" -n -c 1 -T 10 -f "$dir/insert.sql" -h "$dir" -U postgres postgres 2>&1 |
        grep -E '^(latency average|tps)' | tr '\n' ' '
    echo
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

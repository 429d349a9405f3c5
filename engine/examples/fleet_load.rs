//! Fleet load benchmark (issue 16, BENCHMARKS.md): MACHINES simulated
//! machines × SITES sites × PER sightings pushed to a fleet PostgreSQL, then
//! the consensus query a check makes, timed.
//!
//! `cargo run --release -p certwatch-engine --example fleet_load -- URL [MACHINES] [SITES] [PER]`
//! (default 50 × 1000 × 10 = 500,000 rows). `bash tests/bench/fleet_load.sh`
//! starts a throwaway server and runs this against it.
//!
//! - Migrates the schema as the URL's user (who must be able to create
//!   roles), then gives every simulated machine its own least-privilege role
//!   (`schema::role_sql`, `certwatch_bench_mNN`), so inserts go through
//!   row-level security as a real machine's do. `FLEET_LOAD_ROLES=0` pushes
//!   as the URL's user instead (a superuser bypasses row-level security).
//!   Creating the roles needs a server reachable without TLS (a Unix socket
//!   or loopback), which is what the script gives it.
//! - Ingest: each machine has its own `Fleet` connection and pushes its
//!   SITES × PER rows, oldest first, in batches of `outbox::BATCH` (500)
//!   rows with its deadline, as the daemon's outbox drain does. All machines push at once, one thread each;
//!   `FLEET_LOAD_PARALLEL=N` lets only N push at a time. Sites are
//!   `site-N.example:443`; the operator is `ISRG`, but for 2% of the sites
//!   every fifth machine sees `DigiCert`; `seen_at` is spread uniformly over
//!   the last 14 days. Rows are generated before the clock starts.
//! - Checks: the server's row count grew by exactly MACHINES × SITES × PER,
//!   and pushing one batch again adds 0 rows.
//! - Consensus: `ANALYZE`, then 2000 `view` calls on one connection (a
//!   machine role) for random sites, a random excluded machine,
//!   since = now − 7 days, a 1 s deadline; p50/p90/p99/max. One call before
//!   them (connect and schema check) is not counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use certwatch_engine::fleet::outbox::{BATCH, BATCH_TIMEOUT};
use certwatch_engine::fleet::pg::{Fleet, Row};
use certwatch_engine::fleet::schema::{quote_literal, role_sql};
use certwatch_engine::fleet::{FleetLayer, FleetSettings};

const QUERIES: usize = 2000;
const DAY: i64 = 86_400;

/// splitmix64: small, deterministic, good enough to spread test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn settings(url: &str) -> FleetSettings {
    FleetLayer {
        url: Some(url.to_string()),
        network: Some("bench".into()),
        ..FleetLayer::default()
    }
    .resolve()
    .expect("a fleet URL resolves to settings")
}

/// `url` with `user` in place of its user (the last `user` wins in both
/// the URL and the key=value form).
fn as_user(url: &str, user: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}user={user}")
    } else {
        format!("{url} user={user}")
    }
}

fn machine_id(m: usize) -> String {
    let mut r = Rng(0xf1ee7 + m as u64);
    format!("{:016x}{:016x}", r.next(), r.next())
}

fn role(m: usize) -> String {
    format!("certwatch_bench_m{m:02}")
}

/// A machine's rows, oldest first (the outbox's order).
fn rows_of(m: usize, sites: usize, per: usize, now: i64) -> Vec<Row> {
    let mut r = Rng(0x5eed_0000 + m as u64);
    let mut rows = Vec::with_capacity(sites * per);
    for s in 0..sites {
        // 2% of the sites; on those, every fifth machine sees DigiCert.
        let other = s % 50 == 7 && m % 5 == 0;
        let (operator, ca_name) = if other {
            ("DigiCert", "DigiCert Global G2 TLS RSA SHA256 2020 CA1")
        } else {
            ("ISRG", "Let's Encrypt R11")
        };
        for _ in 0..per {
            rows.push(Row {
                sighting_id: format!("{:016x}{:016x}", r.next(), r.next()),
                site: format!("site-{s}.example:443"),
                operator: operator.to_string(),
                ca_name: ca_name.to_string(),
                seen_at: now - r.below(14 * DAY as u64) as i64,
            });
        }
    }
    rows.sort_by_key(|row| row.seen_at);
    rows
}

/// Runs `sql` statements as the URL's user (role set-up and `ANALYZE`).
fn admin(url: &str, sql: &[String]) {
    let config: tokio_postgres::Config = url.parse().expect("the URL parses");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect without TLS for the set-up (Unix socket or loopback)");
        tokio::spawn(conn);
        for s in sql {
            client.batch_execute(s).await.expect("set-up SQL");
        }
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: fleet_load URL [MACHINES=50] [SITES=1000] [PER=10]");
    let mut num = |default: usize| -> usize {
        args.next()
            .map(|a| a.parse().expect("MACHINES, SITES and PER are numbers"))
            .unwrap_or(default)
    };
    let machines = num(50).max(1);
    let sites = num(1000).max(1);
    let per = num(10).max(1);
    let parallel: usize = std::env::var("FLEET_LOAD_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(machines)
        .clamp(1, machines);
    let roles = std::env::var("FLEET_LOAD_ROLES").map_or(true, |v| v != "0");
    let within = Duration::from_secs(60);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64;
    let expected = (machines * sites * per) as u64;

    let mut owner = Fleet::new(&settings(&url)).expect("fleet settings");
    let (was, is) = owner.migrate(within).expect("migrate");
    println!("schema: version {was} -> {is}");
    let before = owner.status(within).expect("status").sightings;
    let url_of = |m: usize| {
        if roles {
            as_user(&url, &role(m))
        } else {
            url.clone()
        }
    };
    if roles {
        let sql: Vec<String> = (0..machines)
            .map(|m| {
                format!(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN {} END IF; END $$;",
                    quote_literal(&role(m)),
                    role_sql(&role(m), Some(&machine_id(m))).replace('\n', " ")
                )
            })
            .collect();
        admin(&url, &sql);
        println!("pushing as {machines} machine roles (row-level security applies)");
    } else {
        println!("pushing as the URL's user (a superuser bypasses row-level security)");
    }

    let gen = Instant::now();
    let mut all: Vec<(usize, Vec<Row>)> = (0..machines)
        .map(|m| (m, rows_of(m, sites, per, now)))
        .collect();
    let replay: Vec<Row> = all[0].1.iter().take(BATCH).cloned().collect();
    println!(
        "generated {expected} rows ({machines} machines x {sites} sites x {per}) in {:.1} s; \
         batches of {BATCH} rows, {parallel} machines pushing at once",
        gen.elapsed().as_secs_f64()
    );

    // Machine m goes to thread m % parallel; each machine its own connection.
    let mut lanes: Vec<Vec<(usize, Vec<Row>)>> = (0..parallel).map(|_| Vec::new()).collect();
    for (m, rows) in all.drain(..) {
        lanes[m % parallel].push((m, rows));
    }
    let inserted = Arc::new(AtomicU64::new(0));
    let batch_ms = Arc::new(Mutex::new(Vec::<f64>::new()));
    let start = Instant::now();
    let threads: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            let inserted = Arc::clone(&inserted);
            let batch_ms = Arc::clone(&batch_ms);
            let lane_urls: Vec<String> = lane.iter().map(|(m, _)| url_of(*m)).collect();
            std::thread::spawn(move || {
                let mut times = Vec::new();
                for ((m, rows), u) in lane.into_iter().zip(lane_urls) {
                    let mut fleet = Fleet::new(&settings(&u)).expect("fleet settings");
                    let id = machine_id(m);
                    for chunk in rows.chunks(BATCH) {
                        let t = Instant::now();
                        let n = fleet
                            .push(&id, "bench", chunk, BATCH_TIMEOUT)
                            .expect("push");
                        times.push(ms(t.elapsed()));
                        inserted.fetch_add(n, Ordering::Relaxed);
                    }
                }
                batch_ms.lock().expect("batch times").extend(times);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a pushing thread panicked");
    }
    let wall = start.elapsed();
    let inserted = inserted.load(Ordering::Relaxed);
    let mut batches = batch_ms.lock().expect("batch times").clone();
    batches.sort_by(f64::total_cmp);
    println!(
        "ingest: {inserted} new rows in {:.2} s = {:.0} rows/s ({} pushes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
        wall.as_secs_f64(),
        inserted as f64 / wall.as_secs_f64(),
        batches.len(),
        percentile(&batches, 50.0),
        percentile(&batches, 99.0),
        batches.last().copied().unwrap_or(0.0)
    );

    let after = owner.status(within).expect("status").sightings;
    let grew = (after - before) as u64;
    println!(
        "row count: grew by {grew}, expected {expected}: {}",
        if grew == expected && inserted == expected {
            "ok"
        } else {
            "MISMATCH"
        }
    );
    let mut again = Fleet::new(&settings(&url_of(0))).expect("fleet settings");
    let n = again
        .push(&machine_id(0), "bench", &replay, within)
        .expect("push again");
    println!(
        "idempotency: pushing machine 0's first batch ({} rows) again added {n} rows: {}",
        replay.len(),
        if n == 0 { "ok" } else { "NOT IDEMPOTENT" }
    );
    drop(again);

    admin(&url, &["ANALYZE certwatch.sightings".to_string()]);
    let since = now - 7 * DAY;
    let second = Duration::from_secs(1);
    let mut r = Rng(0xc0ffee);
    let mut reader = Fleet::new(&settings(&url_of(0))).expect("fleet settings");
    reader
        .view("site-0.example:443", &machine_id(1), since, within)
        .expect("the first view (connect, schema check)");
    let mut times = Vec::with_capacity(QUERIES);
    let mut split = 0usize;
    let mut failed = 0usize;
    for _ in 0..QUERIES {
        let site = format!("site-{}.example:443", r.below(sites as u64));
        let exclude = machine_id(r.below(machines as u64) as usize);
        let t = Instant::now();
        match reader.view(&site, &exclude, since, second) {
            Ok(v) => {
                times.push(ms(t.elapsed()));
                if v.operators.len() > 1 {
                    split += 1;
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("view {site}: {e}");
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "consensus: {} Fleet::view calls (site_view, since now-7d, 1 s deadline), {failed} failed, {split} saw two operators: \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        percentile(&times, 99.0),
        times.last().copied().unwrap_or(0.0)
    );
    if grew != expected || inserted != expected || n != 0 || failed != 0 {
        std::process::exit(1);
    }
}

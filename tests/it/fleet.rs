//! Fleet mode against a real PostgreSQL (Debian's package, started here on
//! a temp directory; skipped, saying why, without it): several machines
//! (each its own `CERTWATCH_HOME` and `CERTWATCH_MACHINE_ID`) share
//! sightings through the real `certwatch` and `certwatchd`; the consensus
//! turns a first contact from another CA into `fleet_outlier` and a lone CA
//! change into info; a killed server loses nothing and duplicates nothing;
//! a server that never answers costs a check at most the budget; a machine
//! role cannot write another machine's rows; TLS with a given CA.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use certwatch_tests::postgres::Postgres;
use certwatch_tests::{
    ccadb_csv, code, codes, delay_proxy, json_line, raw_server, stderr, stdout, Ca, Disclosure,
    TestEnv, TlsServer,
};
use serde_json::Value;

use crate::daemon::{poll, start_daemon_env};

/// The PKI every machine trusts: two public CAs with CCADB operators.
struct World {
    le: Ca,
    le_i: Ca,
    beta: Ca,
    beta_i: Ca,
}

impl World {
    fn new() -> World {
        let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
        let le_i = le.intermediate("R99", "Let's Encrypt");
        let beta = Ca::root("Beta Test Root", "Beta Certs");
        let beta_i = beta.intermediate("Beta TLS CA", "Beta Certs");
        World {
            le,
            le_i,
            beta,
            beta_i,
        }
    }
}

/// One machine of the fleet.
struct Machine {
    env: TestEnv,
    id: String,
}

impl Machine {
    /// A machine `id` whose config.toml has `fleet` (extra keys) unless empty.
    fn new(w: &World, id: &str, fleet: &str) -> Machine {
        let env = TestEnv::new().public_roots(&[&w.le, &w.beta]);
        let csv = env.ccadb(&ccadb_csv(
            &[
                Disclosure::root(&w.le, "Internet Security Research Group"),
                Disclosure::intermediate(&w.le_i, "Internet Security Research Group"),
                Disclosure::root(&w.beta, "Beta Certs"),
                Disclosure::intermediate(&w.beta_i, "Beta Certs"),
            ],
            "2026-11-01",
        ));
        std::fs::create_dir_all(env.home()).unwrap();
        std::fs::write(
            env.home().join("config.toml"),
            format!(
                "roots = {:?}\nccadb = {:?}\ncaa = false\nnotifications = false\nct_refresh = false\n\
                 ccadb_refresh = false\n{fleet}\n",
                env.roots.as_ref().unwrap().display().to_string(),
                csv.display().to_string(),
            ),
        )
        .unwrap();
        Machine {
            env,
            id: id.to_string(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.env
            .cmd()
            .env("CERTWATCH_MACHINE_ID", &self.id)
            .args(args)
            .output()
            .unwrap()
    }

    /// `check HOST --json --connect 127.0.0.1:PORT`.
    fn check(&self, host: &str, srv: &TlsServer) -> (i32, Value) {
        let connect = format!("127.0.0.1:{}", srv.port());
        let out = self.run(&["check", host, "--json", "--connect", &connect]);
        (code(&out), json_line(&out))
    }

    fn push(&self) -> Value {
        let out = self.run(&["fleet", "push", "--json"]);
        assert_eq!(code(&out), 0, "{} {}", stdout(&out), stderr(&out));
        json_line(&out)
    }

    /// `fleet status --json` (also when the server is down).
    fn status(&self) -> Value {
        json_line(&self.run(&["fleet", "status", "--json"]))
    }

    fn db(&self) -> PathBuf {
        find(&self.env.home(), "certwatch.db").expect("certwatch.db")
    }
}

fn find(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if p.is_dir() {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        }
    }
    None
}

fn fleet_conf(url: &str) -> String {
    format!("fleet_url = {url:?}")
}

#[test]
fn three_machines_outlier_agreement_and_the_site_view() {
    let Some(pg) = Postgres::new(&["fsync=off"]) else {
        return;
    };
    let w = World::new();
    let conf = fleet_conf(&pg.url("postgres"));
    // The third machine is on the hotel's network.
    let m: Vec<Machine> = (1..=4)
        .map(|i| {
            let extra = if i == 3 {
                "\nfleet_network = \"hotel wifi\""
            } else {
                ""
            };
            Machine::new(&w, &format!("machine-{i}"), &format!("{conf}{extra}"))
        })
        .collect();
    let bank_le = TlsServer::start(&w.le_i.leaf(&["bank.test"]));
    let bank_beta = TlsServer::start(&w.beta_i.leaf(&["bank.test"]));
    // Two machines see the bank from Let's Encrypt and report it.
    for mach in &m[..2] {
        let (c, v) = mach.check("bank.test", &bank_le);
        assert_eq!(c, 0, "{v}");
        assert!(!codes(&v).contains(&"fleet_outlier".into()), "{v}");
        let p = mach.push();
        assert_eq!(
            (p["sent"].as_u64(), p["new"].as_u64()),
            (Some(1), Some(1)),
            "{p}"
        );
    }
    // The third, on its first contact, is served by another public CA that
    // no machine ever saw for the bank: critical, though the chain is valid.
    let (c, v) = m[2].check("bank.test", &bank_beta);
    assert_eq!(c, 2, "{v}");
    assert!(codes(&v).contains(&"fleet_outlier".into()), "{v}");
    assert_eq!(v["fleet"]["status"], "ok", "{v}");
    assert_eq!(v["fleet"]["recent_machines"], 2, "{v}");
    m[2].push();
    // The others are unaffected: they still see what they saw.
    let (c, v) = m[0].check("bank.test", &bank_le);
    assert_eq!(c, 0, "{v}");
    assert!(!codes(&v).contains(&"fleet_outlier".into()), "{v}");
    // The site view: per CA operator, machines and dates.
    let out = m[3].run(&["fleet", "site", "bank.test", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let site = json_line(&out);
    assert_eq!(
        (site["host"].as_str(), site["port"].as_u64()),
        (Some("bank.test"), Some(443))
    );
    let ops = site["operators"].as_array().unwrap();
    let machines = |op: &str| {
        ops.iter()
            .find(|o| o["operator"] == op)
            .map(|o| o["machines"].as_i64().unwrap())
    };
    assert_eq!(
        machines("Internet Security Research Group"),
        Some(2),
        "{site}"
    );
    assert_eq!(machines("Beta Certs"), Some(1), "{site}");
    assert!(
        ops[0]["first_seen"].as_str().unwrap().ends_with('Z'),
        "{site}"
    );
    // The outliers view names the machine; exit 2 while there is one.
    let out = m[3].run(&["fleet", "outliers", "--json"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let list = json_line(&out);
    assert_eq!(list[0]["machine_id"], "machine-3", "{list}");
    assert_eq!(list[0]["site"], "bank.test:443", "{list}");
    assert_eq!(list[0]["network"], "hotel wifi", "{list}");

    // A lone CA change that the fleet agrees with is info, not a warning.
    let shop_beta = TlsServer::start(&w.beta_i.leaf(&["shop.test"]));
    let shop_le = TlsServer::start(&w.le_i.leaf(&["shop.test"]));
    let control = Machine::new(&w, "no-fleet", "");
    for mach in [&m[3], &control] {
        assert_eq!(mach.check("shop.test", &shop_beta).0, 0);
    }
    m[3].push();
    for mach in &m[..3] {
        assert_eq!(mach.check("shop.test", &shop_le).0, 0);
        mach.push();
    }
    let (c, v) = control.check("shop.test", &shop_le);
    assert_eq!(
        c, 1,
        "without the fleet, a lone CA change is a warning: {v}"
    );
    let (c, v) = m[3].check("shop.test", &shop_le);
    assert_eq!(c, 0, "{v}");
    assert!(codes(&v).contains(&"fleet_agrees".into()), "{v}");
    assert!(codes(&v).contains(&"ca_changed".into()), "{v}");
    assert_eq!(v["severity"], "info", "{v}");

    // What another member wrote is bounded when read back.
    pg.psql(
        "INSERT INTO certwatch.sightings (machine_id, sighting_id, site, operator, ca_name, seen_at)
         SELECT 'loud', 's' || i, 'bank.test:443', 'op' || i, repeat('A', 100000), now()
           FROM generate_series(1, 200) AS i",
    );
    let (_, v) = m[0].check("bank.test", &bank_le);
    let ops = v["fleet"]["operators"].as_array().unwrap();
    assert!(ops.len() <= 64, "{}", ops.len());
    assert!(ops
        .iter()
        .all(|o| o["ca_name"].as_str().unwrap().chars().count() <= 257));
}

#[test]
fn a_one_shot_check_over_a_slow_network_still_gets_the_consensus() {
    let Some(pg) = Postgres::new(&["fsync=off"]) else {
        return;
    };
    let w = World::new();
    let srv = TlsServer::start(&w.le_i.leaf(&["far.test"]));
    for id in ["near-1", "near-2"] {
        let m = Machine::new(&w, id, &fleet_conf(&pg.url("postgres")));
        m.check("far.test", &srv);
        m.push();
    }
    // 100 ms round trips to the fleet server: connecting (SSLRequest,
    // startup, the schema check) takes 300 ms, more than the 200 ms a
    // check waits. The connection is made while the site is probed (here
    // over 600 ms round trips), so the check waits only for the query.
    let pg_addr: std::net::SocketAddr = format!("127.0.0.1:{}", pg.port).parse().unwrap();
    let slow_pg = delay_proxy(pg_addr, Duration::from_millis(50));
    let slow_site = delay_proxy(
        format!("127.0.0.1:{}", srv.port()).parse().unwrap(),
        Duration::from_millis(300),
    );
    let far = Machine::new(
        &w,
        "far-away",
        &fleet_conf(&format!("postgresql://postgres@{slow_pg}/postgres")),
    );
    let out = far.run(&[
        "check",
        "far.test",
        "--json",
        "--connect",
        &slow_site.to_string(),
    ]);
    let v = json_line(&out);
    assert_eq!(v["fleet"]["status"], "ok", "{v}");
    assert_eq!(v["fleet"]["recent_machines"], 2, "{v}");
    assert!(codes(&v).contains(&"fleet_agrees".into()), "{v}");
}

#[test]
fn a_killed_server_loses_nothing_and_duplicates_nothing() {
    let Some(mut pg) = Postgres::new(&["fsync=off"]) else {
        return;
    };
    let w = World::new();
    let conf = fleet_conf(&pg.url("postgres"));
    let srv = TlsServer::start(&w.le_i.leaf(&["*.fleet.test"]));
    let connect = format!("127.0.0.1:{}", srv.port());
    let d = Machine::new(&w, "daemon-machine", &conf);
    let _daemon = start_daemon_env(&d.env, None, &[("CERTWATCH_MACHINE_ID", "daemon-machine")]);
    let sites = |prefix: &str| -> Vec<String> {
        (0..10).map(|i| format!("{prefix}{i}.fleet.test")).collect()
    };
    let check_all = |names: &[String]| {
        let mut args = vec!["check", "--connect", connect.as_str()];
        args.extend(names.iter().map(String::as_str));
        let out = d.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    };
    let waiting = |d: &Machine| d.status()["outbox"]["waiting"].as_i64().unwrap();
    check_all(&sites("a"));
    poll("the daemon's first push", 30, || {
        (waiting(&d) == 0).then_some(())
    });
    // PostgreSQL dies; sightings go on being recorded and wait.
    pg.kill();
    check_all(&sites("b"));
    std::thread::sleep(Duration::from_secs(3));
    let st = d.status();
    assert_eq!(st["outbox"]["waiting"], 10, "{st}");
    assert_eq!(st["fleet"]["reachable"], false, "{st}");
    assert!(st["outbox"]["last_error"].as_str().is_some(), "{st}");
    pg.start();
    poll("the daemon's push after the restart", 90, || {
        (waiting(&d) == 0).then_some(())
    });
    let rows = pg.psql(
        "SELECT count(*), count(DISTINCT site) FROM certwatch.sightings WHERE machine_id = 'daemon-machine'",
    );
    assert_eq!(rows, "20|20", "every sighting exactly once");

    // A crash after the server committed but before the outbox was
    // emptied: the same rows are sent again and the server keeps one each.
    let r = Machine::new(&w, "crashy", &conf);
    let mut args = vec!["check", "--connect", connect.as_str()];
    let names = sites("c");
    args.extend(names.iter().map(String::as_str));
    assert_eq!(code(&r.run(&args)), 0);
    let db = r.db();
    let copy = r.env.path("before-push.db");
    std::fs::copy(&db, &copy).unwrap();
    assert_eq!(r.push()["new"], 10);
    std::fs::copy(&copy, &db).unwrap();
    let again = r.push();
    assert_eq!(
        (again["sent"].as_u64(), again["new"].as_u64()),
        (Some(10), Some(0)),
        "{again}"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM certwatch.sightings WHERE machine_id = 'crashy'"),
        "10"
    );
}

#[test]
fn a_server_that_never_answers_costs_a_check_at_most_the_budget() {
    let silent = raw_server(|s| {
        std::thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    let w = World::new();
    let m = Machine::new(
        &w,
        "m",
        &fleet_conf(&format!("postgresql://x@{silent}/fleet?sslmode=disable")),
    );
    let srv = TlsServer::start(&w.le_i.leaf(&["calm.test"]));
    for _ in 0..2 {
        let t = Instant::now();
        let (c, v) = m.check("calm.test", &srv);
        let took = t.elapsed();
        assert_eq!(c, 0, "offline is no evidence, never an error: {v}");
        assert_eq!(v["fleet"]["status"], "unavailable", "{v}");
        assert!(
            v["fleet"]["reason"].as_str().unwrap().contains("200 ms"),
            "{v}"
        );
        assert!(took < Duration::from_secs(5), "the check took {took:?}");
    }
    // Queued, not lost.
    let st = m.status();
    assert_eq!(st["outbox"]["waiting"], 1, "{st}");
}

#[test]
fn a_machine_role_writes_only_its_own_rows() {
    let Some(pg) = Postgres::new(&["fsync=off"]) else {
        return;
    };
    let w = World::new();
    let admin = Machine::new(&w, "admin", &fleet_conf(&pg.url("postgres")));
    let out = admin.run(&["fleet", "migrate"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("from version 0 to 1"),
        "{}",
        stdout(&out)
    );
    let out = admin.run(&["fleet", "role", "m1", "--machine", "machine-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    pg.psql(&stdout(&out));
    let srv = TlsServer::start(&w.le_i.leaf(&["mail.test"]));
    // The role writes for its own machine id...
    let m1 = Machine::new(&w, "machine-1", &fleet_conf(&pg.url("m1")));
    m1.check("mail.test", &srv);
    assert_eq!(m1.push()["new"], 1);
    // ...and is refused for another's, whether through certwatch or SQL.
    let forger = Machine::new(&w, "machine-2", &fleet_conf(&pg.url("m1")));
    forger.check("mail.test", &srv);
    let out = forger.run(&["fleet", "push"]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("row-level security"),
        "{}",
        stderr(&out)
    );
    assert_eq!(forger.status()["outbox"]["waiting"], 1, "kept for later");
    let e = pg
        .psql_as(
            "m1",
            "INSERT INTO certwatch.sightings (machine_id, sighting_id, site, operator, ca_name, seen_at)
             VALUES ('machine-2', 'x', 'mail.test:443', 'evil', 'Evil', now())",
        )
        .unwrap_err();
    assert!(e.contains("row-level security"), "{e}");
    assert!(pg
        .psql_as("m1", "DELETE FROM certwatch.sightings")
        .unwrap_err()
        .contains("permission denied"));
    // It reads its own rows only, the fleet through aggregates.
    admin.check("mail.test", &srv);
    admin.push();
    assert_eq!(
        pg.psql_as("m1", "SELECT count(*) FROM certwatch.sightings")
            .unwrap(),
        "1"
    );
    let out = m1.run(&["fleet", "site", "mail.test", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_line(&out)["operators"][0]["machines"], 2);

    // With password authentication, the password comes from the
    // environment or a file, never from config.toml.
    pg.psql("ALTER ROLE m1 PASSWORD 'correct horse battery'");
    std::fs::write(
        pg.data().join("pg_hba.conf"),
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    pg.psql("SELECT pg_reload_conf()");
    let pw_srv = TlsServer::start(&w.le_i.leaf(&["pw.test"]));
    m1.check("pw.test", &pw_srv);
    let out = m1.run(&["fleet", "push"]);
    assert_eq!(code(&out), 3, "no password: refused");
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
    let out = m1
        .env
        .cmd()
        .env("CERTWATCH_MACHINE_ID", "machine-1")
        .env("CERTWATCH_FLEET_PASSWORD", "correct horse battery")
        .args(["fleet", "push", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pw = m1.env.write("fleet-password", "correct horse battery\n");
    let from_file = Machine::new(
        &w,
        "machine-1",
        &format!(
            "{}\nfleet_password_file = {:?}",
            fleet_conf(&pg.url("m1")),
            pw.display().to_string()
        ),
    );
    from_file.check("pw.test", &pw_srv);
    assert_eq!(from_file.push()["sent"], 1);
}

#[test]
fn tls_to_the_server_with_a_given_ca_and_hashed_site_names() {
    let w = World::new();
    let pki = Ca::root("Fleet DB CA", "Example Org");
    let Some(mut pg) = Postgres::init_tls() else {
        return;
    };
    pg.tls_files(&pki.leaf(&["localhost"]));
    pg.start();
    // Plain connections over TCP are refused from now on.
    std::fs::write(
        pg.data().join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    pg.psql("SELECT pg_reload_conf()");
    let url = format!(
        "postgresql://postgres@localhost:{}/postgres?sslmode=require",
        pg.port
    );
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "an organisation secret of some length\n").unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), pki.pem()).unwrap();
    let conf = format!(
        "{}\nfleet_ca = {:?}\nfleet_hash_sites = true\nfleet_secret_file = {:?}\n",
        fleet_conf(&url),
        ca_file.path().display().to_string(),
        secret.path().display().to_string()
    );
    let srv = TlsServer::start(&w.le_i.leaf(&["private.test"]));
    for id in ["h-1", "h-2"] {
        let m = Machine::new(&w, id, &conf);
        m.check("private.test", &srv);
        assert_eq!(m.push()["new"], 1);
    }
    assert_eq!(
        pg.psql("SELECT count(*) FILTER (WHERE site LIKE 'h:%'), count(*) FILTER (WHERE site LIKE '%private%') FROM certwatch.sightings"),
        "2|0",
        "the server never sees the name"
    );
    let m = Machine::new(&w, "h-3", &conf);
    let out = m.run(&["fleet", "site", "private.test", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_line(&out)["operators"][0]["machines"], 2);
    // Another CA file: the server's certificate is not trusted.
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), w.le.pem()).unwrap();
    let bad = Machine::new(
        &w,
        "h-4",
        &conf.replace(
            &ca_file.path().display().to_string(),
            &wrong.path().display().to_string(),
        ),
    );
    bad.check("private.test", &srv);
    let out = bad.run(&["fleet", "push"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fleet_settings_errors_are_one_line_and_fleet_mode_is_off_by_default() {
    let w = World::new();
    let off = Machine::new(&w, "m", "");
    let out = off.run(&["fleet", "status"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("fleet mode is off"),
        "{}",
        stderr(&out)
    );
    let bad = Machine::new(&w, "m", "fleet_url = \"postgresql://x@h:notaport/db\"");
    let srv = TlsServer::start(&w.le_i.leaf(&["a.test"]));
    let out = bad.run(&[
        "check",
        "a.test",
        "--connect",
        &format!("127.0.0.1:{}", srv.port()),
    ]);
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(
        err.contains("fleet_url") && err.lines().count() == 1,
        "{err}"
    );
    let out = off
        .env
        .cmd()
        .env("CERTWATCH_MACHINE_ID", "no spaces allowed")
        .env("CERTWATCH_FLEET_URL", "postgresql://x@127.0.0.1/db")
        .args(["fleet", "status"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("CERTWATCH_MACHINE_ID"),
        "{}",
        stderr(&out)
    );
}

//! CT search services made at test time, on 127.0.0.1: a crt.sh-compatible
//! search (`?q=DOMAIN&output=json`, `?q=%.DOMAIN`, each certificate by
//! `?d=ID`) and SSLMate's certspotter API (`/v1/issuances`, paged by
//! `after`, two issuances a page), both over one list of logged
//! (pre)certificates made by test CAs. A test appends entries while the
//! servers run, and can make the list queries fail (429 with
//! `Retry-After`, 5xx, truncated JSON).

#![allow(missing_docs)]

use super::*;
use base64::Engine as _;
use rcgen::{CustomExtension, SerialNumber};

/// One logged certificate or precertificate.
#[derive(Clone)]
pub struct Logged {
    pub id: u64,
    pub der: Vec<u8>,
    pub precert: bool,
    pub names: Vec<String>,
    /// One id per issuing CA (crt.sh's `issuer_ca_id`).
    pub ca_id: u64,
    pub issuer_name: String,
    /// SHA-256 (hex) of the issuing CA's SPKI, as certspotter reports it.
    pub issuer_spki_hex: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
}

/// An HTTP answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// What the servers answer.
#[derive(Default)]
pub struct SearchWorld {
    pub logged: Mutex<Vec<Logged>>,
    /// When set, list queries get this answer instead.
    pub fail: Mutex<Option<Answer>>,
    next: AtomicUsize,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn naive(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn spki_hex(ca_der: &[u8]) -> String {
    let info = certwatch_engine::model::parse_cert(ca_der).unwrap();
    hex(ring::digest::digest(&ring::digest::SHA256, &info.spki_der).as_ref())
}

impl SearchWorld {
    pub fn new() -> Arc<SearchWorld> {
        Arc::new(SearchWorld::default())
    }

    /// Logs a certificate for `names` issued by `ca` (`ca_id` identifies the
    /// CA): its precertificate and, with `final_too`, the final certificate
    /// with the same serial. Returns (final or precert DER, precert DER).
    pub fn issue(
        &self,
        ca: &Ca,
        ca_id: u64,
        names: &[&str],
        days: i64,
        final_too: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let serial: Vec<u8> = {
            let n = self.next.fetch_add(1, Ordering::SeqCst) as u64 + 1;
            let mut v = vec![0x42];
            v.extend_from_slice(&n.to_be_bytes());
            v
        };
        let now = time::OffsetDateTime::now_utc();
        let nb = now - time::Duration::days(1);
        let na = nb + time::Duration::days(days);
        let key = KeyPair::generate().unwrap();
        let mut p = leaf_params(names, nb, na);
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        let fin = ca.leaf_from(&p, &key).chain[0].clone();
        let mut pre_p = p.clone();
        let mut poison = CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3],
            vec![0x05, 0x00],
        );
        poison.set_criticality(true);
        pre_p.custom_extensions.push(poison);
        let pre = ca.leaf_from(&pre_p, &key).chain[0].clone();
        let info = certwatch_engine::model::parse_cert(&fin).unwrap();
        let mut logged = self.logged.lock().unwrap();
        let mut push = |der: &Vec<u8>, precert: bool| {
            let id = logged.len() as u64 + 1000;
            logged.push(Logged {
                id,
                der: der.clone(),
                precert,
                names: names.iter().map(|n| n.to_string()).collect(),
                ca_id,
                issuer_name: info.issuer.clone(),
                issuer_spki_hex: spki_hex(&ca.der),
                serial: hex(&serial),
                not_before: naive(nb),
                not_after: naive(na),
            });
        };
        push(&pre, true);
        if final_too {
            push(&fin, false);
        }
        (if final_too { fin } else { pre.clone() }, pre)
    }

    fn failing(&self) -> Option<Answer> {
        self.fail.lock().unwrap().clone()
    }
}

fn query<'a>(target: &'a str, key: &str) -> Vec<&'a str> {
    target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn matches(names: &[String], q: &str) -> bool {
    match q.strip_prefix("%.") {
        Some(d) => names.iter().any(|n| n.ends_with(&format!(".{d}"))),
        None => names.iter().any(|n| n == q),
    }
}

/// A crt.sh-compatible search over `world`.
pub fn crtsh_server(world: Arc<SearchWorld>) -> (String, Arc<AtomicUsize>) {
    http_server(Arc::new(move |t: &str| {
        if let Some(id) = query(t, "d").first() {
            let logged = world.logged.lock().unwrap();
            return match logged.iter().find(|l| l.id.to_string() == *id) {
                Some(l) => (200, vec![], pem(&l.der).into_bytes()),
                None => (404, vec![], b"not found".to_vec()),
            };
        }
        if let Some(f) = world.failing() {
            return f;
        }
        let Some(q) = query(t, "q").first().map(|q| decode(q)) else {
            return (400, vec![], b"no q".to_vec());
        };
        let rows: Vec<serde_json::Value> = world
            .logged
            .lock()
            .unwrap()
            .iter()
            .filter(|l| matches(&l.names, &q))
            .map(|l| {
                serde_json::json!({
                    "issuer_ca_id": l.ca_id, "issuer_name": l.issuer_name,
                    "common_name": l.names[0], "name_value": l.names.join("\n"),
                    "id": l.id, "entry_timestamp": l.not_before, "not_before": l.not_before,
                    "not_after": l.not_after, "serial_number": l.serial, "result_count": 1,
                })
            })
            .collect();
        (200, vec![], serde_json::to_vec(&rows).unwrap())
    }))
}

/// certspotter's `/v1/issuances` over `world`: one issuance per serial
/// (the final certificate when logged), two per page.
pub fn certspotter_server(world: Arc<SearchWorld>) -> (String, Arc<AtomicUsize>) {
    http_server(Arc::new(move |t: &str| {
        if !t.starts_with("/v1/issuances") {
            return (404, vec![], b"{\"code\":\"not_found\"}".to_vec());
        }
        if let Some(f) = world.failing() {
            return f;
        }
        let domain = query(t, "domain")
            .first()
            .map(|d| decode(d))
            .unwrap_or_default();
        let subs = query(t, "include_subdomains").first() == Some(&"true");
        let after: u64 = query(t, "after")
            .first()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let logged = world.logged.lock().unwrap().clone();
        let mut by_serial: Vec<Logged> = Vec::new();
        for l in logged {
            match by_serial.iter_mut().find(|x| x.serial == l.serial) {
                // An issuance is discovered once; the final certificate
                // replaces the precertificate's data.
                Some(x) if !l.precert => {
                    let id = x.id;
                    *x = l;
                    x.id = id;
                }
                Some(_) => {}
                None => by_serial.push(l),
            }
        }
        let rows: Vec<serde_json::Value> = by_serial
            .iter()
            .filter(|l| l.id > after)
            .filter(|l| {
                l.names.iter().any(|n| {
                    n == &domain || (subs && n.ends_with(&format!(".{domain}")))
                })
            })
            .take(2)
            .map(|l| {
                let info = certwatch_engine::model::parse_cert(&l.der).unwrap();
                serde_json::json!({
                    "id": l.id.to_string(),
                    "tbs_sha256": hex(ring::digest::digest(&ring::digest::SHA256, l.serial.as_bytes()).as_ref()),
                    "cert_sha256": info.sha256,
                    "dns_names": l.names,
                    "pubkey_sha256": "00",
                    "issuer": {"name": l.issuer_name, "friendly_name": "test CA", "pubkey_sha256": l.issuer_spki_hex},
                    "not_before": format!("{}Z", l.not_before),
                    "not_after": format!("{}Z", l.not_after),
                    "revoked": false,
                    "cert_der": base64::engine::general_purpose::STANDARD.encode(&l.der),
                })
            })
            .collect();
        (200, vec![], serde_json::to_vec(&rows).unwrap())
    }))
}

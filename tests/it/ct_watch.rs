//! The CT watch back-ends (crt.sh-style search, RFC 6962 log monitor)
//! against plain HTTP servers on 127.0.0.1 speaking the real API shapes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use certwatch_engine::ct::watch::{CrtSh, CtSearch, LogMonitor, Polite, Query, Search, WatchError};
use certwatch_engine::ct::LogList;
use certwatch_engine::model::parse_cert;
use certwatch_tests::ctlog::{b64, entry_precert, entry_x509, list_json, now_ms, TestLog};
use certwatch_tests::{http_server, Ca};

fn polite(min_secs: u64) -> Polite {
    Polite::new(None, std::time::Duration::from_secs(min_secs)).unwrap()
}

fn query_param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn crtsh_backend_search_position_and_errors() {
    let rows = br#"[
      {"issuer_ca_id":1,"issuer_name":"C=US, O=Let's Encrypt, CN=R3","common_name":"www.example.test","name_value":"www.example.test","id":1,"entry_timestamp":"2026-01-01T00:00:00.000","not_before":"2026-01-01T00:00:00","not_after":"2026-04-01T00:00:00","serial_number":"01"},
      {"issuer_ca_id":2,"issuer_name":"C=XX, O=Rogue Trust, CN=Rogue CA 1","common_name":"login.example.test","name_value":"login.example.test\nexample.test","id":2,"entry_timestamp":"2026-02-01T00:00:00.000","not_before":"2026-02-01T00:00:00","not_after":"2026-05-01T00:00:00","serial_number":"02"}
    ]"#
    .to_vec();
    let (base, hits) = http_server(Arc::new(move |t: &str| {
        if query_param(t, "d").is_some() {
            return (200, vec![], b"<html>no such certificate</html>".to_vec());
        }
        assert!(t.contains("output=json"), "{t}");
        match query_param(t, "q") {
            Some(q) if q.ends_with("example.test") => (200, vec![], rows.clone()),
            Some(q) if q.ends_with("busy.test") => (
                429,
                vec![("Retry-After".into(), "120".into())],
                b"slow down".to_vec(),
            ),
            Some(q) if q.ends_with("broken.test") => (500, vec![], b"oops".to_vec()),
            _ => (200, vec![], b"<html>not json</html>".to_vec()),
        }
    }));
    let q = |d: &str| Query::new(d, true, true);
    let mut s = CrtSh::new(&base, polite(0));
    let page = s.search(&q("example.test"), None).unwrap();
    assert_eq!(page.issuances.len(), 2);
    let n = hits.load(Ordering::SeqCst);
    assert_eq!(
        n,
        2 + 2,
        "one query for the apex, one for the subdomains, one download each"
    );
    assert_eq!(page.position.as_deref(), Some("2"));
    let rogue = page.issuances.iter().find(|i| i.id == "2").unwrap();
    assert_eq!(rogue.names, vec!["example.test", "login.example.test"]);
    assert!(rogue.der.is_none(), "the download was not a certificate");
    assert_eq!(page.not_downloaded, 2, "{:?}", page.notes);
    // After the position: nothing new, and nothing downloaded.
    let mut again = CrtSh::new(&base, polite(0));
    let before = hits.load(Ordering::SeqCst);
    assert!(again
        .search(&q("example.test"), Some("2"))
        .unwrap()
        .issuances
        .is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), before + 2);

    // 429 with Retry-After: backs off without asking again.
    let mut busy = CrtSh::new(&base, polite(0));
    let e = busy.search(&q("busy.test"), None).unwrap_err();
    assert!(
        matches!(
            e,
            WatchError::Status {
                status: 429,
                retry_in_secs: 120,
                ..
            }
        ),
        "{e}"
    );
    let before = hits.load(Ordering::SeqCst);
    assert!(matches!(
        busy.search(&q("busy.test"), None),
        Err(WatchError::Backoff { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), before);

    // 5xx: exponential backoff from the base step.
    let mut broken = CrtSh::new(&base, polite(0));
    let e = broken.search(&q("broken.test"), None).unwrap_err();
    assert!(
        matches!(
            e,
            WatchError::Status {
                status: 500,
                retry_in_secs: 60,
                ..
            }
        ),
        "{e}"
    );

    // Garbage: a parse error naming the URL.
    let mut garbage = CrtSh::new(&base, polite(0));
    let e = garbage.search(&q("garbage.test"), None).unwrap_err();
    assert!(matches!(e, WatchError::Parse { .. }), "{e}");
    assert!(e.to_string().contains("q=garbage.test"), "{e}");

    // Rate limit: a second poll before the interval is refused locally.
    let mut slow = CrtSh::new(&base, polite(3600));
    slow.search(&q("example.test"), None).unwrap();
    let before = hits.load(Ordering::SeqCst);
    assert!(matches!(
        slow.search(&q("example.test"), None),
        Err(WatchError::RateLimited { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), before);
}

/// A `MerkleTreeLeaf` for a certificate (x509 entry) or a precertificate TBS.
fn merkle_leaf(ts: u64, der: &[u8], precert_issuer_spki: Option<&[u8]>) -> Vec<u8> {
    let mut v = vec![0u8, 0];
    v.extend_from_slice(&ts.to_be_bytes());
    match precert_issuer_spki {
        Some(spki) => {
            v.extend_from_slice(&entry_precert(spki, der));
        }
        None => v.extend_from_slice(&entry_x509(der)),
    }
    v.extend_from_slice(&[0, 0]);
    v
}

fn sth_json(log: &TestLog, tree_size: u64, tamper: bool) -> Vec<u8> {
    let ts = now_ms();
    let root = [7u8; 32];
    let mut signed = vec![0u8, 1];
    signed.extend_from_slice(&ts.to_be_bytes());
    signed.extend_from_slice(&(if tamper { tree_size + 1 } else { tree_size }).to_be_bytes());
    signed.extend_from_slice(&root);
    let sig = log.sign(&signed);
    let mut ds = vec![4u8, 3];
    ds.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    ds.extend_from_slice(&sig);
    format!(
        r#"{{"tree_size":{tree_size},"timestamp":{ts},"sha256_root_hash":"{}","tree_head_signature":"{}"}}"#,
        b64(&root),
        b64(&ds)
    )
    .into_bytes()
}

#[test]
fn rfc6962_backend_reads_new_entries() {
    let good = Ca::root("Good CA", "Good Trust");
    let rogue = Ca::root("Rogue CA", "Rogue Trust");
    let log = TestLog::new();
    let list = LogList::parse("t", list_json(&[(&log, "Op")]).as_bytes()).unwrap();
    let log_entry = list.logs()[0].clone();

    let ts = now_ms();
    let x509 = good.leaf(&["www.watch.test"]).chain[0].clone();
    let pre = rogue.leaf(&["login.watch.test"]).chain[0].clone();
    let pre_tbs = parse_cert(&pre).unwrap().tbs_der;
    let rogue_spki = parse_cert(&rogue.der).unwrap().spki_der;
    let other = good.leaf(&["unrelated.test"]).chain[0].clone();
    let leaves: Vec<Vec<u8>> = vec![
        merkle_leaf(ts, &other, None),
        merkle_leaf(ts, &x509, None),
        merkle_leaf(ts, &other, None),
        merkle_leaf(ts, &pre_tbs, Some(&rogue_spki)),
        merkle_leaf(ts, &other, None),
    ];
    let tree = Arc::new(std::sync::Mutex::new(leaves));
    let sth_tamper = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (t2, st2) = (tree.clone(), sth_tamper.clone());
    let log_sth = Arc::new(log);
    let l2 = log_sth.clone();
    let (base, hits) = http_server(Arc::new(move |t: &str| {
        let leaves = t2.lock().unwrap().clone();
        if t.starts_with("/ct/v1/get-sth") {
            return (
                200,
                vec![],
                sth_json(&l2, leaves.len() as u64, st2.load(Ordering::SeqCst)),
            );
        }
        if t.starts_with("/ct/v1/get-entries") {
            let start: usize = query_param(t, "start").unwrap().parse().unwrap();
            let end: usize = query_param(t, "end").unwrap().parse().unwrap();
            if start >= 100 {
                return (200, vec![], b"{\"entries\": 7}".to_vec());
            }
            // Logs may answer with fewer entries than asked: at most 2 here.
            let stop = (end + 1).min(leaves.len()).min(start + 2);
            let entries: Vec<String> = leaves[start..stop]
                .iter()
                .map(|l| format!(r#"{{"leaf_input":"{}","extra_data":""}}"#, b64(l)))
                .collect();
            return (
                200,
                vec![],
                format!(r#"{{"entries":[{}]}}"#, entries.join(",")).into_bytes(),
            );
        }
        (404, vec![], b"no".to_vec())
    }));

    let domains = vec!["watch.test".to_string()];
    let mut m = LogMonitor::new(&base, Some(log_entry.clone()), polite(0));
    m.batch = 4;
    let found = m.poll(&domains).unwrap();
    assert_eq!(m.next_index, Some(5));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].names, vec!["www.watch.test"]);
    assert!(!found[0].precert);
    assert_eq!(found[1].names, vec!["login.watch.test"]);
    assert!(found[1].precert);
    assert_eq!(found[1].issuer_org.as_deref(), Some("Rogue Trust"));
    assert_eq!(found[1].id, "3");

    // Nothing new: only get-sth is asked.
    let before = hits.load(Ordering::SeqCst);
    assert!(m.poll(&domains).unwrap().is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);

    // One new entry: read from where the last poll stopped.
    tree.lock()
        .unwrap()
        .push(merkle_leaf(ts, &pre_tbs, Some(&rogue_spki)));
    let found = m.poll(&domains).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "5");

    // A tree head whose signature does not verify is refused.
    sth_tamper.store(true, Ordering::SeqCst);
    let e = m.poll(&domains).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    sth_tamper.store(false, Ordering::SeqCst);

    // Garbage get-entries: a parse error, no panic.
    let mut g = LogMonitor::new(&base, None, polite(0));
    g.next_index = Some(100);
    tree.lock()
        .unwrap()
        .resize(120, merkle_leaf(ts, &other, None));
    let e = g.poll(&domains).unwrap_err();
    assert!(matches!(e, WatchError::Parse { .. }), "{e}");
}

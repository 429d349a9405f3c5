//! The crt.sh-compatible search back-end (position, politeness, errors)
//! against plain HTTP servers on 127.0.0.1 speaking the real API shapes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use certwatch_engine::ct::watch::{CrtSh, Polite, Query, Search, WatchError};
use certwatch_tests::http_server;

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

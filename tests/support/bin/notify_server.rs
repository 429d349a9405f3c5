//! A desktop-notification server for tests: owns
//! `org.freedesktop.Notifications` on the session bus given by
//! `DBUS_SESSION_BUS_ADDRESS` and appends every `Notify` call, as one JSON
//! line, to the file named by its first argument. Prints `ready` once the
//! name is owned.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;

struct Server {
    log: PathBuf,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints
            .get("urgency")
            .and_then(|v| u8::try_from(&**v).ok())
            .map(i64::from)
            .unwrap_or(-1);
        let line = serde_json::json!({"app_name": app_name, "summary": summary, "body": body, "urgency": urgency});
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(f, "{line}");
        }
        1
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "certwatch-test".into(),
            "certwatch".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

fn main() {
    let Some(log) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: notify-server LOGFILE");
        std::process::exit(2);
    };
    let result: zbus::Result<()> = zbus::block_on(async {
        let _conn = zbus::conn::Builder::session()
            .name("org.freedesktop.Notifications")
            .serve_at("/org/freedesktop/Notifications", Server { log })
            .build()
            .await?;
        println!("ready");
        std::future::pending::<()>().await;
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("notify-server: {e}");
        std::process::exit(1);
    }
}

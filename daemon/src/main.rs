//! `certwatchd`: thin main. Logging, config, socket, then `daemon::run`.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatchd::server::{bind, run, Inner, Shared};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    if std::env::args().len() > 1 {
        eprintln!("certwatchd takes no arguments; configure it in config.toml (CERTWATCH_HOME or ~/.config/certwatch)");
        return ExitCode::from(3);
    }
    let paths = match Paths::resolve(&ProcessEnv, None) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(3);
        }
    };
    let config = match certwatch_engine::config::load(&paths.config_file()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(3);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let inner = match Inner::new(paths.clone(), config) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(3);
        }
    };
    let shared = Shared::new(inner);
    let result = rt.block_on(async {
        let (listener, socket) = bind(&paths)?;
        tracing::info!(socket = %socket.display(), version = certwatch_engine::VERSION, "certwatchd ready");
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signals = {
            let shared = shared.clone();
            async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = term.recv() => break,
                        _ = int.recv() => break,
                        _ = hup.recv() => {
                            let s = shared.clone();
                            match tokio::task::spawn_blocking(move || s.reload()).await {
                                Ok(Ok(())) => tracing::info!("config reloaded"),
                                Ok(Err(e)) => tracing::error!("config not reloaded, keeping the running one: {e}"),
                                Err(_) => {}
                            }
                        }
                    }
                }
                let _ = tx.send(true);
            }
        };
        tokio::spawn(signals);
        run(shared, listener, socket, rx).await;
        Ok::<(), String>(())
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(3)
        }
    }
}

//! `certwatch-host`: started by the browser, speaks native messaging on
//! stdin/stdout, logs to stderr. All logic lives in the library.

use std::process::ExitCode;

use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_host::backend::{self, Backend, DirectBackend, Failure};
use certwatch_host::relay::Router;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cap = match certwatch_host::max_in(std::env::var(backend::env::MAX_IN).ok().as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("certwatch-host: {e}");
            return ExitCode::from(1);
        }
    };
    let code = certwatch_host::serve(
        &args,
        cap,
        std::io::stdin().lock(),
        std::io::stdout(),
        || {
            let paths = Paths::resolve(&ProcessEnv, None)
                .map_err(|e| Failure::new("config", format!("cannot locate the database: {e}")))?;
            let direct = Box::new(|| DirectBackend::from_env(Box::new(ProcessEnv)));
            Ok(Box::new(Router::new(&paths, direct)) as Box<dyn Backend>)
        },
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

//! `certwatch`: the command-line front end. Thin: parse, dispatch, exit.

mod args;
mod cmd;
mod ctx;
mod exit;
mod render;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::exit::Status;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let status = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Status::Ok,
                _ => Status::Unknown,
            };
            let _ = e.print();
            return ExitCode::from(status.code());
        }
    };
    let status = match run(cli) {
        Ok(s) => s,
        Err(e) => {
            let msg = certwatch_engine::sanitize::sanitize(&format!("{e:#}"));
            let _ = writeln!(std::io::stderr(), "certwatch: {msg}");
            Status::Unknown
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(status.code())
}

fn run(cli: args::Cli) -> anyhow::Result<Status> {
    // Generated from the parser alone: no paths needed (a package build may have no HOME).
    let command = match cli.command {
        args::Command::Completions(a) => return cmd::manual::completions(a),
        args::Command::Man(a) => return cmd::manual::man(a),
        c => c,
    };
    let ctx = ctx::Ctx::new(cli.global)?;
    match command {
        args::Command::Check(a) => cmd::check::run(&ctx, a),
        args::Command::Inspect(a) => cmd::inspect::run(&ctx, a),
        args::Command::History(a) => cmd::history::run(&ctx, a),
        args::Command::Accept(a) => cmd::accept::run(&ctx, a),
        args::Command::Pins(a) => cmd::pins::run(&ctx, a),
        args::Command::AcceptInterceptor(a) => cmd::pins::accept_interceptor(&ctx, a),
        args::Command::Extension(c) => cmd::extension::run(&ctx, c),
        args::Command::Ct(a) => cmd::ct::run(&ctx, a),
        args::Command::Ccadb(a) => cmd::ccadb::run(&ctx, a),
        args::Command::Fleet(c) => cmd::fleet::run(&ctx, c),
        args::Command::Status(a) => cmd::daemon::status(&ctx, a),
        args::Command::Watch(c) => cmd::daemon::watch(&ctx, c),
        args::Command::Alerts(a) => cmd::daemon::alerts(&ctx, a),
        args::Command::Log(a) => cmd::daemon::log(&ctx, a),
        args::Command::Service(c) => cmd::service::run(&ctx, c),
        args::Command::Setup(a) => cmd::service::setup(&ctx, a),
        args::Command::Completions(a) => cmd::manual::completions(a),
        args::Command::Man(a) => cmd::manual::man(a),
    }
}

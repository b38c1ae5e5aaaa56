//! The `quietline` binary: parse the command line, load the config, hand over to
//! the library.

use std::process::ExitCode;

use clap::Parser;
use quietline::cli::{self, Cli};
use quietline::config::Config;

fn main() -> ExitCode {
    let args = Cli::parse();
    let loaded = match Config::load(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            if matches!(args.command, cli::Command::Doctor) {
                println!("{}", cli::doctor::config_failed(&e.to_string()));
            }
            eprintln!("quietline: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = quietline::logging::init(&loaded.config.log) {
        eprintln!("quietline: cannot start logging: {e}");
        return ExitCode::from(2);
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quietline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match runtime.block_on(cli::run(args.command, loaded.config, &mut stdout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quietline: {e}");
            ExitCode::FAILURE
        }
    }
}

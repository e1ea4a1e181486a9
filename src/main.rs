use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = catchup::Cli::parse();
    match catchup::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            catchup::exit::code_for(&err).into()
        }
    }
}

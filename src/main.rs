use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = catchup::Cli::parse();
    match catchup::run(cli) {
        Ok(exit) => exit.into(),
        // A closed stdout (`catchup stories | head -1`) ends quietly, as it
        // does for `ls` and `rg`.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.code().into()
        }
    }
}

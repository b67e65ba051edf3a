//! `parley`: Parley's command-line client. Everything is in the `parley_cli` library; see its
//! docs for the output, `--json` and the exit codes (0 done, 1 refused, 2 usage, 75
//! temporary failure).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    parley_cli::main_with_args(std::env::args_os()).await
}

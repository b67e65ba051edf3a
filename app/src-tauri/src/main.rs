//! The Parley desktop app: everything is in the library ([`parley_app::run`]).
#![forbid(unsafe_code)]
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    parley_app::run()
}

//! `--help`, `--version`, usage errors, completions and `-v`: no relay needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Output;

async fn parley(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .env_remove("PARLEY_HOME")
        .env_remove("PARLEY_KEY_DIR")
        .output()
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn help_has_examples_and_exit_codes() {
    let out = parley(&["--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "Examples:",
        "parley send bob",
        "parley --json listen --drain",
        "Exit codes:",
        "  0   done",
        "  1   refused",
        "  2   usage",
        "  75  temporary failure",
        "--json",
        "-v, --verbose",
    ] {
        assert!(help.contains(needle), "{needle:?} in {help}");
    }
    for (cmd, example) in [
        ("send", "parley send '#Ops' 'deploy at 5'"),
        ("listen", "parley listen --drain"),
        ("group", "parley group create Ops bob carol"),
    ] {
        let out = parley(&[cmd, "--help"]).await;
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains("Examples:"), "{cmd}");
        assert!(stdout(&out).contains(example), "{cmd}: {}", stdout(&out));
    }
    let out = parley(&["listen", "--help"]).await;
    assert!(stdout(&out).contains("--give-up-after <SECS>"));

    let out = parley(&["--version"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("parley "), "{}", stdout(&out));
    // `--json --help` is still help.
    let out = parley(&["--json", "--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Exit codes:"));
}

#[tokio::test]
async fn help_for_every_command() {
    for cmd in [
        "init-org",
        "invite",
        "link-device",
        "join",
        "whoami",
        "devices",
        "send",
        "send-file",
        "listen",
        "history",
        "edit",
        "delete",
        "react",
        "group",
        "completions",
    ] {
        let out = parley(&[cmd, "--help"]).await;
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(stdout(&out).contains("Usage: parley"), "{cmd}");
    }
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let out = parley(&["--bogus"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unexpected argument"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    let out = parley(&["send", "Not A User", "hi"]).await;
    assert_eq!(out.status.code(), Some(2));
    // Under --json, the usage error is a JSON object on stdout like any other error.
    let out = parley(&["completions", "tcsh", "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["error"]["code"], "usage");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("tcsh"),
        "{v}"
    );
    let out = parley(&[]).await;
    assert_eq!(out.status.code(), Some(2));
    // A backup TLS pin only backs up a pin.
    let pin = "ab".repeat(32);
    let out = parley(&[
        "init-org",
        "--relay",
        "https://relay.example",
        "--setup-token",
        "t",
        "--user",
        "alice",
        "--tls-backup-pin",
        &pin,
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--tls-pin"), "{}", stderr(&out));
}

#[tokio::test]
async fn completions_print_a_script() {
    let out = parley(&["completions", "bash"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("_parley()"), "{script}");
    assert!(script.contains("complete -F _parley"), "{script}");
    assert!(script.contains("send-file"), "every command is completed");
    let out = parley(&["completions", "zsh"]).await;
    assert!(stdout(&out).starts_with("#compdef parley"));
    for shell in ["fish", "elvish", "powershell"] {
        let out = parley(&["completions", shell]).await;
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(stdout(&out).contains("listen"), "{shell}");
    }
}

/// `-v` turns on the CLI's and the engine's logs on stderr; without it there are none.
#[tokio::test]
async fn verbose_logs_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (home, keys) = (dir.path().join("nobody"), dir.path().join("keys"));
    let args = |v: &'static str| {
        let mut a = vec![
            "--home".to_owned(),
            home.display().to_string(),
            "--key-dir".to_owned(),
            keys.display().to_string(),
            "whoami".to_owned(),
        ];
        if !v.is_empty() {
            a.insert(0, v.to_owned());
        }
        a
    };
    let run = |a: Vec<String>| async move {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        parley(&a).await
    };
    let quiet = run(args("")).await;
    assert_eq!(quiet.status.code(), Some(1));
    assert_eq!(
        stderr(&quiet),
        "error: no store in this account directory\n"
    );
    let debug = run(args("-vv")).await;
    assert_eq!(debug.status.code(), Some(1));
    let err = stderr(&debug);
    assert!(err.contains("DEBUG") && err.contains("parley_cli"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes into a pipe: {err:?}"
    );
    assert!(
        err.ends_with("error: no store in this account directory\n"),
        "{err}"
    );
    let info = run(args("-v")).await;
    assert!(!stderr(&info).contains("DEBUG"), "{}", stderr(&info));
}

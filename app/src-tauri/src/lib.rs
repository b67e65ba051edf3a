//! # parley-app
//!
//! The desktop app (docs/architecture.md §11): a Tauri 2 shell whose Rust side is the
//! engine, `parley-client`, and whose WebView shows a TypeScript UI (`app/src`).
//!
//! - The engine runs here, in Rust: the Double Ratchet, the store, the org log, remote
//!   wipe. The WebView gets names, texts and statuses through [`commands`] and events
//!   ([`session::EVENT`]); no key ever crosses into it, and it holds nothing at rest.
//! - Every command must be granted by a capability file (`capabilities/main.json`); the
//!   content security policy allows no remote content, fonts or scripts.
//! - The types crossing the boundary are in [`dto`]; their TypeScript declarations are
//!   generated into `app/src/bindings.ts`.
//!
//! The account lives in `$PARLEY_HOME` if set (tests), else the app's data folder; the store
//! key's local half in `$PARLEY_KEY_DIR` if set, else a `keys` folder beside it.
#![forbid(unsafe_code)]

pub mod commands;
pub mod dto;
pub mod session;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tauri::Manager as _;
use tauri_plugin_deep_link::DeepLinkExt as _;

/// The first `parley-invite:` link among `urls`, as its text.
fn invite_link(urls: Vec<tauri::Url>) -> Option<String> {
    urls.into_iter()
        .find(|u| u.scheme() == "parley-invite")
        .map(String::from)
}

/// Starts the app; returns when its last window closes.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = tauri::Builder::default()
        // One process per account: a second start (a `parley-invite:` link opened while the
        // app runs) hands its arguments to this one over D-Bus and exits; the deep-link
        // plugin then reports the link here.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let data = app.path().app_data_dir()?;
            let home = env_path("PARLEY_HOME").unwrap_or_else(|| data.join("account"));
            let key_dir = env_path("PARLEY_KEY_DIR").unwrap_or_else(|| data.join("keys"));
            let shared = Arc::new(session::Shared::new(home, key_dir));
            app.manage(Arc::clone(&shared));
            // Started by a link: the first-run screen previews it.
            // (The deep-link plugin takes a link that is the only argument, as a desktop passes
            // it; a link among other arguments counts too.)
            let started_with = invite_link(app.deep_link().get_current()?.unwrap_or_default())
                .or_else(|| {
                    std::env::args()
                        .skip(1)
                        .find(|a| a.starts_with("parley-invite:"))
                });
            if let Some(invite) = started_with {
                shared.offer_invite(invite);
            }
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                if let Some(invite) = invite_link(event.urls()) {
                    session::emit(&handle, dto::UiEvent::InviteLink { invite });
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::whoami,
            commands::connection_state,
            commands::preview_invite,
            commands::join,
            commands::create_org,
            commands::link_code,
            commands::key_in_keystore,
            commands::conversations,
            commands::timeline,
            commands::read_chat,
            commands::send_text,
            commands::edit_message,
            commands::delete_message,
            commands::react,
            commands::typing,
            commands::send_file,
            commands::save_file,
            commands::image_preview,
            commands::directory,
            commands::search_directory,
            commands::set_notify,
            commands::set_disappearing,
            commands::presence,
            commands::set_presence,
            commands::statuses,
            commands::set_status,
            commands::safety_number,
            commands::create_group,
            commands::group_details,
            commands::change_group,
            commands::invite_user,
            commands::revoke_device,
            commands::dismiss_user,
            commands::set_poster,
            commands::order_wipe,
            commands::policy,
            commands::set_policy,
            commands::audit,
            commands::tasks,
            commands::create_task,
            commands::change_task,
            commands::task_reminder_lead,
            commands::set_task_reminder_lead,
        ])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the app could not start");
            ExitCode::FAILURE
        }
    }
}

/// An absolute path from the environment.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

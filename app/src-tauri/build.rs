//! Tauri's build step: embeds the configuration and declares the app's commands, so that
//! each must be granted by a capability file (`capabilities/`).

fn main() {
    let commands = &[
        "app_state",
        "whoami",
        "connection_state",
        "preview_invite",
        "join",
        "create_org",
        "link_code",
        "key_in_keystore",
        "conversations",
        "timeline",
        "read_chat",
        "send_text",
        "edit_message",
        "delete_message",
        "react",
        "typing",
        "send_file",
        "save_file",
        "image_preview",
        "directory",
        "search_directory",
        "set_notify",
        "set_disappearing",
        "presence",
        "set_presence",
        "statuses",
        "set_status",
        "safety_number",
        "create_group",
        "group_details",
        "change_group",
        "invite_user",
        "revoke_device",
        "dismiss_user",
        "set_poster",
        "order_wipe",
        "policy",
        "set_policy",
        "audit",
        "tasks",
        "create_task",
        "change_task",
        "task_reminder_lead",
        "set_task_reminder_lead",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with the cause on stderr.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("tauri build step failed: {e:#}");
        }
        std::process::exit(1);
    }
}

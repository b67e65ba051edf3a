//! The OpenAPI 3 document, generated from the `parley-proto` types and the handlers'
//! annotations, served at `/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{attachments, devices, keys, messages, ops, org, ws};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley relay API", description = "The blind relay of Parley, an end-to-end encrypted messenger."),
    paths(
        org::create_org, org::org_log, org::create_invite,
        devices::register, devices::create_link, devices::list_devices,
        keys::upload, keys::count, keys::claim,
        messages::send, ws::upgrade,
        attachments::upload, attachments::download,
        ops::healthz, ops::metrics, ops::openapi,
    ),
    components(schemas(
        parley_proto::ws::ServerFrame, parley_proto::ws::ClientFrame, parley_proto::ws::Envelope,
    )),
    modifiers(&DeviceAuth),
)]
struct ApiDoc;

struct DeviceAuth;

impl Modify for DeviceAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description =
            Some("login `<user>.<device>`, password: the device secret in base64".into());
        components.add_security_scheme("device", SecurityScheme::Http(basic));
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

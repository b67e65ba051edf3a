//! The OpenAPI 3 document, generated from the `parley-proto` types and the handlers'
//! annotations, served at `/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{attachments, devices, keys, messages, ops, org, ws};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley relay API", description = "The blind relay of Parley, an end-to-end encrypted messenger."),
    paths(
        org::create_org, org::org_log, org::append, org::receipt,
        devices::register, devices::unlock, devices::list_devices,
        keys::upload, keys::count, keys::claim,
        messages::send, messages::send_multi, ws::upgrade,
        attachments::upload, attachments::download,
        ops::healthz, ops::metrics, ops::openapi,
    ),
    components(schemas(
        parley_proto::ws::ServerFrame, parley_proto::ws::ClientFrame, parley_proto::ws::Envelope,
    )),
    modifiers(&DeviceAuth, &CommonErrors),
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

/// Adds the error responses every operation can give (typed `ErrorBody`s): 400 for bad input,
/// 413/415 for bodies, 401/429 where a device authenticates, and 500.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let mut add = |code: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(description).into());
                };
                add("400", "malformed or invalid input");
                add("500", "internal error (no detail)");
                if has_body {
                    add("413", "body over the size limit");
                    add("415", "wrong content type");
                }
                if authenticated {
                    add("401", "missing or wrong device credentials");
                    add("429", "rate limited (Retry-After)");
                }
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

//! The MCP App (the `io.modelcontextprotocol/ui` extension): one HTML view of the arm,
//! embedded in the binary, served as a `ui://` resource and linked from the motion tools.
//! Hosts that do not render it lose nothing: the tools answer the same.

use rmcp::model::{
    JsonObject, ListResourcesResult, ReadResourceResult, Resource, ResourceContents,
    ServerCapabilities,
};
use rmcp::ErrorData as McpError;
use serde_json::json;

/// The extension's identifier in the capabilities.
pub(super) const EXTENSION: &str = "io.modelcontextprotocol/ui";
/// The view's resource.
pub(super) const URI: &str = "ui://armature/arm";
/// The MIME type the extension gives an MCP App's HTML.
pub(super) const MIME: &str = "text/html;profile=mcp-app";
/// The app-only tools: hosts keep them from the model (`_meta.ui.visibility`).
pub(super) const APP_ONLY: &[&str] = &["approve_task"];

/// The view: one self-contained page (no network, no external script).
const HTML: &str = include_str!("../../assets/app/arm.html");

/// Declares the extension in `caps`, with the MIME type this server serves.
pub(super) fn declare(caps: &mut ServerCapabilities) {
    let mut settings = JsonObject::new();
    settings.insert("mimeTypes".into(), json!([MIME]));
    caps.extensions
        .get_or_insert_with(Default::default)
        .insert(EXTENSION.into(), settings);
}

/// Adds `ui` to a tool's `_meta`: the view for a motion tool, app-only for [`APP_ONLY`].
pub(super) fn tool_meta(meta: &mut JsonObject, name: &str, motion: bool) {
    if APP_ONLY.contains(&name) {
        meta.insert(
            "ui".into(),
            json!({"resourceUri": URI, "visibility": ["app"]}),
        );
    } else if motion {
        meta.insert("ui".into(), json!({"resourceUri": URI}));
    }
}

/// The view as a listed resource.
fn resource() -> Resource {
    Resource::new(URI, "arm")
        .with_title("The arm")
        .with_description(
            "A live view of the arm, its task's progress, a Stop button and, for a held move, Approve and Reject.",
        )
        .with_mime_type(MIME)
        .with_size(HTML.len() as u64)
}

/// `resources/list`: the view.
pub(super) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![resource()])
}

/// `resources/read` of `uri`: the view, or -32602 naming the one resource there is.
pub(super) fn read(uri: &str) -> Result<ReadResourceResult, McpError> {
    if uri != URI {
        let uri = crate::audit::excerpt(uri, 64);
        return Err(McpError::resource_not_found(
            format!("there is no resource \"{uri}\"; the only one is {URI}"),
            Some(json!({"uri": uri})),
        ));
    }
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        HTML, URI,
    )
    .with_mime_type(MIME)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_is_served_with_the_app_mime_type_and_stop() {
        let r = read(URI).expect("the view");
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["contents"][0]["mimeType"], MIME);
        let text = v["contents"][0]["text"].as_str().unwrap_or("");
        assert!(text.contains("ui/initialize") && text.contains("\"stop\""));
        assert!(read("ui://armature/other").is_err());
    }
}

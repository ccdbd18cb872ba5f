//! The HTTP layer's part of JSON-RPC errors: a body that is not JSON gets HTTP 400 with a
//! parse error (-32700); JSON that is not a JSON-RPC message gets 400 with -32600. rmcp
//! answers both with 415, which says the media type was wrong, and it was not.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::MAX_REQUEST_BYTES;

/// A JSON-RPC error response without an id (none could be read), as HTTP 400.
fn rpc_error(code: i64, message: String) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The whole body, or the response that refuses it (413 past [`MAX_REQUEST_BYTES`]).
async fn read(body: Body) -> Result<Bytes, Response> {
    let mut body = std::pin::pin!(body);
    let mut buf: Vec<u8> = vec![];
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|e| {
            let message = format!("the request body could not be read: {e}");
            (StatusCode::BAD_REQUEST, message).into_response()
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > MAX_REQUEST_BYTES {
            let message =
                format!("Payload Too Large: the request body exceeds {MAX_REQUEST_BYTES} bytes");
            return Err((StatusCode::PAYLOAD_TOO_LARGE, message).into_response());
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

/// Checks that a JSON POST's body is JSON before rmcp reads it, and names what rmcp
/// could not read as a JSON-RPC message.
pub(super) async fn check(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !is_json(request.headers()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read(body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return rpc_error(-32700, format!("Parse error: the body is not JSON: {e}"));
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    // The media type was right and the JSON well-formed: rmcp found no message in it.
    let why = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    rpc_error(
        -32600,
        format!("Invalid Request: the body is not a JSON-RPC 2.0 message: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn json_content_types_are_told_apart() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&h));
    }
}

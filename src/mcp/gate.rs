//! The HTTP gate every request passes: a foreign `Origin` is refused (DNS-rebinding
//! protection), with operators configured a valid bearer token is required, and a request
//! reaches an MCP session only if the session is the caller's own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::{Host, Url};

use super::owners::{Book, Claim};
use crate::audit::{Audit, AuditEntry};
use crate::operators::{Operator, Operators, Rejected};

/// The header that names an MCP session (streamable HTTP).
const SESSION_HEADER: &str = "mcp-session-id";
/// rmcp's answer to an id that names no session; a foreign session gets the same.
const NO_SESSION: &str = "Not Found: Session not found";

/// An origin a request may come from: scheme, host, and port (`None`: any port).
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedOrigin {
    scheme: &'static str,
    host: Host<String>,
    port: Option<u16>,
}

/// The origins of pages served from this machine.
#[derive(Debug, Clone)]
pub(super) struct LocalOrigins(Vec<AllowedOrigin>);

impl LocalOrigins {
    /// `localhost`, 127.0.0.1 and [::1] over http or https on any port (a local tool serves
    /// its page from a port of its own), and `bound` too when it is not a loopback address.
    pub(super) fn new(bound: IpAddr) -> Self {
        let mut hosts = vec![
            Host::Domain("localhost".to_owned()),
            Host::Ipv4(Ipv4Addr::LOCALHOST),
            Host::Ipv6(Ipv6Addr::LOCALHOST),
        ];
        match bound {
            IpAddr::V4(ip) if !ip.is_loopback() => hosts.push(Host::Ipv4(ip)),
            IpAddr::V6(ip) if !ip.is_loopback() => hosts.push(Host::Ipv6(ip)),
            _ => {}
        }
        let origins = hosts
            .into_iter()
            .flat_map(|host| {
                ["http", "https"].map(|scheme| AllowedOrigin {
                    scheme,
                    host: host.clone(),
                    port: None,
                })
            })
            .collect();
        Self(origins)
    }

    /// The host names the HTTP layer accepts in `Host` headers.
    pub(super) fn host_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .iter()
            .map(|o| match &o.host {
                // rmcp compares the Host header's name without brackets.
                Host::Ipv6(ip) => ip.to_string(),
                h => h.to_string(),
            })
            .collect();
        names.dedup();
        names
    }

    /// Whether an `Origin` header value is one of these origins. It is parsed as a URL: the
    /// host compares case-insensitively (the parser lowercases it), addresses as addresses,
    /// and anything beyond `scheme://host[:port]` (a path, user info) is refused.
    pub(super) fn allow(&self, origin: &str) -> bool {
        let Ok(url) = Url::parse(origin) else {
            return false;
        };
        let bare = url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        let Some(host) = url.host().map(|h| h.to_owned()) else {
            return false;
        };
        let port = url.port_or_known_default();
        bare && self.0.iter().any(|o| {
            o.scheme == url.scheme() && o.host == host && o.port.is_none_or(|p| Some(p) == port)
        })
    }
}

/// The token of an `Authorization` header value with the Bearer scheme, whose name is
/// case-insensitive (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the HTTP gate checks against.
pub(super) struct Gate {
    pub(super) operators: Operators,
    pub(super) origins: LocalOrigins,
    pub(super) audit: Audit,
    pub(super) book: Arc<Book>,
}

fn refuse(gate: &Gate, status: StatusCode, code: &str, message: String) -> Response {
    let entry = AuditEntry::now(
        "unauthenticated",
        "http",
        json!({}),
        Some(code),
        None,
        Duration::ZERO,
    );
    gate.audit.record(entry);
    let body = json!({"error": code, "message": message});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The operator a request's token names, or why there is none: the code and message of
/// an HTTP 401.
fn authenticate(gate: &Gate, request: &Request) -> Result<Operator, (&'static str, String)> {
    if gate.operators.is_empty() {
        return Ok(Operator::local());
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match token.map(|t| gate.operators.authenticate(t)) {
        Some(Ok(op)) => Ok(op),
        Some(Err(Rejected::Unknown)) => Err((
            "unauthorized",
            "the bearer token is not an operator's token".to_owned(),
        )),
        Some(Err(Rejected::Expired(name, at))) => Err((
            "token_expired",
            format!(
                "{name}'s token expired at {at}; ask for a new one (armature token new {name})"
            ),
        )),
        None => Err((
            "unauthorized",
            "this server needs an operator's token: send Authorization: Bearer <token>".to_owned(),
        )),
    }
}

/// rmcp's 404 for an unknown session, byte for byte (no content type).
fn no_session() -> Response {
    let mut response = Response::new(Body::from(NO_SESSION));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Records a request on another operator's session: refused, and the session left as it was.
fn foreign(gate: &Gate, operator: &Operator, owner: &str, method: &Method, id: &str) {
    let session: String = id.chars().take(8).collect();
    let params = json!({"method": method.as_str(), "session": session, "owner": owner});
    let entry = AuditEntry::now(
        &operator.name,
        "http",
        params,
        Some("foreign_session"),
        None,
        Duration::ZERO,
    );
    gate.audit.record(entry);
    tracing::warn!(operator = %operator.name, owner, method = %method, session,
        "refused: a request on another operator's MCP session, answered as for an unknown session");
}

/// Refuses foreign origins and, with operators configured, requests without a valid token;
/// lets a request reach a session only as its owner's; binds a new session to the operator
/// whose `initialize` opened it. The operator goes to the MCP handler in the request's
/// extensions.
pub(super) async fn check(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("<not text>").to_owned();
        if !gate.origins.allow(&origin) {
            let message = format!("requests from origin {origin} are refused: only local origins may call this server");
            return refuse(&gate, StatusCode::FORBIDDEN, "foreign_origin", message);
        }
    }
    let operator = match authenticate(&gate, &request) {
        Ok(op) => op,
        Err((code, message)) => {
            return refuse(&gate, StatusCode::UNAUTHORIZED, code, message);
        }
    };
    let named = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut own = false;
    if let Some(id) = &named {
        match gate.book.claim(id, &operator.name) {
            Claim::Own => own = true,
            claim => {
                if let Claim::Foreign(owner) = &claim {
                    foreign(&gate, &operator, owner, request.method(), id);
                }
                // rmcp closes an unknown session without a word (202); the spec says 404.
                if request.method() == Method::DELETE {
                    return no_session();
                }
                // rmcp then answers exactly as for an id that names no session: a foreign
                // session and an unknown one cannot be told apart.
                let stranger = uuid::Uuid::new_v4().to_string();
                if let Ok(v) = HeaderValue::from_str(&stranger) {
                    request.headers_mut().insert(SESSION_HEADER, v);
                }
            }
        }
    }
    request.extensions_mut().insert(operator.clone());
    let delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    // rmcp says 202 to a DELETE it carried out; the Python SDK takes only 200 or 204 as done.
    if delete && own && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    if let Some(id) = named.as_deref().filter(|_| own) {
        // The session closed (DELETE, idle) while this request was on its way in: rmcp says
        // 500, but for the client it is now a session that does not exist.
        if response.status() == StatusCode::INTERNAL_SERVER_ERROR && !gate.book.is_open(id) {
            return no_session();
        }
    }
    if named.is_none() {
        if let Some(id) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            gate.book.bind(id, &operator.name);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_by_scheme_host_and_port() {
        let local = LocalOrigins::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for ok in [
            "http://localhost:7400",
            "http://LOCALHOST",
            "https://LocalHost:443",
            "http://127.0.0.1",
            "http://[::1]:7400",
            "http://[0:0:0:0:0:0:0:1]",
            "http://localhost:7400/",
        ] {
            assert!(local.allow(ok), "{ok} refused");
        }
        for refused in [
            "http://[::1]evil.com",
            "localhost",
            "http://evil.example.com",
            "http://localhost.evil.com",
            "http://localhost@evil.com",
            "http://evil.com@localhost",
            "ftp://localhost",
            "file:///etc/passwd",
            "null",
            "http://localhost:99999",
            "http://localhost/path",
            "http://127.0.0.2",
            "",
        ] {
            assert!(!local.allow(refused), "{refused} allowed");
        }
        let lan = LocalOrigins::new("192.168.1.20".parse().unwrap());
        assert!(lan.allow("http://192.168.1.20:7400"));
        assert!(lan.host_names().contains(&"192.168.1.20".to_owned()));
        assert_eq!(
            local.host_names(),
            ["localhost", "127.0.0.1", "::1"].map(String::from)
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}

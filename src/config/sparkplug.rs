//! `[sparkplug]` checked: the fleet edge node's broker, names, credentials and TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::RawSparkplug;
use super::{ConfigError, Place};

/// `[sparkplug]` checked: how the edge node reaches the broker and names itself.
#[derive(Clone)]
pub struct SparkplugConfig {
    /// The broker's host name or address.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// TLS (an `mqtts://` broker), with the files to use.
    pub tls: Option<TlsFiles>,
    /// Sparkplug group id.
    pub group_id: String,
    /// Sparkplug edge node id: this plugin.
    pub edge_node_id: String,
    /// Sparkplug device id: the arm.
    pub device_id: String,
    /// The MQTT client id.
    pub client_id: String,
    /// MQTT keep-alive; the broker announces NDEATH after 1.5 × this of silence.
    pub keep_alive: Duration,
    /// MQTT user name.
    pub username: Option<String>,
    /// MQTT password, read from the environment variable `password_env` at load.
    pub password: Option<String>,
    /// Whether a `Device Control/Stop` command over MQTT stops the arm.
    pub accept_stop: bool,
}

impl std::fmt::Debug for SparkplugConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs and `check-config`.
        f.debug_struct("SparkplugConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("group_id", &self.group_id)
            .field("edge_node_id", &self.edge_node_id)
            .field("device_id", &self.device_id)
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("accept_stop", &self.accept_stop)
            .finish()
    }
}

/// The files TLS uses; without `ca_file`, the system's trusted roots.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// CA certificates (PEM) the broker's certificate must chain to.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain and key (PEM), for brokers that ask for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

const DEFAULT_DEVICE_ID: &str = "arm";
const DEFAULT_KEEP_ALIVE_S: u64 = 10;

/// Checks `[sparkplug]`; relative file names are taken from `base`, the config's folder.
pub(super) fn sparkplug(
    raw: &RawSparkplug,
    base: &Path,
    at: &Place<'_>,
) -> Result<SparkplugConfig, ConfigError> {
    let (tls, host, port) = broker(&raw.broker, at)?;
    let id = |v: &Spanned<String>, field: &'static str| {
        let s = v.get_ref();
        if s.is_empty() || s.contains(['/', '+', '#']) {
            Err(at.invalid(
                v.span(),
                field,
                format!("\"{s}\""),
                "must be non-empty and hold none of / + # (Sparkplug topic rules)",
            ))
        } else {
            Ok(s.clone())
        }
    };
    let group_id = id(&raw.group_id, "sparkplug.group_id")?;
    let edge_node_id = id(&raw.edge_node_id, "sparkplug.edge_node_id")?;
    let device_id = match &raw.device_id {
        Some(v) => id(v, "sparkplug.device_id")?,
        None => DEFAULT_DEVICE_ID.to_owned(),
    };
    let client_id = match &raw.client_id {
        Some(v) if v.get_ref().is_empty() => {
            return Err(at.invalid(v.span(), "sparkplug.client_id", "\"\"", "must be non-empty"))
        }
        Some(v) => v.get_ref().clone(),
        None => format!("armature-{group_id}-{edge_node_id}"),
    };
    if let Some(v) = raw
        .keep_alive_s
        .as_ref()
        .filter(|v| !(1..=3600).contains(v.get_ref()))
    {
        return Err(at.invalid(
            v.span(),
            "sparkplug.keep_alive_s",
            v.get_ref().to_string(),
            "must be 1 to 3600",
        ));
    }
    let password = match &raw.password_env {
        None => None,
        Some(v) if raw.username.is_none() => {
            return Err(at.invalid(
                v.span(),
                "sparkplug.password_env",
                format!("\"{}\"", v.get_ref()),
                "needs sparkplug.username",
            ))
        }
        Some(v) => Some(std::env::var(v.get_ref()).map_err(|_| {
            at.invalid(
                v.span(),
                "sparkplug.password_env",
                format!("\"{}\"", v.get_ref()),
                "names an environment variable that is not set",
            )
        })?),
    };
    let file = |v: &Option<Spanned<String>>, field: &'static str| -> Result<_, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        if !tls {
            return Err(at.invalid(
                v.span(),
                field,
                format!("\"{}\"", v.get_ref()),
                "applies to an mqtts:// broker only; this broker is plain mqtt://",
            ));
        }
        Ok(Some(super::resolve(base, v.get_ref())))
    };
    let ca_file = file(&raw.ca_file, "sparkplug.ca_file")?;
    let cert = file(&raw.client_cert, "sparkplug.client_cert")?;
    let key = file(&raw.client_key, "sparkplug.client_key")?;
    let client = match (cert, key, &raw.client_cert, &raw.client_key) {
        (Some(c), Some(k), _, _) => Some((c, k)),
        (None, None, _, _) => None,
        (_, _, Some(v), None) | (_, _, None, Some(v)) => {
            return Err(at.invalid(
                v.span(),
                "sparkplug.client_cert / client_key",
                format!("\"{}\"", v.get_ref()),
                "give both the client certificate and its key, or neither",
            ))
        }
        (_, _, _, _) => None,
    };
    Ok(SparkplugConfig {
        host,
        port,
        tls: tls.then_some(TlsFiles { ca_file, client }),
        group_id,
        edge_node_id,
        device_id,
        client_id,
        keep_alive: Duration::from_secs(
            raw.keep_alive_s
                .as_ref()
                .map_or(DEFAULT_KEEP_ALIVE_S, |v| *v.get_ref()),
        ),
        username: raw.username.as_ref().map(|u| u.get_ref().clone()),
        password,
        accept_stop: raw.accept_stop.unwrap_or(false),
    })
}

/// `mqtt://HOST[:PORT]` (1883) or `mqtts://HOST[:PORT]` (8883): whether TLS, host, port.
fn broker(v: &Spanned<String>, at: &Place<'_>) -> Result<(bool, String, u16), ConfigError> {
    let bad = || {
        at.invalid(
            v.span(),
            "sparkplug.broker",
            format!("\"{}\"", v.get_ref()),
            "must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)",
        )
    };
    let s = v.get_ref();
    let (tls, rest) = if let Some(r) = s.strip_prefix("mqtt://") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("mqtts://") {
        (true, r)
    } else {
        return Err(bad());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let default_port = if tls { 8883 } else { 1883 };
    // "[::1]:1883", "host:1883", "host"
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        (h.to_owned(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
            None => (rest.to_owned(), default_port),
        }
    };
    if host.is_empty() || host.contains(['/', '@', '?']) || port == 0 {
        return Err(bad());
    }
    Ok((tls, host, port))
}

//! The MQTT link: one task drives rumqttc's event loop, reconnects with backoff, gives every
//! new connection the next bdSeq in its will (NDEATH), and tells the publisher when the
//! link comes up or goes down and what commands arrive.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rumqttc::{Event, EventLoop, Incoming, LastWill, MqttOptions, Outgoing, QoS, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::payload;
use super::FleetError;
use crate::config::{SparkplugConfig, TlsFiles};

/// The file in the state directory that keeps the last bdSeq across restarts, so that a
/// host can tell a late NDEATH of an earlier run from the death of this one.
pub(crate) const BD_SEQ_FILE: &str = "sparkplug-bdseq";

/// What the link tells the publisher.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// Connected; the will holds NDEATH with this bdSeq.
    Up {
        /// The bdSeq of this connection.
        bd: u8,
    },
    /// The connection is gone (the link logs why).
    Down,
    /// A message on a subscribed topic (NCMD, DCMD).
    Command {
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Vec<u8>,
    },
}

/// Open only while connected: the publisher hands rumqttc a message only through it, and
/// the link closes it before it discards what a lost connection left queued.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate(Arc<Mutex<bool>>);

impl Gate {
    /// The gate, locked: `true` while the link is up.
    pub(crate) fn lock(&self) -> MutexGuard<'_, bool> {
        // A bool cannot be left half-written by a panic.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The bdSeq for the first connection: one past the last one used, 0 on a first start.
pub(crate) fn first_bd_seq(state_dir: &Path) -> u8 {
    std::fs::read_to_string(state_dir.join(BD_SEQ_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .map_or(0, |last| last.wrapping_add(1))
}

/// The MQTT options: a clean session, the keep-alive, credentials and TLS.
pub(crate) fn options(cfg: &SparkplugConfig) -> Result<MqttOptions, FleetError> {
    let mut o = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    o.set_keep_alive(cfg.keep_alive);
    // Sparkplug: every connection starts a new session; the births describe it all.
    o.set_clean_session(true);
    o.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &cfg.username {
        o.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(files) = &cfg.tls {
        o.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(tls(files)?)),
        ));
    }
    Ok(o)
}

fn tls(files: &TlsFiles) -> Result<rustls::ClientConfig, FleetError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |file: &Path, reason: String| FleetError::Tls {
        file: file.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(path, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(path, e.to_string()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(path, "holds no usable CA certificate".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(FleetError::Tls {
                    file: "the system's trusted roots".into(),
                    reason: "none found; give sparkplug.ca_file".into(),
                });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FleetError::Tls {
            file: "-".into(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots);
    match &files.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad(cert, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(cert, e.to_string()))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| bad(key, e.to_string()))
        }
    }
}

/// The link's fixed parts.
pub(crate) struct Link {
    /// The event loop it drives.
    pub(crate) eventloop: EventLoop,
    /// NDEATH's topic.
    pub(crate) ndeath_topic: String,
    /// Where bdSeq is kept.
    pub(crate) bd_file: PathBuf,
    /// The next connection's bdSeq.
    pub(crate) bd: u8,
    /// Open while connected.
    pub(crate) gate: Gate,
    /// To the publisher.
    pub(crate) events: mpsc::Sender<LinkEvent>,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// After shutdown, how long the link keeps going to send NDEATH and DISCONNECT.
const GOODBYE: Duration = Duration::from_secs(2);

impl Link {
    /// Runs until shutdown (plus the time to say goodbye).
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let goodbye = async {
            shutdown.cancelled().await;
            tokio::time::sleep(GOODBYE).await;
        };
        tokio::pin!(goodbye);
        let mut backoff = BACKOFF_FIRST;
        loop {
            self.arm_will();
            // One connection: from CONNECT until it fails.
            let why = loop {
                let polled = tokio::select! {
                    _ = &mut goodbye => return,
                    r = self.eventloop.poll() => r,
                };
                match polled {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        backoff = BACKOFF_FIRST;
                        *self.gate.lock() = true;
                        tracing::info!(bd_seq = self.bd, "connected to the MQTT broker");
                        let _ = self.events.send(LinkEvent::Up { bd: self.bd }).await;
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let cmd = LinkEvent::Command {
                            topic: p.topic,
                            payload: p.payload.to_vec(),
                        };
                        if self.events.try_send(cmd).is_err() {
                            tracing::warn!("MQTT commands arrive faster than they are handled; one was dropped");
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                    Ok(_) => {}
                    Err(e) => break e.to_string(),
                }
            };
            // Close the gate, then drop what the lost connection left queued: a new session
            // begins with its births, never with data of the old one.
            *self.gate.lock() = false;
            self.eventloop.clean();
            self.eventloop.pending.clear();
            if shutdown.is_cancelled() {
                return;
            }
            tracing::warn!(error = %why, retry_in_ms = backoff.as_millis() as u64, "MQTT broker unreachable");
            let _ = self.events.send(LinkEvent::Down).await;
            tokio::select! {
                _ = &mut goodbye => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
            self.bd = self.bd.wrapping_add(1);
        }
    }

    /// The will of the next CONNECT: NDEATH with its bdSeq, which is also kept on disk.
    fn arm_will(&mut self) {
        let will = LastWill::new(
            self.ndeath_topic.clone(),
            payload::ndeath(self.bd, super::metrics::now_ms()),
            QoS::AtLeastOnce,
            false,
        );
        self.eventloop.mqtt_options.set_last_will(will);
        if let Err(e) = std::fs::write(&self.bd_file, self.bd.to_string()) {
            tracing::warn!(file = %self.bd_file.display(), error = %e, "cannot keep bdSeq; a restart starts again at 0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bd_seq_follows_the_last_one_and_wraps() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(first_bd_seq(dir.path()), 0);
        std::fs::write(dir.path().join(BD_SEQ_FILE), "41").unwrap();
        assert_eq!(first_bd_seq(dir.path()), 42);
        std::fs::write(dir.path().join(BD_SEQ_FILE), "255").unwrap();
        assert_eq!(first_bd_seq(dir.path()), 0);
    }
}

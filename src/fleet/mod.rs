//! The fleet: a Sparkplug B edge node over MQTT, so that a plant's SCADA, MES and historians
//! see the arm through their own broker (docs/fleet.md). The plugin is the edge node and the
//! arm its device. It publishes northbound only; the loop, the limits, `stop` and the tasks
//! stay on the controller.
//!
//! Three tokio tasks, none of which touches the motion loop: the sampler reads the plugin's
//! state into a queue of one (newest wins); the publisher turns it into births and DDATA by
//! exception and hands them to rumqttc's bounded queue only while connected; the link drives
//! the connection, its will (NDEATH) and reconnects. While the broker is away nothing grows:
//! the newest sample waits, and a new connection starts with a birth.

mod commands;
mod link;
mod metrics;
mod node;
mod payload;
mod report;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actions::Caller;
use crate::app::App;
use crate::operators::Role;

/// Why the edge node could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A TLS file could not be used.
    #[error("[sparkplug] TLS: {file}: {reason}")]
    Tls {
        /// The file (or what was looked at).
        file: String,
        /// Why.
        reason: String,
    },
}

/// The running edge node.
pub struct Fleet {
    tasks: Vec<JoinHandle<()>>,
}

/// rumqttc's request queue: births and DDATA wait here for the socket, never longer.
const REQUEST_QUEUE: usize = 64;

/// Starts the edge node if the config has `[sparkplug]`; call inside the tokio runtime.
pub fn start(app: &Arc<App>, shutdown: &CancellationToken) -> Result<Option<Fleet>, FleetError> {
    let Some(cfg) = app.config.sparkplug.clone() else {
        return Ok(None);
    };
    let topics = node::Topics::of(&cfg);
    let (client, eventloop) = rumqttc::AsyncClient::new(link::options(&cfg)?, REQUEST_QUEUE);
    let gate = link::Gate::default();
    let (events_tx, events_rx) = mpsc::channel(32);
    let link = link::Link {
        eventloop,
        ndeath_topic: topics.ndeath.clone(),
        bd_file: app.state_dir.join(link::BD_SEQ_FILE),
        bd: link::first_bd_seq(&app.state_dir),
        gate: gate.clone(),
        events: events_tx,
    };
    let (extra_tx, extra_rx) = watch::channel(metrics::Extra {
        accept_stop: cfg.accept_stop,
        ..Default::default()
    });
    let (samples_tx, samples_rx) = watch::channel(Arc::new(metrics::Sample::new()));
    tracing::info!(
        broker = %format!("{}:{}", cfg.host, cfg.port),
        tls = cfg.tls.is_some(),
        node = %topics.nbirth,
        accept_stop = cfg.accept_stop,
        "Sparkplug B edge node starting"
    );
    let caller = Caller {
        // MQTT does not say who published a command; the audit names the link it came over.
        operator: format!("mqtt:{}@{}:{}", cfg.client_id, cfg.host, cfg.port),
        role: Role::Observer,
        channel: crate::tasks::Channel::Session,
    };
    let node = node::Node {
        app: app.clone(),
        cfg,
        topics,
        client,
        gate,
        extra: extra_tx,
        caller,
    };
    let tasks = vec![
        tokio::spawn(node::sampler(
            app.clone(),
            extra_rx,
            samples_tx,
            shutdown.clone(),
        )),
        tokio::spawn(node.run(events_rx, samples_rx, shutdown.clone())),
        tokio::spawn(link.run(shutdown.clone())),
    ];
    Ok(Some(Fleet { tasks }))
}

impl Fleet {
    /// Waits for the tasks to end after shutdown (NDEATH sent, link closed).
    pub async fn finished(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Each metric's name and timestamp (ms since the Unix epoch) in a Sparkplug B payload, as
/// a peer reads them (armature-bench measures state-to-subscriber latency with it).
pub fn metric_times(bytes: &[u8]) -> Result<Vec<(String, u64)>, prost::DecodeError> {
    Ok(payload::commands(bytes)?
        .into_iter()
        .filter_map(|m| Some((m.name?, m.timestamp?)))
        .collect())
}

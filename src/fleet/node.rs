//! The edge node's publisher: births on every new connection and on request, DDATA by
//! exception from the newest sample, NDEATH on a clean shutdown. It owns `seq`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, QoS};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::commands::{self, Reply};
use super::link::{Gate, LinkEvent};
use super::metrics::{self, now_ms, Extra, Sample};
use super::payload;
use super::report::Reporter;
use crate::app::App;
use crate::config::SparkplugConfig;

/// The Sparkplug topics of this node and its device.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    /// spBv1.0/G/NBIRTH/E
    pub(crate) nbirth: String,
    /// spBv1.0/G/NDEATH/E
    pub(crate) ndeath: String,
    /// spBv1.0/G/NCMD/E
    pub(crate) ncmd: String,
    /// spBv1.0/G/DBIRTH/E/D
    pub(crate) dbirth: String,
    /// spBv1.0/G/DDATA/E/D
    pub(crate) ddata: String,
    /// spBv1.0/G/DCMD/E/D
    pub(crate) dcmd: String,
}

impl Topics {
    /// The topics for `cfg`'s group, edge node and device.
    pub(crate) fn of(cfg: &SparkplugConfig) -> Self {
        let node = |kind: &str| format!("spBv1.0/{}/{kind}/{}", cfg.group_id, cfg.edge_node_id);
        let device = |kind: &str| format!("{}/{}", node(kind), cfg.device_id);
        Self {
            nbirth: node("NBIRTH"),
            ndeath: node("NDEATH"),
            ncmd: node("NCMD"),
            dbirth: device("DBIRTH"),
            ddata: device("DDATA"),
            dcmd: device("DCMD"),
        }
    }
}

/// How often the arm, the task and the variables are read. Joints are reported at most
/// every 100 ms; a task's state change goes out within one period of it.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Reads the plugin's state every period (and at once when a task ends) into a watch
/// channel: a queue of one, where the newest sample replaces any the publisher has not
/// taken. It never waits on the broker.
pub(crate) async fn sampler(
    app: Arc<App>,
    extra: watch::Receiver<Extra>,
    out: watch::Sender<Arc<Sample>>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ended = app.registry.subscribe_ended();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            // Lagging only means several ended at once; one sample covers them.
            _ = ended.recv() => {}
        }
        let sample = metrics::sample(&app, &extra.borrow());
        out.send_replace(Arc::new(sample));
    }
}

/// The publisher's state.
pub(crate) struct Node {
    /// The plugin.
    pub(crate) app: Arc<App>,
    /// `[sparkplug]`.
    pub(crate) cfg: SparkplugConfig,
    /// The topics.
    pub(crate) topics: Topics,
    /// rumqttc's handle (its request queue is bounded).
    pub(crate) client: AsyncClient,
    /// Open while connected.
    pub(crate) gate: Gate,
    /// What the sampler adds of the node's own (the last refusal).
    pub(crate) extra: watch::Sender<Extra>,
    /// Who calls `stop` over MQTT, in the audit log.
    pub(crate) caller: crate::actions::Caller,
}

struct Session {
    /// bdSeq of the connection, once it is up.
    bd: Option<u8>,
    /// The next message's seq.
    seq: u8,
    /// A birth is due (new connection, rebirth request, new metrics, or a full queue).
    birth_due: bool,
    reporter: Reporter,
}

impl Node {
    /// Publishes until shutdown; then NDEATH and DISCONNECT if connected.
    pub(crate) async fn run(
        self,
        mut link: mpsc::Receiver<LinkEvent>,
        mut samples: watch::Receiver<Arc<Sample>>,
        shutdown: CancellationToken,
    ) {
        let mut s = Session {
            bd: None,
            seq: 0,
            birth_due: false,
            reporter: Reporter::default(),
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                ev = link.recv() => match ev {
                    Some(LinkEvent::Up { bd }) => {
                        s.bd = Some(bd);
                        s.birth_due = true;
                        self.subscribe();
                    }
                    Some(LinkEvent::Down) => s.bd = None,
                    Some(LinkEvent::Command { topic, payload }) => {
                        match commands::handle(&self, &topic, &payload).await {
                            Reply::Rebirth => s.birth_due = true,
                            Reply::Done => {}
                        }
                    }
                    None => break,
                },
                changed = samples.changed() => if changed.is_err() { break },
            }
            let sample = samples.borrow_and_update().clone();
            self.publish(&mut s, &sample);
        }
        self.goodbye(&s);
    }

    fn subscribe(&self) {
        for topic in [&self.topics.ncmd, &self.topics.dcmd] {
            if let Err(e) = self.client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                tracing::warn!(topic = %topic, error = %e, "cannot subscribe");
            }
        }
    }

    /// Hands one message to rumqttc if the link is up and its queue has room.
    fn send(&self, topic: &str, bytes: Vec<u8>) -> bool {
        let open = self.gate.lock();
        *open
            && self
                .client
                .try_publish(topic, QoS::AtMostOnce, false, bytes)
                .is_ok()
    }

    /// A birth if one is due, else DDATA of what changed beyond its deadband.
    fn publish(&self, s: &mut Session, sample: &Sample) {
        let Some(bd) = s.bd else { return };
        if sample.is_empty() {
            return;
        }
        let now = Instant::now();
        if !s.birth_due {
            match s.reporter.changes(sample, now) {
                Ok(names) if names.is_empty() => return,
                Ok(names) => {
                    let bytes = payload::ddata(sample, &names, s.seq, now_ms());
                    if self.send(&self.topics.ddata, bytes) {
                        s.seq = s.seq.wrapping_add(1);
                        s.reporter.sent(sample, &names, now);
                    }
                    return;
                }
                Err(_) => {
                    tracing::info!("the device's metrics changed; publishing a new birth");
                    s.birth_due = true;
                }
            }
        }
        // NBIRTH always starts at seq 0; DBIRTH follows it.
        let at = now_ms();
        let nbirth = payload::nbirth(bd, 0, at, self.cfg.accept_stop);
        if !self.send(&self.topics.nbirth, nbirth) {
            return;
        }
        let dbirth = payload::dbirth(sample, 1, at);
        if !self.send(&self.topics.dbirth, dbirth) {
            // The NBIRTH went alone: try the pair again with the next sample.
            return;
        }
        s.seq = 2;
        s.birth_due = false;
        s.reporter.born(sample, now);
        tracing::info!(
            bd_seq = bd,
            metrics = sample.len(),
            "published NBIRTH and DBIRTH"
        );
    }

    /// A clean shutdown: NDEATH (a DISCONNECT suppresses the will), then DISCONNECT.
    fn goodbye(&self, s: &Session) {
        let Some(bd) = s.bd else { return };
        let open = self.gate.lock();
        if !*open {
            return;
        }
        let death = payload::ndeath(bd, now_ms());
        let sent = self
            .client
            .try_publish(&self.topics.ndeath, QoS::AtLeastOnce, false, death)
            .is_ok();
        let _ = self.client.try_disconnect();
        tracing::info!(bd_seq = bd, sent, "published NDEATH; disconnecting");
    }
}

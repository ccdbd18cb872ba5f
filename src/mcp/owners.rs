//! HTTP sessions bound to the operator who opened them, and closed when their client goes quiet.
//!
//! rmcp's session manager knows no operators, and its idle timer restarts on every message
//! the server sends, so a session that hears task ends never idles out. [`Tracked`] wraps
//! it and keeps a [`Book`]: each session's owner and when its client last sent a request.
//! The HTTP gate lets a request reach a session only through the book, as its owner; the
//! sweeper ([`sweep`]) closes sessions idle longer than `server.session_idle_s`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionConfig,
};
use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::SessionManager;
use tokio_util::sync::CancellationToken;

use super::Sessions;
use crate::app::App;

/// What the book knows of one session.
struct Entry {
    /// Who opened it; `None` until its `initialize` has been answered.
    owner: Option<String>,
    /// The last request its client sent (server messages do not count).
    last_request: Instant,
}

/// Whose a session id is, as the HTTP gate sees it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// The caller's own session.
    Own,
    /// Another operator's session.
    Foreign(String),
    /// No session the caller may know of (none, ended, or not yet handed out).
    Unknown,
}

/// The open HTTP sessions: owner and last request of each.
pub(super) struct Book {
    entries: Mutex<HashMap<String, Entry>>,
    /// Whether a session closed since the sweeper last gave freed memory back.
    closed_any: AtomicBool,
    /// Told the number of open sessions at each change.
    publish: Box<dyn Fn(usize) + Send + Sync>,
}

impl Book {
    /// An empty book that keeps `app.sessions_open` up to date.
    pub(super) fn new(app: Arc<App>) -> Self {
        Self::publishing(move |n| app.sessions_open.store(n, Ordering::Relaxed))
    }

    fn publishing(publish: impl Fn(usize) + Send + Sync + 'static) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            closed_any: AtomicBool::new(false),
            publish: Box::new(publish),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn opened(&self, id: &str) {
        let mut entries = self.entries();
        let entry = Entry {
            owner: None,
            last_request: Instant::now(),
        };
        entries.insert(id.to_owned(), entry);
        (self.publish)(entries.len());
    }

    fn closed(&self, id: &str) {
        let mut entries = self.entries();
        entries.remove(id);
        self.closed_any.store(true, Ordering::Relaxed);
        (self.publish)(entries.len());
    }

    /// Session `id`, just created by `operator`'s `initialize`, is now theirs; a session
    /// that already has an owner keeps it.
    pub(super) fn bind(&self, id: &str, operator: &str) {
        if let Some(e) = self.entries().get_mut(id) {
            e.owner.get_or_insert_with(|| operator.to_owned());
        }
    }

    /// Whose session `id` is for `operator`; the caller's own session counts as a request.
    pub(super) fn claim(&self, id: &str, operator: &str) -> Claim {
        let mut entries = self.entries();
        match entries.get_mut(id) {
            Some(e) if e.owner.as_deref() == Some(operator) => {
                e.last_request = Instant::now();
                Claim::Own
            }
            Some(Entry {
                owner: Some(owner), ..
            }) => Claim::Foreign(owner.clone()),
            _ => Claim::Unknown,
        }
    }

    /// Whether session `id` is open.
    pub(super) fn is_open(&self, id: &str) -> bool {
        self.entries().contains_key(id)
    }

    /// Takes out of the book the sessions whose client sent nothing for `idle`, with their
    /// owners: from now on no request reaches them.
    fn take_idle(&self, idle: Duration, now: Instant) -> Vec<(String, Option<String>)> {
        let mut entries = self.entries();
        let ids: Vec<String> = entries
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last_request) >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        let taken = ids
            .into_iter()
            .filter_map(|id| entries.remove(&id).map(|e| (id, e.owner)))
            .collect::<Vec<_>>();
        if !taken.is_empty() {
            self.closed_any.store(true, Ordering::Relaxed);
        }
        (self.publish)(entries.len());
        taken
    }
}

/// rmcp's in-memory session manager, with every session entered in the [`Book`].
pub(super) struct Tracked {
    inner: LocalSessionManager,
    book: Arc<Book>,
}

impl Tracked {
    /// A manager whose sessions never idle out by themselves: the sweeper decides, from
    /// client requests only.
    pub(super) fn new(book: Arc<Book>) -> Self {
        let mut config = SessionConfig::default();
        config.keep_alive = None;
        let mut inner = LocalSessionManager::default();
        inner.session_config = config;
        Self { inner, book }
    }
}

impl SessionManager for Tracked {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let (id, transport) = self.inner.create_session().await?;
        self.book.opened(&id);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.book.closed(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }
    // `restore_session` keeps the trait's default (not supported): a session exists only
    // if an `initialize` made it, so only the book hands sessions out.
}

/// Closes, every few seconds until `shutdown`, the sessions whose client sent no request for
/// `idle`, with their GET streams, and forgets them for notifications.
pub(super) fn sweep(
    manager: Arc<Tracked>,
    sessions: Arc<Sessions>,
    idle: Duration,
    shutdown: CancellationToken,
) {
    // A session is closed between `idle` and `idle` + one period after its last request.
    let period = (idle / 10).clamp(Duration::from_millis(200), Duration::from_secs(5));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            // Sessions closed at the last tick have ended by now.
            if manager.book.closed_any.swap(false, Ordering::Relaxed) {
                give_back_freed_memory();
            }
            for (id, owner) in manager.book.take_idle(idle, Instant::now()) {
                tracing::info!(
                    session = %id,
                    operator = owner.as_deref().unwrap_or("-"),
                    idle_s = idle.as_secs_f64(),
                    "closing an idle MCP session"
                );
                let manager = manager.clone();
                // Closing waits on the session's worker; one stuck worker must not hold up the rest.
                tokio::spawn(async move {
                    if let Err(e) = manager.inner.close_session(&id.clone().into()).await {
                        tracing::warn!(session = %id, error = %e, "an idle session did not close cleanly");
                    }
                });
            }
            sessions.prune();
        }
    });
}

/// Hands the pages that ended sessions freed back to the OS. glibc keeps freed memory in
/// its per-thread arenas, so as sessions come and go the resident size creeps up while the
/// heap itself stays flat (heaptrack showed 8 MiB of heap under 3 new sessions a second).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn book() -> (Book, Arc<AtomicUsize>) {
        let open = Arc::new(AtomicUsize::new(0));
        let seen = open.clone();
        (
            Book::publishing(move |n| seen.store(n, Ordering::Relaxed)),
            open,
        )
    }

    #[test]
    fn a_session_is_its_openers_only() {
        let (book, open) = book();
        book.opened("s1");
        // Not handed out yet: nobody's.
        assert_eq!(book.claim("s1", "alice"), Claim::Unknown);
        book.bind("s1", "alice");
        book.bind("s1", "bob");
        assert_eq!(book.claim("s1", "alice"), Claim::Own);
        assert_eq!(book.claim("s1", "bob"), Claim::Foreign("alice".into()));
        assert_eq!(book.claim("s2", "bob"), Claim::Unknown);
        assert_eq!(open.load(Ordering::Relaxed), 1);
        book.closed("s1");
        assert_eq!(book.claim("s1", "alice"), Claim::Unknown);
        assert_eq!(open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn idle_sessions_are_taken_out_and_only_the_owners_requests_count() {
        let (book, open) = book();
        let hour_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap();
        for id in ["quiet", "busy"] {
            book.opened(id);
            book.bind(id, "alice");
            book.entries().get_mut(id).unwrap().last_request = hour_ago;
        }
        assert_eq!(book.claim("busy", "alice"), Claim::Own);
        assert_eq!(book.claim("quiet", "bob"), Claim::Foreign("alice".into()));
        let taken = book.take_idle(Duration::from_secs(1800), Instant::now());
        assert_eq!(taken, vec![("quiet".to_owned(), Some("alice".to_owned()))]);
        assert_eq!(book.claim("quiet", "alice"), Claim::Unknown);
        assert_eq!(book.claim("busy", "alice"), Claim::Own);
        assert_eq!(open.load(Ordering::Relaxed), 1);
    }
}

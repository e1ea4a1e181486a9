//! The service's connections: how many, from whom, and for how long, so
//! that no client (nor many) can stop the service answering the others.
//!
//! - At most [`Limits::total`] connections at once, and
//!   [`Limits::per_client`] from one address. A client over its share is
//!   closed at once. When the service is full, a connection is closed to
//!   make room: the one idle longest (waiting for a request), or else the
//!   one whose request has been in progress longest, past [`SLOW`] (a body
//!   sent a byte a second). A real request is answered in milliseconds,
//!   so clients that open connections and send nothing, or send slowly,
//!   cannot crowd out one that asks.
//! - Headers must arrive within [`HEADER_TIMEOUT`] (hyper's timer, which
//!   also ends a keep-alive connection that sends no next request); a
//!   request is answered or refused within the router's own time limit; a
//!   write that the client does not read makes no progress for
//!   [`WRITE_TIMEOUT`] and the connection is closed; and no connection
//!   lives longer than [`LIFETIME`]. The kernel's send buffer is kept
//!   small, so a client that never reads holds little memory.
//! - On SIGINT or SIGTERM the listener is closed at once (a new
//!   connection is refused, not left waiting), every connection is asked
//!   to finish its request in hand and close, and after [`DRAIN`] the
//!   rest are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;

/// A request's headers must arrive within this.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A response the client does not read for this long ends the connection.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection is kept longer than this, however busy.
pub(crate) const LIFETIME: Duration = Duration::from_secs(120);
/// After SIGINT or SIGTERM, how long requests in progress get to finish.
pub(crate) const DRAIN: Duration = Duration::from_secs(5);
/// The kernel's send buffer per connection: a page is 30 to 60 KB.
const SEND_BUFFER: usize = 64 * 1024;
/// A request in progress this long may be cut off to make room.
pub(crate) const SLOW: Duration = Duration::from_secs(1);

/// How many connections are served at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub total: usize,
    /// From one client address (behind a reverse proxy, all come from the
    /// proxy's: its own limits are the ones per reader).
    pub per_client: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            total: 512,
            per_client: 256,
        }
    }
}

/// One connection, as the tier sees it.
#[derive(Debug)]
struct Connection {
    client: IpAddr,
    /// A request is being handled.
    busy: AtomicBool,
    /// When it last became idle or busy.
    since: Mutex<Instant>,
    /// Finish the request in hand, then close (a drain, its lifetime).
    close: tokio::sync::Notify,
    /// Close now (to make room).
    evict: tokio::sync::Notify,
}

impl Connection {
    fn new(client: IpAddr) -> Connection {
        Connection {
            client,
            busy: AtomicBool::new(false),
            since: Mutex::new(Instant::now()),
            close: tokio::sync::Notify::new(),
            evict: tokio::sync::Notify::new(),
        }
    }

    fn since(&self) -> Instant {
        *self
            .since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark(&self, busy: bool) {
        *self
            .since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        self.busy.store(busy, Ordering::Relaxed);
    }
}

/// Every open connection.
#[derive(Debug, Default)]
struct Open {
    next_id: AtomicU64,
    all: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Open {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a connection from `client`, closing the longest-idle one if
    /// the service is full; `None` if the client has its share already or
    /// nothing can make room.
    fn admit(&self, client: IpAddr, limits: Limits) -> Option<(u64, Arc<Connection>)> {
        let mut all = self.lock();
        if all.values().filter(|c| c.client == client).count() >= limits.per_client {
            return None;
        }
        if all.len() >= limits.total {
            let now = Instant::now();
            let oldest = |busy: bool| {
                all.iter()
                    .filter(|(_, c)| c.busy.load(Ordering::Relaxed) == busy)
                    .map(|(id, c)| (*id, c.since()))
                    .filter(|(_, since)| !busy || now.duration_since(*since) >= SLOW)
                    .min_by_key(|(_, since)| *since)
                    .map(|(id, _)| id)
            };
            let room = oldest(false).or_else(|| oldest(true))?;
            if let Some(evicted) = all.remove(&room) {
                evicted.evict.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection::new(client));
        all.insert(id, Arc::clone(&connection));
        Some((id, connection))
    }

    fn close_all(&self) {
        for connection in self.lock().values() {
            connection.close.notify_one();
        }
    }
}

/// Accepts connections until `shutdown` completes, then stops accepting at
/// once and drains.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let open = Arc::new(Open::default());
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of file descriptors, say: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Some((id, connection)) = open.admit(peer.ip(), limits) else {
                    continue;
                };
                let (open, router) = (Arc::clone(&open), router.clone());
                tasks.spawn(async move {
                    one(stream, peer, router, &connection).await;
                    open.lock().remove(&id);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    open.close_all();
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
}

/// Serves one connection with the tier's timeouts until it ends, is closed
/// to make room, or outlives [`LIFETIME`].
async fn one(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    connection: &Arc<Connection>,
) {
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let io = hyper_util::rt::TokioIo::new(Box::pin(stream));
    let tracked = Arc::clone(connection);
    let inner = hyper_util::service::TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        // Who is asking, for the handlers that limit per client.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let tracked = Arc::clone(&tracked);
        tracked.mark(true);
        let call = hyper::service::Service::call(&inner, request);
        async move {
            let response = call.await;
            tracked.mark(false);
            response
        }
    });
    let mut served = pin!(
        hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(io, service)
    );
    let ended = tokio::select! {
        _ = served.as_mut() => true,
        // Dropped at once, whatever it was doing.
        () = connection.evict.notified() => return,
        () = connection.close.notified() => false,
        () = tokio::time::sleep(LIFETIME) => false,
    };
    if !ended {
        // Finish the request in hand, if any, then close.
        served.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(DRAIN, served).await;
    }
}

//! Accepting connections: HTTP/1.1 with a header-read timeout, an idle
//! keep-alive timeout and a cap on open connections.
//!
//! A client that trickles its request head is cut off after `http_header_timeout`;
//! a keep-alive connection with nothing to do is closed after `http_idle_timeout`;
//! and at most `http_max_connections` are open at once. When the cap is reached,
//! the connection idle longest (or one still trickling its head) is closed to
//! make room, so a provider webhook arriving behind hundreds of idle sockets is
//! still answered; only connections whose request is being handled are never
//! cut, and those end within the handlers' own deadlines.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// The longest one request may take from its head to the start of its answer:
/// a body trickled in forever must not hold a connection either.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// Marks requests that came in on the onion service's listener: no header of
/// theirs is trusted for a client address, and none is known.
#[derive(Debug, Clone, Copy)]
pub struct Onion;

/// How connections are treated; from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request, since then.
    Idle(Instant),
    /// A request head is arriving, its first byte then.
    Head(Instant),
    /// Requests being handled.
    Busy(usize),
}

/// One open connection, as the accept loop and the timers see it.
struct Conn {
    phase: Mutex<Phase>,
    /// Asked to close (the cap needs room, or its time is up).
    close: Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn { phase: Mutex::new(Phase::Idle(Instant::now())), close: Notify::new() }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().expect("connection phase")
    }

    fn bytes_arrived(&self) {
        let mut p = self.phase.lock().expect("connection phase");
        if let Phase::Idle(_) = *p {
            *p = Phase::Head(Instant::now());
        }
    }

    fn request_started(&self) {
        let mut p = self.phase.lock().expect("connection phase");
        *p = match *p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
    }

    fn request_ended(&self) {
        let mut p = self.phase.lock().expect("connection phase");
        *p = match *p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
    }

    /// When this connection's time is up in its present phase, if ever.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        match self.phase() {
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Head(since) => Some(since + limits.header_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// The socket, telling its connection when bytes arrive.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    open: Mutex<Vec<Arc<Conn>>>,
    /// Someone left: the accept loop may go on.
    left: Notify,
}

impl Registry {
    fn count(&self) -> usize {
        self.open.lock().expect("registry").len()
    }

    fn add(&self, conn: Arc<Conn>) {
        self.open.lock().expect("registry").push(conn);
    }

    fn remove(&self, conn: &Arc<Conn>) {
        self.open.lock().expect("registry").retain(|c| !Arc::ptr_eq(c, conn));
        self.left.notify_waiters();
    }

    /// Asks the connection that waited longest without a request in hand to go;
    /// false when every one of them is handling a request.
    fn evict_one(&self) -> bool {
        let open = self.open.lock().expect("registry");
        let victim = open
            .iter()
            .filter_map(|c| match c.phase() {
                Phase::Idle(since) | Phase::Head(since) => Some((since, c)),
                Phase::Busy(_) => None,
            })
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, c)) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        for c in self.open.lock().expect("registry").iter() {
            c.close.notify_one();
        }
    }
}

/// Serves `router` on `listener` until `stopping` turns true; then stops
/// accepting, lets requests in flight finish, and returns once every
/// connection has closed.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    onion: bool,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    'accepting: loop {
        // At the cap, make room first; if every connection is busy, wait for one
        // to finish rather than refusing at the door.
        while registry.count() >= limits.max_connections.max(1) {
            let left = registry.left.notified();
            if !registry.evict_one() {
                tracing::warn!("every connection is busy at the cap; new ones wait");
            }
            tokio::select! {
                () = left => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stopping.wait_for(|s| *s) => break 'accepting,
            }
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            // Out of descriptors, or the peer gave up before we took it: go on.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Arc::new(Conn::new());
        registry.add(conn.clone());
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits,
            onion,
            conn,
            registry.clone(),
            stopping.clone(),
        ));
    }
    // Stopping: idle connections close now, busy ones after their answer.
    registry.close_all();
    while registry.count() > 0 {
        let left = registry.left.notified();
        if registry.count() == 0 {
            break;
        }
        tokio::select! {
            () = left => {}
            () = tokio::time::sleep(Duration::from_millis(100)) => registry.close_all(),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    onion: bool,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    mut stopping: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched { stream, conn: conn.clone() });
    let in_conn = conn.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        if onion {
            request.extensions_mut().insert(Onion);
        }
        let router = router.clone();
        let conn = in_conn.clone();
        async move {
            conn.request_started();
            let answer = tokio::time::timeout(REQUEST_LIMIT, router.oneshot(request.map(axum::body::Body::new))).await;
            conn.request_ended();
            let response = match answer {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::warn!("a request took longer than its limit; answered 408");
                    let mut r = axum::response::Response::new(axum::body::Body::from("request timeout\n"));
                    *r.status_mut() = axum::http::StatusCode::REQUEST_TIMEOUT;
                    r
                }
            };
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our own timers below cover the head and the idle time; hyper's would start
    // at idle and cut keep-alive connections at the header timeout.
    builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut graceful = false;
    loop {
        let deadline = conn.deadline(&limits);
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                // Busy: look again once the request is likely done.
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result
                    && !e.is_incomplete_message()
                {
                    tracing::debug!(error = %e, "a connection ended with an error");
                }
                break;
            }
            () = timer => {
                match conn.phase() {
                    // A head still arriving after the timeout: cut.
                    Phase::Head(since) if since.elapsed() >= limits.header_timeout => break,
                    Phase::Idle(since) if since.elapsed() >= limits.idle_timeout => {
                        if graceful { break; }
                        connection.as_mut().graceful_shutdown();
                        graceful = true;
                    }
                    _ => {}
                }
            }
            () = conn.close.notified() => {
                match conn.phase() {
                    Phase::Busy(_) if !graceful => {
                        connection.as_mut().graceful_shutdown();
                        graceful = true;
                    }
                    Phase::Busy(_) => {}
                    _ => break,
                }
            }
            _ = stopping.wait_for(|s| *s), if !graceful => {
                connection.as_mut().graceful_shutdown();
                graceful = true;
            }
        }
    }
    registry.remove(&conn);
}

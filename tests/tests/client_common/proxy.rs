//! A TCP proxy between a client and the test server that the tests can cut:
//! it drops live connections, refuses new ones, or swallows the answer to a
//! request after the server received it, so that transport failures happen
//! for real, on real sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; it stops when dropped.
pub struct Proxy {
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    upstream: String,
    refusing: AtomicBool,
    answers_to_swallow: AtomicUsize,
    swallowed: AtomicUsize,
    connections: AtomicUsize,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
    /// While `true`, nothing is read from the server: its answers pile up
    /// in socket buffers as they would behind a slow client.
    stalled: watch::Sender<bool>,
}

impl Proxy {
    /// Proxies a free local port to `upstream_url` (`http://host:port`).
    pub async fn start(upstream_url: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (generation, _) = watch::channel(0);
        let (stalled, _) = watch::channel(false);
        let state = Arc::new(State {
            upstream: upstream_url.trim_start_matches("http://").to_owned(),
            refusing: AtomicBool::new(false),
            answers_to_swallow: AtomicUsize::new(0),
            swallowed: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            generation,
            stalled,
        });
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if accept_state.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                accept_state.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(client, accept_state.clone()));
            }
        });
        Proxy { url, state, task }
    }

    /// Closes every open connection; with `refuse`, also closes new ones
    /// as they arrive until [`Proxy::restore`].
    pub fn cut(&self, refuse: bool) {
        self.state.refusing.store(refuse, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// The next `count` answers from the server are not delivered: the
    /// connection is closed as the answer starts, after the server acted on
    /// the request.
    pub fn swallow_answers(&self, count: usize) {
        self.state.answers_to_swallow.store(count, Ordering::SeqCst);
    }

    /// Stops reading from the server on every connection (new ones too),
    /// like a client too slow to keep up, until [`Proxy::resume`].
    pub fn stall(&self) {
        self.state.stalled.send_replace(true);
    }

    /// Reads from the server again.
    pub fn resume(&self) {
        self.state.stalled.send_replace(false);
    }

    /// How many answers were swallowed so far.
    pub fn swallowed(&self) -> usize {
        self.state.swallowed.load(Ordering::SeqCst)
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut(true);
        self.task.abort();
    }
}

/// Connects to the server with a small receive buffer, so that a stalled
/// connection backs up into the server after a few megabytes at most, not
/// after whatever the kernel would let a loopback socket buffer.
async fn connect_upstream(addr: &str) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(16 * 1024)?;
    socket.connect(addr).await
}

async fn relay(client: TcpStream, state: Arc<State>) {
    let Ok(server) = connect_upstream(&state.upstream).await else {
        return;
    };
    let mut cut = state.generation.subscribe();
    cut.borrow_and_update();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        let mut stalled = state.stalled.subscribe();
        loop {
            if stalled.wait_for(|stalled| !*stalled).await.is_err() {
                return;
            }
            let n = server_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            let swallow = state
                .answers_to_swallow
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
            if swallow {
                state.swallowed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
        _ = cut.changed() => {}
    }
}

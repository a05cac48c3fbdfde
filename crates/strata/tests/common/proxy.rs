//! A TCP proxy in front of a real `redis-server`, to cut one client off
//! Redis while the others keep it: a partition, which a real server cannot
//! produce for one of its clients on demand. It forwards bytes and nothing
//! else; every command is answered by the real server.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listens on a free port of 127.0.0.1 and forwards each connection to
/// `127.0.0.1:{upstream}`, until dropped.
pub(crate) struct Proxy {
    port: u16,
    /// `true` while cut: live connections are closed and new ones are
    /// closed as soon as they are accepted.
    cut: Arc<watch::Sender<bool>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to the Redis server on `upstream`.
    pub(crate) async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let cut = Arc::new(watch::Sender::new(false));
        let accept = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&cut)));
        Self { port, cut, accept }
    }

    /// The URL a client connects to, through the proxy.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through the proxy and refuses new ones
    /// (accepted, then closed at once: the client sees the connection
    /// dropped), until [`restore`](Self::restore).
    pub(crate) fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub(crate) fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: u16, cut: Arc<watch::Sender<bool>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        if *cut.borrow() {
            drop(client);
            continue;
        }
        tokio::spawn(forward(client, upstream, cut.subscribe()));
    }
}

/// Copies both ways until either side closes or the proxy is cut.
async fn forward(mut client: TcpStream, upstream: u16, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
    // Both sockets close when dropped here.
}

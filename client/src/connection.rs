//! One socket's task: dial, then write the calls the driver hands it (encoded by the wire
//! crate's client codec) and report every reply, failure and close back, tagged with the
//! machine's connection id. No rule lives here: the machine decides everything.

use std::net::SocketAddr;
use std::time::Duration;

use graphsession_core::client::ConnectionId;
use graphsession_wire::{ClientCodec, ClientCodecConfig, ClientReply, WireRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Calls queued for one socket, at most: the machine writes one request awaiting a reply
/// plus due sign-outs (bounded by the outbox) and a ping.
pub(crate) const WRITES_QUEUED_MAX: usize = 128;
/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What a socket's task reports.
#[derive(Debug)]
pub(crate) enum SocketEvent {
    /// The dial succeeded.
    Connected,
    /// The dial failed or timed out.
    ConnectFailed,
    /// The socket closed, failed, or carried bytes the codec refused.
    Closed,
    /// A reply arrived.
    Reply(Box<ClientReply>),
}

/// The driver's side of one socket.
#[derive(Debug)]
pub(crate) struct Connection {
    writes: mpsc::Sender<WireRequest>,
    task: JoinHandle<()>,
}

impl Connection {
    /// Dials `address` and runs the socket until it closes or is dropped.
    pub(crate) fn spawn(
        id: ConnectionId,
        address: SocketAddr,
        codec: ClientCodecConfig,
        connect_timeout: Duration,
        events: mpsc::Sender<(ConnectionId, SocketEvent)>,
    ) -> Connection {
        let (writes, queued) = mpsc::channel(WRITES_QUEUED_MAX);
        let task = tokio::spawn(async move {
            let dialled = tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await;
            let stream = match dialled {
                Ok(Ok(stream)) => stream,
                _ => {
                    let _closed = events.send((id, SocketEvent::ConnectFailed)).await;
                    return;
                }
            };
            let _nodelay = stream.set_nodelay(true);
            if events.send((id, SocketEvent::Connected)).await.is_err() {
                return;
            }
            run(id, stream, codec, queued, &events).await;
            let _closed = events.send((id, SocketEvent::Closed)).await;
        });
        Connection { writes, task }
    }

    /// Queues `request` for writing; `false` when the socket's task is gone or its queue is
    /// full (the socket is then as good as closed).
    pub(crate) fn write(&self, request: WireRequest) -> bool {
        self.writes.try_send(request).is_ok()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes queued calls and reads replies until the socket closes, the codec refuses the
/// bytes, or the driver drops the connection.
async fn run(
    id: ConnectionId,
    mut stream: TcpStream,
    codec: ClientCodecConfig,
    mut queued: mpsc::Receiver<WireRequest>,
    events: &mpsc::Sender<(ConnectionId, SocketEvent)>,
) {
    let Ok(mut codec) = ClientCodec::new(codec) else { return };
    let mut buffer = vec![0_u8; READ_CHUNK_BYTES];
    loop {
        tokio::select! {
            request = queued.recv() => {
                let Some(request) = request else { return };
                let Ok(bytes) = codec.encode(&request) else { return };
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            read = stream.read(&mut buffer) => {
                let Ok(read @ 1..) = read else { return };
                codec.handle_bytes(&buffer[..read]);
                while let Some(reply) = codec.poll_reply() {
                    let Ok(reply) = reply else { return };
                    if events.send((id, SocketEvent::Reply(Box::new(reply)))).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

//! A link emulator for the WAN benchmark (`make bench-wan`): a userspace TCP relay between a SPICE client and the
//! server's port, since this machine's kernel has no netem.
//!
//! ```text
//! wan_relay --target 127.0.0.1:5930 [--listen 0] --mbit 20 --delay-ms 20 [--up-mbit N]
//! ```
//!
//! Every connection made to the listening port (127.0.0.1 only) is relayed to `--target`, so all SPICE channels of a
//! session cross the same emulated link:
//! - one bandwidth cap per direction (`--mbit` for server → client, `--up-mbit` for client → server, the same by
//!   default), shared by every connection: a chunk read from one side reserves the link for `len / rate` after
//!   whatever was reserved before it, and the reader waits until then before it reads more, so a sender sees the
//!   backpressure of a slow link (its socket buffer fills);
//! - a fixed one-way delay (`--delay-ms`): a chunk is written to the other side that long after its last byte left
//!   the "wire".
//!
//! Bytes are never dropped or reordered: each direction of each connection is one FIFO. A closed side is passed on
//! as a half-close once everything before it is delivered. It prints `listening on 127.0.0.1:PORT` once ready and
//! runs until killed.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes read from a socket at once: small enough that one chunk occupies a 20 Mbit/s link for only 6.5 ms.
const CHUNK: usize = 16 * 1024;
/// A reader that wakes up this late (timer granularity, a busy machine) keeps the wire's time it missed, so the
/// link still delivers its full rate; longer idle time is lost, as on a real link.
const SLACK: Duration = Duration::from_millis(5);
/// Chunks "on the wire" per direction of a connection (the reader waits for their serialisation time, so this is
/// a safety bound, not the queue that shapes the traffic).
const IN_FLIGHT: usize = 4096;

/// One direction of the emulated link, shared by every connection.
#[derive(Debug)]
pub struct Link {
    /// Bytes per second.
    rate: f64,
    /// When the wire is free again.
    free_at: Mutex<Option<Instant>>,
}

impl Link {
    /// A link direction of `mbit` megabits per second.
    pub fn new(mbit: f64) -> Arc<Self> {
        Arc::new(Link { rate: mbit.max(0.001) * 1e6 / 8.0, free_at: Mutex::new(None) })
    }

    /// Reserves the wire for `n` bytes; returns when their last byte has left it.
    pub fn reserve(&self, n: usize) -> Instant {
        let now = Instant::now();
        let mut free = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        let start = free.map_or(now, |f| if f + SLACK >= now { f } else { now });
        let end = start + Duration::from_secs_f64(n as f64 / self.rate);
        *free = Some(end);
        end
    }
}

/// The relay's settings.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Client → server megabits per second.
    pub up_mbit: f64,
    /// Server → client megabits per second.
    pub down_mbit: f64,
    /// One-way delay.
    pub delay: Duration,
}

/// Listens on 127.0.0.1:`port` (0: any free port); returns the listener's address and the accept loop.
pub async fn start(
    port: u16,
    target: String,
    profile: Profile,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let up = Link::new(profile.up_mbit);
    let down = Link::new(profile.down_mbit);
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { continue };
            let (target, up, down, delay) = (target.clone(), up.clone(), down.clone(), profile.delay);
            tokio::spawn(async move {
                match TcpStream::connect(&target).await {
                    Ok(server) => relay(client, server, up, down, delay).await,
                    Err(e) => eprintln!("wan_relay: connect to {target}: {e}"),
                }
            });
        }
    });
    Ok((addr, task))
}

async fn relay(client: TcpStream, server: TcpStream, up: Arc<Link>, down: Arc<Link>, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(direction(cr, sw, up, delay), direction(sr, cw, down, delay));
}

/// Carries one direction: the reader paces itself on the link, the writer delivers each chunk `delay` after it.
async fn direction(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, link: Arc<Link>, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader = async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.truncate(n);
            let sent = link.reserve(n);
            if tx.send((sent + delay, buf)).await.is_err() {
                break;
            }
            tokio::time::sleep_until(sent).await;
        }
        // Dropping `tx` ends the writer once it has delivered everything queued.
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

fn parse_args() -> Result<(u16, String, Profile), String> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut target, mut mbit, mut up, mut delay_ms) = (0u16, None, None, None, 0.0f64);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => port = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--target" => target = Some(value()?),
            "--mbit" => mbit = Some(value()?.parse::<f64>().map_err(|e| format!("--mbit: {e}"))?),
            "--up-mbit" => up = Some(value()?.parse::<f64>().map_err(|e| format!("--up-mbit: {e}"))?),
            "--delay-ms" => delay_ms = value()?.parse().map_err(|e| format!("--delay-ms: {e}"))?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let target = target.ok_or("--target HOST:PORT is required")?;
    let down = mbit.ok_or("--mbit is required")?;
    if !(down > 0.0 && up.unwrap_or(down) > 0.0 && (0.0..=10_000.0).contains(&delay_ms)) {
        return Err("rates must be positive and the delay 0-10000 ms".into());
    }
    let profile =
        Profile { up_mbit: up.unwrap_or(down), down_mbit: down, delay: Duration::from_secs_f64(delay_ms / 1e3) };
    Ok((port, target, profile))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (port, target, profile) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wan_relay: {e}");
            std::process::exit(2);
        }
    };
    match start(port, target, profile).await {
        Ok((addr, task)) => {
            println!("listening on {addr}");
            let _ = task.await;
        }
        Err(e) => {
            eprintln!("wan_relay: listen: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free loopback port.
    async fn echo() -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                });
            }
        });
        addr
    }

    fn pattern(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[tokio::test]
    async fn bytes_arrive_intact_and_in_order_on_every_connection() {
        let target = echo().await;
        let profile = Profile { up_mbit: 400.0, down_mbit: 400.0, delay: Duration::from_millis(2) };
        let (addr, task) = start(0, target.to_string(), profile).await.unwrap();
        let mut conns = Vec::new();
        for seed in 0..4u64 {
            conns.push(tokio::spawn(async move {
                let data = pattern(seed, 300_000 + seed as usize * 7_777);
                let s = TcpStream::connect(addr).await.unwrap();
                let (mut r, mut w) = s.into_split();
                let out = data.clone();
                let send = tokio::spawn(async move {
                    // Odd write sizes, so chunks never line up with the relay's.
                    for piece in out.chunks(12_345) {
                        w.write_all(piece).await.unwrap();
                    }
                    w.shutdown().await.unwrap();
                });
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.unwrap();
                send.await.unwrap();
                assert_eq!(back.len(), data.len(), "connection {seed}: length");
                assert!(back == data, "connection {seed}: bytes differ");
            }));
        }
        for c in conns {
            c.await.unwrap();
        }
        task.abort();
    }

    #[test]
    fn reservations_queue_back_to_back_and_never_go_backwards() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let link = Link::new(8.0); // 1 MB/s
            let t0 = Instant::now();
            let a = link.reserve(1000);
            let b = link.reserve(1000);
            // Paused clock: exact figures, no timing race.
            assert_eq!(a - t0, Duration::from_millis(1));
            assert_eq!(b - t0, Duration::from_millis(2));
            tokio::time::advance(Duration::from_millis(10)).await;
            let c = link.reserve(500);
            assert_eq!(c - t0, Duration::from_micros(10_500));
            assert!(c > b);
        });
    }

    #[test]
    fn each_crossing_is_delayed() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        // A delayed chunk is delivered after the delay, measured on the paused clock.
        rt.block_on(async {
            let target = echo().await;
            let profile = Profile { up_mbit: 1000.0, down_mbit: 1000.0, delay: Duration::from_millis(500) };
            let (addr, task) = start(0, target.to_string(), profile).await.unwrap();
            let mut s = TcpStream::connect(addr).await.unwrap();
            let t0 = Instant::now();
            s.write_all(b"ping").await.unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            // Two crossings of the relay, each delayed by 500 ms.
            assert!(t0.elapsed() >= Duration::from_millis(1000));
            task.abort();
        });
    }
}

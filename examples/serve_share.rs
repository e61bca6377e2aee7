//! Serve one directory with ryll's WebDAV share server on a loopback TCP port, without SPICE.
//!
//! Every TCP connection is handed to [`ShareServer::serve_connection`], exactly as the WebDAV mux
//! hands it each guest connection, so WebDAV clients and test suites (litmus, cadaver, davfs2,
//! benchmarks) can talk to the same server the guest sees.
//!
//! ```text
//! cargo run --example serve_share -- DIR [--port PORT] [--read-only] [--private]
//! litmus http://127.0.0.1:PORT/
//! ```
//!
//! It listens on 127.0.0.1 only (default port 9843) and logs with `RUST_LOG` (default `info`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use ryll::webdav::server::{ShareConfig, ShareServer};
use tokio::net::TcpListener;

const USAGE: &str = "usage: serve_share DIR [--port PORT] [--read-only] [--private]";

struct Args {
    root: PathBuf,
    port: u16,
    read_only: bool,
    private: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut root = None;
    let mut port = 9843;
    let mut read_only = false;
    let mut private = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("--port {value}: not a port number"))?;
            }
            "--read-only" => read_only = true,
            "--private" => private = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other if root.is_none() && !other.starts_with('-') => root = Some(PathBuf::from(other)),
            other => return Err(format!("unexpected argument {other}\n{USAGE}")),
        }
    }
    let root = root.ok_or(USAGE)?;
    Ok(Args { root, port, read_only, private })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(text) => {
            eprintln!("{text}");
            return ExitCode::from(2);
        }
    };
    let server = match ShareServer::new(ShareConfig {
        root: args.root,
        read_only: args.read_only,
        private: args.private,
        protection: Default::default(),
    }) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("serve_share: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("serve_share: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(root = %server.root().display(), read_only = server.read_only(), "serving on http://{addr}/");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                continue;
            }
        };
        // Like ryll's SPICE sockets: no Nagle delay on responses written in several pieces.
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            if let Err(e) = server.serve_connection(stream).await {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        });
    }
}

//! Record a SPICE server's display channel into a file, for test fixtures.
//!
//! Links the main channel (plain TCP, no password), takes the session id from MAIN_INIT, links display channel 0,
//! sends DISPLAY_INIT, answers SET_ACK/ACK and PING with ryll's base-message code, and writes every display message
//! as a record (`u16 type, u32 length, body`, little-endian) until no message has come for `--idle` seconds (or
//! `--max` seconds have passed). With `--qmp`, it then takes a QMP `screendump` (PNG) of the same moment; with
//! `--cont` too, it sends QMP `cont` once the display channel is up, so a QEMU started with `-S` draws everything
//! while the channel watches (guest drawables rather than the server's one image of a settled screen).
//!
//! ```text
//! cargo run --example record_display -- 127.0.0.1:5900 messages.bin [--idle 3] [--max 20] \
//!     [--qmp qmp.sock --screendump screen.png [--cont]] [--prefer N]
//! ```
//!
//! `--prefer N` sends PREFERRED_COMPRESSION N after DISPLAY_INIT (OFF 1, AUTO_GLZ 2, AUTO_LZ 3, QUIC 4, GLZ 5,
//! LZ 6). At the end it prints a summary: messages per type and the image types inside DRAW_COPY.
//! `tests/fixtures/display/record.sh` drives it against a QEMU without a guest OS.

#[path = "../tests/display_records/mod.rs"]
mod display_records;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use display_records::{image_type_name, parse_draw_copy, parse_surface_create, write_record, MSG_DRAW_COPY};
use ryll::channels::base::BaseState;
use ryll::channels::io::{spawn_writer, ByteCounters, MessageReader, Outgoing};
use ryll::channels::link::{connect_tcp, link, LinkRequest, Password};
use ryll::channels::main_channel::{main_caps, run_main, MainEvent, MAX_MAIN_MESSAGE};
use ryll::protocol::caps::Caps;
use ryll::protocol::constants::ChannelType;
use ryll::protocol::main_channel::ChannelId;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const USAGE: &str = "usage: record_display HOST:PORT OUT [--idle SECS] [--max SECS] \
                     [--qmp SOCK --screendump PNG [--cont]] [--prefer N]";

/// SPICE_MSGC_DISPLAY_INIT.
const MSGC_DISPLAY_INIT: u16 = 101;
/// SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION.
const MSGC_DISPLAY_PREFERRED_COMPRESSION: u16 = 103;
/// Pixmap cache size in pixels: spice-gtk's 80 MiB of 32-bit pixels.
const PIXMAP_CACHE_PIXELS: i64 = 20 * 1024 * 1024;
/// GLZ window in pixels: 16 MiB of 32-bit pixels (the server's limit is 2^25 pixels).
const GLZ_WINDOW_PIXELS: i32 = 4 * 1024 * 1024;
/// Largest display message accepted (a full 4K surface as a raw bitmap fits).
const MAX_DISPLAY_MESSAGE: u32 = 64 << 20;

struct Args {
    addr: String,
    out: String,
    idle: Duration,
    max: Duration,
    qmp: Option<String>,
    screendump: Option<String>,
    prefer: Option<u8>,
    cont: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let (mut idle, mut max, mut qmp, mut screendump, mut prefer, mut cont) = (3.0, 20.0, None, None, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--idle" => idle = value()?.parse().map_err(|e| format!("--idle: {e}"))?,
            "--max" => max = value()?.parse().map_err(|e| format!("--max: {e}"))?,
            "--qmp" => qmp = Some(value()?),
            "--screendump" => screendump = Some(value()?),
            "--prefer" => prefer = Some(value()?.parse().map_err(|e| format!("--prefer: {e}"))?),
            "--cont" => cont = true,
            "-h" | "--help" => return Err(USAGE.into()),
            a if !a.starts_with('-') => positional.push(arg),
            a => return Err(format!("unexpected argument {a}\n{USAGE}")),
        }
    }
    let [addr, out]: [String; 2] = positional.try_into().map_err(|_| USAGE.to_string())?;
    if qmp.is_some() != screendump.is_some() || (cont && qmp.is_none()) {
        return Err("--qmp and --screendump go together; --cont needs them".into());
    }
    let secs = |s: f64| Duration::try_from_secs_f64(s).map_err(|e| e.to_string());
    Ok(Args { addr, out, idle: secs(idle)?, max: secs(max)?, qmp, screendump, prefer, cont })
}

/// The 14-byte packed DISPLAY_INIT: cache id, cache size, GLZ dictionary id, GLZ window.
fn display_init() -> Vec<u8> {
    let mut body = Vec::with_capacity(14);
    body.push(1);
    body.extend_from_slice(&PIXMAP_CACHE_PIXELS.to_le_bytes());
    body.push(1);
    body.extend_from_slice(&GLZ_WINDOW_PIXELS.to_le_bytes());
    body
}

/// Links the main channel and returns the session id; the main channel keeps running (PONGs) in a task.
async fn link_main(addr: &str) -> Result<u32, String> {
    let mut stream = connect_tcp(addr).await.map_err(|e| e.to_string())?;
    let req = LinkRequest {
        connection_id: 0,
        channel: ChannelId { channel_type: ChannelType::Main, id: 0 },
        channel_caps: main_caps(),
        password: Password::default(),
        addr: addr.into(),
    };
    let info = link(&mut stream, &req, &None).await.map_err(|e| e.to_string())?;
    let (rd, wr) = tokio::io::split(stream);
    let counters = Arc::new(ByteCounters::default());
    let reader = MessageReader::new(rd, info.mode, MAX_MAIN_MESSAGE, None, counters.clone());
    let (writer, _task) = spawn_writer(wr, info.mode, 8, None, counters);
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(run_main(reader, writer, tx));
    loop {
        match rx.recv().await {
            Some(MainEvent::Init(init)) => {
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                return Ok(init.session_id);
            }
            Some(MainEvent::Closed { reason, error }) => {
                return Err(format!("main channel closed before INIT: {reason:?} {error:?}"))
            }
            Some(_) => {}
            None => return Err("main channel ended before INIT".into()),
        }
    }
}

/// Links display channel 0 and records its messages into `args.out`.
async fn record(args: &Args, session_id: u32) -> Result<BTreeMap<String, usize>, String> {
    let mut stream = connect_tcp(&args.addr).await.map_err(|e| e.to_string())?;
    let req = LinkRequest {
        connection_id: session_id,
        channel: ChannelId { channel_type: ChannelType::Display, id: 0 },
        channel_caps: Caps::new(),
        password: Password::default(),
        addr: args.addr.clone(),
    };
    let info = link(&mut stream, &req, &None).await.map_err(|e| e.to_string())?;
    let (rd, wr) = tokio::io::split(stream);
    let counters = Arc::new(ByteCounters::default());
    let mut reader = MessageReader::new(rd, info.mode, MAX_DISPLAY_MESSAGE, None, counters.clone());
    let (writer, _task) = spawn_writer(wr, info.mode, 8, None, counters);
    let send = |msg_type, body: Vec<u8>| writer.control.send(Outgoing { msg_type, body: body.into() });
    send(MSGC_DISPLAY_INIT, display_init()).await.map_err(|_| "writer closed")?;
    if let Some(p) = args.prefer {
        send(MSGC_DISPLAY_PREFERRED_COMPRESSION, vec![p]).await.map_err(|_| "writer closed")?;
    }
    if let (true, Some(sock)) = (args.cont, &args.qmp) {
        qmp(sock, &["{\"execute\":\"cont\"}".into()]).await?;
    }

    let mut out = Vec::new();
    let mut summary = BTreeMap::new();
    let mut base = BaseState::new();
    let mut replies = Vec::new();
    let deadline = Instant::now() + args.max;
    loop {
        let wait = args.idle.min(deadline.saturating_duration_since(Instant::now()));
        let msg = match tokio::time::timeout(wait, reader.read_message()).await {
            Err(_) => break,
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => return Err("the server closed the display channel".into()),
            Ok(Err(e)) => return Err(format!("display channel: {e}")),
        };
        write_record(&mut out, msg.msg_type, &msg.body).map_err(|e| e.to_string())?;
        *summary.entry(describe(msg.msg_type, &msg.body)).or_insert(0) += 1;
        base.handle(msg.msg_type, &msg.body, &mut replies).map_err(|e| e.to_string())?;
        for r in replies.drain(..) {
            writer.control.send(r).await.map_err(|_| "writer closed")?;
        }
    }
    std::fs::write(&args.out, &out).map_err(|e| format!("{}: {e}", args.out))?;
    Ok(summary)
}

/// A summary line for one message: its type, and for DRAW_COPY the image type and size.
fn describe(msg_type: u16, body: &[u8]) -> String {
    match msg_type {
        MSG_DRAW_COPY => match parse_draw_copy(body) {
            Ok(d) => format!("304 DRAW_COPY {} {}x{}", image_type_name(d.image_type), d.width, d.height),
            Err(e) => format!("304 DRAW_COPY unparsed ({e})"),
        },
        314 => match parse_surface_create(body) {
            Ok(s) => format!("314 SURFACE_CREATE {}x{} format {}", s.width, s.height, s.format),
            Err(e) => format!("314 SURFACE_CREATE unparsed ({e})"),
        },
        t => format!("{t}"),
    }
}

/// Runs QMP commands (one JSON object a line; events are skipped), failing on the first error.
async fn qmp(sock: &str, commands: &[String]) -> Result<(), String> {
    let stream = tokio::net::UnixStream::connect(sock).await.map_err(|e| format!("{sock}: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    let mut command = async |cmd: String| -> Result<(), String> {
        wr.write_all(cmd.as_bytes()).await.map_err(|e| e.to_string())?;
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if line.contains("\"return\"") {
                return Ok(());
            }
            if line.contains("\"error\"") {
                return Err(format!("QMP: {line}"));
            }
        }
        Err("QMP closed".into())
    };
    command("{\"execute\":\"qmp_capabilities\"}\n".into()).await?;
    for c in commands {
        command(format!("{c}\n")).await?;
    }
    Ok(())
}

/// Takes a PNG screendump over QMP.
async fn screendump(sock: &str, file: &str) -> Result<(), String> {
    let path = std::path::absolute(file).map_err(|e| e.to_string())?;
    let path = path.to_str().ok_or("screendump path is not UTF-8")?.replace('\\', "\\\\").replace('"', "\\\"");
    qmp(sock, &[format!("{{\"execute\":\"screendump\",\"arguments\":{{\"filename\":\"{path}\",\"format\":\"png\"}}}}")])
        .await
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = async {
        let session_id = link_main(&args.addr).await?;
        let summary = record(&args, session_id).await?;
        if let (Some(sock), Some(file)) = (&args.qmp, &args.screendump) {
            screendump(sock, file).await?;
        }
        Ok::<_, String>(summary)
    }
    .await;
    match result {
        Ok(summary) => {
            for (what, n) in summary {
                println!("{n:5} × {what}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("record_display: {e}");
            ExitCode::FAILURE
        }
    }
}

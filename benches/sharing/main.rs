//! `make bench`: ryll's sharing path measured against its ceiling.
//!
//! ryll's client-side path — SPICE socket → VMC → mux → hyper → WebDAV handler → disk and back — must never be
//! what limits a transfer. This benchmark runs the release `ryll` binary against a synthetic peer that plays the
//! SPICE server and the guest's spice-webdavd over loopback TCP, and runs the same HTTP workloads with the same
//! client code against the same WebDAV handler served over plain loopback TCP (`examples/serve_share.rs`): the
//! ceiling. It reports each workload's figure for both, their ratio measured in the same run (median of several
//! runs), the server's peak RSS and its CPU seconds per GiB, an LZ4 study, and what a flood of one-byte frames
//! to held-back connections costs ryll in memory.
//!
//! # Layout
//! - [`data`]: generated file contents (checkable at any offset) and the share's tree.
//! - [`peer`]: the SPICE server + spice-webdavd model and the mux-backed guest connections.
//! - [`http`]: the HTTP/1.1 client, generic over the stream.
//! - [`workloads`]: the workloads and the two targets.
//! - [`tiny`]: the tiny-frame workload (ryll only).
//! - [`procs`]: subprocesses, `/proc` figures, the watchdog, the machine description.
//! - [`report`]: medians, the Markdown tables, `docs/performance.md`.
//!
//! Run it with `make bench` (or `make bench-quick` for a smoke run). `cargo test` builds it and, without
//! `--bench`, it only prints how to run it.

mod data;
mod http;
mod peer;
mod procs;
mod report;
mod tiny;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Env, Side, Workload};

const USAGE: &str = "usage: cargo bench --bench sharing -- [--quick] [--runs N] [--ryll PATH] [--serve-share PATH]
       [--write FILE] [--only NAME,...] [--quiet-load LOAD] [--patience SECONDS] [--dir DIR]
names: get put propfind small mixed stall lz4 tiny";

struct Args {
    quick: bool,
    runs: usize,
    ryll: PathBuf,
    serve_share: PathBuf,
    write: Option<PathBuf>,
    only: Option<Vec<String>>,
    quiet_load: Option<f64>,
    patience: Duration,
    /// Where the share and the logs go (a temporary directory under it); `None`: see [`procs::data_parent`].
    dir: Option<PathBuf>,
    command: String,
}

fn parse_args() -> Result<Option<Args>, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if !raw.iter().any(|a| a == "--bench") {
        // `cargo test` runs bench targets without `--bench`: nothing to measure there.
        println!("the sharing benchmark runs with `make bench` or `cargo bench --bench sharing`");
        return Ok(None);
    }
    let mut a = Args {
        quick: false,
        runs: 0,
        ryll: PathBuf::from("target/release/ryll"),
        serve_share: PathBuf::from("target/release/examples/serve_share"),
        write: None,
        only: None,
        quiet_load: None,
        patience: Duration::from_secs(1200),
        dir: None,
        command: String::new(),
    };
    let shown: Vec<&str> = raw.iter().map(String::as_str).filter(|a| *a != "--bench").collect();
    a.command = format!("cargo bench --bench sharing -- {}", shown.join(" ")).trim_end().to_owned();
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bench" => {}
            "--quick" => a.quick = true,
            "--runs" => a.runs = value("--runs")?.parse().map_err(|_| "--runs: not a number")?,
            "--ryll" => a.ryll = PathBuf::from(value("--ryll")?),
            "--serve-share" => a.serve_share = PathBuf::from(value("--serve-share")?),
            "--write" => a.write = Some(PathBuf::from(value("--write")?)),
            "--only" => a.only = Some(value("--only")?.split(',').map(str::to_owned).collect()),
            "--quiet-load" => a.quiet_load = Some(value("--quiet-load")?.parse().map_err(|_| "--quiet-load")?),
            "--patience" => a.patience = Duration::from_secs(value("--patience")?.parse().map_err(|_| "--patience")?),
            "--dir" => a.dir = Some(PathBuf::from(value("--dir")?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if a.runs == 0 {
        a.runs = if a.quick { 1 } else { 5 };
    }
    for bin in [&a.ryll, &a.serve_share] {
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: build it first (`cargo build --release --bin ryll --example serve_share`, which \
                 `make bench` does)",
                bin.display()
            ));
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn selected(args: &Args, name: &str) -> bool {
    args.only.as_ref().is_none_or(|list| list.iter().any(|n| n == name))
}

async fn run(args: Args) -> Result<(), String> {
    let wait = args.quiet_load.map_or(Duration::ZERO, |_| args.patience);
    procs::start_watchdog(wait + if args.quick { Duration::from_secs(600) } else { Duration::from_secs(3600) });
    let sizes = if args.quick { data::Sizes::quick() } else { data::Sizes::full() };
    let parent = match &args.dir {
        Some(d) => d.clone(),
        None => procs::data_parent(sizes.disk_bytes()),
    };
    let dir = tempfile::Builder::new()
        .prefix("ryll-bench-")
        .tempdir_in(&parent)
        .map_err(|e| format!("temp dir in {}: {e}", parent.display()))?;
    let share_fs = format!("{} ({})", procs::filesystem_of(dir.path()), parent.display());
    let share = dir.path().join("share");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&share).and_then(|_| std::fs::create_dir_all(&logs)).map_err(|e| e.to_string())?;
    eprintln!("bench: generating test data in {}", dir.path().display());
    let t = std::time::Instant::now();
    data::create_share(&share, &sizes).map_err(|e| format!("generate the test data: {e}"))?;
    procs::sync_disks();
    eprintln!("bench: test data ready in {:.1} s", t.elapsed().as_secs_f64());
    let key = tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("generate the RSA key: {e}"))?;
    let env = Env {
        ryll: args.ryll.clone(),
        serve_share: args.serve_share.clone(),
        share,
        logs,
        key: Arc::new(key),
        sizes,
        limit: if args.quick { Duration::from_secs(60) } else { Duration::from_secs(300) },
    };
    let load_before = match args.quiet_load {
        Some(max) => procs::wait_for_quiet(max, args.patience),
        None => procs::load_average(),
    };

    let mut main_list = Vec::new();
    for (name, w) in [
        ("get", Workload::GetLarge),
        ("put", Workload::PutLarge),
        ("propfind", Workload::Propfind),
        ("small", Workload::SmallGets),
        ("mixed", Workload::Mixed),
        ("stall", Workload::Stall),
    ] {
        if selected(&args, name) {
            main_list.push(w);
        }
    }
    let lz4_list: Vec<Workload> = if selected(&args, "lz4") {
        [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .map(|(upload, text)| Workload::Lz4 { upload, text })
            .collect()
    } else {
        Vec::new()
    };

    let mut results = report::Results::new(&main_list, &lz4_list);
    for run in 0..args.runs {
        for &w in &main_list {
            let mut pair: [Option<workloads::Sample>; 2] = [None, None];
            for side in order(w, run) {
                let s = w.run(&env, side, false).await?;
                eprintln!("bench: run {}/{} {:<48} {:?}: {}", run + 1, args.runs, w.name(&sizes), side, brief(w, &s));
                let slot = &mut pair[usize::from(side == Side::Ceiling)];
                *slot = Some(match slot.take() {
                    Some(earlier) => w.better(earlier, s),
                    None => s,
                });
            }
            if let [Some(r), Some(c)] = pair {
                results.add_main(w, r, c);
            }
        }
        for &w in &lz4_list {
            let off = w.run(&env, Side::Ryll, false).await?;
            let on = w.run(&env, Side::Ryll, true).await?;
            eprintln!(
                "bench: run {}/{} {:<48} lz4 off: {} | on: {}",
                run + 1,
                args.runs,
                w.name(&sizes),
                brief(w, &off),
                brief(w, &on)
            );
            results.add_lz4(w, off, on);
        }
        if selected(&args, "tiny") {
            let [one, large] = tiny::FRAMES;
            let (a, b) = (tiny::measure(&env, one).await?, tiny::measure(&env, large).await?);
            for t in [&a, &b] {
                eprintln!(
                    "bench: run {}/{} tiny frames of {} B: peak {} MiB, after close {} MiB (from {} MiB), {:.1} s",
                    run + 1,
                    args.runs,
                    t.frame,
                    t.peak_kib / 1024,
                    t.after_kib / 1024,
                    t.base_kib / 1024,
                    t.secs
                );
            }
            results.add_tiny(a, b);
        }
    }
    let load_after = procs::load_average();

    let ctx = report::Context {
        machine: procs::machine(),
        load_before,
        load_after,
        runs: args.runs,
        share_fs,
        command: args.command.clone(),
        quick: args.quick,
    };
    let mut parts = Vec::new();
    if report::has_main(&results) {
        parts.push((report::MAIN, report::render(&results, &sizes, &ctx)));
    }
    if let Some(text) = report::render_tiny(&results, &ctx) {
        parts.push((report::TINY, text));
    }
    for (markers, text) in &parts {
        println!("{text}");
        if let Some(path) = &args.write {
            report::write_section(path, *markers, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("bench: wrote {}", path.display());
        }
    }
    Ok(())
}

/// The measurements of one run of `w`. Each side runs twice, in the order ABBA (BAAB in odd runs), and keeps its
/// better result: on a shared machine noise only ever slows a side down, and the mirrored order cancels a drift
/// within the run. The stall workload alternates its own pairs inside one measurement and runs once per side.
fn order(w: Workload, run: usize) -> Vec<Side> {
    let (a, b) = if run % 2 == 0 { (Side::Ryll, Side::Ceiling) } else { (Side::Ceiling, Side::Ryll) };
    if w == Workload::Stall {
        vec![a, b]
    } else {
        vec![a, b, b, a]
    }
}

fn brief(w: Workload, s: &workloads::Sample) -> String {
    let unit = match w.metric() {
        workloads::Metric::Throughput => "MB/s",
        workloads::Metric::Rate => "req/s",
        workloads::Metric::Latency => "ms",
    };
    format!("{:.1} {unit}, cpu {:.2} s, rss {} MiB", s.value, s.cpu, s.rss_kib / 1024)
}

//! Subprocesses (ryll, the ceiling server) and what `/proc` says about them: CPU time and peak RSS.
//!
//! Every child is registered by process id so the watchdog can end exactly the processes this benchmark started
//! if a run hangs; a [`Child`] is killed and reaped when dropped.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clock ticks per second in `/proc/PID/stat` (USER_HZ, 100 on every Linux architecture).
const USER_HZ: f64 = 100.0;

/// How long a child may take to exit after SIGTERM.
const TERM_GRACE: Duration = Duration::from_secs(10);

static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A running subprocess, killed when dropped.
pub struct Child {
    inner: std::process::Child,
    name: String,
    log: std::path::PathBuf,
}

impl Child {
    /// Starts `program args` with stdout and stderr going to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        env: &[(&str, &str)],
    ) -> Result<Child, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let inner = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(inner.id());
        Ok(Child { inner, name: name.to_owned(), log: log.to_owned() })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// User plus system CPU seconds used so far (all threads, also those that ended).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.pid())).unwrap_or(f64::NAN)
    }

    /// Peak resident set size so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:").unwrap_or(0)
    }

    /// Resident set size now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:").unwrap_or(0)
    }

    /// Fails if the process has exited, with the end of its log.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.inner.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited ({status}); last log lines:\n{}", self.name, self.log_tail())),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// The last lines of the process's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Child {
    /// SIGTERM first (ryll and profilers wrapped around it end cleanly), SIGKILL after [`TERM_GRACE`].
    fn drop(&mut self) {
        let pid = self.inner.id();
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        let start = Instant::now();
        while matches!(self.inner.try_wait(), Ok(None)) && start.elapsed() < TERM_GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.inner.kill();
        let _ = self.inner.wait();
        CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
    }
}

/// Ends the whole benchmark after `limit`: kills the children it started (by process id) and exits with 1.
pub fn start_watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("bench: no result after {limit:?}; stopping (a hang is a failure)");
        for pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        std::process::exit(1);
    });
}

fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let text = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may contain spaces) start at the state, field 3.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// The first number after `key` in `/proc/PID/status` (KiB for the `Vm*` lines).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds this benchmark process (the peer and the HTTP clients) has used.
pub fn self_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat").unwrap_or(f64::NAN)
}

/// Flushes dirty pages to disk (`sync`), so that writes from earlier steps do not compete with a measurement.
pub fn sync_disks() {
    let _ = Command::new("sync").status();
}

/// Where the test data goes when `--dir` is not given: `/dev/shm` if it is a tmpfs with room for `need` bytes
/// (plus a quarter), else the system's temporary directory. On tmpfs neither side waits for a disk: the disk is
/// the same for ryll and the ceiling, and on a shared machine its write speed varies far more between runs than
/// the client path's cost, so it would hide what the benchmark measures.
pub fn data_parent(need: u64) -> std::path::PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && filesystem_of(shm) == "tmpfs" && free_bytes(shm).is_some_and(|f| f >= need + need / 4) {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// Bytes available to an unprivileged user on the filesystem holding `path` (`df`).
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(path).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().nth(1)?.trim().parse().ok()
}

/// The type of the filesystem holding `path` (`stat -f`), e.g. `tmpfs` or `ext2/ext3`.
pub fn filesystem_of(path: &Path) -> String {
    Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Waits until the 1-minute load average is below `max`, for at most `patience`; returns the last value.
pub fn wait_for_quiet(max: f64, patience: Duration) -> f64 {
    let start = Instant::now();
    let mut said = false;
    loop {
        let load = load_average();
        if load < max || start.elapsed() >= patience {
            return load;
        }
        if !said {
            eprintln!("bench: load average {load:.2} ≥ {max}; waiting up to {patience:?} for a quieter machine");
            said = true;
        }
        std::thread::sleep(Duration::from_secs(10));
    }
}

/// The machine, for the report.
pub fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        ("nproc".into(), nproc.to_string()),
        ("CPU".into(), model),
        ("RAM".into(), format!("{:.1} GiB", mem_kib as f64 / (1024.0 * 1024.0))),
        ("kernel".into(), kernel),
        ("rustc".into(), rustc),
    ]
}

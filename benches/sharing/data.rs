//! Test data: deterministic file contents that can be generated and checked at any offset, and the share's
//! directory tree, created at run time in a temporary directory.
//!
//! Two kinds of content: [`Content::Random`] (incompressible: a counter-based hash per 8-byte word) and
//! [`Content::Text`] (64-byte log-like lines that LZ4 compresses about 2×). Bodies are checked by sampling one
//! word every [`SAMPLE_EVERY`] bytes, which catches lost, duplicated, reordered or foreign data at almost no CPU
//! cost, so the checks weigh the same on ryll's path and on the ceiling's.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A body is checked at every offset that is a multiple of this.
pub const SAMPLE_EVERY: u64 = 4096;
/// Line length of [`Content::Text`].
const LINE: u64 = 64;
/// Words the text lines are made of (7 bytes each).
const WORDS: [&[u8; 7]; 16] = [
    b"photos ", b"report ", b"backup ", b"readme ", b"config ", b"thesis ", b"budget ", b"agenda ", b"drivers",
    b"archive", b"minutes", b"invoice", b"scripts", b"release", b"summary", b"sources",
];
/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Incompressible bytes derived from the seed.
    Random(u64),
    /// Numbered log lines (compressible).
    Text,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Line `n` of the text content: `NNNNNNNNNN GET /word/word HHHHHHHHHHHHHHHH 200 word\n`-like log lines with a
/// line number, three words and 16 hex digits that vary, so LZ4 finds about as much to compress as in real logs.
fn text_line(n: u64) -> [u8; 64] {
    let mut line = [b' '; 64];
    let mut v = n;
    for i in (0..10).rev() {
        line[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let h = splitmix(n);
    line[11..18].copy_from_slice(b"GET /s/");
    line[18..25].copy_from_slice(WORDS[(h & 15) as usize]);
    line[25] = b'/';
    line[26..33].copy_from_slice(WORDS[((h >> 4) & 15) as usize]);
    for (i, b) in line[34..50].iter_mut().enumerate() {
        *b = b"0123456789abcdef"[((h >> (8 + 3 * i)) & 15) as usize];
    }
    line[51..54].copy_from_slice(b"200");
    line[55..62].copy_from_slice(WORDS[((h >> 60) & 15) as usize]);
    line[63] = b'\n';
    line
}

impl Content {
    /// The 8 bytes at `offset` (a multiple of 8).
    pub fn word(self, offset: u64) -> [u8; 8] {
        match self {
            Content::Random(seed) => splitmix(seed ^ (offset / 8).wrapping_mul(0xD134_2543_DE82_EF95)).to_le_bytes(),
            Content::Text => {
                let line = text_line(offset / LINE);
                let at = (offset % LINE) as usize;
                let mut w = [0u8; 8];
                w.copy_from_slice(&line[at..at + 8]);
                w
            }
        }
    }

    /// Fills `buf` with the bytes at `offset` (a multiple of 8).
    pub fn fill(self, offset: u64, buf: &mut [u8]) {
        debug_assert_eq!(offset % 8, 0);
        match self {
            Content::Random(_) => {
                let mut chunks = buf.chunks_exact_mut(8);
                let mut at = offset;
                for c in &mut chunks {
                    c.copy_from_slice(&self.word(at));
                    at += 8;
                }
                let rest = chunks.into_remainder();
                let w = self.word(at);
                rest.copy_from_slice(&w[..rest.len()]);
            }
            Content::Text => {
                let mut at = offset;
                let mut out = &mut buf[..];
                while !out.is_empty() {
                    let line = text_line(at / LINE);
                    let from = (at % LINE) as usize;
                    let n = (LINE as usize - from).min(out.len());
                    out[..n].copy_from_slice(&line[from..from + n]);
                    out = &mut out[n..];
                    at += n as u64;
                }
            }
        }
    }
}

/// Checks a body as it streams past, sampling one word every [`SAMPLE_EVERY`] bytes.
#[derive(Debug)]
pub struct Checker {
    content: Content,
    offset: u64,
    /// Offset of the first sampled word that is wrong.
    pub bad: Option<u64>,
}

impl Checker {
    /// A checker for a body that starts at offset 0.
    pub fn new(content: Content) -> Self {
        Checker { content, offset: 0, bad: None }
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, data: &[u8]) {
        let start = self.offset;
        let end = start + data.len() as u64;
        let mut at = start.div_ceil(SAMPLE_EVERY) * SAMPLE_EVERY;
        while at + 8 <= end {
            let i = (at - start) as usize;
            if self.bad.is_none() && data[i..i + 8] != self.content.word(at) {
                self.bad = Some(at);
            }
            at += SAMPLE_EVERY;
        }
        self.offset = end;
    }

    /// Bytes seen.
    pub fn len(&self) -> u64 {
        self.offset
    }
}

/// Writes `len` bytes of `content` to `path`.
pub fn write_file(path: &Path, content: Content, len: u64) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        content.fill(at, &mut buf[..n]);
        f.write_all(&buf[..n])?;
        at += n as u64;
    }
    f.flush()
}

/// Checks a file on disk: its length and every sampled word.
pub fn check_file(path: &Path, content: Content, len: u64) -> Result<(), String> {
    use std::io::Read;
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut c = Checker::new(content);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        c.update(&buf[..n]);
    }
    if c.len() != len {
        return Err(format!("{}: {} bytes, expected {len}", path.display(), c.len()));
    }
    match c.bad {
        Some(at) => Err(format!("{}: wrong data at offset {at}", path.display())),
        None => Ok(()),
    }
}

/// Sizes of every workload's data (full or quick run).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// The large GET and PUT.
    pub large: u64,
    /// Entries in the PROPFIND directory.
    pub dir_entries: usize,
    /// Small files fetched.
    pub small_gets: usize,
    /// Size of each small file.
    pub small_size: u64,
    /// Connections the small GETs use.
    pub small_conns: usize,
    /// Concurrent clients of the mixed workload.
    pub mixed_clients: usize,
    /// Bytes each mixed client GETs and then PUTs.
    pub mixed_size: u64,
    /// The download next to a stalled client, and each transfer of the LZ4 study.
    pub medium: u64,
    /// Held-back guest connections of the tiny-frame workload.
    pub tiny_conns: usize,
    /// Payload bytes each of them sends (in one-byte frames, then in 64 KiB frames).
    pub tiny_bytes: usize,
}

impl Sizes {
    /// The sizes the issue asks for.
    pub fn full() -> Self {
        Sizes {
            large: 1 << 30,
            dir_entries: 5000,
            small_gets: 1000,
            small_size: 4096,
            small_conns: 8,
            mixed_clients: 64,
            mixed_size: 4 << 20,
            medium: 256 << 20,
            tiny_conns: 250,
            tiny_bytes: 250_000,
        }
    }

    /// A generous bound on the disk space a run needs at once: the generated files, an upload of the large file
    /// next to it, and the LZ4 and mixed uploads.
    pub fn disk_bytes(&self) -> u64 {
        let mixed = self.mixed_clients as u64 * self.mixed_size;
        2 * self.large + 4 * self.medium + 2 * mixed + (self.small_gets + self.dir_entries) as u64 * 4096 + (64 << 20)
    }

    /// Small sizes for a smoke run.
    pub fn quick() -> Self {
        Sizes {
            large: 32 << 20,
            dir_entries: 500,
            small_gets: 200,
            small_size: 4096,
            small_conns: 8,
            mixed_clients: 64,
            mixed_size: 256 << 10,
            medium: 16 << 20,
            tiny_conns: 16,
            tiny_bytes: 20_000,
        }
    }
}

/// Seeds of the random files (each file has its own, so a misrouted response fails the check).
pub const SEED_LARGE: u64 = 1;
/// The stalled client's download target is the large file; the measured download uses this one.
pub const SEED_DOWNLOAD: u64 = 2;
/// Uploads.
pub const SEED_UPLOAD: u64 = 3;
/// The mixed workload's file `i` uses `SEED_MIXED + i`.
pub const SEED_MIXED: u64 = 1000;
/// The small file `i` uses `SEED_SMALL + i`.
pub const SEED_SMALL: u64 = 100_000;

/// Paths (inside the share) of the generated files.
pub mod paths {
    /// The large file.
    pub const LARGE: &str = "/large.bin";
    /// The stall workload's download.
    pub const DOWNLOAD: &str = "/download.bin";
    /// The compressible LZ4 file.
    pub const TEXT: &str = "/text.log";
    /// The directory PROPFIND lists.
    pub const DIR: &str = "/many/";
    /// Where uploads go.
    pub const UPLOADS: &str = "/uploads";

    /// The small file `i`.
    pub fn small(i: usize) -> String {
        format!("/small/f{i:04}.bin")
    }

    /// The mixed workload's source file `i`.
    pub fn mixed(i: usize) -> String {
        format!("/mixed/m{i:02}.bin")
    }
}

/// Creates the share's tree under `root`.
pub fn create_share(root: &Path, sizes: &Sizes) -> std::io::Result<()> {
    let at = |p: &str| -> PathBuf { root.join(p.trim_start_matches('/')) };
    write_file(&at(paths::LARGE), Content::Random(SEED_LARGE), sizes.large)?;
    write_file(&at(paths::DOWNLOAD), Content::Random(SEED_DOWNLOAD), sizes.medium)?;
    write_file(&at(paths::TEXT), Content::Text, sizes.medium)?;
    let many = at(paths::DIR);
    std::fs::create_dir_all(&many)?;
    for i in 0..sizes.dir_entries {
        std::fs::write(many.join(format!("entry-{i:05}.txt")), format!("entry {i}\n"))?;
    }
    for i in 0..sizes.small_gets {
        write_file(&at(&paths::small(i)), Content::Random(SEED_SMALL + i as u64), sizes.small_size)?;
    }
    for i in 0..sizes.mixed_clients {
        write_file(&at(&paths::mixed(i)), Content::Random(SEED_MIXED + i as u64), sizes.mixed_size)?;
    }
    std::fs::create_dir_all(at(paths::UPLOADS))?;
    Ok(())
}

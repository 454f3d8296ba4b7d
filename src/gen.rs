//! Deterministic benchmark data: realistic exports of each source family, written by the
//! parsers' own generators, alone or mixed in realistic proportions.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Signin,
    Ual,
    Radius,
    Fortigate,
    Panos,
    /// All families in the proportions of a typical identity case.
    Mixed,
}

/// Share of each family in a mixed set: firewalls dominate by volume, as in real cases.
pub const MIX: &[(Kind, f64)] = &[
    (Kind::Fortigate, 0.35),
    (Kind::Panos, 0.25),
    (Kind::Signin, 0.15),
    (Kind::Ual, 0.15),
    (Kind::Radius, 0.10),
];

/// Largest single file the mixed set writes; real exports come in pieces too.
pub const MAX_FILE_BYTES: usize = 64 << 20;

fn ext(kind: Kind) -> &'static str {
    match kind {
        Kind::Signin => "json",
        Kind::Ual => "csv",
        Kind::Radius => "detail",
        Kind::Fortigate | Kind::Panos => "log",
        Kind::Mixed => "",
    }
}

/// Write one export of `kind` of about `bytes` bytes; returns the records written.
pub fn write_one<W: Write>(
    kind: Kind,
    seed: u64,
    bytes: usize,
    out: &mut W,
) -> std::io::Result<u64> {
    use crate::sources::*;
    match kind {
        Kind::Signin => entra_signin::generate(seed, bytes, out),
        Kind::Ual => m365_ual::generate(seed, bytes, out),
        Kind::Radius => radius_detail::generate(seed, bytes, out),
        Kind::Fortigate => fortigate::generate(seed, bytes, out),
        Kind::Panos => panos::generate(seed, bytes, out),
        Kind::Mixed => Err(std::io::Error::other("mixed is a set of files, not one")),
    }
}

/// Write `total_bytes` of `kind` under `dir` (several files of at most [`MAX_FILE_BYTES`]);
/// returns the files with their record counts.
pub fn write_set(
    kind: Kind,
    seed: u64,
    total_bytes: usize,
    dir: &Path,
) -> std::io::Result<Vec<(PathBuf, u64)>> {
    std::fs::create_dir_all(dir)?;
    let parts: Vec<(Kind, usize)> = match kind {
        Kind::Mixed => MIX
            .iter()
            .map(|(k, share)| (*k, (total_bytes as f64 * share) as usize))
            .collect(),
        k => vec![(k, total_bytes)],
    };
    let mut out = Vec::new();
    for (k, bytes) in parts {
        let mut left = bytes;
        let mut n = 0;
        while left > 0 {
            let chunk = left.min(MAX_FILE_BYTES);
            let name = format!("{:?}-{n:03}.{}", k, ext(k)).to_lowercase();
            let path = dir.join(name);
            let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            let records = write_one(k, seed.wrapping_add(n as u64), chunk, &mut w)?;
            w.flush()?;
            out.push((path, records));
            left -= chunk;
            n += 1;
        }
    }
    Ok(out)
}

//! Deterministic ZIP writing: entries sorted by name, every entry stamped with the clock,
//! mode 0644, deflate at a fixed level; written under a temporary name and renamed only
//! when complete, so a package on disk is always whole.

use super::bagit::{Bag, Content};
use chrono::{DateTime, Datelike, Timelike, Utc};
use rayon::prelude::*;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Fixed deflate level: a different level gives different bytes. Level 1, as `zip -1`: the
/// package is dominated by evidence and timeline text, where higher levels cost far more time
/// than they save bytes.
pub const DEFLATE_LEVEL: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ZipWriteError {
    #[error("{path}: exists; use --force to replace it")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Zip { path: String, message: String },
}

/// The clock as a ZIP (DOS) time: clamped to 1980–2107, seconds rounded down to even.
pub fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let year = t.year().clamp(1980, 2107) as u16;
    let (mo, d, h, mi, s) = if (1980..=2107).contains(&t.year()) {
        (
            t.month() as u8,
            t.day() as u8,
            t.hour() as u8,
            t.minute() as u8,
            (t.second() as u8) & !1,
        )
    } else if t.year() < 1980 {
        (1, 1, 0, 0, 0)
    } else {
        (12, 31, 23, 59, 58)
    };
    zip::DateTime::from_date_and_time(year, mo, d, h, mi, s).unwrap_or_default()
}

/// Write `bag` as `<dest>` (entries `<bag.name>/<path>`); returns the ZIP's SHA-256 and size.
pub fn write_bag_zip(
    bag: &Bag,
    dest: &Path,
    clock: DateTime<Utc>,
    force: bool,
) -> Result<(String, u64), ZipWriteError> {
    write_bag_zip_with(bag, dest, clock, force, &indicatif::ProgressBar::hidden())
}

/// [`write_bag_zip`], advancing `bar` by each member's size as it is deflated.
pub fn write_bag_zip_with(
    bag: &Bag,
    dest: &Path,
    clock: DateTime<Utc>,
    force: bool,
    bar: &indicatif::ProgressBar,
) -> Result<(String, u64), ZipWriteError> {
    if dest.exists() && !force {
        return Err(ZipWriteError::Exists {
            path: dest.display().to_string(),
        });
    }
    let tmp = temp_name(dest);
    let result = write_to(bag, &tmp, clock, bar);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| ZipWriteError::Io { path: p, source }
    };
    // Checked again right before the rename: another run may have finished meanwhile.
    if dest.exists() && !force {
        let _ = std::fs::remove_file(&tmp);
        return Err(ZipWriteError::Exists {
            path: dest.display().to_string(),
        });
    }
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    let f = std::fs::File::open(dest).map_err(io(dest))?;
    super::bagit::sha256_reader(f).map_err(io(dest))
}

fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "package.zip".into());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn write_to(
    bag: &Bag,
    tmp: &Path,
    clock: DateTime<Utc>,
    bar: &indicatif::ProgressBar,
) -> Result<(), ZipWriteError> {
    let path = tmp.display().to_string();
    let io = |source| ZipWriteError::Io {
        path: path.clone(),
        source,
    };
    let zerr = |e: zip::result::ZipError| ZipWriteError::Zip {
        path: path.clone(),
        message: e.to_string(),
    };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io)?;
    let mut zw = ZipWriter::new(BufWriter::new(f));
    let base = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(zip_time(clock))
        .unix_permissions(0o644);
    let mut files: Vec<_> = bag.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // Members are deflated in parallel, each into its own one-entry ZIP beside the package,
    // then copied raw (compressed bytes, CRC and sizes as they are) into the package in name
    // order: the bytes are the same whichever thread finished first.
    let scratch = tmp.with_extension("members");
    std::fs::create_dir_all(&scratch).map_err(io)?;
    let parts: Result<Vec<PathBuf>, ZipWriteError> = files
        .par_iter()
        .enumerate()
        .map(|(i, e)| {
            let part = scratch.join(format!("{i:06}.zip"));
            deflate_member(&format!("{}/{}", bag.name, e.path), e, base, &part)?;
            bar.inc(e.size);
            Ok(part)
        })
        .collect();
    let parts = match parts {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(e);
        }
    };
    for part in &parts {
        let perr = |e: zip::result::ZipError| ZipWriteError::Zip {
            path: part.display().to_string(),
            message: e.to_string(),
        };
        let f = std::fs::File::open(part).map_err(|source| ZipWriteError::Io {
            path: part.display().to_string(),
            source,
        })?;
        let mut a = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(perr)?;
        let m = a.by_index_raw(0).map_err(perr)?;
        zw.raw_copy_file(m).map_err(zerr)?;
    }
    std::fs::remove_dir_all(&scratch).map_err(io)?;
    let mut w = zw.finish().map_err(zerr)?;
    w.flush().map_err(io)?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    Ok(())
}

/// One member, deflated (or stored when already compressed) into a one-entry ZIP at `part`.
fn deflate_member(
    name: &str,
    e: &super::bagit::Entry,
    base: SimpleFileOptions,
    part: &Path,
) -> Result<(), ZipWriteError> {
    let path = part.display().to_string();
    let io = |source| ZipWriteError::Io {
        path: path.clone(),
        source,
    };
    let zerr = |err: zip::result::ZipError| ZipWriteError::Zip {
        path: path.clone(),
        message: err.to_string(),
    };
    let f = std::fs::File::create(part).map_err(io)?;
    let mut zw = ZipWriter::new(BufWriter::with_capacity(1 << 20, f));
    let mut opts = base.large_file(e.size >= u32::MAX as u64);
    if already_compressed(&e.path) {
        // Deflating a ZIP or gzip export again costs time and saves nothing.
        opts = opts
            .compression_method(CompressionMethod::Stored)
            .compression_level(None);
    }
    zw.start_file(name, opts).map_err(zerr)?;
    match &e.content {
        Content::Bytes(b) => zw.write_all(b).map_err(io)?,
        Content::File(p) => {
            let mut src = std::fs::File::open(p).map_err(|source| ZipWriteError::Io {
                path: p.display().to_string(),
                source,
            })?;
            std::io::copy(&mut src, &mut zw).map_err(io)?;
        }
    }
    let mut w = zw.finish().map_err(zerr)?;
    w.flush().map_err(io)?;
    Ok(())
}

fn already_compressed(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".zip", ".gz", ".tgz", ".7z", ".bz2", ".xz", ".zst"]
        .iter()
        .any(|x| lower.ends_with(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::bagit::Entry;

    #[test]
    fn same_bag_same_bytes_and_no_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let bag = Bag {
            name: "IR-1".into(),
            files: vec![
                Entry::bytes("b.txt", b"bbb".to_vec()),
                Entry::bytes("a.txt", b"aaa".to_vec()),
                Entry::bytes("c.zip", b"PK\x03\x04".to_vec()),
            ],
        };
        let clock = DateTime::parse_from_rfc3339("2024-05-01T12:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = dir.path().join("a.zip");
        let b = dir.path().join("b.zip");
        let (ha, _) = write_bag_zip(&bag, &a, clock, false).unwrap();
        let (hb, _) = write_bag_zip(&bag, &b, clock, false).unwrap();
        assert_eq!(ha, hb);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(matches!(
            write_bag_zip(&bag, &a, clock, false),
            Err(ZipWriteError::Exists { .. })
        ));
        assert!(write_bag_zip(&bag, &a, clock, true).is_ok());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
        let mut z = zip::ZipArchive::new(std::fs::File::open(&a).unwrap()).unwrap();
        assert_eq!(z.by_index(0).unwrap().name(), "IR-1/a.txt");
        assert_eq!(z.by_index(0).unwrap().unix_mode(), Some(0o100644));
        assert_eq!(
            z.by_index(0).unwrap().compression(),
            CompressionMethod::Deflated
        );
        assert_eq!(
            z.by_name("IR-1/c.zip").unwrap().compression(),
            CompressionMethod::Stored
        );
    }

    #[test]
    fn zip_time_clamps() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(zip_time(t("1970-01-01T00:00:00Z")).year(), 1980);
        assert_eq!(zip_time(t("2024-05-01T12:00:01Z")).second(), 0);
    }
}

//! Intake: every original is hashed while it is copied byte-identical into the case folder.
//! Inputs are opened read-only and never written; zip exports are kept whole and their
//! members read in place, never extracted to disk, with caps against zip bombs.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    File,
    /// A zip archive: kept whole, its members are items of their own.
    Zip,
    ZipMember,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Path as given on the command line (or found under a given folder).
    pub original_path: String,
    /// Where the bytes live relative to the case folder (`evidence/...`); for a zip member,
    /// `evidence/export.zip!/member/path`.
    pub stored_path: String,
    pub kind: ItemKind,
    pub sha256: String,
    pub size: u64,
    /// Modification time of the original, RFC 3339 UTC, when the filesystem gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    pub acquired_at: String,
    pub examiner: String,
    pub host: String,
    pub tool: String,
    /// For a zip member: the member name exactly as the archive spells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_name: Option<String>,
    /// For a zip member: its index among the archive's members. Names alone can be
    /// ambiguous (two raw names that are not UTF-8 can read alike), the index is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_index: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Caps that keep a hostile archive from exhausting disk or memory.
#[derive(Debug, Clone)]
pub struct ZipLimits {
    pub max_member_bytes: u64,
    pub max_total_bytes: u64,
    /// Largest allowed uncompressed:compressed ratio for members over 1 MiB.
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_member_bytes: 2 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
        }
    }
}

pub struct IntakeOptions<'a> {
    pub inputs: &'a [PathBuf],
    /// The case folder; originals go to `<case_dir>/evidence/`.
    pub case_dir: &'a Path,
    pub acquired_at: String,
    pub actor: &'a super::custody::Actor,
    pub zip_limits: ZipLimits,
    /// Files under an input that are not evidence (the case file kept beside the exports).
    pub exclude: &'a [PathBuf],
}

/// What intake produced: the items, and the inputs it could not take (with why).
#[derive(Debug, Default)]
pub struct Intake {
    pub items: Vec<EvidenceItem>,
    pub problems: Vec<IntakeError>,
}

/// One step of the walk over the inputs, replayed in walk order once the files are taken.
enum Step {
    Problem(IntakeError),
    /// Copy and hash the file at this path to this stored path.
    Take(PathBuf, String),
}

pub fn intake(opts: &IntakeOptions) -> Intake {
    use rayon::prelude::*;
    let mut steps: Vec<Step> = Vec::new();
    let evidence_dir = opts.case_dir.join("evidence");
    // Each input gets its own root under evidence/: two inputs with one name (`logs` the file
    // and `logs` the folder, or two `export.zip` from different places) must not collide.
    let mut roots: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // Canonical paths already taken, so a file reached twice (the same input given twice, or
    // a file given alongside its folder) is kept once instead of doubling its events.
    let mut seen: std::collections::BTreeMap<PathBuf, String> = std::collections::BTreeMap::new();
    for input in opts.inputs {
        let meta = match std::fs::symlink_metadata(input) {
            Ok(m) => m,
            Err(source) => {
                steps.push(Step::Problem(IntakeError::Io {
                    path: input.display().to_string(),
                    source,
                }));
                continue;
            }
        };
        let root_name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".into());
        let root_name = unique(&mut roots, root_name);
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(input)
                .follow_links(false)
                .sort_by_file_name();
            for entry in walker {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let path = e
                            .path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| input.display().to_string());
                        steps.push(Step::Problem(IntakeError::Input {
                            path,
                            message: format!("cannot walk: {e}"),
                        }));
                        continue;
                    }
                };
                let ft = entry.file_type();
                if ft.is_symlink() {
                    // Following links could pull in files outside the evidence the analyst chose.
                    steps.push(Step::Problem(IntakeError::Input {
                        path: entry.path().display().to_string(),
                        message: "symbolic link not followed".into(),
                    }));
                    continue;
                }
                if ft.is_dir() {
                    continue;
                }
                if !ft.is_file() {
                    // FIFOs, sockets and devices: opening one could block or read forever.
                    steps.push(Step::Problem(IntakeError::Input {
                        path: entry.path().display().to_string(),
                        message: "not a regular file; not taken".into(),
                    }));
                    continue;
                }
                if is_excluded(entry.path(), opts.exclude) {
                    continue;
                }
                let rel = entry.path().strip_prefix(input).unwrap_or(entry.path());
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let stored = format!("evidence/{root_name}/{rel}");
                if first_time(entry.path(), &stored, &mut seen, &mut steps) {
                    steps.push(Step::Take(entry.path().to_path_buf(), stored));
                }
            }
        } else if meta.is_file() {
            let stored = format!("evidence/{root_name}");
            if first_time(input, &stored, &mut seen, &mut steps) {
                steps.push(Step::Take(input.clone(), stored));
            }
        } else {
            steps.push(Step::Problem(IntakeError::Input {
                path: input.display().to_string(),
                message: "not a regular file or folder (symbolic links are not followed)".into(),
            }));
        }
    }
    // Files are copied and hashed on every thread (the hashing is what costs), then recorded
    // in walk order, so items and problems come out as a sequential walk gives them.
    let taken: Vec<Option<Intake>> = steps
        .par_iter()
        .with_max_len(1)
        .map(|step| match step {
            Step::Take(src, stored) => {
                let mut one = Intake::default();
                take_file(src, stored, &evidence_dir, opts, &mut one);
                Some(one)
            }
            Step::Problem(_) => None,
        })
        .collect();
    let mut out = Intake::default();
    for (step, took) in steps.into_iter().zip(taken) {
        match (step, took) {
            (Step::Problem(p), _) => out.problems.push(p),
            (Step::Take(..), Some(one)) => {
                out.items.extend(one.items);
                out.problems.extend(one.problems);
            }
            (Step::Take(..), None) => {}
        }
    }
    out.items.sort_by(|a, b| a.stored_path.cmp(&b.stored_path));
    out
}

/// True the first time a file is reached; later times are noted as problems.
fn first_time(
    p: &Path,
    stored: &str,
    seen: &mut std::collections::BTreeMap<PathBuf, String>,
    steps: &mut Vec<Step>,
) -> bool {
    let Ok(c) = std::fs::canonicalize(p) else {
        return true;
    };
    match seen.get(&c) {
        Some(first) => {
            steps.push(Step::Problem(IntakeError::Input {
                path: p.display().to_string(),
                message: format!("same file as {first}, already taken; kept once"),
            }));
            false
        }
        None => {
            seen.insert(c, stored.to_string());
            true
        }
    }
}

fn is_excluded(p: &Path, exclude: &[PathBuf]) -> bool {
    let Ok(c) = std::fs::canonicalize(p) else {
        return false;
    };
    exclude
        .iter()
        .any(|e| std::fs::canonicalize(e).map(|e| e == c).unwrap_or(false))
}

fn unique(taken: &mut std::collections::BTreeSet<String>, want: String) -> String {
    if taken.insert(want.clone()) {
        return want;
    }
    let (stem, ext) = match want.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && !s.ends_with('/') && !e.contains('/') => {
            (s.to_string(), format!(".{e}"))
        }
        _ => (want.clone(), String::new()),
    };
    (2..)
        .map(|n| format!("{stem}~{n}{ext}"))
        .find(|c| taken.insert(c.clone()))
        .expect("unbounded counter")
}

fn take_file(
    src: &Path,
    stored: &str,
    evidence_dir: &Path,
    opts: &IntakeOptions,
    out: &mut Intake,
) {
    let dest = evidence_dir.join(stored.trim_start_matches("evidence/"));
    let (sha256, size) = match copy_and_hash(src, &dest) {
        Ok(v) => v,
        Err(e) => {
            out.problems.push(e);
            return;
        }
    };
    let modified = std::fs::metadata(src)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        });
    let is_zip = File::open(&dest).and_then(|mut f| {
        let mut magic = [0u8; 4];
        let n = f.read(&mut magic)?;
        Ok(n == 4 && &magic == b"PK\x03\x04")
    });
    let item = EvidenceItem {
        original_path: src.display().to_string(),
        stored_path: stored.to_string(),
        kind: if matches!(is_zip, Ok(true)) {
            ItemKind::Zip
        } else {
            ItemKind::File
        },
        sha256,
        size,
        modified,
        acquired_at: opts.acquired_at.clone(),
        examiner: opts.actor.examiner.clone(),
        host: opts.actor.host.clone(),
        tool: opts.actor.tool.clone(),
        member_name: None,
        member_index: None,
    };
    if item.kind == ItemKind::Zip {
        zip_members(&dest, &item, opts, out);
    }
    out.items.push(item);
}

/// Stream `src` into `dest` (which must not exist) while hashing; the copy is made read-only.
fn copy_and_hash(src: &Path, dest: &Path) -> Result<(String, u64), IntakeError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| IntakeError::Io { path: p, source }
    };
    let mut input = File::open(src).map_err(io(src))?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(io(dest))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io(src))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(io(dest))?;
        size += n as u64;
    }
    output.sync_all().map_err(io(dest))?;
    let mut perm = output.metadata().map_err(io(dest))?.permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(dest, perm).map_err(io(dest))?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// A label for a member that can never be taken for a path outside the archive.
pub fn member_label(name: &str) -> String {
    let parts: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .map(|p| p.trim_end_matches(':'))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "unnamed".into()
    } else {
        parts.join("/")
    }
}

fn zip_members(zip_path: &Path, parent: &EvidenceItem, opts: &IntakeOptions, out: &mut Intake) {
    let err = |message: String| IntakeError::Input {
        path: parent.original_path.clone(),
        message,
    };
    let f = match File::open(zip_path) {
        Ok(f) => f,
        Err(source) => {
            return out.problems.push(IntakeError::Io {
                path: zip_path.display().to_string(),
                source,
            })
        }
    };
    let mut archive = match zip::ZipArchive::new(f) {
        Ok(a) => a,
        Err(e) => {
            return out
                .problems
                .push(err(format!("not a readable zip archive: {e}")))
        }
    };
    // The zip reader keeps one member per name: a repeated name hides the other copies.
    // They stay inside the archive (kept whole and hashed) but are not parsed; say so.
    let start = archive.central_directory_start();
    if let Ok(names) = File::open(zip_path).and_then(|mut f| central_names(&mut f, start)) {
        if names.len() > archive.len() {
            let mut counts: std::collections::BTreeMap<&[u8], usize> = Default::default();
            for n in &names {
                *counts.entry(n.as_slice()).or_default() += 1;
            }
            for (name, n) in counts.into_iter().filter(|(_, n)| *n > 1) {
                out.problems.push(err(format!(
                    "member name {:?} appears {n} times; only one copy can be read, {} not taken (extract the archive and give the copies separately)",
                    String::from_utf8_lossy(name),
                    n - 1
                )));
            }
        }
    }
    let mut total = 0u64;
    let mut labels = std::collections::BTreeSet::new();
    for i in 0..archive.len() {
        match read_member(&mut archive, i, &opts.zip_limits, &mut total) {
            Ok(None) => {}
            Ok(Some((name, bytes))) => {
                let label = unique(&mut labels, member_label(&name));
                out.items.push(EvidenceItem {
                    original_path: format!("{}!/{name}", parent.original_path),
                    stored_path: format!("{}!/{label}", parent.stored_path),
                    kind: ItemKind::ZipMember,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                    size: bytes.len() as u64,
                    modified: None,
                    acquired_at: opts.acquired_at.clone(),
                    examiner: opts.actor.examiner.clone(),
                    host: opts.actor.host.clone(),
                    tool: opts.actor.tool.clone(),
                    member_name: Some(name),
                    member_index: Some(i),
                });
            }
            Err(message) => out.problems.push(err(format!("member {i}: {message}"))),
        }
    }
}

/// Raw member names as the central directory lists them, repeats included.
fn central_names(f: &mut File, start: u64) -> std::io::Result<Vec<Vec<u8>>> {
    use std::io::{BufReader, Seek, SeekFrom};
    f.seek(SeekFrom::Start(start))?;
    let mut r = BufReader::new(f);
    let mut names = Vec::new();
    let mut head = [0u8; 46];
    // Bounded by the file: every entry is at least 46 bytes.
    while r.read_exact(&mut head).is_ok() && &head[..4] == b"PK\x01\x02" {
        let le = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]) as usize;
        let mut name = vec![0u8; le(28)];
        r.read_exact(&mut name)?;
        let skip = (le(30) + le(32)) as i64;
        r.seek_relative(skip)?;
        names.push(name);
    }
    Ok(names)
}

/// Read member `i` within the limits; `Ok(None)` for directories.
pub fn read_member<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    i: usize,
    limits: &ZipLimits,
    total: &mut u64,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let mut m = archive
        .by_index(i)
        .map_err(|e| format!("unreadable: {e}"))?;
    if m.is_dir() {
        return Ok(None);
    }
    let name = String::from_utf8_lossy(m.name_raw()).into_owned();
    let declared = m.size();
    let compressed = m.compressed_size().max(1);
    if declared > limits.max_member_bytes {
        return Err(format!(
            "{name:?} declares {declared} bytes, over the {} byte cap",
            limits.max_member_bytes
        ));
    }
    if declared > (1 << 20) && declared / compressed > limits.max_ratio {
        return Err(format!(
            "{name:?} expands {}:1, over the {}:1 cap (zip bomb?)",
            declared / compressed,
            limits.max_ratio
        ));
    }
    // Never trust the declared sizes: read at most the cap plus one byte, checking the real
    // expansion as it happens (a member may declare 1 KiB and inflate to gigabytes), and
    // reserve no more than a modest amount up front.
    let cap = limits
        .max_member_bytes
        .min(limits.max_total_bytes.saturating_sub(*total));
    let mut bytes = Vec::with_capacity(declared.min(cap).min(16 << 20) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = m.read(&mut chunk).map_err(|e| format!("{name:?}: {e}"))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        let got = bytes.len() as u64;
        if got > cap {
            return Err(format!(
                "{name:?} is larger than it declares or than the remaining {cap} byte budget"
            ));
        }
        if got > (1 << 20) && got / compressed > limits.max_ratio {
            return Err(format!(
                "{name:?} expands over {}:1 while declaring {declared} bytes, over the {}:1 cap (zip bomb?)",
                got / compressed,
                limits.max_ratio
            ));
        }
    }
    *total += bytes.len() as u64;
    Ok(Some((name, bytes)))
}

/// The archive part of a member's stored path (`evidence/x.zip!/member` → `evidence/x.zip`):
/// the first `!/` that ends at an archive in the case folder, since a folder name may itself
/// end in `!` (`evidence/exports!/x.zip!/member`).
pub fn container_of<'a>(case_dir: &Path, stored_path: &'a str) -> Option<&'a str> {
    stored_path
        .match_indices("!/")
        .map(|(i, _)| &stored_path[..i])
        .find(|p| case_dir.join(p).is_file())
}

/// The bytes of an item, read from the case folder (zip members from their archive).
/// Where the member intake hashed sits in `archive`: at its recorded index when that member
/// has the recorded name, else the first member of that name (items recorded without an
/// index). The caller still checks the bytes against the recorded hash.
pub fn member_index<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: Option<usize>,
    name: &str,
) -> Option<usize> {
    let named = |a: &mut zip::ZipArchive<R>, i: usize| {
        a.by_index_raw(i)
            .map(|m| String::from_utf8_lossy(m.name_raw()) == name)
            .unwrap_or(false)
    };
    if let Some(i) = index.filter(|&i| i < archive.len()) {
        if named(archive, i) {
            return Some(i);
        }
    }
    (0..archive.len()).find(|&i| named(archive, i))
}

pub fn read_item(case_dir: &Path, item: &EvidenceItem) -> Result<Vec<u8>, String> {
    match item.kind {
        ItemKind::File | ItemKind::Zip => std::fs::read(case_dir.join(&item.stored_path))
            .map_err(|e| format!("{}: {e}", item.stored_path)),
        ItemKind::ZipMember => {
            let zip_rel = container_of(case_dir, &item.stored_path)
                .ok_or_else(|| format!("{}: not a member path", item.stored_path))?;
            let f = File::open(case_dir.join(zip_rel)).map_err(|e| format!("{zip_rel}: {e}"))?;
            let mut a = zip::ZipArchive::new(f).map_err(|e| format!("{zip_rel}: {e}"))?;
            let name = item.member_name.clone().unwrap_or_default();
            let idx = member_index(&mut a, item.member_index, &name)
                .ok_or_else(|| format!("{zip_rel}: member {name:?} missing"))?;
            let mut total = 0;
            read_member(&mut a, idx, &ZipLimits::default(), &mut total)?
                .map(|(_, b)| b)
                .ok_or_else(|| format!("{name:?} is a directory"))
        }
    }
    .and_then(|bytes| {
        // Parse exactly the bytes that were hashed at intake, or say why not.
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha == item.sha256 {
            Ok(bytes)
        } else {
            Err(format!(
                "{}: reads as sha256 {sha}, but {} was recorded at intake",
                item.stored_path, item.sha256
            ))
        }
    })
}

/// Map a stored evidence file for parsing and check that it still holds exactly the bytes
/// hashed at intake, releasing each block once hashed. `Ok(None)` when the item is not a
/// plain file, or is empty: [`read_item`] reads those.
pub fn map_item(
    case_dir: &Path,
    item: &EvidenceItem,
) -> Result<Option<super::mapped::Mapped>, String> {
    use super::mapped::{each_block, Behind, Mapped};
    if item.kind != ItemKind::File {
        return Ok(None);
    }
    let map = Mapped::open(&case_dir.join(&item.stored_path))
        .map_err(|e| format!("{}: {e}", item.stored_path))?;
    let Some(map) = map else { return Ok(None) };
    let mut h = Sha256::new();
    each_block(&mut Behind::new(&map), map.bytes(), |_, b| {
        h.update(b);
        true
    });
    let sha = hex::encode(h.finalize());
    if sha == item.sha256 {
        Ok(Some(map))
    } else {
        Err(format!(
            "{}: reads as sha256 {sha}, but {} was recorded at intake",
            item.stored_path, item.sha256
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_escape() {
        assert_eq!(member_label("../../etc/passwd"), "etc/passwd");
        assert_eq!(member_label("/abs/x.json"), "abs/x.json");
        assert_eq!(member_label("C:\\Windows\\x.csv"), "C/Windows/x.csv");
        assert_eq!(member_label(".."), "unnamed");
    }
}

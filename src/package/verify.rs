//! `irpack verify`: re-hash every file against both manifests, check Payload-Oxum, the
//! custody chain, the timeline chain, every event's raw record against the original evidence
//! bytes in the bag, and the signature. Reports exactly what differs (file, line, expected
//! versus found); passes only when everything holds.

use super::bagit::{self, BAGIT, BAG_INFO, MANIFEST, PUBLIC_KEY, SIGNATURE, TAGMANIFEST};
use crate::event::Provenance;
use crate::evidence::custody;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

pub const CUSTODY: &str = "custody/custody.jsonl";
pub const TIMELINE: &str = "data/timeline/timeline.jsonl";
pub const COLLECTED: &str = "data/collected.json";
/// bag-info label naming what kind of irpack package this is.
pub const KIND_LABEL: &str = "Irpack-Package";
pub const KIND_EVIDENCE: &str = "evidence";
pub const KIND_REDACTED: &str = "redacted-copy";
/// Raw-record mismatches listed per evidence item before the rest are counted.
const RAW_PROBLEMS_PER_ITEM: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: {message}")]
    Open { path: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Bag-relative path (or the package itself).
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub package: String,
    pub bag: String,
    /// What was checked, one line each.
    pub checked: Vec<String>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_string(),
            line,
            message: message.into(),
        });
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The signer's public key; without it an embedded key is used, with a warning.
    pub pubkey: Option<PathBuf>,
}

/// Read access to a bag, in a folder or inside a ZIP.
trait BagFiles {
    /// Every file, bag-relative, with its size.
    fn list(&self) -> &BTreeMap<String, u64>;
    fn open(&mut self, path: &str) -> std::io::Result<Box<dyn Read + '_>>;
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open(path)?.read_to_end(&mut v)?;
        Ok(v)
    }
    fn hash(&mut self, path: &str) -> std::io::Result<(String, u64)> {
        bagit::sha256_reader(self.open(path)?)
    }
}

struct DirBag {
    root: PathBuf,
    files: BTreeMap<String, u64>,
}

impl BagFiles for DirBag {
    fn list(&self) -> &BTreeMap<String, u64> {
        &self.files
    }
    fn open(&mut self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(self.root.join(path))?))
    }
}

struct ZipBag {
    archive: zip::ZipArchive<std::fs::File>,
    prefix: String,
    index: BTreeMap<String, usize>,
    files: BTreeMap<String, u64>,
}

impl BagFiles for ZipBag {
    fn list(&self) -> &BTreeMap<String, u64> {
        &self.files
    }
    fn open(&mut self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let i = *self.index.get(path).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}{path}", self.prefix),
            )
        })?;
        let f = self
            .archive
            .by_index(i)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Box::new(f))
    }
}

fn open_dir(path: &Path, report: &mut VerifyReport) -> Result<DirBag, VerifyError> {
    let root = if path.join(BAGIT).is_file() {
        path.to_path_buf()
    } else {
        let subs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| VerifyError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(BAGIT).is_file())
            .collect();
        match subs.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(VerifyError::Open {
                    path: path.display().to_string(),
                    message: "no bagit.txt here or in a folder directly below".into(),
                })
            }
            _ => {
                return Err(VerifyError::Open {
                    path: path.display().to_string(),
                    message: "more than one bag below; name the bag folder".into(),
                })
            }
        }
    };
    let mut files = BTreeMap::new();
    for e in walkdir::WalkDir::new(&root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let Ok(e) = e else { continue };
        let rel = e
            .path()
            .strip_prefix(&root)
            .unwrap_or(e.path())
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if e.file_type().is_symlink() {
            report.problem(&rel, None, "symbolic link in the bag (not followed)");
        } else if e.file_type().is_file() {
            files.insert(rel, e.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
    report.bag = root.display().to_string();
    Ok(DirBag { root, files })
}

fn open_zip(path: &Path, report: &mut VerifyReport) -> Result<ZipBag, VerifyError> {
    let err = |message: String| VerifyError::Open {
        path: path.display().to_string(),
        message,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut archive =
        zip::ZipArchive::new(f).map_err(|e| err(format!("not a readable ZIP: {e}")))?;
    let names: Vec<(usize, String, bool, u64)> = (0..archive.len())
        .filter_map(|i| {
            let m = archive.by_index_raw(i).ok()?;
            Some((i, m.name().to_string(), m.is_dir(), m.size()))
        })
        .collect();
    let prefix = names
        .iter()
        .find_map(|(_, n, _, _)| {
            n.strip_suffix(BAGIT)
                .filter(|p| p.ends_with('/') && p.matches('/').count() == 1)
                .map(str::to_string)
        })
        .ok_or_else(|| err("no <case-id>/bagit.txt in the ZIP".into()))?;
    let mut index = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (i, n, is_dir, size) in names {
        if is_dir {
            continue;
        }
        match n.strip_prefix(&prefix) {
            Some(rel) if !rel.split('/').any(|c| c == ".." || c.is_empty()) => {
                index.insert(rel.to_string(), i);
                files.insert(rel.to_string(), size);
            }
            _ => report.problem(
                &n,
                None,
                format!("ZIP entry outside the bag folder {prefix:?} (added?)"),
            ),
        }
    }
    report.bag = format!("{}!/{}", path.display(), prefix.trim_end_matches('/'));
    Ok(ZipBag {
        archive,
        prefix,
        index,
        files,
    })
}

/// Verify the package at `path` (a ZIP, a bag folder, or a folder holding one bag).
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport {
        package: path.display().to_string(),
        ..Default::default()
    };
    if path.is_dir() {
        let mut bag = open_dir(path, &mut report)?;
        check(&mut bag, opts, &mut report);
    } else {
        let mut bag = open_zip(path, &mut report)?;
        check(&mut bag, opts, &mut report);
    }
    Ok(report)
}

fn read_text(bag: &mut dyn BagFiles, path: &str, r: &mut VerifyReport) -> Option<String> {
    if !bag.list().contains_key(path) {
        r.problem(path, None, "missing");
        return None;
    }
    match bag.read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Some(s),
            Err(_) => {
                r.problem(path, None, "not UTF-8 text");
                None
            }
        },
        Err(e) => {
            r.problem(path, None, format!("cannot read: {e}"));
            None
        }
    }
}

/// Check every line of a manifest; returns the paths it lists.
fn check_manifest(
    bag: &mut dyn BagFiles,
    manifest: &str,
    text: &str,
    r: &mut VerifyReport,
) -> BTreeSet<String> {
    let mut listed = BTreeSet::new();
    for line in bagit::parse_manifest(text) {
        match line {
            Err((n, msg)) => r.problem(manifest, Some(n), msg),
            Ok((n, want, path)) => {
                if !listed.insert(path.clone()) {
                    r.problem(manifest, Some(n), format!("{path} is listed twice"));
                    continue;
                }
                if !bag.list().contains_key(&path) {
                    r.problem(
                        &path,
                        None,
                        format!("listed in {manifest} (line {n}) but missing from the bag"),
                    );
                    continue;
                }
                match bag.hash(&path) {
                    Ok((found, _)) if found == want => {}
                    Ok((found, _)) => r.problem(
                        &path,
                        None,
                        format!(
                            "content differs from {manifest} line {n}: expected sha256 {want}, found {found}"
                        ),
                    ),
                    Err(e) => r.problem(&path, None, format!("cannot read: {e}")),
                }
            }
        }
    }
    listed
}

fn check(bag: &mut dyn BagFiles, opts: &VerifyOptions, r: &mut VerifyReport) {
    // bagit.txt
    if let Some(t) = read_text(bag, BAGIT, r) {
        match bagit::bag_info_value(&t, "BagIt-Version") {
            Some(v) if v == "1.0" => {}
            Some(v) => r.problem(BAGIT, Some(1), format!("BagIt-Version {v}, expected 1.0")),
            None => r.problem(BAGIT, Some(1), "no BagIt-Version line"),
        }
    }

    // Payload manifest.
    let manifest_text = read_text(bag, MANIFEST, r);
    let payload: Vec<(String, u64)> = bag
        .list()
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .map(|(p, s)| (p.clone(), *s))
        .collect();
    if let Some(m) = &manifest_text {
        let listed = check_manifest(bag, MANIFEST, m, r);
        for (p, _) in &payload {
            if !listed.contains(p) {
                r.problem(
                    p,
                    None,
                    format!("in the payload but not in {MANIFEST} (added after packaging?)"),
                );
            }
        }
        r.checked.push(format!(
            "{} payload file(s) re-hashed against {MANIFEST}",
            listed.len()
        ));
    }

    // Tag manifest.
    let tag_text = read_text(bag, TAGMANIFEST, r);
    if let Some(t) = &tag_text {
        let listed = check_manifest(bag, TAGMANIFEST, t, r);
        let unlisted: Vec<String> = bag
            .list()
            .keys()
            .filter(|p| !p.starts_with("data/") && !listed.contains(*p))
            .filter(|p| ![TAGMANIFEST, SIGNATURE, PUBLIC_KEY].contains(&p.as_str()))
            .cloned()
            .collect();
        for p in unlisted {
            r.problem(
                &p,
                None,
                format!("tag file not listed in {TAGMANIFEST} (added after packaging?)"),
            );
        }
        for must in [BAGIT, BAG_INFO, MANIFEST] {
            if !listed.contains(must) {
                r.problem(TAGMANIFEST, None, format!("does not list {must}"));
            }
        }
        r.checked.push(format!(
            "{} tag file(s) re-hashed against {TAGMANIFEST}",
            listed.len()
        ));
    }

    // Payload-Oxum.
    let info = read_text(bag, BAG_INFO, r).unwrap_or_default();
    let found_oxum = format!(
        "{}.{}",
        payload.iter().map(|(_, s)| s).sum::<u64>(),
        payload.len()
    );
    match bagit::bag_info_value(&info, "Payload-Oxum") {
        Some(v) if v == found_oxum => r.checked.push(format!("Payload-Oxum {v} matches")),
        Some(v) => r.problem(
            BAG_INFO,
            line_of(&info, "Payload-Oxum"),
            format!("Payload-Oxum says {v}, the payload is {found_oxum} (octets.files)"),
        ),
        None => r.warnings.push(format!("{BAG_INFO} has no Payload-Oxum")),
    }
    let kind = bagit::bag_info_value(&info, KIND_LABEL).unwrap_or_else(|| KIND_EVIDENCE.into());

    if kind == KIND_REDACTED {
        r.warnings.push(
            "redacted copy: no original evidence, custody log or timeline chain to check".into(),
        );
    } else {
        let timeline_head = check_timeline(bag, r);
        check_custody(bag, r, manifest_text.as_deref(), timeline_head.as_deref());
    }
    check_signature(bag, opts, tag_text.as_deref(), r);
}

fn line_of(text: &str, label: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.to_ascii_lowercase()
                .starts_with(&label.to_ascii_lowercase())
        })
        .map(|i| i + 1)
}

fn sha_hex(b: &[u8]) -> String {
    crate::sources::sha256_hex(b)
}

fn check_custody(
    bag: &mut dyn BagFiles,
    r: &mut VerifyReport,
    manifest_text: Option<&str>,
    timeline_head: Option<&str>,
) {
    let Some(text) = read_text(bag, CUSTODY, r) else {
        return;
    };
    let entries = match custody::verify_text(&text) {
        Ok(e) => e,
        Err((line, msg)) => {
            r.problem(CUSTODY, Some(line), format!("custody chain broken: {msg}"));
            return;
        }
    };
    r.checked
        .push(format!("custody chain: {} entries link", entries.len()));
    // Line numbers of entries (blank lines are skipped by the chain check).
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    let line = |i: usize| lines.get(i).copied();

    match entries.iter().rposition(|e| e.action == "packaged") {
        None => r.problem(CUSTODY, None, "no \"packaged\" entry"),
        Some(i) => {
            let want = entries[i]
                .details
                .get("manifest_sha256")
                .and_then(|v| v.as_str());
            let found = manifest_text.map(|m| sha_hex(m.as_bytes()));
            match (want, found) {
                (Some(w), Some(f)) if w == f => r
                    .checked
                    .push("custody \"packaged\" entry pins this manifest".into()),
                (Some(w), Some(f)) => r.problem(
                    CUSTODY,
                    line(i),
                    format!(
                        "\"packaged\" entry records manifest sha256 {w}, {MANIFEST} hashes to {f}"
                    ),
                ),
                (None, _) => r.problem(
                    CUSTODY,
                    line(i),
                    "\"packaged\" entry has no manifest_sha256",
                ),
                _ => {}
            }
        }
    }
    if let (Some(i), Some(head)) = (
        entries.iter().rposition(|e| e.action == "timeline_written"),
        timeline_head,
    ) {
        match entries[i]
            .details
            .get("chain_head")
            .and_then(|v| v.as_str())
        {
            Some(w) if w == head => r
                .checked
                .push("custody \"timeline_written\" entry pins the timeline head".into()),
            Some(w) => r.problem(
                CUSTODY,
                line(i),
                format!("\"timeline_written\" records chain head {w}, {TIMELINE} ends at {head}"),
            ),
            None => r.problem(CUSTODY, line(i), "\"timeline_written\" has no chain_head"),
        }
    }
    // Every acquired original is in the bag with the hash taken at acquisition.
    let mut acquired = 0;
    for (i, e) in entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.action == "acquired")
    {
        let kind = e.details.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        if kind == "zip_member" {
            continue;
        }
        let (Some(stored), Some(want)) = (
            e.details.get("stored_path").and_then(|v| v.as_str()),
            e.details.get("sha256").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        let p = bag_path(stored);
        if !bag.list().contains_key(&p) {
            r.problem(
                CUSTODY,
                line(i),
                format!("acquired {stored} is not in the bag as {p}"),
            );
            continue;
        }
        match bag.hash(&p) {
            Ok((f, _)) if f == want => acquired += 1,
            Ok((f, _)) => r.problem(
                &p,
                None,
                format!(
                    "differs from acquisition (custody line {}): expected sha256 {want}, found {f}",
                    line(i).unwrap_or(0)
                ),
            ),
            Err(err) => r.problem(&p, None, format!("cannot read: {err}")),
        }
    }
    r.checked.push(format!(
        "{acquired} original(s) match their acquisition hash in the custody log"
    ));
}

/// `evidence/x` → `data/evidence/x` (paths already under `data/` stay).
pub fn bag_path(stored: &str) -> String {
    if stored.starts_with("data/") {
        stored.to_string()
    } else {
        format!("data/{}", stored.trim_start_matches('/'))
    }
}

fn check_timeline(bag: &mut dyn BagFiles, r: &mut VerifyReport) -> Option<String> {
    if !bag.list().contains_key(TIMELINE) {
        r.problem(TIMELINE, None, "missing");
        return None;
    }
    let text = read_text(bag, TIMELINE, r)?;
    let (entries, head) = match crate::timeline::verify_text(&text) {
        Ok(v) => v,
        Err((line, msg)) => {
            r.problem(
                TIMELINE,
                Some(line),
                format!("timeline chain broken: {msg}"),
            );
            return None;
        }
    };
    r.checked.push(format!(
        "timeline chain: {} event(s), head {head}",
        entries.len()
    ));
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    // Group events by the evidence item they cite, so each item is read once.
    let mut by_item: BTreeMap<String, Vec<(usize, Provenance, String)>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_item
            .entry(e.event.evidence_path().to_string())
            .or_default()
            .push((lines[i], e.event.full_provenance(), e.event_sha256.clone()));
    }
    let members = member_names(bag);
    let mut checked = 0usize;
    for (item, evs) in by_item {
        let bytes = match item_bytes(bag, &item, &members) {
            Ok(b) => b,
            Err(msg) => {
                r.problem(
                    TIMELINE,
                    Some(evs[0].0),
                    format!("{} event(s) cite {item}: {msg}", evs.len()),
                );
                continue;
            }
        };
        let item_sha = sha_hex(&bytes);
        let want_sha = &evs[0].1.evidence_sha256;
        if &item_sha != want_sha {
            r.problem(
                &bag_path(&item),
                None,
                format!(
                    "events cite evidence sha256 {want_sha}, the bagged item hashes to {item_sha}"
                ),
            );
        }
        // Offsets of decoded items point into the UTF-8 decoding: decode once per item.
        let decoded: Option<String> = evs
            .iter()
            .any(|(_, p, _)| p.decoded_from.is_some())
            .then(|| crate::sources::text::decode(&bytes).text.into_owned());
        let mut problems = 0usize;
        for (line, p, ev_sha) in &evs {
            let hay: &[u8] = match (&p.decoded_from, &decoded) {
                (Some(_), Some(d)) => d.as_bytes(),
                _ => &bytes,
            };
            let (s, e) = (
                p.byte_offset as usize,
                (p.byte_offset + p.byte_len) as usize,
            );
            let msg = if e > hay.len() || s > e {
                Some(format!(
                    "event {} record {}: bytes {s}..{e} lie outside {item} ({} bytes{})",
                    &ev_sha[..12.min(ev_sha.len())],
                    p.record_no,
                    hay.len(),
                    if p.decoded_from.is_some() {
                        " decoded"
                    } else {
                        ""
                    }
                ))
            } else {
                let found = sha_hex(&hay[s..e]);
                (found != p.raw_sha256).then(|| {
                    format!(
                        "event {} record {}: raw record at {item} bytes {s}..{e} hashes to {found}, the event says {}",
                        &ev_sha[..12.min(ev_sha.len())],
                        p.record_no,
                        p.raw_sha256
                    )
                })
            };
            match msg {
                Some(m) => {
                    problems += 1;
                    if problems <= RAW_PROBLEMS_PER_ITEM {
                        r.problem(TIMELINE, Some(*line), m);
                    }
                }
                None => checked += 1,
            }
        }
        if problems > RAW_PROBLEMS_PER_ITEM {
            r.problem(
                TIMELINE,
                None,
                format!(
                    "{} more raw-record mismatch(es) against {item}",
                    problems - RAW_PROBLEMS_PER_ITEM
                ),
            );
        }
    }
    r.checked.push(format!(
        "{checked} raw record(s) re-hashed against the original evidence bytes"
    ));
    Some(head)
}

/// Zip member labels → names as the archive spells them, from collected.json when bagged.
fn member_names(bag: &mut dyn BagFiles) -> BTreeMap<String, (String, Option<usize>)> {
    let mut m = BTreeMap::new();
    if !bag.list().contains_key(COLLECTED) {
        return m;
    }
    let Ok(bytes) = bag.read(COLLECTED) else {
        return m;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return m;
    };
    for it in v["items"].as_array().into_iter().flatten() {
        if let (Some(s), Some(n)) = (it["stored_path"].as_str(), it["member_name"].as_str()) {
            let index = it["member_index"].as_u64().map(|i| i as usize);
            m.insert(s.to_string(), (n.to_string(), index));
        }
    }
    m
}

/// The bytes of an evidence item as bagged; zip members are read from the bagged archive.
fn item_bytes(
    bag: &mut dyn BagFiles,
    item: &str,
    members: &BTreeMap<String, (String, Option<usize>)>,
) -> Result<Vec<u8>, String> {
    // A file in a folder named `x!` has `!/` in its path too: an item is a member only when
    // the part before some `!/` is itself a file in the bag (as `intake::container_of`).
    let whole = bag_path(item);
    if !members.contains_key(item) && bag.list().contains_key(&whole) {
        return bag.read(&whole).map_err(|e| format!("{whole}: {e}"));
    }
    let Some((zip_rel, label)) = item
        .match_indices("!/")
        .map(|(i, _)| (&item[..i], &item[i + 2..]))
        .find(|(z, _)| bag.list().contains_key(&bag_path(z)))
    else {
        return Err(format!("{whole} is not in the bag"));
    };
    let p = bag_path(zip_rel);
    if !bag.list().contains_key(&p) {
        return Err(format!("{p} is not in the bag"));
    }
    let bytes = bag.read(&p).map_err(|e| format!("{p}: {e}"))?;
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("{p}: not a readable ZIP: {e}"))?;
    let idx = match members.get(item) {
        Some((name, index)) => crate::evidence::intake::member_index(&mut a, *index, name),
        None => (0..a.len()).find(|&i| {
            a.by_index_raw(i).is_ok_and(|m| {
                let name = String::from_utf8_lossy(m.name_raw()).into_owned();
                crate::evidence::intake::member_label(&name) == label
            })
        }),
    }
    .ok_or_else(|| format!("member {label:?} not found in {p}"))?;
    let mut total = 0;
    crate::evidence::intake::read_member(
        &mut a,
        idx,
        &crate::evidence::intake::ZipLimits::default(),
        &mut total,
    )?
    .map(|(_, b)| b)
    .ok_or_else(|| format!("member {label:?} in {p} is a folder"))
}

fn check_signature(
    bag: &mut dyn BagFiles,
    opts: &VerifyOptions,
    tag_text: Option<&str>,
    r: &mut VerifyReport,
) {
    let has_sig = bag.list().contains_key(SIGNATURE);
    let given = match &opts.pubkey {
        Some(p) => match super::sign::load_public_key(p) {
            Ok(k) => Some(k),
            Err(e) => {
                r.problem(&p.display().to_string(), None, e.to_string());
                return;
            }
        },
        None => None,
    };
    if !has_sig {
        if given.is_some() {
            r.problem(
                SIGNATURE,
                None,
                "missing: the package is not signed, but a public key was given",
            );
        } else {
            r.checked.push("not signed".into());
        }
        return;
    }
    let Some(tag_text) = tag_text else { return };
    let sig = match bag.read(SIGNATURE) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            r.problem(SIGNATURE, None, format!("cannot read: {e}"));
            return;
        }
    };
    let embedded = if bag.list().contains_key(PUBLIC_KEY) {
        bag.read(PUBLIC_KEY)
            .ok()
            .map(|b| super::sign::parse_public_key(&String::from_utf8_lossy(&b)))
    } else {
        None
    };
    let key = match (given, embedded) {
        (Some(k), emb) => {
            if let Some(Ok(e)) = emb {
                if e != k {
                    r.warnings.push(format!(
                        "the embedded public key {} is not the one given",
                        hex::encode(e.to_bytes())
                    ));
                }
            }
            k
        }
        (None, Some(Ok(k))) => {
            r.warnings.push(format!(
                "signature checked with the public key embedded in the package ({}): this proves integrity only, not who signed; pass --pubkey with the signer's key to check origin",
                hex::encode(k.to_bytes())
            ));
            k
        }
        (None, Some(Err(msg))) => {
            r.problem(PUBLIC_KEY, Some(1), msg);
            return;
        }
        (None, None) => {
            r.problem(
                PUBLIC_KEY,
                None,
                "signed, but no public key embedded or given (--pubkey)",
            );
            return;
        }
    };
    match super::sign::verify(&key, tag_text.as_bytes(), &sig) {
        Ok(()) => r.checked.push(format!(
            "ed25519 signature over {TAGMANIFEST} valid (key {})",
            hex::encode(key.to_bytes())
        )),
        Err(msg) => r.problem(SIGNATURE, Some(1), msg),
    }
}

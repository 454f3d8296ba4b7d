//! Packaging: write the report, then seal the case folder as a BagIt bag inside
//! `<case-id>.zip` (deterministic for a given clock), optionally signed, plus an optional
//! pseudonymized copy for lessons-learned reviews. Every step is a custody entry.

pub mod bagit;
pub mod redact;
pub mod sign;
pub mod verify;
pub mod zipwrite;

use crate::evidence::custody::{self, Actor, CustodyEntry, CustodyError, CustodyLog};
use crate::evidence::intake::ItemKind;
use crate::pipeline::{rfc3339, Conclusions, RunOutput};
use crate::report::{self, ReportError, ReportInput};
use bagit::{BagInfo, Entry, Payload};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Case-folder parts that go into the payload, as `data/<part>`.
const PAYLOAD_DIRS: [&str; 4] = ["analysis", "evidence", "report", "timeline"];
const PAYLOAD_FILES: [&str; 1] = ["collected.json"];
const CUSTODY_FILE: &str = "custody.jsonl";
pub const REDACTION_KEY_FILE: &str = "redaction.key";
pub const REDACTION_MAP_FILE: &str = "redaction-map.json";

#[derive(Debug, Clone, Default)]
pub struct PackageOptions {
    /// Replace an existing package of the same name.
    pub force: bool,
    /// Ed25519 secret key file (`irpack keygen`): sign the tag manifest.
    pub sign_key: Option<PathBuf>,
    /// Also write `<case-id>-redacted.zip`.
    pub redact: bool,
    /// HMAC key file for pseudonyms; created when absent. Default: `<case>/redaction.key`.
    pub redact_key: Option<PathBuf>,
    /// Write the report but no package.
    pub no_package: bool,
    /// No progress bar while deflating (it is also hidden when stderr is not a terminal).
    pub quiet: bool,
    /// Free the held events once the report model is built: rendering reads the model and
    /// the package reads files only, and the events would otherwise sit beside the rendered
    /// report and the deflate buffers. A redacted copy keeps them
    /// (it learns the names to pseudonymize from them).
    pub release_events: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PackageInfo {
    /// `report/<name>` → SHA-256, in the case folder.
    pub report_files: Vec<(String, String)>,
    pub package: Option<PathBuf>,
    pub package_sha256: Option<String>,
    pub package_bytes: Option<u64>,
    pub payload_oxum: Option<String>,
    pub signed: bool,
    pub redacted: Option<PathBuf>,
    pub redacted_sha256: Option<String>,
    pub redaction_key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Custody(#[from] CustodyError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Key(#[from] sign::KeyError),
    #[error(transparent)]
    Zip(#[from] zipwrite::ZipWriteError),
    #[error("{path}: evidence changed since intake: acquired with sha256 {expected}, now {found}; refusing to package")]
    EvidenceChanged {
        path: String,
        expected: String,
        found: String,
    },
    #[error("{path}: {message}")]
    Other { path: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub fn package_path(case_dir: &Path, case_id: &str) -> PathBuf {
    case_dir.join(format!("{case_id}.zip"))
}

pub fn redacted_path(case_dir: &Path, case_id: &str) -> PathBuf {
    case_dir.join(format!("{case_id}-redacted.zip"))
}

/// Report, package, and (optionally) the redacted copy, for a collected and analyzed case.
pub fn report_and_package(
    out: &mut RunOutput,
    concl: &Conclusions,
    now: DateTime<Utc>,
    examiner: Option<&str>,
    pkg: &PackageOptions,
) -> Result<PackageInfo, PackageError> {
    let case = &out.collected.case;
    let case_dir = &out.case_dir;
    let actor = Actor::detect(examiner.or(case.examiner.as_deref()));
    let clock = rfc3339(now);
    let zip_path = package_path(case_dir, &case.case_id);
    let red_path = redacted_path(case_dir, &case.case_id);
    // Refuse before writing anything: a refused run leaves no trace in the custody log.
    if !pkg.force {
        let wanted = [(!pkg.no_package, &zip_path), (pkg.redact, &red_path)];
        for p in wanted.into_iter().filter(|w| w.0).map(|w| w.1) {
            if p.exists() {
                return Err(zipwrite::ZipWriteError::Exists {
                    path: p.display().to_string(),
                }
                .into());
            }
        }
    }
    let signer = pkg
        .sign_key
        .as_deref()
        .map(sign::load_signing_key)
        .transpose()?;

    let custody_path = case_dir.join(CUSTODY_FILE);
    let entries = custody::read_and_verify(&custody_path)?;
    crate::profile::mark("report start");
    let input = ReportInput {
        collected: &out.collected,
        events: &out.events,
        compact: out.compacted(),
        released: None,
        timeline_head: &out.timeline_head,
        concl,
        custody: &entries,
        now,
        tool: crate::tool_version(),
    };
    // What the report reads from the events first; the rest of the model reads the
    // conclusions only, so the events can go before it is built.
    let parts = report::model::EventParts::of_held(&input, Some(&out.hashes));
    crate::profile::mark("report: event parts");
    // They read the compact records and the held events' hashes (on disk in `run`): a
    // failed read means they lack some, so nothing is written from them.
    if let Some(message) = out.flows.error() {
        return Err(PackageError::Other {
            path: case_dir.display().to_string(),
            message,
        });
    }
    if let Some(e) = out.hashes.error() {
        return Err(PackageError::Other {
            path: case_dir.display().to_string(),
            message: e.to_string(),
        });
    }
    if pkg.release_events && !pkg.redact {
        drop(std::mem::take(&mut out.events));
        drop(std::mem::take(&mut out.flows));
        drop(std::mem::take(&mut out.positions));
        drop(std::mem::take(&mut out.hashes));
        crate::pipeline::release_freed_memory();
        crate::profile::mark("held events released");
    }
    let input = ReportInput {
        collected: &out.collected,
        events: &[],
        compact: None,
        released: Some(parts.released()),
        timeline_head: &out.timeline_head,
        concl,
        custody: &entries,
        now,
        tool: crate::tool_version(),
    };
    let model = report::model::finish(&input, parts);
    crate::profile::mark("report model");
    // Only the redacted copy needs the model as a JSON value (it rewrites it); taken now,
    // because rendering consumes the model.
    let model_value = pkg
        .redact
        .then(|| serde_json::to_value(&model))
        .transpose()
        .map_err(|e| PackageError::Other {
            path: "report".into(),
            message: e.to_string(),
        })?;
    let report_dir = case_dir.join("report");
    std::fs::create_dir_all(&report_dir).map_err(io_err(&report_dir))?;
    let mut info = PackageInfo::default();
    for (name, sha) in report::write_model(model, &report_dir)? {
        info.report_files.push((format!("report/{name}"), sha));
    }
    crate::pipeline::release_freed_memory();
    crate::profile::mark("report render + write");
    let mut log = CustodyLog::open(&custody_path)?;
    let files: serde_json::Map<String, serde_json::Value> = info
        .report_files
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    log.append(
        &clock,
        &actor,
        "reported",
        serde_json::json!({ "files": files }),
    )?;

    if !pkg.no_package {
        let (sha, bytes, oxum) = seal_evidence_package(
            out,
            &zip_path,
            now,
            &actor,
            &mut log,
            signer.as_ref(),
            pkg.force,
            pkg.quiet,
        )?;
        info.package = Some(zip_path);
        info.package_sha256 = Some(sha);
        info.package_bytes = Some(bytes);
        info.payload_oxum = Some(oxum);
        info.signed = signer.is_some();
    }
    if pkg.redact {
        let key_path = pkg
            .redact_key
            .clone()
            .unwrap_or_else(|| case_dir.join(REDACTION_KEY_FILE));
        let key = redact::load_or_create_key(&key_path)?;
        let model_value = model_value.unwrap_or_default();
        let sha = seal_redacted_copy(
            out,
            concl,
            model_value,
            &key,
            &red_path,
            now,
            signer.as_ref(),
            pkg.force,
        )?;
        log.append(
            &clock,
            &actor,
            "redacted_copy_written",
            serde_json::json!({
                "package": file_name(&red_path),
                "sha256": sha,
                "key_id": key_id(&key),
                "contains": "pseudonymized report, timeline and analysis; no original evidence",
            }),
        )?;
        info.redacted = Some(red_path);
        info.redacted_sha256 = Some(sha);
        info.redaction_key = Some(key_path);
    }
    Ok(info)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A fingerprint of the redaction key that says which key was used without revealing it.
fn key_id(key: &[u8]) -> String {
    let mut r = redact::Redactor::new(key);
    // The pseudonym of a fixed marker is a stable, one-way function of the key.
    r.redact_str("key-id@irpack.invalid")
        .trim_end_matches(&format!("@{}", redact::DOMAIN))
        .to_string()
}

/// Every file under the payload folders of the case, as (bag path, disk path), sorted.
fn payload_files(case_dir: &Path) -> Result<Vec<(String, PathBuf)>, PackageError> {
    let mut v = Vec::new();
    for d in PAYLOAD_DIRS {
        let dir = case_dir.join(d);
        if !dir.is_dir() {
            continue;
        }
        for e in walkdir::WalkDir::new(&dir)
            .follow_links(false)
            .sort_by_file_name()
        {
            let e = e.map_err(|e| PackageError::Other {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(case_dir)
                .unwrap_or(e.path())
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            v.push((format!("data/{rel}"), e.path().to_path_buf()));
        }
    }
    for f in PAYLOAD_FILES {
        let p = case_dir.join(f);
        if p.is_file() {
            v.push((format!("data/{f}"), p));
        }
    }
    v.sort();
    Ok(v)
}

/// Hash the payload, taking the hashes this process took as it wrote a file (the timeline:
/// about 3× the input) instead of reading it again. A file whose size changed since is
/// hashed again; one changed at the same size would keep the hash of what was written,
/// which the ZIP's copy then fails against in `verify`, so nothing changed is sealed as if
/// it were written so.
fn hash_payload(
    files: Vec<(String, PathBuf)>,
    written: &BTreeMap<String, (String, u64)>,
) -> Result<Vec<Entry>, PackageError> {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for (bag_path, disk) in files {
        let memo = bag_path
            .strip_prefix("data/")
            .and_then(|rel| written.get(rel))
            .filter(|(_, size)| std::fs::metadata(&disk).is_ok_and(|m| m.len() == *size));
        match memo {
            Some((sha256, size)) => known.push(Entry {
                path: bag_path,
                content: bagit::Content::File(disk),
                sha256: sha256.clone(),
                size: *size,
            }),
            None => unknown.push((bag_path, disk)),
        }
    }
    let mut entries = bagit::hash_files(unknown).map_err(|(p, e)| PackageError::Io {
        path: p.display().to_string(),
        source: e,
    })?;
    entries.extend(known);
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

#[allow(clippy::too_many_arguments)]
fn seal_evidence_package(
    out: &RunOutput,
    zip_path: &Path,
    now: DateTime<Utc>,
    actor: &Actor,
    log: &mut CustodyLog,
    signer: Option<&ed25519_dalek::SigningKey>,
    force: bool,
    quiet: bool,
) -> Result<(String, u64, String), PackageError> {
    let case = &out.collected.case;
    let case_dir = &out.case_dir;
    let entries = hash_payload(payload_files(case_dir)?, &out.written)?;
    crate::profile::mark("package: hash payload");
    // The originals must still be what intake hashed: packaging is not the place to
    // discover (and silently seal) a changed file.
    for item in out
        .collected
        .items
        .iter()
        .filter(|i| i.kind != ItemKind::ZipMember)
    {
        let want = verify::bag_path(&item.stored_path);
        match entries.iter().find(|e| e.path == want) {
            Some(e) if e.sha256 == item.sha256 => {}
            Some(e) => {
                return Err(PackageError::EvidenceChanged {
                    path: item.stored_path.clone(),
                    expected: item.sha256.clone(),
                    found: e.sha256.clone(),
                })
            }
            None => {
                return Err(PackageError::EvidenceChanged {
                    path: item.stored_path.clone(),
                    expected: item.sha256.clone(),
                    found: "missing".into(),
                })
            }
        }
    }
    let payload = Payload::new(entries);
    let bag_info = BagInfo {
        source_organization: case.organisation.clone(),
        external_identifier: case.case_id.clone(),
        bagging_date: now.format("%Y-%m-%d").to_string(),
        contact_name: Some(actor.examiner.clone()),
        internal_sender_description: format!(
            "Evidence package for incident {}: original exports (byte-identical) under data/evidence, hash-chained timeline, analysis and report; custody log in custody/. Check with: irpack verify {}.zip",
            case.case_id, case.case_id
        ),
        software_agent: crate::tool_version(),
    };
    let info_text = format!(
        "{}{}: {}\n",
        bag_info.text(&payload.oxum),
        verify::KIND_LABEL,
        verify::KIND_EVIDENCE
    );
    let manifest_sha = crate::sources::sha256_hex(payload.manifest.as_bytes());
    let oxum = payload.oxum.clone();
    // The packaged entry goes in before the custody file is copied, so the bag's copy of
    // the log ends with it; it pins the payload manifest (the tag manifest, which lists the
    // custody file itself, cannot be pinned from inside that file).
    log.append(
        &rfc3339(now),
        actor,
        "packaged",
        serde_json::json!({
            "package": file_name(zip_path),
            "manifest_sha256": manifest_sha,
            "bag_info_sha256": crate::sources::sha256_hex(info_text.as_bytes()),
            "payload_oxum": oxum,
            "signed": signer.is_some(),
            "public_key": signer.map(|k| hex::encode(k.verifying_key().to_bytes())),
        }),
    )?;
    let custody_path = case_dir.join(CUSTODY_FILE);
    let custody_bytes = std::fs::read(&custody_path).map_err(io_err(&custody_path))?;
    let bag = bagit::assemble(
        &case.case_id,
        payload,
        info_text,
        vec![Entry::bytes(verify::CUSTODY, custody_bytes)],
        signer,
    );
    let tagmanifest_sha = bag
        .get(bagit::TAGMANIFEST)
        .map(|e| e.sha256.clone())
        .unwrap_or_default();
    let total: u64 = bag.files.iter().map(|e| e.size).sum();
    let bar = crate::pipeline::progress(quiet, total, "packaging");
    let (sha, bytes) = zipwrite::write_bag_zip_with(&bag, zip_path, now, force, &bar)?;
    bar.finish_and_clear();
    crate::profile::mark("package: zip + sha256");
    // Only here, outside the bag, can the log pin the tag manifest (which pins the bag's
    // custody copy) and the ZIP itself.
    log.append(
        &rfc3339(now),
        actor,
        "package_written",
        serde_json::json!({
            "package": file_name(zip_path),
            "sha256": sha,
            "bytes": bytes,
            "tagmanifest_sha256": tagmanifest_sha,
        }),
    )?;
    Ok((sha, bytes, oxum))
}

/// The identities the redactor must know besides mail addresses and IPs (which it finds).
fn known_names(out: &RunOutput, concl: &Conclusions) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for e in &out.events {
        v.extend(e.user.as_ref().map(String::from));
        v.extend(e.user_id.as_ref().map(String::from));
        for t in e.targets.iter().filter(|t| {
            t.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("user"))
        }) {
            v.extend(t.id.as_ref().map(String::from));
            v.extend(t.name.as_ref().map(String::from));
        }
    }
    // Compact records carry a user at most: no user id, and targets only on M365 activity,
    // never of kind user (`Compactor::compact`).
    v.extend(out.flows.users().map(str::to_string));
    let case = &out.collected.case;
    if let Some(a) = &case.alert {
        v.extend(a.users.iter().cloned());
    }
    v.extend(case.privileged.users.iter().cloned());
    v.extend(case.travel.iter().map(|t| t.user.clone()));
    v.extend(concl.classification.users.iter().map(|u| u.user.clone()));
    v.extend(concl.analysis.users.iter().map(|u| u.user.clone()));
    v.extend(concl.analysis.findings.iter().flat_map(|f| f.users.clone()));
    v
}

#[allow(clippy::too_many_arguments)]
fn seal_redacted_copy(
    out: &RunOutput,
    concl: &Conclusions,
    mut model: serde_json::Value,
    key: &[u8],
    dest: &Path,
    now: DateTime<Utc>,
    signer: Option<&ed25519_dalek::SigningKey>,
    force: bool,
) -> Result<String, PackageError> {
    let case = &out.collected.case;
    let mut r = redact::Redactor::new(key);
    let mut entries = Vec::new();
    for n in known_names(out, concl)
        .into_iter()
        .chain(model_names(&model))
    {
        r.add_name(&n);
    }
    r.redact_json(&mut model);
    let rendered = report::render_model(&model)?;
    for (name, text) in rendered.files() {
        entries.push(Entry::bytes(
            format!("data/report/{name}"),
            text.as_bytes().to_vec(),
        ));
    }

    // Timeline: each event pseudonymized, keyed by its original hash so the report's
    // references still find it. Not a chain: this copy is for reading, not for evidence.
    // Streamed from the sealed timeline (the events in memory are trimmed for the analysis)
    // into a scratch file, so a large timeline never sits in memory.
    let scratch = out.case_dir.join("tmp-redact");
    std::fs::create_dir_all(&scratch).map_err(io_err(&scratch))?;
    let tl_path = scratch.join("timeline.redacted.jsonl");
    {
        let f = std::fs::File::create(&tl_path).map_err(io_err(&tl_path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let source = out.case_dir.join("timeline/timeline.jsonl");
        crate::timeline::for_each_entry(&source, false, |e| {
            let mut v = serde_json::to_value(&e.event).unwrap_or_default();
            r.redact_json(&mut v);
            let line = serde_json::json!({ "seq": e.seq, "original_event_sha256": e.event_sha256, "event": v });
            writeln!(w, "{line}").map_err(|err| err.to_string())
        })
        .map_err(|(line, message)| PackageError::Other {
            path: format!("{}:{line}", source.display()),
            message,
        })?;
        w.flush().map_err(io_err(&tl_path))?;
    }
    entries.push(
        Entry::file("data/timeline/timeline.redacted.jsonl", tl_path.clone())
            .map_err(io_err(&tl_path))?,
    );

    for p in json_files(&out.case_dir.join("analysis"))? {
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        r.redact_json(&mut v);
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        entries.push(Entry::bytes(
            format!("data/analysis/{}", file_name(&p)),
            s.into_bytes(),
        ));
    }
    let collected_path = out.case_dir.join("collected.json");
    if collected_path.is_file() {
        let bytes = std::fs::read(&collected_path).map_err(io_err(&collected_path))?;
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            r.redact_json(&mut v);
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            entries.push(Entry::bytes("data/collected.json", s.into_bytes()));
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let payload = Payload::new(entries);
    let name = format!("{}-redacted", case.case_id);
    let bag_info = BagInfo {
        source_organization: case.organisation.clone(),
        external_identifier: name.clone(),
        bagging_date: now.format("%Y-%m-%d").to_string(),
        contact_name: None,
        internal_sender_description: format!(
            "Pseudonymized copy of incident {} for lessons-learned review: user names, mail addresses and IPs replaced by keyed HMAC-SHA256 pseudonyms; no original evidence. Not evidence: the sealed package is {}.zip",
            case.case_id, case.case_id
        ),
        software_agent: crate::tool_version(),
    };
    let info_text = format!(
        "{}{}: {}\n",
        bag_info.text(&payload.oxum),
        verify::KIND_LABEL,
        verify::KIND_REDACTED
    );
    let bag = bagit::assemble(&name, payload, info_text, Vec::new(), signer);
    let (sha, _) = zipwrite::write_bag_zip(&bag, dest, now, force)?;
    std::fs::remove_dir_all(&scratch).map_err(io_err(&scratch))?;
    // The mapping stays in the case folder (never in a package) so the examiner can resolve
    // a pseudonym when the review asks.
    let map_path = out.case_dir.join(REDACTION_MAP_FILE);
    let map = serde_json::to_string_pretty(&r.mapping()).unwrap_or_default();
    sign::write_private(&map_path, map.as_bytes()).map_err(io_err(&map_path))?;
    Ok(sha)
}

/// User names the report model carries (scope, classification, per-user sections).
fn model_names(model: &serde_json::Value) -> Vec<String> {
    let mut v = Vec::new();
    for u in model["scope"]["users"].as_array().into_iter().flatten() {
        v.extend(u.as_str().map(str::to_string));
    }
    for u in model["users"].as_array().into_iter().flatten() {
        v.extend(u["user"].as_str().map(str::to_string));
    }
    v
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, PackageError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// Append a custody transfer (`irpack custody <case> transfer`); the chain is verified first.
pub fn record_transfer(
    case_dir: &Path,
    now: DateTime<Utc>,
    actor: &Actor,
    from: &str,
    to: &str,
    purpose: &str,
) -> Result<CustodyEntry, PackageError> {
    let p = case_dir.join(CUSTODY_FILE);
    if !p.is_file() {
        return Err(PackageError::Other {
            path: case_dir.display().to_string(),
            message: "no custody.jsonl: not an irpack case folder".into(),
        });
    }
    let mut log = CustodyLog::open(&p)?;
    Ok(log.append(
        &rfc3339(now),
        actor,
        "transfer",
        serde_json::json!({ "from": from, "to": to, "purpose": purpose }),
    )?)
}

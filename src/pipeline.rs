//! The main job as one function: collect → normalize → timeline (→ analysis → report → package).

use crate::case::CaseFile;
use crate::event::Event;
use crate::evidence::custody::{Actor, CustodyError, CustodyLog};
use crate::evidence::intake::{self, EvidenceItem, ItemKind, ZipLimits};
use crate::sources::{self, ParseContext, RecordError};
use crate::timeline::flowstore::{Compacted, Compactor, FlowStore, FlowWriter};
use crate::timeline::hashes::{HashTable, HashTableError, HashWriter};
use crate::timeline::spill;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {message}")]
    Output { path: String, message: String },
    #[error(transparent)]
    Custody(#[from] CustodyError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("time zone {zone:?} for {source_id}: not an IANA zone name (e.g. Europe/Berlin)")]
    Zone { source_id: String, zone: String },
    #[error(transparent)]
    Package(#[from] crate::package::PackageError),
    #[error(transparent)]
    GeoIp(#[from] crate::analysis::geoip::GeoIpError),
    #[error(transparent)]
    Hashes(#[from] HashTableError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub case: CaseFile,
    /// Where the case file came from: copied into the case folder, never taken as evidence.
    pub case_path: Option<PathBuf>,
    /// The clock: acquisition and custody times, and the package's file times.
    pub now: DateTime<Utc>,
    pub examiner: Option<String>,
    /// Per-source zones from flags; they win over the case file's.
    pub zones: BTreeMap<String, String>,
    /// Replace an existing irpack case folder at `out`.
    pub force: bool,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    pub quiet: bool,
    /// Bytes of rendered events held for sorting, all parsing threads together (default
    /// [`DEFAULT_RUN_BUDGET_MIB`] MiB); beyond it events wait on disk in sorted runs.
    pub run_budget_bytes: Option<usize>,
    /// Files from this size on are parsed a chunk of this many bytes at a time when their
    /// format allows (default `sources::chunks::CHUNK_MIN_BYTES` / `CHUNK_BYTES`).
    pub chunking: Option<(u64, usize)>,
    /// MaxMind databases already opened (the CLI opens them before collecting, so a bad path
    /// fails early); when `None`, [`analyze`] opens those the case file's `[geo]` names.
    pub geoip: Option<std::sync::Arc<crate::analysis::geoip::GeoIp>>,
    /// Hold firewall flows as compact records while analysing (`timeline::flowstore`); the
    /// few the analysis or the report reads in full are read back from the timeline. The
    /// results are the same either way; `irpack run` sets it to bound its memory.
    pub compact_flows: bool,
}

/// Per evidence item: what it was and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    pub stored_path: String,
    pub original_path: String,
    pub sha256: String,
    pub size: u64,
    pub kind: ItemKind,
    /// Detected format id; `None` when unrecognized (the file is still kept and hashed).
    pub format: Option<String>,
    pub decoded_from: Option<String>,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    /// Set when the item could not be read at all.
    pub error: Option<String>,
}

impl FileReport {
    /// An item as intake recorded it, before any record is parsed.
    pub fn for_item(item: &EvidenceItem) -> Self {
        FileReport {
            stored_path: item.stored_path.clone(),
            original_path: item.original_path.clone(),
            sha256: item.sha256.clone(),
            size: item.size,
            kind: item.kind.clone(),
            format: None,
            decoded_from: None,
            records: 0,
            events: 0,
            rejected: 0,
            error: None,
        }
    }
}

/// A time-zone assumption the report must state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ZoneNote {
    pub source: String,
    pub zone: String,
    pub events: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Collected {
    pub case: CaseFile,
    pub items: Vec<EvidenceItem>,
    pub files: Vec<FileReport>,
    pub rejected: Vec<RecordError>,
    pub intake_problems: Vec<String>,
    pub zone_notes: Vec<ZoneNote>,
    /// Events seen in more than one export, folded into one (their provenances kept).
    #[serde(default)]
    pub duplicates_merged: usize,
}

pub struct RunOutput {
    pub collected: Collected,
    /// Sorted timeline (without the flows held in `flows`).
    pub events: Vec<Event>,
    /// Firewall flows held compactly (empty unless `RunOptions::compact_flows`).
    pub flows: FlowStore,
    /// Timeline line of each event in `events` when `flows` holds some (else empty: the
    /// events are the whole timeline and their index is their line).
    pub positions: Vec<u64>,
    pub timeline_head: String,
    pub case_dir: PathBuf,
    /// Files this process wrote into the case folder and hashed as it wrote them: path
    /// relative to the case folder → (SHA-256, size). Packaging takes these hashes instead of
    /// reading the files again (empty for a case loaded from disk).
    pub written: BTreeMap<String, (String, u64)>,
    /// Byte offset of every `timeline::spill::LINE_INDEX_EVERY`th line of `timeline.jsonl`,
    /// as the merge wrote it, so reading flows back seeks (empty for a case loaded from disk:
    /// the read-back then reads from the top).
    pub line_starts: Vec<u64>,
    /// The hashes of `events`' full forms (what findings cite), on disk in the case folder
    /// (never in the package): held events are trimmed and do not carry them. Default (no
    /// table): the events' own hashes are used.
    pub hashes: HashTable,
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Build the parse context from case-file zones and flag overrides.
pub fn parse_context(
    case: &CaseFile,
    flags: &BTreeMap<String, String>,
) -> Result<ParseContext, PipelineError> {
    let mut ctx = ParseContext::default();
    for (src, zone) in case.time_zones.iter().chain(flags.iter()) {
        let tz = zone.parse().map_err(|_| PipelineError::Zone {
            source_id: src.clone(),
            zone: zone.clone(),
        })?;
        if src == "default" || src == "*" {
            ctx.default_zone = Some(tz);
        } else {
            ctx.zones.insert(src.clone(), tz);
        }
    }
    Ok(ctx)
}

/// Prepare the case folder: it must not sit inside an input, and an existing one is only
/// replaced with `force` and only when it is an irpack case folder.
fn prepare_out(opts: &RunOptions) -> Result<(), PipelineError> {
    let out_abs = absolute(&opts.out);
    for input in &opts.inputs {
        let in_abs = absolute(input);
        if out_abs.starts_with(&in_abs) {
            return Err(PipelineError::Output {
                path: opts.out.display().to_string(),
                message: format!(
                    "output folder lies inside input {}; evidence folders are never written to",
                    input.display()
                ),
            });
        }
        if in_abs.starts_with(&out_abs) {
            return Err(PipelineError::Output {
                path: opts.out.display().to_string(),
                message: format!("input {} lies inside the output folder", input.display()),
            });
        }
    }
    if opts.out.exists() {
        let empty = std::fs::read_dir(&opts.out)
            .map_err(io_err(&opts.out))?
            .next()
            .is_none();
        if !empty {
            if !opts.force {
                return Err(PipelineError::Output {
                    path: opts.out.display().to_string(),
                    message:
                        "exists and is not empty; use --force to replace an earlier irpack run"
                            .into(),
                });
            }
            if !opts.out.join("custody.jsonl").exists() {
                return Err(PipelineError::Output { path: opts.out.display().to_string(), message: "not an irpack case folder (no custody.jsonl); refusing to delete it even with --force".into() });
            }
            make_writable(&opts.out);
            std::fs::remove_dir_all(&opts.out).map_err(io_err(&opts.out))?;
        }
    }
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    Ok(())
}

fn make_writable(dir: &Path) {
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if let Ok(m) = e.metadata() {
            let mut p = m.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            let _ = std::fs::set_permissions(e.path(), p);
        }
    }
}

pub fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// Collect and normalize: intake every input, parse every item, write the hash-chained
/// timeline. Memory stays within the run budget plus one input file per parsing thread:
/// no event outlives its sorted run.
pub fn collect_timeline(opts: &RunOptions) -> Result<Sealed, PipelineError> {
    Ok(collect_impl(opts, false)?.0)
}

/// The events of a collection, in parse order, before the merge's folds are applied, and
/// beside them the rank of the item each came from; and the flows held compactly (on disk,
/// in timeline order, written by the merge).
type Held = (Vec<usize>, Vec<Event>, FlowStore);

fn collect_impl(
    opts: &RunOptions,
    keep: bool,
) -> Result<(Sealed, Held, Vec<spill::Fold>, HashTable), PipelineError> {
    prepare_out(opts)?;
    crate::profile::mark("start");
    let ctx = parse_context(&opts.case, &opts.zones)?;
    let case_dir = opts.out.clone();
    let now = rfc3339(opts.now);
    let actor = Actor::detect(opts.examiner.as_deref().or(opts.case.examiner.as_deref()));
    let mut custody = CustodyLog::open(&case_dir.join("custody.jsonl"))?;
    custody.append(&now, &actor, "case_opened", serde_json::json!({ "case_id": opts.case.case_id, "inputs": opts.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>() }))?;

    let exclude: Vec<PathBuf> = opts.case_path.iter().cloned().collect();
    if let Some(cp) = &opts.case_path {
        let bytes = std::fs::read(cp).map_err(io_err(cp))?;
        let stored = case_dir.join("case.toml");
        std::fs::write(&stored, &bytes).map_err(io_err(&stored))?;
        custody.append(&now, &actor, "case_file", serde_json::json!({ "original_path": cp.display().to_string(), "stored_path": "case.toml", "sha256": sources::sha256_hex(&bytes) }))?;
    }
    let intake = intake::intake(&intake::IntakeOptions {
        inputs: &opts.inputs,
        case_dir: &case_dir,
        acquired_at: now.clone(),
        actor: &actor,
        zip_limits: ZipLimits::default(),
        exclude: &exclude,
    });
    for item in &intake.items {
        custody.append(
            &now,
            &actor,
            "acquired",
            serde_json::to_value(item).expect("item serializes"),
        )?;
    }
    let intake_problems: Vec<String> = intake.problems.iter().map(|p| p.to_string()).collect();
    crate::profile::mark("intake (copy + hash)");

    let registry = sources::registry();
    let total_bytes: u64 = intake
        .items
        .iter()
        .filter(|i| i.kind != ItemKind::Zip)
        .map(|i| i.size)
        .sum();
    let spill_dir = case_dir.join(SPILL_DIR);
    std::fs::create_dir_all(&spill_dir).map_err(io_err(&spill_dir))?;
    let bar = progress(opts.quiet, total_bytes, "parsing");
    let items: Vec<(usize, &EvidenceItem)> = intake
        .items
        .iter()
        .filter(|i| i.kind != ItemKind::Zip)
        .enumerate()
        .collect();
    let budget = opts.memory_budget().run_bytes;
    let chunking = opts.chunking.unwrap_or((
        sources::chunks::CHUNK_MIN_BYTES,
        sources::chunks::CHUNK_BYTES,
    ));
    let compactor = (keep && opts.compact_flows).then(|| Compactor::new(&opts.case));
    let setup = ParseSetup {
        compactor: compactor.as_ref(),
        registry: &registry,
        ctx: &ctx,
        case_dir: &case_dir,
        spill_dir: &spill_dir,
        budget,
        keep,
        chunking,
    };
    let parsed = parse_largest_first(&items, |n, item| {
        let p = parse_item(&setup, n, item);
        bar.inc(item.size);
        p
    })?;
    bar.finish_and_clear();

    let mut files = Vec::new();
    crate::profile::mark("parse + sorted runs");
    let mut rejected = Vec::new();
    let mut zones: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut runs = Vec::new();
    // A run's rank puts equal times in (source, evidence path) order, as `timeline::sort` does.
    let mut order: Vec<usize> = (0..parsed.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |p: &ParsedItem| {
            (
                p.report.format.clone().unwrap_or_default(),
                p.report.stored_path.clone(),
            )
        };
        key(&parsed[a]).cmp(&key(&parsed[b]))
    });
    let mut rank = vec![0; parsed.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    // Reserved whole: growing a vector of a million events by doubling copies it (the
    // allocator cannot always grow it in place), holding the old and the new at once.
    let total: usize = parsed.iter().map(|p| p.events.len()).sum();
    let mut held: Held = (
        Vec::with_capacity(total),
        Vec::with_capacity(total),
        FlowStore::default(),
    );
    for (i, p) in parsed.into_iter().enumerate() {
        held.0.extend(std::iter::repeat_n(rank[i], p.events.len()));
        held.1.extend(p.events);
        let report = p.report;
        custody.append(&now, &actor, "parsed", serde_json::json!({ "evidence": report.stored_path, "sha256": report.sha256, "format": report.format, "records": report.records, "events": report.events, "rejected": report.rejected, "error": report.error }))?;
        files.push(report);
        rejected.extend(p.rejected);
        for (k, v) in p.zones {
            *zones.entry(k).or_default() += v;
        }
        runs.extend(p.runs.into_iter().map(|path| spill::Run {
            path,
            rank: rank[i],
        }));
        release_freed_memory();
    }
    // Zip containers appear in the inventory too, with their members listed after them.
    for item in intake.items.iter().filter(|i| i.kind == ItemKind::Zip) {
        files.push(FileReport {
            format: Some("zip".into()),
            ..FileReport::for_item(item)
        });
    }
    files.sort_by(|a, b| a.stored_path.cmp(&b.stored_path));

    let tl_dir = case_dir.join("timeline");
    std::fs::create_dir_all(&tl_dir).map_err(io_err(&tl_dir))?;
    let tl_path = tl_dir.join("timeline.jsonl");
    let csv_path = tl_dir.join("timeline.csv");
    let jf = std::fs::File::create(&tl_path).map_err(io_err(&tl_path))?;
    let cf = std::fs::File::create(&csv_path).map_err(io_err(&csv_path))?;
    let total_events: u64 = files.iter().map(|f| f.events).sum();
    let bar = progress_count(opts.quiet, total_events, "merging");
    // Compact records go to a file in timeline order as the merge writes their lines.
    let flows_path = case_dir.join(FLOWS_FILE);
    let mut flow_writer = match &compactor {
        Some(_) => Some(FlowWriter::create(&flows_path).map_err(io_err(&flows_path))?),
        None => None,
    };
    // The held events' hashes go to a table in timeline order as the merge writes their
    // lines (every line that is not a compact record is a held event's).
    let hashes_path = case_dir.join(HASHES_FILE);
    let mut hash_writer = match keep {
        true => Some(HashWriter::create(&hashes_path).map_err(io_err(&hashes_path))?),
        false => None,
    };
    let mut on_flow = |line: u64, rank: usize, rec: &spill::Rec| match (
        &mut flow_writer,
        &rec.flow,
        &mut hash_writer,
    ) {
        (Some(w), Some(f), _) => w.push(line, rank, rec.time_us, rec.record_no, f),
        (_, Some(_), _) => Err(std::io::Error::other(
            "a compact record reached a merge that stores none",
        )),
        (_, None, Some(h)) => h.push(&rec.sha256),
        (_, None, None) => Ok(()),
    };
    let mut merged =
        spill::merge_flows(&runs, jf, cf, &mut |n| bar.inc(n), &mut on_flow).map_err(|e| {
            PipelineError::Output {
                path: tl_path.display().to_string(),
                message: e.to_string(),
            }
        })?;
    bar.finish_and_clear();
    if let Some(w) = flow_writer {
        held.2 = w.finish().map_err(io_err(&flows_path))?;
    }
    let table = match hash_writer {
        Some(w) => w.finish().map_err(io_err(&hashes_path))?,
        None => HashTable::default(),
    };
    std::fs::remove_dir_all(&spill_dir).map_err(io_err(&spill_dir))?;
    release_freed_memory();
    crate::profile::mark("merge (jsonl + csv)");
    for (k, n) in &merged.folded_assumed_zones {
        if let Some(z) = zones.get_mut(k) {
            *z = z.saturating_sub(*n);
        }
    }
    let head = merged.head.clone();
    let duplicates_merged = merged.duplicates_merged as usize;
    // Hashed by the merge as it wrote them: reading 3× the input back costs seconds.
    let mut written = BTreeMap::new();
    written.insert(
        "timeline/timeline.jsonl".to_string(),
        (std::mem::take(&mut merged.jsonl_sha256), merged.jsonl_bytes),
    );
    written.insert(
        "timeline/timeline.csv".to_string(),
        (std::mem::take(&mut merged.csv_sha256), merged.csv_bytes),
    );
    let files_written: serde_json::Map<String, serde_json::Value> = written
        .iter()
        .map(|(k, (sha, _))| (k.clone(), sha.clone().into()))
        .collect();
    custody.append(
        &now,
        &actor,
        "timeline_written",
        serde_json::json!({ "events": merged.events, "duplicates_merged": duplicates_merged, "chain_head": head, "files": files_written }),
    )?;

    let zone_notes = zones
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((source, zone), events)| ZoneNote {
            source,
            zone,
            events,
        })
        .collect();
    let collected = Collected {
        case: opts.case.clone(),
        items: intake.items,
        files,
        rejected,
        intake_problems,
        zone_notes,
        duplicates_merged,
    };
    write_json(&case_dir.join("collected.json"), &collected)?;
    crate::profile::mark("timeline hashes + custody");
    let folds = std::mem::take(&mut merged.folds);
    Ok((
        Sealed {
            collected,
            events: merged.events,
            timeline_head: head,
            case_dir,
            written,
            line_starts: std::mem::take(&mut merged.line_starts),
        },
        held,
        folds,
        table,
    ))
}

/// What [`collect_timeline`] leaves: the collection record and the sealed timeline on disk.
pub struct Sealed {
    pub collected: Collected,
    /// Events written to the timeline.
    pub events: u64,
    pub timeline_head: String,
    pub case_dir: PathBuf,
    /// As [`RunOutput::written`].
    pub written: BTreeMap<String, (String, u64)>,
    /// As [`RunOutput::line_starts`].
    pub line_starts: Vec<u64>,
}

/// Collect and normalize, keeping the events for the analysis as the sealed timeline has
/// them: in its order, de-duplicated the same way, every event's `extra` trimmed to the keys
/// the rules and the report read (`analysis::trim_for_analysis`); the hashes of their full
/// forms in [`RunOutput::hashes`], a table on disk the merge wrote. The same as reading the
/// timeline back, without parsing it again.
pub fn collect(opts: &RunOptions) -> Result<RunOutput, PipelineError> {
    let (sealed, held, folds, hashes) = collect_impl(opts, true)?;
    let (events, positions, flows) = timeline_order(held, &folds, sealed.events)?;
    // Entry i of the table is held event i: a count that differs means they do not align.
    if hashes.stored() != events.len() as u64 {
        return Err(PipelineError::Output {
            path: sealed.case_dir.join(HASHES_FILE).display().to_string(),
            message: format!(
                "{} hashes written for {} held events",
                hashes.stored(),
                events.len()
            ),
        });
    }
    crate::profile::mark("order events for analysis");
    Ok(RunOutput {
        collected: sealed.collected,
        events,
        positions: if flows.is_empty() {
            Vec::new()
        } else {
            positions
        },
        flows,
        timeline_head: sealed.timeline_head,
        case_dir: sealed.case_dir,
        written: sealed.written,
        line_starts: sealed.line_starts,
        hashes,
    })
}

/// Blocks at least this large are mapped on their own and unmapped when freed (see
/// [`tune_allocator`]).
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Make glibc give large blocks back to the system as soon as they are freed. By default
/// glibc raises its mapping threshold to the size of the largest block freed (up to 32 MiB),
/// so the parse's run buffers, the held-events vector as it grows and the package's 4 MiB
/// deflate blocks come from the arenas of whichever thread asked, and stay resident there
/// after they are freed: at 1 GiB of input that kept 60 MiB more during the zip and set the
/// peak during parsing. A fixed threshold also turns off that adjustment. Call before any
/// thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

/// Let the merge hold one descriptor per sorted run. It reads every run at once, and a
/// collection writes one run per 16 MiB of rendered events (~750 at 4 GiB of input), near
/// the 1,024 descriptors many systems allow by default; the hard limit is usually far
/// higher, and raising the soft limit up to it needs no privilege. Returns the limit now
/// in force, if the system says.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    lim = want;
                }
            }
        }
        // `rlim_t` is not 64 bits on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Hand memory the allocator holds free back to the system. glibc keeps blocks freed by the
/// parsing threads in their arenas; while the held events move into one vector, the item
/// vectors they leave would otherwise stay resident beside it (0.5 GiB at 4 GiB of input).
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system; no live block is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Put held events in the merge's order (time, item rank, record) and apply its folds.
/// The permutation is applied in place, so no second copy of the events is ever made.
/// With flows held compactly (the merge wrote them in timeline order, each with its line),
/// every other line of the `lines` the timeline holds is a held event's: `positions` gives
/// them their lines. Flows never fold (`Compactor::compact` keeps foldable ones).
fn timeline_order(
    (ranks, mut events, flows): Held,
    folds: &[spill::Fold],
    lines: u64,
) -> Result<(Vec<Event>, Vec<u64>, FlowStore), PipelineError> {
    use rayon::slice::ParallelSliceMut;
    let mut keys: Vec<(i64, usize, u64, usize)> = events
        .iter()
        .zip(&ranks)
        .enumerate()
        .map(|(i, (e, rank))| (e.time.timestamp_micros(), *rank, e.provenance.record_no, i))
        .collect();
    drop(ranks);
    keys.par_sort_unstable();
    permute(&mut events, |k| keys[k].3);
    let mut dropped = vec![false; events.len()];
    if !folds.is_empty() {
        fold(&mut events, &keys, folds, &mut dropped);
    }
    drop(keys);
    let mut i = 0;
    events.retain(|_| {
        i += 1;
        !dropped[i - 1]
    });
    let mut positions = Vec::new();
    if !flows.is_empty() {
        positions.reserve_exact(events.len());
        let mut line = 0u64;
        for (_, r) in flows.iter() {
            positions.extend(line..r.pos);
            line = r.pos + 1;
        }
        positions.extend(line..lines);
        let problem = flows.error().or_else(|| {
            (positions.len() != events.len()).then(|| {
                format!(
                    "{} held events and {} compact records do not make the {lines} lines written",
                    events.len(),
                    flows.len()
                )
            })
        });
        if let Some(message) = problem {
            return Err(PipelineError::Output {
                path: "timeline/timeline.jsonl".into(),
                message,
            });
        }
    }
    Ok((events, positions, flows))
}

/// Apply the merge's folds to the ordered events: each kept copy takes the others'
/// provenances and the merged hash; the others are marked dropped.
fn fold(
    events: &mut [Event],
    keys: &[(i64, usize, u64, usize)],
    folds: &[spill::Fold],
    dropped: &mut [bool],
) {
    // Positions of the events the folds name (only those: a lookup over every event would
    // cost memory in proportion to the timeline).
    let mut pos: std::collections::HashMap<(usize, u64), usize> = folds
        .iter()
        .flat_map(|f| std::iter::once(f.kept).chain(f.dropped.iter().copied()))
        .map(|k| (k, usize::MAX))
        .collect();
    for (p, k) in keys.iter().enumerate() {
        if let Some(slot) = pos.get_mut(&(k.1, k.2)) {
            *slot = p;
        }
    }
    pos.retain(|_, p| *p != usize::MAX);
    for f in folds {
        // A kept copy held compactly stands for the folded event on its own (the merge
        // wrote it so); the copies held here are still dropped.
        let mut seen = Vec::new();
        for (k, d) in f.dropped.iter().enumerate() {
            if let Some(&dp) = pos.get(d) {
                let copy = &events[dp];
                seen.push(copy.full_provenance());
                seen.extend(copy.cold().also_seen_in.iter().cloned());
                dropped[dp] = true;
            } else if let Some(compact) = f.seen.get(k) {
                // A copy held compactly: the merge kept its provenances, whole; trimmed as
                // a held copy's are, so the event is the same whichever way its copies were held.
                seen.extend(compact.iter().cloned().map(|mut p| {
                    crate::analysis::trim_copy(&mut p);
                    p
                }));
            }
        }
        let Some(&kp) = pos.get(&f.kept) else {
            continue;
        };
        let e = &mut events[kp];
        // Its hash, the merged event's, is in the table the merge wrote.
        e.cold_mut().also_seen_in.extend(seen);
    }
}

/// Parse every item on every thread, largest first, each thread taking the next item when it
/// is done (longest-processing-time order): the last items to finish are the small ones, so
/// no core idles while another works through a large file alone. Results come back in
/// `items` order; the first error stops the taking of further items.
fn parse_largest_first<F>(
    items: &[(usize, &EvidenceItem)],
    parse: F,
) -> Result<Vec<ParsedItem>, PipelineError>
where
    F: Fn(usize, &EvidenceItem) -> Result<ParsedItem, PipelineError> + Sync,
{
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Stable: equal sizes keep their intake order.
    order.sort_by_key(|&i| std::cmp::Reverse(items[i].1.size));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<ParsedItem, PipelineError>>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    rayon::scope(|s| {
        for _ in 0..rayon::current_num_threads().max(1) {
            s.spawn(|_| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let (n, item) = items[i];
                    let p = parse(n, item);
                    if p.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
                }
            });
        }
    });
    let mut parsed = Vec::with_capacity(items.len());
    for (slot, (_, item)) in slots.into_iter().zip(items) {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(p) => parsed.push(p?),
            // Only left when another item failed; that error is returned first or next.
            None if failed.load(Ordering::Relaxed) => continue,
            None => {
                return Err(PipelineError::Output {
                    path: item.stored_path.clone(),
                    message: "was not parsed".into(),
                })
            }
        }
    }
    Ok(parsed)
}

/// Where sorted runs wait for the merge, inside the case folder (removed after it).
const SPILL_DIR: &str = "tmp-runs";
/// The compact records' file (`timeline::flowstore::FlowWriter`), beside the payload, never
/// in the package; where the system allows its name is gone as soon as it is opened.
const FLOWS_FILE: &str = "tmp-flows.bin";
/// The table of held events' hashes (`timeline::hashes`), beside the payload like the
/// compact records' file, never in the package.
const HASHES_FILE: &str = "tmp-hashes.bin";

/// How much memory the run may use, split between the stages that hold data.
#[derive(Debug, Clone, Copy)]
pub struct MemoryBudget {
    /// Serialized events a parsing thread holds before it writes a sorted run.
    pub run_bytes: usize,
}

impl RunOptions {
    pub fn memory_budget(&self) -> MemoryBudget {
        let threads = rayon::current_num_threads().max(1);
        MemoryBudget {
            run_bytes: self
                .run_budget_bytes
                .unwrap_or(DEFAULT_RUN_BUDGET_MIB << 20)
                / threads,
        }
    }
}

/// Default for all parsing threads together; each file's bytes are held besides. With
/// held events down to ~0.4 KB, the runs are most of what parsing holds on top of them:
/// 32 MiB (was 48) lowered the peak at 1 GiB of input by 15 MiB, and the merge over the
/// half again as many runs took no longer.
pub const DEFAULT_RUN_BUDGET_MIB: usize = 32;

struct ParsedItem {
    report: FileReport,
    /// The item's events, trimmed for the analysis, when the caller keeps them.
    events: Vec<Event>,
    rejected: Vec<RecordError>,
    zones: BTreeMap<(String, String), u64>,
    runs: Vec<PathBuf>,
}

/// Parse one evidence item straight into sorted runs: its events are never all in memory.
/// What every item's parse shares.
struct ParseSetup<'a> {
    /// Set when flows are held compactly.
    compactor: Option<&'a Compactor>,
    registry: &'a [Box<dyn sources::Source>],
    ctx: &'a ParseContext,
    case_dir: &'a Path,
    spill_dir: &'a Path,
    /// Run budget per thread, in bytes.
    budget: usize,
    /// Keep the (trimmed) events for the analysis.
    keep: bool,
    /// (minimum file size, chunk size) for parsing line-oriented files in chunks.
    chunking: (u64, usize),
}

fn parse_item(
    setup: &ParseSetup,
    n: usize,
    item: &EvidenceItem,
) -> Result<ParsedItem, PipelineError> {
    let ParseSetup {
        compactor,
        registry,
        ctx,
        case_dir,
        spill_dir,
        budget,
        keep,
        chunking,
    } = *setup;
    let mut report = FileReport::for_item(item);
    let mut out = ParsedItem {
        report: report.clone(),
        events: Vec::new(),
        rejected: Vec::new(),
        zones: BTreeMap::new(),
        runs: Vec::new(),
    };
    let mut sink = spill::RunSink::new(spill_dir, n, budget);
    let mut spill_error = None;
    let mut events = 0u64;
    // One per item: no lock between the parsing threads, freed with the item (see Interner).
    let mut interner = crate::event::Interner::default();
    let mut wire = Vec::new();
    let mut on_item = |it| match it {
        Ok(ev) => match unrepresentable(&ev) {
            Some(r) => out.rejected.push(r),
            None => {
                if ev.time_zone().contains("assumed") {
                    *out.zones
                        .entry((ev.source().to_string(), ev.time_zone().to_string()))
                        .or_default() += 1;
                }
                events += 1;
                if spill_error.is_none() {
                    // A compact record travels in the event's run record to the merge,
                    // which stores it by timeline line; the event is not held.
                    wire.clear();
                    let compact = keep
                        && compactor.is_some_and(|c| c.compact(&ev))
                        && crate::timeline::flowstore::wire(&ev, &mut wire);
                    match sink.push_with(&ev, compact.then_some(&wire[..])) {
                        Ok(_) if compact => {}
                        Ok(_) if keep => {
                            // Held for the analysis as the read-back would give it:
                            // trimmed; the hash of its full form goes to the run's table
                            // as the merge writes its line.
                            let mut ev = ev;
                            // The timeline keeps microseconds; so does the copy.
                            if let Some(t) =
                                DateTime::from_timestamp_micros(ev.time.timestamp_micros())
                            {
                                ev.time = t;
                            }
                            ev.mark_hash_known();
                            crate::analysis::trim_for_analysis(&mut ev);
                            interner.event(&mut ev);
                            out.events.push(ev);
                        }
                        Ok(_) => {}
                        Err(e) => spill_error = Some(e),
                    }
                }
            }
        },
        Err(e) => out.rejected.push(e),
    };
    // A large line-oriented file is read a chunk at a time; anything else whole.
    let chunked = if item.kind == ItemKind::File && item.size >= chunking.0 {
        sources::chunks::parse_file(
            registry,
            &case_dir.join(&item.stored_path),
            &item.stored_path,
            &item.sha256,
            ctx,
            chunking.1,
            &mut on_item,
        )
        .map_err(|e| PipelineError::Output {
            path: item.stored_path.clone(),
            message: e.to_string(),
        })?
    } else {
        None
    };
    let (format, decoded_from) = match chunked {
        Some(format) => (Some(format), None),
        None => {
            // A plain file is mapped, and parsed as it is given back page by page.
            let mapped = match intake::map_item(case_dir, item) {
                Ok(m) => m,
                Err(e) => {
                    report.error = Some(e);
                    out.report = report;
                    return Ok(out);
                }
            };
            if let Some(map) = mapped {
                sources::parse_mapped_with(
                    registry,
                    &map,
                    &item.stored_path,
                    &item.sha256,
                    ctx,
                    &mut on_item,
                )
            } else {
                let bytes = match intake::read_item(case_dir, item) {
                    Ok(b) => b,
                    Err(e) => {
                        report.error = Some(e);
                        out.report = report;
                        return Ok(out);
                    }
                };
                sources::parse_bytes_with(
                    registry,
                    &bytes,
                    &item.stored_path,
                    &item.sha256,
                    ctx,
                    &mut on_item,
                )
            }
        }
    };
    let runs = sink.finish();
    // This thread's arena keeps what parsing the item freed (its text, decoded records,
    // the run buffer): give it back before the next item, or each thread holds its largest
    // item's worth on top of the events kept.
    release_freed_memory();
    if let Some(e) = spill_error {
        return Err(PipelineError::Output {
            path: item.stored_path.clone(),
            message: e.to_string(),
        });
    }
    out.runs = runs.map_err(|e| PipelineError::Output {
        path: item.stored_path.clone(),
        message: e.to_string(),
    })?;
    report.format = format.map(str::to_string);
    report.decoded_from = decoded_from.map(str::to_string);
    report.events = events;
    report.rejected = out.rejected.len() as u64;
    report.records = report.events + report.rejected;
    out.report = report;
    Ok(out)
}

/// An event whose time the timeline could not write and read back becomes a rejected record
/// (nothing is lost, and the timeline stays verifiable). RFC 3339 holds years 0000-9999
/// only, while a garbled epoch (`1000000000000000000000` read as nanoseconds) lands in year
/// 33658.
fn unrepresentable(e: &Event) -> Option<RecordError> {
    use chrono::Datelike;
    if (0..=9999).contains(&e.time.year()) {
        return None;
    }
    let p = e.full_provenance();
    Some(RecordError {
        evidence_path: p.evidence_path.to_string(),
        evidence_sha256: p.evidence_sha256.to_string(),
        record_no: p.record_no,
        line: p.line,
        byte_offset: p.byte_offset,
        byte_len: p.byte_len,
        raw_sha256: p.raw_sha256.to_string(),
        reason: format!(
            "timestamp {:?} reads as year {}, outside the years 0000-9999 a timeline can hold",
            e.time_original(),
            e.time.year()
        ),
        excerpt: sources::text::excerpt(e.time_original(), 160),
    })
}

/// Events whose time the timeline could not write and read back become rejected records
/// (nothing is lost, and the timeline stays verifiable). RFC 3339 holds years 0000-9999 only,
/// while a garbled epoch (`1000000000000000000000` read as nanoseconds) lands in year 33658.
pub fn reject_unrepresentable_times(parsed: &mut sources::Parsed) {
    if parsed.events.iter().all(|e| unrepresentable(e).is_none()) {
        return;
    }
    let events = std::mem::take(&mut parsed.events);
    for e in events {
        match unrepresentable(&e) {
            Some(r) => parsed.rejected.push(r),
            None => parsed.events.push(e),
        }
    }
    parsed.rejected.sort_by_key(|r| r.record_no);
}

/// A count progress bar (events) on stderr; hidden as [`progress`] is.
pub fn progress_count(quiet: bool, total: u64, what: &'static str) -> indicatif::ProgressBar {
    bar(
        quiet,
        total,
        what,
        "{msg:>10} [{bar:40}] {human_pos}/{human_len} events {per_sec} eta {eta}",
    )
}

/// A byte-count progress bar on stderr; hidden when quiet or when stderr is not a terminal.
pub fn progress(quiet: bool, total: u64, what: &'static str) -> indicatif::ProgressBar {
    bar(
        quiet,
        total,
        what,
        "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}

fn bar(quiet: bool, total: u64, what: &'static str, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), PipelineError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    use std::io::Write;
    // Streamed: the analysis of a large case is tens of MB of JSON, which as one string sat
    // beside the conclusions it was made from.
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::with_capacity(256 << 10, f);
    serde_json::to_writer_pretty(&mut w, value)
        .map_err(std::io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush())
        .map_err(io_err(path))
}

pub fn file_sha256(path: &Path) -> Result<String, PipelineError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl RunOutput {
    /// The compact flows beside the events, when there are any.
    pub fn compacted(&self) -> Option<Compacted<'_>> {
        (!self.flows.is_empty()).then_some(Compacted {
            flows: &self.flows,
            positions: &self.positions,
        })
    }
}

/// Fails when a read of the compact records failed: what was concluded since may lack some.
fn flows_readable(out: &RunOutput) -> Result<(), PipelineError> {
    match out.flows.error() {
        None => Ok(()),
        Some(message) => Err(PipelineError::Output {
            path: out.case_dir.join(FLOWS_FILE).display().to_string(),
            message,
        }),
    }
}

/// Read the compact flows at `idx` back from the timeline and hold them as events, in
/// timeline order among the others.
fn hold_flows(out: &mut RunOutput, idx: &[usize]) -> Result<(), PipelineError> {
    if idx.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<u64> = idx
        .iter()
        .filter_map(|&i| out.flows.get(i))
        .map(|r| r.pos)
        .collect();
    flows_readable(out)?;
    lines.sort_unstable();
    lines.dedup();
    let path = out.case_dir.join("timeline/timeline.jsonl");
    let read = crate::timeline::flowstore::read_lines(&path, &out.line_starts, &lines)
        .map_err(io_err(&path))?;
    out.flows.remove(idx);
    let old_len = out.events.len();
    // Shared among themselves as the parse shares held events' strings: M365 activity read
    // back as key-timeline context can be tens of thousands of events.
    let mut interner = crate::event::Interner::default();
    // Exactly: doubling a vector of the held events would reserve as much again.
    out.events.reserve_exact(read.len());
    out.positions.reserve_exact(read.len());
    let mut hashes = Vec::with_capacity(read.len());
    for (line, mut e) in read {
        // Its hash joins the table's, not the event (an event whose line recorded none is
        // kept whole, and hashed as it is).
        hashes.push(e.forget_hash().unwrap_or_else(|| e.hash_bytes()));
        interner.event(&mut e);
        out.positions.push(line);
        out.events.push(e);
    }
    // Both parts are in line order: one stable sort of the indices by line, applied in place.
    let mut order: Vec<usize> = (0..out.events.len()).collect();
    order.sort_by_key(|&i| out.positions[i]);
    if order.iter().enumerate().all(|(k, &i)| k == i) {
        out.hashes.insert(old_len, &hashes, None);
        return Ok(());
    }
    permute(&mut out.events, |k| order[k]);
    permute(&mut out.positions, |k| order[k]);
    out.hashes.insert(old_len, &hashes, Some(&order));
    Ok(())
}

/// `v[k]` becomes the old `v[order(k)]`, following each cycle once (no second copy of `v`).
fn permute<T>(v: &mut [T], order: impl Fn(usize) -> usize) {
    let mut done = vec![false; v.len()];
    for i in 0..v.len() {
        if done[i] {
            continue;
        }
        let mut cur = i;
        loop {
            done[cur] = true;
            let next = order(cur);
            if next == i {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
    }
}

/// The compact flows the key timeline would show as a cited event's neighbour (the same
/// user's nearest event on either side, `report::keytimeline::neighbours`), found over held
/// events and compact flows together by timeline line.
fn neighbour_flows(out: &RunOutput, cited: &std::collections::HashSet<[u8; 32]>) -> Vec<usize> {
    use crate::report::keytimeline::{CONTEXT_MINUTES, CONTEXT_SCAN};
    let flows = &out.flows;
    let total = (out.events.len() + flows.len()) as u64;
    let scan = CONTEXT_SCAN as u64;
    let mut picked = Vec::new();
    // The cited events' positions, in one read of the hashes.
    let mut cited_at = Vec::new();
    out.hashes.scan(&out.events, 0..out.events.len(), |i, h| {
        if cited.contains(&h) {
            cited_at.push(i);
        }
    });
    for i in cited_at {
        let e = &out.events[i];
        let Some(user) = e.user_key() else { continue };
        let line = out.positions[i];
        let same = |t: DateTime<Utc>, u: Option<&str>| {
            (t - e.time).num_minutes().abs() <= CONTEXT_MINUTES && u == Some(user.as_str())
        };
        // (line, same user and near in time, flow index) on each side, nearest first.
        let lo = line.saturating_sub(scan);
        let hi = (line + 1 + scan).min(total);
        // The flows on lines [lo, hi): found with one binary search over the store's
        // records (one line each, in line order, so no more than hi - lo of them), read at
        // once.
        let a = flows.index_at_pos(lo);
        let near: Vec<(u64, bool, Option<usize>)> = flows
            .iter_range(a, a.saturating_add((hi - lo) as usize))
            .take_while(|(_, r)| r.pos < hi)
            .map(|(f, r)| (r.pos, same(r.time(), flows.user_key(&r)), Some(f)))
            .collect();
        let flows_in = |from: u64, to: u64| {
            near.iter()
                .filter(move |c| c.0 >= from && c.0 < to)
                .copied()
        };
        let mut before: Vec<(u64, bool, Option<usize>)> = (0..i)
            .rev()
            .map(|k| (out.positions[k], k))
            .take_while(|&(p, _)| p >= lo)
            .map(|(p, k)| {
                (
                    p,
                    same(out.events[k].time, out.events[k].user_key().as_deref()),
                    None,
                )
            })
            .chain(flows_in(lo, line))
            .collect();
        before.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
        let mut after: Vec<(u64, bool, Option<usize>)> = (i + 1..out.events.len())
            .map(|k| (out.positions[k], k))
            .take_while(|&(p, _)| p < hi)
            .map(|(p, k)| {
                (
                    p,
                    same(out.events[k].time, out.events[k].user_key().as_deref()),
                    None,
                )
            })
            .chain(flows_in(line + 1, hi))
            .collect();
        after.sort_unstable_by_key(|c| c.0);
        for side in [before, after] {
            if let Some(&(_, _, Some(f))) = side.iter().find(|c| c.1) {
                picked.push(f);
            }
        }
    }
    picked.sort_unstable();
    picked.dedup();
    picked
}

/// Everything the analysis stage concluded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conclusions {
    pub analysis: crate::analysis::Analysis,
    pub classification: crate::analysis::Classification,
    pub actions: Vec<crate::analysis::RecommendedAction>,
    pub regulatory: Vec<crate::analysis::RegulatoryFlag>,
}

/// Detections, classification, recommended actions and regulatory flags over a timeline;
/// written to `analysis/` in the case folder with a custody entry.
///
/// With flows held compactly, the flows network correlation reads and the flows the key
/// timeline shows beside cited events are read back from the timeline into `out.events`
/// first, so every step sees what it would see with all events held.
pub fn analyze(out: &mut RunOutput, opts: &RunOptions) -> Result<Conclusions, PipelineError> {
    use crate::analysis::{classify, detect, recommend, regulatory};
    crate::profile::mark("analysis start");
    let geoip = match &opts.geoip {
        Some(g) => Some(g.clone()),
        None => crate::analysis::geoip::GeoIp::for_case(&out.collected.case, None, None)?
            .map(Into::into),
    };
    // Network correlation reads some compact records whole: read back what a pass wants and
    // run it again, until a pass wants nothing that is still compact (`FlowWant`). Each
    // round only moves records from the store to the events, so this ends.
    let analysis = loop {
        let (a, want) = detect::analyze_compacted(
            &out.events,
            out.compacted(),
            Some(&out.hashes),
            &out.collected.case,
            geoip.as_deref(),
        );
        let picked = match (&want, out.compacted()) {
            (Some(w), Some(c)) => {
                let mut picked = c.flows.select(&crate::timeline::flowstore::Wanted {
                    addrs: &w.addrs,
                    from: w.from,
                    to: w.to,
                    sessions_from: w.sessions_from,
                    user: &|u| w.wants_user(u),
                    held_sessions: &w.sessions,
                });
                // Bulk access's flagged hours, cited event by event.
                picked.extend(w.activity.iter().copied());
                picked.sort_unstable();
                picked.dedup();
                picked
            }
            _ => Vec::new(),
        };
        if picked.is_empty() {
            break a;
        }
        drop(a);
        hold_flows(out, &picked)?;
        crate::profile::mark("detections, one pass + records read back");
    };
    release_freed_memory();
    crate::profile::mark("detections");
    let case = &out.collected.case;
    let table = Some(&out.hashes);
    let classification = classify::classify_with(&analysis, &out.events, table, case);
    let actions = recommend::recommend(&analysis, &classification, case);
    let regulatory =
        regulatory::flags_with_table(&analysis, &classification, case, &out.events, table);
    crate::profile::mark("classification + clocks");
    if out.compacted().is_some() {
        let cited = crate::report::keytimeline::cited_hashes(&analysis, &actions);
        let near = neighbour_flows(out, &cited);
        hold_flows(out, &near)?;
        crate::profile::mark("key timeline flows read back");
    }
    flows_readable(out)?;
    // A failed read of the hashes leaves some citation wrong: nothing is written from it.
    if let Some(e) = out.hashes.error() {
        return Err(e.into());
    }
    let case = &out.collected.case;
    let dir = out.case_dir.join("analysis");
    write_json(&dir.join("findings.json"), &analysis.findings)?;
    write_json(&dir.join("analysis.json"), &analysis)?;
    write_json(&dir.join("classification.json"), &classification)?;
    write_json(&dir.join("actions.json"), &actions)?;
    write_json(&dir.join("regulatory.json"), &regulatory)?;
    let actor = Actor::detect(opts.examiner.as_deref().or(case.examiner.as_deref()));
    let mut custody = CustodyLog::open(&out.case_dir.join("custody.jsonl"))?;
    let mut hashes = serde_json::Map::new();
    for f in [
        "findings.json",
        "analysis.json",
        "classification.json",
        "actions.json",
        "regulatory.json",
    ] {
        hashes.insert(format!("analysis/{f}"), file_sha256(&dir.join(f))?.into());
    }
    // The databases changed conclusions: record exactly which files they were.
    for db in geoip.iter().flat_map(|g| g.databases()) {
        let details = serde_json::to_value(db).expect("database info serializes");
        custody.append(&rfc3339(opts.now), &actor, "geo_database", details)?;
    }
    custody.append(&rfc3339(opts.now), &actor, "analyzed", serde_json::json!({ "findings": analysis.findings.len(), "verdict": classification.verdict, "files": hashes }))?;
    Ok(Conclusions {
        analysis,
        classification,
        actions,
        regulatory,
    })
}

/// Re-open a case folder written by [`collect`]: the collection record and the timeline,
/// whose hash chain is checked on the way in. Lets `analyze`/`report` run again later.
pub fn load(case_dir: &Path) -> Result<RunOutput, PipelineError> {
    let cpath = case_dir.join("collected.json");
    let text = std::fs::read_to_string(&cpath).map_err(io_err(&cpath))?;
    let collected: Collected = serde_json::from_str(&text).map_err(|e| PipelineError::Output {
        path: cpath.display().to_string(),
        message: format!("not an irpack collection record: {e}"),
    })?;
    let tpath = case_dir.join("timeline/timeline.jsonl");
    // The events are held trimmed, as `collect` holds them; their hashes go to the case's
    // table, as the merge writes it.
    let hpath = case_dir.join(HASHES_FILE);
    let mut writer = HashWriter::create(&hpath).map_err(io_err(&hpath))?;
    let (events, head) = crate::timeline::read_file_hashed(
        &tpath,
        true,
        crate::analysis::trim_for_analysis,
        &mut |h| {
            writer
                .push(h)
                .map_err(|e| format!("{}: {e}", hpath.display()))
        },
    )
    .map_err(|(line, message)| PipelineError::Output {
        path: format!("{}:{line}", tpath.display()),
        message,
    })?;
    let hashes = writer.finish().map_err(io_err(&hpath))?;
    crate::profile::mark("load + verify timeline");
    Ok(RunOutput {
        collected,
        events,
        flows: FlowStore::default(),
        positions: Vec::new(),
        timeline_head: head,
        case_dir: case_dir.to_path_buf(),
        written: BTreeMap::new(),
        line_starts: Vec::new(),
        hashes,
    })
}

/// Report and package a collected, analyzed case: report/ in the case folder, then
/// `<case-id>.zip` (BagIt, deterministic for the clock), optionally signed and with a
/// pseudonymized copy; each step is a custody entry.
pub fn report_and_package(
    out: &mut RunOutput,
    concl: &Conclusions,
    opts: &RunOptions,
    pkg: &crate::package::PackageOptions,
) -> Result<crate::package::PackageInfo, PipelineError> {
    Ok(crate::package::report_and_package(
        out,
        concl,
        opts.now,
        opts.examiner.as_deref(),
        pkg,
    )?)
}

/// Read back what [`analyze`] wrote to `analysis/`, so the report can be rebuilt alone.
pub fn load_conclusions(case_dir: &Path) -> Result<Conclusions, PipelineError> {
    fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, PipelineError> {
        let p = dir.join(name);
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        serde_json::from_str(&text).map_err(|e| PipelineError::Output {
            path: p.display().to_string(),
            message: format!("not what irpack analyze writes: {e}"),
        })
    }
    let dir = case_dir.join("analysis");
    Ok(Conclusions {
        analysis: read(&dir, "analysis.json")?,
        classification: read(&dir, "classification.json")?,
        actions: read(&dir, "actions.json")?,
        regulatory: read(&dir, "regulatory.json")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A soft descriptor limit below the hard one is raised to it (set one below first, so
    /// the test sees a raise whatever the machine's defaults).
    #[cfg(unix)]
    #[test]
    fn open_file_limit_is_raised_to_the_hard_limit() {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain reads and writes of our own struct.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
            if lim.rlim_max > 512 && lim.rlim_cur >= lim.rlim_max - 1 {
                let lower = libc::rlimit {
                    rlim_cur: lim.rlim_max - 1,
                    rlim_max: lim.rlim_max,
                };
                assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lower), 0);
            }
        }
        #[allow(clippy::unnecessary_cast)]
        let max = lim.rlim_max as u64;
        assert_eq!(raise_open_file_limit(), Some(max));
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        unsafe { assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut now), 0) };
        assert_eq!(now.rlim_cur, lim.rlim_max);
    }

    fn item(name: &str, size: u64) -> EvidenceItem {
        EvidenceItem {
            original_path: name.into(),
            stored_path: name.into(),
            kind: ItemKind::File,
            sha256: String::new(),
            size,
            modified: None,
            acquired_at: String::new(),
            examiner: String::new(),
            host: String::new(),
            tool: String::new(),
            member_name: None,
            member_index: None,
        }
    }

    fn parsed(item: &EvidenceItem) -> ParsedItem {
        ParsedItem {
            report: FileReport::for_item(item),
            events: Vec::new(),
            rejected: Vec::new(),
            zones: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    fn event_at(secs: i64, record_no: u64, action: &str) -> Event {
        let provenance = crate::event::Provenance {
            record_no,
            ..Default::default()
        };
        Event::new(
            DateTime::from_timestamp(secs, 0).unwrap(),
            "",
            "UTC",
            "fortigate",
            "t",
            crate::event::EventClass::NetworkActivity,
            action,
            "",
            crate::event::Outcome::Success,
            provenance,
        )
    }

    /// Held events and compact flows get the lines the merge wrote them on: ordered by
    /// (time, item rank, record), a folded-away copy taking no line.
    #[test]
    fn held_events_and_compact_flows_interleave_by_timeline_line() {
        use crate::event::actions::{FLOW_ALLOWED, SIGN_IN};
        // Held: (rank, time, record); the one at t=20 in rank 1 folds into rank 0's.
        let held_spec = [(0, 20, 1), (1, 20, 1), (0, 40, 3), (1, 5, 2)];
        let ranks: Vec<usize> = held_spec.iter().map(|h| h.0).collect();
        let events: Vec<Event> = held_spec
            .iter()
            .map(|&(_, t, r)| event_at(t, r, SIGN_IN))
            .collect();
        // The merge stores the flows on the lines it writes them on, as (rank, time,
        // record): (1,1,9) 0, (0,20,2) 3, (1,20,0) 4, (0,50,4) 6.
        let dir = tempfile::tempdir().unwrap();
        let mut w = FlowWriter::create(&dir.path().join("flows.bin")).unwrap();
        for &(line, rank, t, r) in &[(0, 1, 1, 9), (3, 0, 20, 2), (4, 1, 20, 0), (6, 0, 50, 4)] {
            let mut e = event_at(t, r, FLOW_ALLOWED);
            e.src_ip = Some("10.0.0.1".into());
            let mut b = Vec::new();
            assert!(crate::timeline::flowstore::wire(&e, &mut b));
            w.push(line, rank, e.time.timestamp_micros(), r, &b)
                .unwrap();
        }
        let flows = w.finish().unwrap();
        let folds = [spill::Fold {
            kept: (0, 1),
            dropped: vec![(1, 1)],
            sha256: [7; 32],
            seen: vec![Vec::new()],
        }];
        let held = || (ranks.clone(), events.clone(), flows.clone());
        let (ordered, positions, flows) = timeline_order(held(), &folds, 7).unwrap();
        // Held (1,5,2) on line 1, (0,20,1) on 2, (1,20,1) folded away, (0,40,3) on 5.
        let times: Vec<i64> = ordered.iter().map(|e| e.time.timestamp()).collect();
        assert_eq!(times, [5, 20, 40]);
        assert_eq!(positions, [1, 2, 5]);
        let lines: Vec<(i64, u64)> = flows
            .iter()
            .map(|(_, r)| (r.time().timestamp(), r.pos))
            .collect();
        assert_eq!(lines, [(1, 0), (20, 3), (20, 4), (50, 6)]);
        // Lines the held events and records do not account for are an error, not a guess.
        assert!(timeline_order(held(), &folds, 8).is_err());
        assert!(timeline_order(held(), &[], 7).is_err());
    }

    /// Folds whose copies are partly compact records (M365 activity): a compact dropped
    /// copy's provenances come with the fold; a held copy folded into a compact one is
    /// dropped all the same, and the compact one stands for the folded event.
    #[test]
    fn folds_with_compact_copies_keep_every_provenance() {
        use crate::event::actions::MAIL_SENT;
        let held = |r: u64| {
            let mut e = event_at(20, r, MAIL_SENT);
            e.cold_mut().evidence_path = Some(format!("evidence/{r}").into());
            e
        };
        // (rank, record): (0,1) held kept, (1,1) compact dropped; (0,2) compact kept,
        // (1,2) held dropped; (0,3) held, untouched.
        let mut events = vec![held(1), held(2), held(3)];
        let ranks = [0usize, 1, 0];
        let keys: Vec<(i64, usize, u64, usize)> = events
            .iter()
            .zip(ranks)
            .enumerate()
            .map(|(i, (e, rank))| (e.time.timestamp_micros(), rank, e.provenance.record_no, i))
            .collect();
        let compact_copy = crate::event::Provenance {
            record_no: 1,
            evidence_path: "evidence/compact".into(),
            ..Default::default()
        };
        let folds = [
            spill::Fold {
                kept: (0, 1),
                dropped: vec![(1, 1)],
                sha256: [7; 32],
                seen: vec![vec![compact_copy.clone()]],
            },
            spill::Fold {
                kept: (0, 2),
                dropped: vec![(1, 2)],
                sha256: [8; 32],
                seen: vec![Vec::new()],
            },
        ];
        let mut dropped = vec![false; events.len()];
        fold(&mut events, &keys, &folds, &mut dropped);
        assert_eq!(dropped, [false, true, false]);
        // Trimmed as a held copy's provenance is: its record number is what is left.
        let mut trimmed = compact_copy;
        crate::analysis::trim_copy(&mut trimmed);
        assert_eq!(trimmed.record_no, 1);
        assert_eq!(events[0].cold().also_seen_in, vec![trimmed]);
        assert!(events[2].cold().also_seen_in.is_empty());
    }

    /// Results come back in item order whatever order the threads took them in (largest
    /// first), on one thread and on several; an error is returned.
    #[test]
    fn largest_first_keeps_item_order_and_reports_errors() {
        let owned: Vec<EvidenceItem> = [5u64, 70, 0, 70, 3, 1000, 9]
            .iter()
            .enumerate()
            .map(|(i, &size)| item(&format!("f{i}"), size))
            .collect();
        let items: Vec<(usize, &EvidenceItem)> = owned.iter().enumerate().collect();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let taken = std::sync::Mutex::new(Vec::new());
            let got = pool
                .install(|| {
                    parse_largest_first(&items, |n, it| {
                        taken.lock().unwrap().push(it.size);
                        assert_eq!(owned[n].stored_path, it.stored_path);
                        Ok(parsed(it))
                    })
                })
                .unwrap();
            let names: Vec<&str> = got.iter().map(|p| p.report.stored_path.as_str()).collect();
            assert_eq!(names, ["f0", "f1", "f2", "f3", "f4", "f5", "f6"]);
            if threads == 1 {
                assert_eq!(taken.into_inner().unwrap(), [1000, 70, 70, 9, 5, 3, 0]);
            }
            let err = pool.install(|| {
                parse_largest_first(&items, |_, it| {
                    if it.size == 3 {
                        Err(PipelineError::Output {
                            path: it.stored_path.clone(),
                            message: "broken".into(),
                        })
                    } else {
                        Ok(parsed(it))
                    }
                })
            });
            assert!(matches!(err, Err(PipelineError::Output { ref path, .. }) if path == "f4"));
        }
    }
}

//! The `irpack` command line: parse flags, call the library, print, map errors to exit codes.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use irpack::case::CaseFile;
use irpack::pipeline::{self, RunOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "irpack",
    version,
    about = "Identity-compromise log exports in, one verifiable evidence package out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: collect, normalize, analyze, report and package.
    Run(RunArgs),
    /// Export a case's timeline (its hash chain is checked first).
    Timeline(TimelineArgs),
}

#[derive(clap::Args)]
struct TimelineArgs {
    /// Case folder written by `irpack run`.
    case: PathBuf,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: irpack::timeline::export::Format,
    /// Output file (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn timeline(args: TimelineArgs) -> Result<ExitCode> {
    let path = args.case.join("timeline/timeline.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let (entries, _) = irpack::timeline::verify_text(&text)
        .map_err(|(line, msg)| anyhow::anyhow!("{}:{line}: {msg}", path.display()))?;
    let hashes: Vec<String> = entries.iter().map(|e| e.event_sha256.clone()).collect();
    let events: Vec<irpack::event::Event> = entries.into_iter().map(|e| e.event).collect();
    match args.output {
        Some(p) => {
            let f = std::fs::File::create(&p).with_context(|| format!("{}", p.display()))?;
            irpack::timeline::export::write(args.format, &events, &hashes, f)?;
        }
        None => irpack::timeline::export::write(
            args.format,
            &events,
            &hashes,
            std::io::stdout().lock(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct RunArgs {
    /// Export files, folders or .zip archives.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Case folder to create.
    #[arg(long)]
    out: PathBuf,
    /// Case file (case.toml). Without one, the case id comes from --case-id.
    #[arg(long)]
    case: Option<PathBuf>,
    #[arg(long, default_value = "IR-UNSPECIFIED")]
    case_id: String,
    /// Examiner name for the custody log (default: case file, then $USER).
    #[arg(long)]
    examiner: Option<String>,
    /// Time zone for a zone-less source: SOURCE=ZONE (e.g. fortigate=Europe/Berlin, default=UTC).
    #[arg(long = "tz", value_name = "SOURCE=ZONE")]
    tz: Vec<String>,
    /// The clock (RFC 3339); defaults to SOURCE_DATE_EPOCH, then the system clock.
    #[arg(long)]
    now: Option<String>,
    /// Replace an earlier irpack case folder at --out.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn clock(now: Option<&str>) -> Result<DateTime<Utc>> {
    if let Some(s) = now {
        return Ok(DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--now {s:?}: expected RFC 3339, e.g. 2024-05-01T12:00:00Z"))?
            .with_timezone(&Utc));
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = s
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={s:?}: expected seconds since 1970"))?;
        return DateTime::from_timestamp(secs, 0).context("SOURCE_DATE_EPOCH out of range");
    }
    Ok(Utc::now())
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let case = match &args.case {
        Some(p) => CaseFile::load(p)?,
        None => CaseFile::minimal(&args.case_id),
    };
    let mut zones = BTreeMap::new();
    for z in &args.tz {
        let Some((k, v)) = z.split_once('=') else {
            bail!("--tz {z:?}: expected SOURCE=ZONE, e.g. fortigate=Europe/Berlin")
        };
        zones.insert(k.trim().to_string(), v.trim().to_string());
    }
    let opts = RunOptions {
        inputs: args.inputs,
        out: args.out,
        case,
        case_path: args.case.clone(),
        now: clock(args.now.as_deref())?,
        examiner: args.examiner,
        zones,
        force: args.force,
    };
    let out = pipeline::collect(&opts)?;
    let concl = pipeline::analyze(&out, &opts)?;
    let c = &out.collected;
    if args.json {
        let summary = serde_json::json!({
            "case_id": c.case.case_id, "case_dir": out.case_dir, "files": c.files, "events": out.events.len(),
            "rejected": c.rejected, "intake_problems": c.intake_problems, "zone_notes": c.zone_notes, "timeline_head": out.timeline_head,
            "verdict": concl.classification.verdict, "findings": concl.analysis.findings.len(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("case {}  →  {}", c.case.case_id, out.case_dir.display());
    println!("{} evidence item(s):", c.files.len());
    for f in &c.files {
        let fmt = f.format.as_deref().unwrap_or("UNRECOGNIZED");
        println!(
            "  {:<60} {:<14} {:>7} events {:>5} rejected  sha256 {}",
            f.stored_path,
            fmt,
            f.events,
            f.rejected,
            &f.sha256[..16]
        );
        if let Some(e) = &f.error {
            println!("    error: {e}");
        }
    }
    for p in &c.intake_problems {
        println!("  not taken: {p}");
    }
    println!(
        "{} events on the timeline (chain head {})",
        out.events.len(),
        out.timeline_head
    );
    if !c.rejected.is_empty() {
        println!("{} record(s) rejected:", c.rejected.len());
        for r in c.rejected.iter().take(50) {
            println!("  {r}");
        }
        if c.rejected.len() > 50 {
            println!("  … {} more in collected.json", c.rejected.len() - 50);
        }
    }
    for z in &c.zone_notes {
        println!(
            "time zone: {} events of {} read as {}",
            z.events, z.source, z.zone
        );
    }
    println!("verdict: {}", concl.classification.verdict.label());
    for f in concl.analysis.findings.iter().take(10) {
        println!("  [{:?}] {} {}", f.severity, f.rule, f.title);
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run(a),
        Command::Timeline(a) => timeline(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("irpack: {e:#}");
            ExitCode::from(2)
        }
    }
}

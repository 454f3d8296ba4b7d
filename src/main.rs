//! The `irpack` command line: parse flags, call the library, print, map errors to exit codes.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use irpack::analysis::geoip::GeoIp;
use irpack::case::CaseFile;
use irpack::evidence::custody::Actor;
use irpack::package::PackageOptions;
use irpack::pipeline::{self, RunOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "irpack",
    version,
    about = "Identity-compromise log exports in, one verifiable evidence package out",
    after_help = "Exit codes: 0 success (verify: everything holds); 1 verify found a difference; 2 error (bad input, unreadable files)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: collect, normalize, analyze, report and package.
    Run(RunArgs),
    /// Stage 1 alone: collect and normalize into a case folder (no analysis, no package).
    Collect(RunArgs),
    /// Stage 2 alone: run the detections and classification again on a case folder.
    Analyze(AnalyzeArgs),
    /// Stage 3 alone: write the report and the package from a case folder's analysis.
    Report(ReportArgs),
    /// Export a case's timeline (its hash chain is checked first).
    Timeline(TimelineArgs),
    /// Write deterministic synthetic exports for benchmarks.
    Gen(GenArgs),
    /// Check a package (ZIP or bag folder): every hash, Payload-Oxum, the custody and
    /// timeline chains, each event's raw record against the original, and the signature.
    /// Exit 0 only when all hold; 1 lists exactly what differs.
    Verify(VerifyArgs),
    /// Chain-of-custody log of a case folder.
    Custody(CustodyArgs),
    /// Make an ed25519 key pair for signing packages (PATH and PATH.pub).
    Keygen(KeygenArgs),
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// <case-id>.zip, or a folder holding the extracted bag.
    package: PathBuf,
    /// The signer's public key (from irpack keygen). Without it the embedded key is used,
    /// which proves integrity only, not origin.
    #[arg(long)]
    pubkey: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct CustodyArgs {
    /// The case folder (holds custody.jsonl).
    case_dir: PathBuf,
    #[command(subcommand)]
    action: CustodyAction,
}

#[derive(Subcommand)]
enum CustodyAction {
    /// Record a hand-over of the evidence.
    Transfer {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        purpose: String,
        /// Who records it (default: $USER).
        #[arg(long)]
        examiner: Option<String>,
        /// The clock (RFC 3339); defaults to SOURCE_DATE_EPOCH, then the system clock.
        #[arg(long)]
        now: Option<String>,
    },
    /// Check the chain and list the entries.
    Show,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Secret key file to write; the public key goes to PATH.pub.
    #[arg(long)]
    out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct StageArgs {
    /// Case folder written by `irpack collect` or `irpack run`.
    case_dir: PathBuf,
    /// Examiner name for the custody log.
    #[arg(long)]
    examiner: Option<String>,
    /// The clock (RFC 3339); defaults to SOURCE_DATE_EPOCH, then the system clock.
    #[arg(long)]
    now: Option<String>,
}

/// Optional MaxMind-format databases for offline IP geolocation; each wins over the case
/// file's `[geo]` entry of the same kind.
#[derive(clap::Args)]
struct GeoArgs {
    /// GeoIP2/GeoLite2 City or Country database (.mmdb): positions for events that carry only
    /// an IP. The log's own coordinates and city still win.
    #[arg(long, value_name = "PATH")]
    geoip_db: Option<PathBuf>,
    /// GeoLite2 ASN (or GeoIP2 ISP) database (.mmdb): ASNs for events without one.
    #[arg(long, value_name = "PATH")]
    asn_db: Option<PathBuf>,
}

impl GeoArgs {
    fn given(&self) -> bool {
        self.geoip_db.is_some() || self.asn_db.is_some()
    }

    /// Open the databases for a case (flags over `[geo]`); an error names the file.
    fn open(&self, case: &CaseFile) -> Result<Option<Arc<GeoIp>>> {
        Ok(GeoIp::for_case(case, self.geoip_db.as_deref(), self.asn_db.as_deref())?.map(Arc::new))
    }
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    stage: StageArgs,
    #[command(flatten)]
    geo: GeoArgs,
}

#[derive(clap::Args)]
struct ReportArgs {
    #[command(flatten)]
    stage: StageArgs,
    /// Replace an existing package.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    sign_key: Option<PathBuf>,
    #[arg(long)]
    redact: bool,
    #[arg(long)]
    redact_key: Option<PathBuf>,
    #[arg(long)]
    no_package: bool,
}

fn stage_opts(out: &pipeline::RunOutput, args: &StageArgs) -> Result<RunOptions> {
    Ok(RunOptions {
        out: args.case_dir.clone(),
        case: out.collected.case.clone(),
        now: clock(args.now.as_deref())?,
        examiner: args.examiner.clone(),
        quiet: true,
        ..Default::default()
    })
}

fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let mut out = pipeline::load(&args.stage.case_dir)?;
    let mut opts = stage_opts(&out, &args.stage)?;
    opts.geoip = args.geo.open(&out.collected.case)?;
    let concl = pipeline::analyze(&mut out, &opts)?;
    print_geo(&concl);
    println!("verdict: {}", concl.classification.verdict.label());
    for f in &concl.analysis.findings {
        println!("  [{:?}] {} {}", f.severity, f.rule, f.title);
    }
    Ok(ExitCode::SUCCESS)
}

/// Which MaxMind databases the analysis used (they change its conclusions).
fn print_geo(concl: &pipeline::Conclusions) {
    for d in concl
        .analysis
        .geo_database
        .iter()
        .flat_map(|u| &u.databases)
    {
        println!(
            "geolocation database: {} {} (sha256 {})",
            d.database_type,
            d.path,
            d.sha256.get(..16).unwrap_or(&d.sha256)
        );
    }
}

fn report(args: ReportArgs) -> Result<ExitCode> {
    let mut out = pipeline::load(&args.stage.case_dir)?;
    let opts = stage_opts(&out, &args.stage)?;
    let concl = match pipeline::load_conclusions(&args.stage.case_dir) {
        Ok(c) => c,
        Err(_) => pipeline::analyze(&mut out, &opts)?,
    };
    let pkg = PackageOptions {
        force: args.force,
        sign_key: args.sign_key,
        redact: args.redact,
        redact_key: args.redact_key,
        no_package: args.no_package,
        release_events: true,
        ..Default::default()
    };
    let info = pipeline::report_and_package(&mut out, &concl, &opts, &pkg)?;
    for (name, sha) in &info.report_files {
        println!("{name}  sha256 {sha}");
    }
    if let Some(p) = &info.package {
        println!("package {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn collect(args: RunArgs) -> Result<ExitCode> {
    if args.geo.given() {
        bail!("--geoip-db and --asn-db are read by the analysis, which `irpack collect` does not run; pass them to `irpack analyze`");
    }
    let opts = run_options(&args)?;
    // The timeline stays on disk: collecting alone never holds the events in memory.
    let out = pipeline::collect_timeline(&opts)?;
    println!(
        "case {} → {}: {} files, {} events, {} rejected, timeline head {}",
        out.collected.case.case_id,
        out.case_dir.display(),
        out.collected.files.len(),
        out.events,
        out.collected.rejected.len(),
        out.timeline_head
    );
    for r in out.collected.rejected.iter().take(50) {
        println!("  rejected {r}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct GenArgs {
    #[arg(long, value_enum)]
    kind: irpack::gen::Kind,
    /// Total size in MiB.
    #[arg(long, default_value_t = 100)]
    mib: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder to write into (created).
    #[arg(long)]
    out: PathBuf,
}

fn gen(args: GenArgs) -> Result<ExitCode> {
    let files = irpack::gen::write_set(args.kind, args.seed, args.mib << 20, &args.out)
        .with_context(|| format!("{}", args.out.display()))?;
    for (p, records) in files {
        println!("{}\t{records} records", p.display());
    }
    Ok(ExitCode::SUCCESS)
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
    let out: Box<dyn std::io::Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("{}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    // Streamed: each line is checked against the chain, then written, so a timeline of any
    // size exports in constant memory.
    let mut x = irpack::timeline::export::Exporter::new(args.format, out)?;
    irpack::timeline::for_each_entry(&path, true, |e| {
        x.push(&e.event, &e.event_sha256)
            .map_err(|err| err.to_string())
    })
    .map_err(|(line, msg)| anyhow::anyhow!("{}:{line}: {msg}", path.display()))?;
    x.finish()?;
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
    /// No progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Sign the package's tag manifest with this ed25519 secret key (irpack keygen).
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Also write <case-id>-redacted.zip: pseudonymized report, timeline and analysis for a
    /// lessons-learned review, without the original evidence.
    #[arg(long)]
    redact: bool,
    /// HMAC key for --redact pseudonyms (created when absent; default <out>/redaction.key).
    /// Reuse one key to get the same pseudonyms across cases.
    #[arg(long, requires = "redact")]
    redact_key: Option<PathBuf>,
    /// Write the report but not the package.
    #[arg(long)]
    no_package: bool,
    /// MiB of parsed events held in memory, all threads together, before they wait in sorted
    /// runs on disk (the rest of a run's memory is one input file per thread).
    #[arg(long, value_name = "MIB", value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..=65536), |v| v as usize))]
    run_budget_mib: Option<usize>,
    #[command(flatten)]
    geo: GeoArgs,
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

fn run_options(args: &RunArgs) -> Result<RunOptions> {
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
    Ok(RunOptions {
        inputs: args.inputs.clone(),
        out: args.out.clone(),
        case,
        case_path: args.case.clone(),
        now: clock(args.now.as_deref())?,
        examiner: args.examiner.clone(),
        zones,
        force: args.force,
        quiet: args.quiet,
        run_budget_bytes: args.run_budget_mib.map(|m| m << 20),
        chunking: None,
        geoip: None,
        // `run` holds flows compactly; `collect` holds no events at all.
        compact_flows: true,
    })
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let mut opts = run_options(&args)?;
    // Opened before collecting: a bad database path fails in a second, not after the parse.
    opts.geoip = args.geo.open(&opts.case)?;
    let pkg = PackageOptions {
        force: args.force,
        sign_key: args.sign_key,
        redact: args.redact,
        redact_key: args.redact_key,
        no_package: args.no_package,
        quiet: args.quiet,
        release_events: true,
    };
    let mut out = pipeline::collect(&opts)?;
    let concl = pipeline::analyze(&mut out, &opts)?;
    let events = out.events.len() + out.flows.len();
    let info = pipeline::report_and_package(&mut out, &concl, &opts, &pkg)?;
    let c = &out.collected;
    if args.json {
        let summary = serde_json::json!({
            "case_id": c.case.case_id, "case_dir": out.case_dir, "files": c.files, "events": events,
            "rejected": c.rejected, "intake_problems": c.intake_problems, "zone_notes": c.zone_notes, "timeline_head": out.timeline_head,
            "verdict": concl.classification.verdict, "findings": concl.analysis.findings.len(),
            "package": info,
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
        events, out.timeline_head
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
    print_geo(&concl);
    println!("verdict: {}", concl.classification.verdict.label());
    for f in concl.analysis.findings.iter().take(10) {
        println!("  [{:?}] {} {}", f.severity, f.rule, f.title);
    }
    println!(
        "report: {}",
        out.case_dir.join("report").join("report.html").display()
    );
    if let (Some(p), Some(h)) = (&info.package, &info.package_sha256) {
        println!(
            "package: {}  sha256 {h}{}",
            p.display(),
            if info.signed { "  (signed)" } else { "" }
        );
    }
    if let (Some(p), Some(h)) = (&info.redacted, &info.redacted_sha256) {
        println!("redacted copy: {}  sha256 {h}", p.display());
        if let Some(k) = &info.redaction_key {
            println!(
                "  pseudonym key: {} (keep it out of the review; the mapping is in the case folder)",
                k.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let report = irpack::package::verify::verify(
        &args.package,
        &irpack::package::verify::VerifyOptions {
            pubkey: args.pubkey,
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("bag: {}", report.bag);
        for c in &report.checked {
            println!("  ok: {c}");
        }
        for w in &report.warnings {
            println!("  warning: {w}");
        }
        for p in &report.problems {
            println!("  DIFFERS: {p}");
        }
        if report.ok() {
            println!("verified: every hash, chain and signature holds");
        } else {
            println!("NOT verified: {} problem(s)", report.problems.len());
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn custody(args: CustodyArgs) -> Result<ExitCode> {
    match args.action {
        CustodyAction::Transfer {
            from,
            to,
            purpose,
            examiner,
            now,
        } => {
            let actor = Actor::detect(examiner.as_deref());
            let e = irpack::package::record_transfer(
                &args.case_dir,
                clock(now.as_deref())?,
                &actor,
                &from,
                &to,
                &purpose,
            )?;
            println!(
                "custody entry {} recorded ({}), sha256 {}",
                e.seq, e.time, e.sha256
            );
        }
        CustodyAction::Show => {
            let entries =
                irpack::evidence::custody::read_and_verify(&args.case_dir.join("custody.jsonl"))?;
            for e in &entries {
                println!(
                    "{:>4} {} {:<22} {} @ {}  {}",
                    e.seq,
                    e.time,
                    e.action,
                    e.actor,
                    e.host,
                    &e.sha256[..16]
                );
            }
            println!("{} entries, chain intact", entries.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: KeygenArgs) -> Result<ExitCode> {
    let vk = irpack::package::sign::keygen(&args.out, args.force)?;
    println!(
        "secret key: {} (keep it private)\npublic key: {} = {}",
        args.out.display(),
        irpack::package::sign::pub_path(&args.out).display(),
        hex::encode(vk.to_bytes())
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`irpack timeline … | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    irpack::pipeline::tune_allocator();
    irpack::pipeline::raise_open_file_limit();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run(a),
        Command::Collect(a) => collect(a),
        Command::Analyze(a) => analyze(a),
        Command::Report(a) => report(a),
        Command::Timeline(a) => timeline(a),
        Command::Gen(a) => gen(a),
        Command::Verify(a) => verify(a),
        Command::Custody(a) => custody(a),
        Command::Keygen(a) => keygen(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("irpack: {e:#}");
            ExitCode::from(2)
        }
    }
}

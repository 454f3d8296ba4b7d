//! The bundled incident scenarios end to end: collect → analyze → report → package → verify.
//! Each scenario's expected verdict comes from its `samples/scenario-*.md`; the BEC report is
//! a golden file (regenerate with UPDATE_GOLDEN=1 after a reviewed change).

mod common;

use chrono::{TimeZone, Utc};
use irpack::analysis::Verdict;
use irpack::case::CaseFile;
use irpack::package::PackageOptions;
use irpack::pipeline::{self, RunOptions};
use std::path::{Path, PathBuf};

struct Done {
    _tmp: tempfile::TempDir,
    case_dir: PathBuf,
    concl: pipeline::Conclusions,
    out: pipeline::RunOutput,
    package: PathBuf,
}

fn run_scenario(name: &str, out_dir: Option<&Path>) -> Done {
    let samples = common::samples_dir();
    let case_path = samples.join(format!("{name}.case.toml"));
    let tmp = tempfile::tempdir().unwrap();
    let case_dir = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| tmp.path().join("case"));
    let opts = RunOptions {
        inputs: vec![samples.join(name)],
        out: case_dir.clone(),
        case: CaseFile::load(&case_path).unwrap(),
        case_path: Some(case_path),
        now: Utc.with_ymd_and_hms(2024, 10, 1, 12, 0, 0).unwrap(),
        examiner: Some("CI Examiner".into()),
        quiet: true,
        ..Default::default()
    };
    let mut out = pipeline::collect(&opts).unwrap();
    let concl = pipeline::analyze(&mut out, &opts).unwrap();
    let info =
        pipeline::report_and_package(&mut out, &concl, &opts, &PackageOptions::default()).unwrap();
    Done {
        _tmp: tmp,
        case_dir,
        concl,
        out,
        package: info.package.expect("package written"),
    }
}

fn verify_ok(p: &Path) {
    let r = irpack::package::verify::verify(p, &Default::default()).unwrap();
    assert!(r.ok(), "{}: {:?}", p.display(), r.problems);
}

/// The custody log records where the run happened (host, input paths), so its head differs
/// between machines; everything else in the report must not.
fn machine_neutral(report: &str) -> String {
    let host = irpack::evidence::custody::hostname();
    let mut out = report.replace(&format!("| {host} |"), "| <host> |");
    let marker = "the chain head is `";
    if let Some(i) = out.find(marker) {
        let start = i + marker.len();
        if out.len() >= start + 64 {
            out.replace_range(start..start + 64, "<custody-head>");
        }
    }
    out
}

fn rules(d: &Done) -> Vec<&str> {
    d.concl
        .analysis
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .collect()
}

#[test]
fn bec_is_a_confirmed_compromise_with_gdpr_and_pci_clocks() {
    let d = run_scenario("scenario-bec", None);
    for f in &d.out.collected.files {
        assert_eq!(f.rejected, 0, "{}", f.stored_path);
        assert!(f.format.is_some(), "{} not recognized", f.stored_path);
    }
    assert_eq!(
        d.concl.classification.verdict,
        Verdict::ConfirmedCompromise,
        "{}",
        d.concl.classification.summary
    );
    let r = rules(&d);
    for want in [
        irpack::analysis::rules::IMPOSSIBLE_TRAVEL,
        irpack::analysis::rules::INBOX_RULE,
        irpack::analysis::rules::MAILBOX_FORWARDING,
        irpack::analysis::rules::IOC_HIT,
    ] {
        assert!(r.contains(&want), "missing {want} in {r:?}");
    }
    let applies: Vec<&str> = d
        .concl
        .regulatory
        .iter()
        .filter(|f| f.status == irpack::analysis::FlagStatus::Applies)
        .map(|f| f.regime.as_str())
        .collect();
    assert!(applies.iter().any(|r| r.contains("GDPR")), "{applies:?}");
    assert!(applies.iter().any(|r| r.contains("PCI")), "{applies:?}");
    let gdpr = d
        .concl
        .regulatory
        .iter()
        .find(|f| f.regime.contains("GDPR"))
        .unwrap();
    assert_eq!(
        gdpr.deadlines[0].due,
        Some(Utc.with_ymd_and_hms(2024, 3, 15, 13, 0, 0).unwrap())
    );
    // Containment by the admin is seen with its times.
    assert!(d
        .concl
        .analysis
        .containment
        .iter()
        .any(|c| c.action == "password_reset" && !c.automated));
    verify_ok(&d.package);

    let report =
        machine_neutral(&std::fs::read_to_string(d.case_dir.join("report/report.md")).unwrap());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scenario-bec.report.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &report).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 to create)");
    assert!(report == want, "report.md differs from {}; diff them, and regenerate with UPDATE_GOLDEN=1 if the change is intended", golden.display());
}

#[test]
fn automated_revocations_over_a_long_weekend_are_a_false_positive() {
    let d = run_scenario("scenario-fp-revocations", None);
    let c = &d.concl.classification;
    assert_eq!(c.verdict, Verdict::FalsePositive, "{}", c.summary);
    assert_eq!(
        c.users.len(),
        19,
        "{:?}",
        c.users.iter().map(|u| &u.user).collect::<Vec<_>>()
    );
    assert!(c.escalate, "a Global Administrator is among the users");
    assert!(
        c.summary.to_lowercase().contains("automat"),
        "{}",
        c.summary
    );
    verify_ok(&d.package);
}

#[test]
fn leaked_credential_never_rotated_is_credential_exposed() {
    let d = run_scenario("scenario-leak-exposed", None);
    let c = &d.concl.classification;
    assert_eq!(c.verdict, Verdict::CredentialExposed, "{}", c.summary);
    let hipaa = d
        .concl
        .regulatory
        .iter()
        .find(|f| f.regime.contains("HIPAA"))
        .unwrap();
    assert_ne!(
        hipaa.status,
        irpack::analysis::FlagStatus::DoesNotApply,
        "{}",
        hipaa.why
    );
    assert!(
        rules(&d).contains(&irpack::analysis::rules::LEGACY_AUTH),
        "{:?}",
        rules(&d)
    );
    verify_ok(&d.package);
}

#[test]
fn travel_on_record_and_vpn_egress_are_a_false_positive() {
    let d = run_scenario("scenario-vpn-travel", None);
    let c = &d.concl.classification;
    assert_eq!(c.verdict, Verdict::FalsePositive, "{}", c.summary);
    assert!(
        d.concl
            .analysis
            .findings
            .iter()
            .all(|f| f.severity < irpack::analysis::Severity::High),
        "{:?}",
        rules(&d)
    );
    verify_ok(&d.package);
}

#[test]
fn same_inputs_and_clock_give_a_byte_identical_package() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_scenario("scenario-bec", Some(&tmp.path().join("a")));
    let b = run_scenario("scenario-bec", Some(&tmp.path().join("b")));
    let (za, zb) = (
        std::fs::read(&a.package).unwrap(),
        std::fs::read(&b.package).unwrap(),
    );
    assert!(za == zb, "packages differ");
}

#[test]
fn originals_are_unchanged_by_a_full_run() {
    let dir = common::samples_dir().join("scenario-bec");
    let hash = || -> Vec<(PathBuf, String)> {
        walkdir::WalkDir::new(&dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().to_path_buf(),
                    irpack::sources::sha256_hex(&std::fs::read(e.path()).unwrap()),
                )
            })
            .collect()
    };
    let before = hash();
    let _ = run_scenario("scenario-bec", None);
    assert_eq!(before, hash());
}

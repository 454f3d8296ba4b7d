//! `irpack run` holds firewall flows as compact records (`timeline::flowstore`) and reads back
//! from the timeline only those network correlation and the key timeline show. That must
//! change nothing it writes: for every sample, scenario, test fixture and corpus input, and
//! for generated mixed exports under a case whose indicators and alert hit flows, a run with
//! flows held in full and one with flows held compactly write byte-identical `analysis/`
//! and `report/` folders and the same package.
//!
//! RADIUS accounting, VPN and admin-login events are held the same way; a hand-built case
//! has network correlation read a suspect's sessions, VPN events and flows back. So is M365
//! activity: generated mixed exports under a case with low bulk-access limits, a classified
//! site, an indicator and the UAL export three times over have bulk access read flagged
//! hours back and the merge fold compact copies.
//!
//! The test also counts what the compact runs did (flows held compactly, flows read back,
//! flows kept whole for an indicator) and fails when the inputs stop exercising it.

mod common;

use chrono::{TimeZone, Utc};
use irpack::case::CaseFile;
use irpack::event::actions;
use irpack::package::PackageOptions;
use irpack::pipeline::{self, RunOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one run wrote, file by file (relative path → bytes), and the package's hash.
struct Written {
    files: BTreeMap<String, Vec<u8>>,
    package: Option<String>,
}

/// What a compact run did with flows.
#[derive(Default, Debug)]
struct Counts {
    compact: usize,
    read_back: usize,
    /// Flows held in full from the start (an indicator, an address that does not parse…).
    whole: usize,
    /// Flows among cited evidence or key-timeline context, as events.
    events_total: usize,
    /// M365 activity (`flowstore::ACTIVITY`) held compactly, read back, and held whole.
    activity: usize,
    activity_read_back: usize,
    activity_whole: usize,
    /// Bulk access findings and the events they cite.
    bulk_findings: usize,
    bulk_evidence: usize,
}

fn run(inputs: &[PathBuf], case: &CaseFile, compact: bool, out: &Path) -> (Written, Counts) {
    let opts = RunOptions {
        inputs: inputs.to_vec(),
        out: out.to_path_buf(),
        case: case.clone(),
        now: Utc.with_ymd_and_hms(2024, 10, 1, 12, 0, 0).unwrap(),
        examiner: Some("CI Examiner".into()),
        quiet: true,
        compact_flows: compact,
        ..Default::default()
    };
    let mut out = pipeline::collect(&opts).unwrap();
    let is_flow = |a: &str| matches!(a, actions::FLOW_ALLOWED | actions::FLOW_DENIED);
    let is_activity = |a: &str| irpack::timeline::flowstore::ACTIVITY.contains(&a);
    let activity = |st: &irpack::timeline::flowstore::FlowStore| {
        st.iter()
            .filter(|(_, r)| r.kind == irpack::timeline::flowstore::RecKind::Activity)
            .count()
    };
    let mut counts = Counts {
        compact: out.flows.len(),
        whole: out.events.iter().filter(|e| is_flow(&e.action)).count(),
        activity: activity(&out.flows),
        activity_whole: out.events.iter().filter(|e| is_activity(&e.action)).count(),
        ..Counts::default()
    };
    let concl = pipeline::analyze(&mut out, &opts).unwrap();
    counts.read_back = counts.compact - out.flows.len();
    counts.activity_read_back = counts.activity - activity(&out.flows);
    for f in &concl.analysis.findings {
        if f.rule == "IRP-EXFIL-001" || f.rule == "IRP-EXFIL-002" {
            counts.bulk_findings += 1;
            counts.bulk_evidence += f.evidence.len();
        }
    }
    counts.events_total = out.events.len() + out.flows.len();
    let info =
        pipeline::report_and_package(&mut out, &concl, &opts, &PackageOptions::default()).unwrap();
    let mut files = BTreeMap::new();
    for sub in ["analysis", "report"] {
        for e in walkdir::WalkDir::new(opts.out.join(sub))
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
        {
            let rel = e.path().strip_prefix(&opts.out).unwrap();
            files.insert(rel.display().to_string(), std::fs::read(e.path()).unwrap());
        }
    }
    (
        Written {
            files,
            package: info.package_sha256,
        },
        counts,
    )
}

/// Run `inputs` both ways; panics on the first file that differs. `None` when nothing parses.
fn check(label: &str, inputs: &[PathBuf], case: &CaseFile) -> Option<Counts> {
    let tmp = tempfile::tempdir().unwrap();
    let (full, _) = run(inputs, case, false, &tmp.path().join("full"));
    let (compact, counts) = run(inputs, case, true, &tmp.path().join("compact"));
    if counts.events_total == 0 {
        return None;
    }
    let names = |w: &Written| w.files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&full), names(&compact), "{label}: files written");
    for (name, bytes) in &full.files {
        assert!(
            compact.files[name] == *bytes,
            "{label}: {name} differs when flows are held compactly"
        );
    }
    assert_eq!(full.package, compact.package, "{label}: package");
    Some(counts)
}

/// The inputs `tests/trim_equivalence.rs` runs, with the case each runs under.
fn inputs() -> Vec<(String, Vec<PathBuf>, CaseFile)> {
    common::equivalence_inputs("IR-FLOWS")
        .into_iter()
        .map(|i| (i.label, i.paths, i.case))
        .collect()
}

#[test]
fn compact_flows_write_the_same_as_full_ones() {
    let mut total = Counts::default();
    let mut checked = 0;
    for (label, paths, case) in inputs() {
        let Some(c) = check(&label, &paths, &case) else {
            continue;
        };
        eprintln!("{label}: {c:?}");
        total.compact += c.compact;
        total.read_back += c.read_back;
        total.whole += c.whole;
        total.activity += c.activity;
        total.activity_read_back += c.activity_read_back;
        total.activity_whole += c.activity_whole;
        total.bulk_findings += c.bulk_findings;
        checked += 1;
    }
    eprintln!("all: {total:?}");
    assert!(checked > 50, "only {checked} inputs parsed");
    assert!(total.compact > 50, "few flows held compactly: {total:?}");
    assert!(
        total.activity > 50,
        "little M365 activity held compactly: {total:?}"
    );
}

/// Generated mixed exports (every family, realistic proportions) under a case that names a
/// flow's destination as an indicator: IOC matching keeps that flow whole.
#[test]
fn generated_mix_with_flow_indicators_is_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    irpack::gen::write_set(irpack::gen::Kind::Mixed, 7, 3 << 20, &dir).unwrap();
    // A destination of the FortiGate flows.
    let forti = common::files_in(&dir)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("fortigate"))
        .expect("the mix has FortiGate logs");
    let text = std::fs::read_to_string(&forti).unwrap();
    let field = |line: &str, k: &str| {
        line.split(&format!(" {k}=")).nth(1).map(|v| {
            v.split(' ')
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string()
        })
    };
    let flow = text
        .lines()
        .find(|l| l.contains("type=\"traffic\"") && l.contains(" user="))
        .expect("a flow with a user");
    let ip = field(flow, "dstip").unwrap();
    let mut case = CaseFile::minimal("IR-FLOWS-GEN");
    case.ioc.ips = vec![ip.clone()];
    let c = check("generated mix", &[dir], &case).expect("the mix parses");
    eprintln!("generated mix, IOC {ip}: {c:?}");
    assert!(c.compact > 1000, "{c:?}");
    assert!(c.whole > 0, "flows to the IOC address stay whole: {c:?}");
}

/// Generated mixed exports whose M365 activity is mostly held compactly (`RecKind::Activity`),
/// under a case where bulk access flags hours of it (low limits), so its findings cite
/// activity read back; a classified site keeps the events touching it whole. The UAL export
/// is there three times, two copies with an indicator's user agent on some lines (those
/// stay whole), so the merge folds compact records into compact ones, compact into whole
/// and whole into compact.
#[test]
fn generated_mix_with_bulk_activity_and_duplicates_is_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    irpack::gen::write_set(irpack::gen::Kind::Mixed, 5, 6 << 20, &dir).unwrap();
    let ual = common::files_in(&dir)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("ual-000"))
        .expect("the mix has a UAL export");
    let text = std::fs::read_to_string(&ual).unwrap();
    // `ual-00.csv` sorts before `ual-000.csv` (its copies are kept) and `ual-000a.csv`
    // after (its copies fold into the original's).
    for (name, every) in [("ual-00.csv", 3), ("ual-000a.csv", 2)] {
        let copy: String = text
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| {
                if i > 0 && i % every == 0 {
                    l.replace("Mozilla/5.0", "EvilAgent/1.0")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(dir.join(name), copy).unwrap();
    }
    let mut case = CaseFile::minimal("IR-ACTIVITY-GEN");
    case.ioc.user_agents = vec!["evilagent/1.0".into()];
    case.thresholds.bulk_download_per_hour = 4;
    case.thresholds.bulk_mail_items_per_hour = 40;
    case.thresholds.bulk_factor = 1.0;
    // The identity exports' day (the firewall and RADIUS logs are later).
    case.alert = Some(irpack::case::Alert {
        window_start: Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()),
        window_end: Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap()),
        ..Default::default()
    });
    case.data.assets = vec![toml::from_str(
        "kind = \"site\"\nid = \"https://contoso.sharepoint.com/sites/Finance/\"\ncategories = [\"eu_personal_data\"]",
    )
    .unwrap()];
    let c = check("generated mix, activity", &[dir], &case).expect("the mix parses");
    eprintln!("generated mix, bulk activity: {c:?}");
    assert!(c.activity > 500, "few activity records: {c:?}");
    assert!(
        c.activity_read_back > 0,
        "bulk access read none back: {c:?}"
    );
    assert!(c.activity_whole > 0, "none kept whole: {c:?}");
    assert!(c.bulk_findings > 0, "no bulk access finding: {c:?}");
    assert!(
        c.activity_read_back < c.activity,
        "every record read back: {c:?}"
    );
}

/// One FortiGate traffic line (local time, +02:00).
fn fortigate_flow(n: u32, hms: &str, user: Option<&str>, src: &str, dst: &str) -> String {
    let user = user.map(|u| format!(" user=\"{u}\"")).unwrap_or_default();
    format!(
        "<189>date=2024-06-25 time={hms} devname=\"FGT-HQ-01\" devid=\"FG100FTK19000001\" tz=\"+0200\" logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={src} srcport={} srcintf=\"port1\" srcintfrole=\"lan\" dstip={dst} dstport=443 dstintf=\"wan1\" dstintfrole=\"wan\" sessionid={} proto=6 action=\"accept\" policyid=39 policytype=\"policy\"{user} service=\"HTTPS\" duration=10 sentbyte={} rcvdbyte={} sentpkt=3 rcvdpkt=4\n",
        40000 + n,
        1000 + n,
        100 * n,
        300 * n
    )
}

/// A flow to an indicator (kept whole) makes its inside address suspect: network
/// correlation reads that address's other flows back, and the key timeline shows the same
/// user's flows just before and after the cited ones, read back too. Flows of other users
/// and flows without a user stay compact. Everything written is the same.
#[test]
fn flows_read_back_for_network_correlation_and_key_timeline_context() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let mut log = String::new();
    let m = Some("mallory");
    // Context before: mallory elsewhere, 5 minutes earlier.
    log += &fortigate_flow(1, "10:25:00", m, "10.1.1.1", "8.8.8.8");
    for k in 0..40 {
        log += &fortigate_flow(10 + k, "10:26:00", Some("bob"), "10.3.3.3", "1.1.1.1");
        log += &fortigate_flow(60 + k, "10:26:30", None, "10.4.4.4", "9.9.9.9");
    }
    // The indicator hit, then two more flows from the same inside address.
    log += &fortigate_flow(2, "10:30:00", m, "10.9.9.9", "203.0.113.66");
    log += &fortigate_flow(3, "10:31:00", m, "10.9.9.9", "198.51.100.20");
    log += &fortigate_flow(4, "10:32:00", m, "10.9.9.9", "198.51.100.21");
    // Context after: mallory elsewhere, 8 minutes later; then far later (no context).
    log += &fortigate_flow(5, "10:40:00", m, "10.2.2.2", "8.8.4.4");
    log += &fortigate_flow(6, "18:40:00", m, "10.2.2.2", "8.8.4.4");
    std::fs::write(dir.join("fortigate.log"), log).unwrap();
    let mut case = CaseFile::minimal("IR-FLOWS-CTX");
    case.ioc.ips = vec!["203.0.113.66".into()];
    let c = check("network + context fixture", &[dir], &case).expect("the log parses");
    eprintln!("{c:?}");
    assert_eq!(c.whole, 1, "the indicator hit stays whole: {c:?}");
    // 10:31 and 10:32 for network correlation, 10:25 and 10:40 as context.
    assert_eq!(c.read_back, 4, "{c:?}");
    assert_eq!(c.compact, c.events_total - 1, "{c:?}");
}

/// One FreeRADIUS accounting record (detail file), at `secs` after 2024-06-25 06:00 UTC.
fn radius_acct(
    secs: i64,
    status: &str,
    user: &str,
    sid: &str,
    station: &str,
    framed: &str,
) -> String {
    let t = Utc.with_ymd_and_hms(2024, 6, 25, 6, 0, 0).unwrap() + chrono::Duration::seconds(secs);
    let stop = if status == "Stop" {
        "\tAcct-Terminate-Cause = User-Request\n"
    } else {
        ""
    };
    let framed = if framed.is_empty() {
        String::new()
    } else {
        format!("\tFramed-IP-Address = {framed}\n")
    };
    format!(
        "{}\n\tAcct-Status-Type = {status}\n\tUser-Name = \"{user}\"\n\tNAS-IP-Address = 10.0.0.2\n\tNAS-Identifier = \"asa-01\"\n\tCalling-Station-Id = \"{station}\"\n{framed}\tAcct-Session-Id = \"{sid}\"\n\tAcct-Input-Octets = {}\n\tAcct-Output-Octets = {}\n{stop}\tTimestamp = {}\n\n",
        t.format("%a %b %e %H:%M:%S %Y"),
        1000 + secs,
        2000 + secs,
        t.timestamp()
    )
}

/// One FortiGate SSL VPN event (`action` tunnel-up, ssl-login-success…), local time +02:00.
fn fortigate_vpn(hms: &str, action: &str, user: &str, remip: &str, tunnelip: &str) -> String {
    format!(
        "<190>date=2024-06-25 time={hms} devname=\"FGT-HQ-01\" devid=\"FG100FTK19000001\" tz=\"+0200\" logid=\"0101039947\" type=\"event\" subtype=\"vpn\" level=\"information\" vd=\"root\" logdesc=\"SSL VPN\" action=\"{action}\" tunneltype=\"ssl-tunnel\" tunnelid=1 remip={remip} tunnelip={tunnelip} user=\"{user}\" group=\"vpn-users\" reason=\"N/A\" msg=\"SSL VPN\"\n"
    )
}

/// The MSP walkthrough's network side, all of it held compactly at first: the alert names
/// a user; network correlation reads back the user's RADIUS session and VPN events, which
/// name a public address (another user's session from it is read back next), inside
/// addresses (the framed IPs, the tunnel's) and their flows, pass after pass until nothing
/// new is wanted. Everything else stays compact, and everything written is the same.
#[test]
fn radius_sessions_vpn_events_and_flows_read_back_for_a_suspect_user() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let mut radius = String::new();
    // mallory's session from 203.0.113.50, framed 10.8.0.5 (08:00–09:00 UTC).
    radius += &radius_acct(
        7200,
        "Start",
        "CORP\\mallory",
        "S1",
        "203.0.113.50",
        "10.8.0.5",
    );
    radius += &radius_acct(
        7800,
        "Interim-Update",
        "CORP\\mallory",
        "S1",
        "203.0.113.50",
        "10.8.0.5",
    );
    radius += &radius_acct(
        10800,
        "Stop",
        "CORP\\mallory",
        "S1",
        "203.0.113.50",
        "10.8.0.5",
    );
    // bob, from the same public address: shown beside it once that address is a candidate.
    // His stop names another calling station and no framed IP: only being of the session
    // reads it back (and it ends the session).
    radius += &radius_acct(7300, "Start", "bob", "S2", "203.0.113.50", "10.8.0.9");
    radius += &radius_acct(
        9000,
        "Interim-Update",
        "bob",
        "S2",
        "203.0.113.50",
        "10.8.0.9",
    );
    radius += &radius_acct(9900, "Stop", "bob", "S2", "203.0.113.51", "");
    // Unrelated: carol elsewhere, and a Wi-Fi client (calling station is a MAC).
    radius += &radius_acct(7400, "Start", "carol", "S3", "198.51.100.200", "10.8.0.77");
    radius += &radius_acct(
        7500,
        "Start",
        "dave",
        "S4",
        "ac-de-f2-06-5d-a4",
        "10.20.40.113",
    );
    std::fs::write(dir.join("radius.detail"), radius).unwrap();
    let mut fw = String::new();
    // mallory's VPN login and tunnel from 198.51.100.77, tunnel address 10.212.134.5.
    fw += &fortigate_vpn(
        "10:05:00",
        "ssl-login-success",
        "mallory",
        "198.51.100.77",
        "10.212.134.5",
    );
    fw += &fortigate_vpn(
        "10:05:02",
        "tunnel-up",
        "mallory",
        "198.51.100.77",
        "10.212.134.5",
    );
    // Someone else's tunnel: stays compact.
    fw += &fortigate_vpn(
        "10:06:00",
        "tunnel-up",
        "erin",
        "192.0.2.33",
        "10.212.134.9",
    );
    // Flows from the inside addresses (no user on them), and others.
    fw += &fortigate_flow(1, "10:10:00", None, "10.8.0.5", "198.51.100.20");
    fw += &fortigate_flow(2, "10:11:00", None, "10.212.134.5", "10.1.10.5");
    fw += &fortigate_flow(3, "10:12:00", None, "10.8.0.9", "10.1.10.6");
    for k in 0..20 {
        fw += &fortigate_flow(10 + k, "10:20:00", None, "10.4.4.4", "9.9.9.9");
    }
    std::fs::write(dir.join("fortigate.log"), fw).unwrap();
    let mut case = CaseFile::minimal("IR-NET-CTX");
    case.alert = Some(irpack::case::Alert {
        time: Some(Utc.with_ymd_and_hms(2024, 6, 25, 12, 0, 0).unwrap()),
        users: vec!["mallory@corp.example".into()],
        ..Default::default()
    });
    let c =
        check("RADIUS + VPN fixture", std::slice::from_ref(&dir), &case).expect("the logs parse");
    eprintln!("{c:?}");
    // Every one of the 34 records was held compactly at first.
    assert_eq!(c.compact, 34, "{c:?}");
    assert_eq!(c.compact, c.events_total, "{c:?}");
    // mallory's session (3) and VPN events (2); bob's session (3) from the same address;
    // the flows of 10.8.0.5, 10.212.134.5 and 10.8.0.9 (3).
    assert_eq!(c.read_back, 11, "{c:?}");
    // What network correlation showed (the same both ways, compared above).
    let (w, _) = run(&[dir], &case, true, &tmp.path().join("again"));
    let a: serde_json::Value = serde_json::from_slice(&w.files["analysis/analysis.json"]).unwrap();
    let views = a["network"].as_array().unwrap();
    let view = |ip: &str| {
        views
            .iter()
            .find(|v| v["ip"] == ip)
            .unwrap_or_else(|| panic!("no view of {ip}: {views:?}"))
    };
    let sessions = |ip: &str| view(ip)["radius_sessions"].as_array().unwrap().len();
    assert_eq!(sessions("203.0.113.50"), 2, "mallory's and bob's sessions");
    assert_eq!(
        view("198.51.100.77")["vpn_events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        view("198.51.100.77")["flows_allowed"],
        1,
        "the tunnel address's flow"
    );
    assert_eq!(
        view("203.0.113.50")["flows_allowed"],
        2,
        "the framed addresses' flows"
    );
}

/// `run` keeps the compact records in a file the merge writes (`FlowWriter`), no longer in
/// memory item by item. For generated mixed exports, that store holds exactly the records
/// the in-memory store holds for the same events (`FlowStore::push` over the run that
/// holds every event whole): the same records, in the same order, each on the timeline line
/// of its event, with the same aggregates; and the events held whole are the others, each
/// on its own line.
#[test]
fn on_disk_store_equals_the_in_memory_one() {
    use irpack::timeline::flowstore::{Compactor, FlowRec, FlowStore};
    use std::collections::BTreeSet;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    irpack::gen::write_set(irpack::gen::Kind::Mixed, 11, 3 << 20, &dir).unwrap();
    let case = CaseFile::minimal("IR-FLOWS-DISK");
    let opts = |compact: bool, out: &str| RunOptions {
        inputs: vec![dir.clone()],
        out: tmp.path().join(out),
        case: case.clone(),
        now: Utc.with_ymd_and_hms(2024, 10, 1, 12, 0, 0).unwrap(),
        quiet: true,
        compact_flows: compact,
        ..Default::default()
    };
    let disk = pipeline::collect(&opts(true, "disk")).unwrap();
    let full = pipeline::collect(&opts(false, "full")).unwrap();
    assert!(disk.flows.on_disk());
    // The file's name is gone (where the system allows) and never in the case folder's
    // payload.
    #[cfg(unix)]
    assert!(!tmp.path().join("disk/tmp-flows.bin").exists());
    // Ranks as the merge gives them: items in (format, stored path) order.
    let mut items: Vec<(String, String)> = full
        .collected
        .files
        .iter()
        .filter(|f| f.format.as_deref() != Some("zip"))
        .map(|f| (f.format.clone().unwrap_or_default(), f.stored_path.clone()))
        .collect();
    items.sort();
    let rank = |path: &str| {
        items
            .iter()
            .position(|(_, p)| path.ends_with(p.as_str()))
            .unwrap_or_else(|| panic!("{path} is not an item")) as u32
    };
    // The in-memory path: every event of the full run (all of the timeline, in order) the
    // compactor takes, pushed with its item's rank, remembering its line.
    let compactor = Compactor::new(&case);
    let mut mem = FlowStore::default();
    let mut lines = Vec::new();
    // A held event keeps no evidence path (the analysis trims it): its line, read back
    // whole, says which item it came from.
    let (whole, _) = irpack::timeline::read_file(
        &full.case_dir.join("timeline/timeline.jsonl"),
        false,
        |_| {},
    )
    .unwrap();
    assert_eq!(whole.len(), full.events.len());
    for (line, (e, w)) in full.events.iter().zip(&whole).enumerate() {
        if compactor.compact(e) && mem.push(e, rank(w.evidence_path())) {
            lines.push(line as u64);
        }
    }
    type Key = (
        i64,
        u64,
        u32,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let key = |st: &FlowStore, r: &FlowRec| -> Key {
        (
            r.micros,
            r.record_no,
            r.rank,
            format!("{:?} {:?} {:?}", r.kind, r.src, r.dst),
            st.source(r).to_string(),
            st.zone(r).to_string(),
            st.user(r).map(String::from),
            st.user_key(r).map(String::from),
            st.session_id(r).map(String::from),
            st.station(r).map(String::from),
        )
    };
    let on_disk: Vec<(u64, Key)> = disk
        .flows
        .iter()
        .map(|(_, r)| (r.pos, key(&disk.flows, &r)))
        .collect();
    let in_mem: Vec<(u64, Key)> = mem
        .iter()
        .zip(&lines)
        .map(|((_, r), &line)| (line, key(&mem, &r)))
        .collect();
    assert!(
        on_disk.len() > 1000,
        "few compact records: {}",
        on_disk.len()
    );
    assert_eq!(on_disk.len(), in_mem.len());
    if let Some(i) = (0..on_disk.len()).find(|&i| on_disk[i] != in_mem[i]) {
        panic!(
            "record {i} differs:\n disk {:?}\n  mem {:?}",
            on_disk[i], in_mem[i]
        );
    }
    assert_eq!(disk.flows.per_source(), mem.per_source());
    assert_eq!(disk.flows.first_time(), mem.first_time());
    assert_eq!(disk.flows.last_time(), mem.last_time());
    let users = |st: &FlowStore| st.users().map(str::to_string).collect::<BTreeSet<_>>();
    assert_eq!(users(&disk.flows), users(&mem));
    // Per user first and last seen (what the detections keep, once the window is known).
    let seen = |st: &FlowStore| {
        let mut m: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (_, r) in st.iter() {
            if let Some(u) = st.user_key(&r) {
                let s = m.entry(u.to_string()).or_insert((r.micros, r.micros));
                *s = (s.0.min(r.micros), s.1.max(r.micros));
            }
        }
        m
    };
    assert_eq!(seen(&disk.flows), seen(&mem));
    // Held events: the full run's others, each on its line.
    assert_eq!(disk.events.len() + disk.flows.len(), full.events.len());
    assert_eq!(disk.positions.len(), disk.events.len());
    for (e, &line) in disk.events.iter().zip(&disk.positions) {
        assert_eq!(e.hash_bytes(), full.events[line as usize].hash_bytes());
    }
}

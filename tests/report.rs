//! Report stage: golden documents for a hand-built case, escaping of hostile log strings,
//! the self-contained HTML, and the facts the report derives (lessons, runbook coverage,
//! caps, next update). `UPDATE_GOLDEN=1 cargo test --test report` rewrites the goldens.

mod fixture_case;

use fixture_case as fx;
use irpack::report::{self, Rendered, ReportInput};
use pulldown_cmark::{Event as MdEvent, Options, Parser, Tag};
use std::path::Path;

fn render_case(case: &fx::Case, now: chrono::DateTime<chrono::Utc>) -> Rendered {
    let custody = fx::custody_entries(&case.out.case_dir);
    report::render(&input(case, &custody, &case.out.events, None, now)).unwrap()
}

/// The report's input for a fixture case: its events (or `events`, none once released).
fn input<'a>(
    case: &'a fx::Case,
    custody: &'a [irpack::evidence::custody::CustodyEntry],
    events: &'a [irpack::event::Event],
    released: Option<irpack::report::Released>,
    now: chrono::DateTime<chrono::Utc>,
) -> ReportInput<'a> {
    ReportInput {
        collected: &case.out.collected,
        events,
        compact: None,
        released,
        timeline_head: &case.out.timeline_head,
        concl: &case.concl,
        custody,
        now,
        tool: "irpack 0.0.0-test".into(),
    }
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run UPDATE_GOLDEN=1 cargo test --test report",
            path.display()
        )
    });
    if want != actual {
        let line = want
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or(want.lines().count().min(actual.lines().count()) + 1);
        panic!(
            "{name} differs from the golden file at line {line}:\n  golden: {:?}\n  actual: {:?}\n(UPDATE_GOLDEN=1 to accept)",
            want.lines().nth(line - 1).unwrap_or(""),
            actual.lines().nth(line - 1).unwrap_or("")
        );
    }
}

#[test]
fn golden_documents() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS | archive");
    let r = render_case(&case, fx::clock());
    golden("report.md", &r.report_md);
    golden("notification.md", &r.notification_md);
    golden("handoff.md", &r.handoff_md);
    // The same inputs render the same bytes.
    assert_eq!(r, render_case(&case, fx::clock()));
}

/// Markdown events that would make log text live: raw HTML, links off the page, images.
/// `irpack run` builds the model in two halves and frees the events between them: the second
/// half, given no events, must build the same model as one pass over all of them.
#[test]
fn model_built_after_the_events_are_gone_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS | archive");
    let custody = fx::custody_entries(&case.out.case_dir);
    let now = fx::clock();
    let whole = report::model::build(&input(&case, &custody, &case.out.events, None, now));
    let parts = report::model::EventParts::of(&input(&case, &custody, &case.out.events, None, now));
    assert!(parts.events > 0);
    let split = report::model::finish(
        &input(&case, &custody, &[], Some(parts.released()), now),
        parts,
    );
    let json = |m: &report::model::Model| serde_json::to_string(m).unwrap();
    assert!(!whole.key_timeline.rows.is_empty() && !whole.activity.is_empty());
    let (a, b) = (json(&split), json(&whole));
    if a != b {
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let from = at.saturating_sub(300);
        panic!(
            "differs at byte {at}:\nsplit: {}\nwhole: {}",
            &a[from..(at + 200).min(a.len())],
            &b[from..(at + 200).min(b.len())]
        );
    }
}

/// `irpack run` renders with the templates reading the model in place (`report::lazy`, the
/// long lists one item at a time) and straight into files: for a model with many findings,
/// users, criteria, containment and IOC rows, the same bytes as the whole model converted
/// at once (`Value::from_serialize`, what `render_model` does), and the hashes of those bytes.
#[test]
fn model_read_in_place_renders_the_same_bytes_as_the_whole_model() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS | archive");
    let custody = fx::custody_entries(&case.out.case_dir);
    let mut model =
        report::model::build(&input(&case, &custody, &case.out.events, None, fx::clock()));
    assert!(!model.findings.is_empty() && !model.users.is_empty());
    assert!(!model.classification.met.is_empty() && !model.iocs.ips.is_empty());
    fn grow<T: Clone>(list: &mut Vec<T>, to: usize, edit: impl Fn(&mut T, usize)) {
        for i in list.len()..to {
            let mut item = list[i % list.len().max(1)].clone();
            edit(&mut item, i);
            list.push(item);
        }
    }
    grow(&mut model.findings, 3000, |f, i| {
        f.n = i + 1;
        f.title = format!("{} <{i}>", f.title);
        f.refs.truncate(i % 30);
        f.more_refs = i % 3;
    });
    grow(&mut model.users, 200, |u, i| {
        u.user = format!("user{i}@contoso.com");
        u.findings = (0..i).map(|n| format!("finding | {n}")).collect();
        if i % 2 == 0 {
            u.activity = None;
        }
    });
    grow(&mut model.classification.met, 300, |c, i| {
        c.id = format!("C{i}")
    });
    grow(&mut model.containment, 500, |c, i| {
        c.user = format!("user{i}")
    });
    grow(&mut model.iocs.ips, 2000, |r, i| {
        r.value = format!("203.0.113.{}", i % 256);
        r.listed = i % 7 == 0;
    });
    grow(&mut model.scope.ips, 2000, |ip, i| {
        *ip = format!("198.51.100.{}", i % 256)
    });

    let whole = report::render_model(&model).unwrap();
    assert!(whole.report_md.contains("2999") && whole.report_md.contains("user199"));
    assert_eq!(report::render_lazy(model.clone()).unwrap(), whole);

    let out = tempfile::tempdir().unwrap();
    let written = report::write_model(model, out.path()).unwrap();
    let want = whole.files();
    assert_eq!(written.len(), want.len());
    for ((name, sha), (want_name, text)) in written.iter().zip(want) {
        assert_eq!(*name, want_name);
        let bytes = std::fs::read(out.path().join(name)).unwrap();
        assert!(bytes == text.as_bytes(), "{name} differs");
        assert_eq!(*sha, hex::encode(sha2::Sha256::digest(text.as_bytes())));
    }
}

fn live_markup(md: &str) -> Vec<String> {
    Parser::new_ext(md, Options::ENABLE_TABLES)
        .filter_map(|e| match e {
            MdEvent::Html(s) | MdEvent::InlineHtml(s) => Some(format!("html {s}")),
            MdEvent::Start(Tag::Link { dest_url, .. }) if !dest_url.starts_with("#ev-") => {
                Some(format!("link {dest_url}"))
            }
            MdEvent::Start(Tag::Image { dest_url, .. }) => Some(format!("image {dest_url}")),
            _ => None,
        })
        .collect()
}

#[test]
fn hostile_rule_name_stays_inert() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), fx::HOSTILE);
    let r = render_case(&case, fx::clock());
    for (name, md) in [
        ("report.md", &r.report_md),
        ("notification.md", &r.notification_md),
        ("handoff.md", &r.handoff_md),
    ] {
        assert_eq!(live_markup(md), Vec::<String>::new(), "{name}");
        assert!(!md.contains("<script>"), "{name} has a raw <script>");
        assert!(!md.contains("[x](javascript"), "{name} has a raw link");
    }
    // The name is still shown (escaped) where the evidence puts it.
    assert!(r
        .report_md
        .contains(r"\<script\>alert(1)\</script\> \[x\](javascript:alert(1))"));
    assert!(
        r.notification_md.contains(r"\<script\>"),
        "pending action names the rule"
    );
    let html = r.report_html.to_lowercase();
    assert!(!html.contains("<script"), "html has a script tag");
    assert!(
        !html.contains("href=\"javascript"),
        "html has a javascript link"
    );
    assert!(r
        .report_html
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Also inside the SVG titles and the key timeline detail.
    assert!(!r.report_html.contains("<title><script"));
}

#[test]
fn html_is_self_contained_with_chart_and_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS");
    let r = render_case(&case, fx::clock());
    let h = &r.report_html;
    assert!(h.starts_with("<!DOCTYPE html>"));
    for banned in [
        "http://", "https://", " src=", "<link", "@import", "url(", "<script",
    ] {
        assert!(!h.contains(banned), "report.html contains {banned:?}");
    }
    assert!(h.contains("<style>"));
    assert_eq!(h.matches("<svg").count(), 1);
    // One chart row per source with events, one mark per finding.
    let svg = &h[h.find("<svg").unwrap()..h.find("</svg>").unwrap()];
    for src in [
        "entra_audit",
        "entra_risk",
        "entra_signin",
        "m365_ual",
        "radius_detail",
    ] {
        assert!(svg.contains(&format!(">{src} (")), "row for {src}");
    }
    assert_eq!(
        svg.matches("stroke-dasharray").count(),
        case.concl.analysis.findings.len()
    );
    // Every evidence link in the findings table has its anchor in the key timeline.
    let e3 = &case.h["e3"][..12];
    assert!(h.contains(&format!(r##"<a href="#ev-{e3}">{e3}</a>"##)));
    assert!(h.contains(&format!(r##"<a id="ev-{e3}" href="#ev-{e3}">{e3}</a>"##)));
    for link in h.match_indices("href=\"#ev-") {
        let id = &h[link.0 + 7..link.0 + 7 + 15];
        assert!(h.contains(&format!("id=\"{id}\"")), "dangling {id}");
    }
}

#[test]
fn report_sections_carry_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS");
    let md = render_case(&case, fx::clock()).report_md;
    for section in [
        "## Executive summary",
        "## Incident metadata",
        "## Scope",
        "## Classification",
        "## Findings",
        "## Users",
        "## Key timeline",
        "## Activity over time",
        "## Network view of the suspicious IPs",
        "## Containment seen",
        "## Recommended actions",
        "## Regulatory flags and deadlines",
        "## Indicators of compromise",
        "## Evidence inventory",
        "### Rejected records",
        "## Time-zone assumptions",
        "## Chain of custody",
        "## Lessons learned",
        "## Runbook coverage",
    ] {
        assert!(md.contains(&format!("\n{section}\n")), "missing {section}");
    }
    // Metadata and the clock.
    assert!(md.contains("| Generated at (the clock) | 2024-05-02T09:00:00Z |"));
    assert!(md.contains("| Aware at (start of regulatory clocks) | 2024-05-01T10:00:00Z |"));
    // Deadline arithmetic from the clock: due 2024-05-04T10:00Z, 49 h after the clock.
    assert!(md.contains("2024-05-04T10:00:00Z (2 d 1 h left)"), "{md}");
    // Rejected record with its location; the radius zone assumption.
    assert!(md.contains("| evidence/exports/signins.jsonl:6 | 6 |"));
    assert!(
        md.contains("- Assumed: 2 event(s) of radius_detail were read as Europe/Berlin (assumed)")
    );
    // Lessons: no MFA, legacy auth, alert latency 5 h 48 min, containment latency 7 h 3 min.
    assert!(md.contains("alice@contoso.com had no MFA in effect"));
    assert!(md.contains("Legacy authentication was allowed: 1 sign-in(s) by alice@contoso.com"));
    assert!(md.contains("| 2024-05-01T02:12:00Z | 2024-05-01T08:00:00Z | 5 h 48 min |"));
    assert!(md.contains("| 2024-05-01T02:12:00Z | 2024-05-01T09:15:00Z | 7 h 3 min |"));
    // Missing sources are named; present ones are not.
    assert!(md.contains("No firewall / VPN log (FortiGate, PAN-OS, CEF) in the evidence."));
    assert!(!md.contains("No Entra ID sign-in log in the evidence."));
    // IOCs: the attacker IP is flagged as on the case IOC list; the tool's user agent.
    assert!(md.contains("| 203.0.113.50 | IRP-AUTH-004, IRP-AUTH-005, IRP-PERS-001, IRP-PIVOT-001, network view | yes |"), "{md}");
    assert!(md.contains("| python-requests/2.31 |"));
    // Containment with times.
    assert!(md.contains(
        "| 2024-05-01T09:15:00Z | alice@contoso.com | tokens_revoked | admin@contoso.com | no |"
    ));
}

#[test]
fn runbook_coverage_follows_the_sources_present() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS");
    let md = render_case(&case, fx::clock()).report_md;
    let row = |step: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| RB-001 | {step} |")))
            .unwrap_or_else(|| panic!("no row {step}"))
            .to_string()
    };
    assert!(
        row("5.3").contains("| answered | yes: Inbox rule"),
        "{}",
        row("5.3")
    );
    assert!(
        row("2.1").contains("| partly | suspicious IP(s) on the case IOC list: 203.0.113.50;"),
        "{}",
        row("2.1")
    );
    assert!(row("C-4").contains("| answered |"));

    // Without audit/UAL, RADIUS and risk exports, the same questions cannot be answered.
    let mut thin = fx::build(&dir.path().join("thin"), "Move to RSS");
    thin.out.events.retain(|e| e.source() == "entra_signin");
    thin.out
        .collected
        .files
        .retain(|f| f.format.as_deref() == Some("entra_signin"));
    let md = render_case(&thin, fx::clock()).report_md;
    let row = |rb: &str, step: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {rb} | {step} |")))
            .unwrap()
            .to_string()
    };
    assert!(
        row("RB-001", "5.3").contains("| not answerable | needs directory audit log"),
        "{}",
        row("RB-001", "5.3")
    );
    assert!(row("RB-001", "C-4").contains("| not answerable |"));
    assert!(row("RB-0003", "1").contains("| not answerable | needs Entra ID risk detections"));
    assert!(row("RB-001", "1.3").contains("| answered |"));
    assert!(md.contains("No Entra ID risk detections in the evidence."));
}

#[test]
fn notification_next_update_defaults_to_a_day_and_follows_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = fx::build(&dir.path().join("case"), "Move to RSS");
    let n = render_case(&case, fx::clock()).notification_md;
    assert!(n.contains("By 2024-05-03T09:00:00Z (UTC)"), "{n}");
    assert!(
        n.contains("## What happened")
            && n.contains("## What we did")
            && n.contains("## What is left")
    );
    assert!(n.contains("tokens revoked for alice@contoso.com at 2024-05-01T09:15:00Z"));
    assert!(n.contains("Remove inbox rule Move to RSS"));
    assert!(n.contains(
        "GDPR notification applies (Notify the supervisory authority: due 2024-05-04T10:00:00Z)"
    ));
    assert!(n.lines().count() < 45, "one screen");
    case.out.collected.case.report.next_update_hours = Some(4);
    case.out.collected.case.report.recipient = Some("Jane Roe, CISO".into());
    let n = render_case(&case, fx::clock()).notification_md;
    assert!(n.contains("By 2024-05-02T13:00:00Z (UTC)"), "{n}");
    assert!(n.contains("To: Jane Roe, CISO"));
}

#[test]
fn handoff_lists_open_questions_pending_actions_and_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let case = fx::build(&dir.path().join("case"), "Move to RSS");
    let h = render_case(&case, fx::clock()).handoff_md;
    assert!(h.contains("MailItemsAccessed for alice"));
    assert!(h.contains("RB-001 3: Did the user confirm the activity?"));
    assert!(
        h.contains("- 3\\. Remove inbox rule Move to RSS (remove_inbox_rule)"),
        "{h}"
    );
    assert!(
        !h.contains("Revoke all sessions"),
        "done actions are not pending"
    );
    assert!(h.contains("IR-2024-0042.zip"));
    assert!(h.contains("data/timeline/timeline.jsonl"));
}

#[test]
fn key_timeline_and_rejected_list_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = fx::build(&dir.path().join("case"), "Move to RSS");
    // 260 cited events (copies of e3 at distinct times) and 70 rejected records.
    let base = case
        .out
        .events
        .iter()
        .find(|e| e.hash() == case.h["e3"])
        .unwrap()
        .clone();
    let mut cited = Vec::new();
    for i in 0..260 {
        let mut e = base.clone();
        e.time = fx::ts("2024-05-01T05:00:00Z") + chrono::Duration::seconds(i);
        e.provenance.record_no = 1000 + i as u64;
        cited.push(e.hash());
        case.out.events.push(e);
    }
    irpack::timeline::sort(&mut case.out.events);
    case.concl.analysis.findings[0].evidence.extend(cited);
    let r0 = case.out.collected.rejected[0].clone();
    for i in 0..69 {
        let mut r = r0.clone();
        r.record_no = 100 + i;
        case.out.collected.rejected.push(r);
    }
    let md = render_case(&case, fx::clock()).report_md;
    let rows = md
        .lines()
        .filter(|l| l.contains(" \"timeline\") |"))
        .count();
    assert_eq!(rows, irpack::report::keytimeline::CAP);
    assert!(md.contains("more cited event(s) did not fit"));
    let rejected_rows = md
        .lines()
        .filter(|l| l.starts_with("| evidence/exports/signins.jsonl:6 |"))
        .count();
    assert_eq!(rejected_rows, irpack::report::model::REJECTED_CAP);
    assert!(md.contains("20 more rejected record(s) are listed in collected.json"));
    // The findings table shows a bounded number of references per finding.
    assert!(md.contains("and 253 more |"), "8 shown of 261");
}

/// Automation that revokes tokens every few minutes: the report's table, the user's section
/// and the handoff list the first actions and say how many there are in all.
#[test]
fn containment_lists_are_capped_with_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = fx::build(&dir.path().join("case"), "x");
    let c0 = case.concl.analysis.containment[0].clone();
    let n = irpack::report::model::CONTAINMENT_ROWS + 50;
    case.concl.analysis.containment = (0..n)
        .map(|i| {
            let mut c = c0.clone();
            c.time = c0.time + chrono::Duration::minutes(i as i64);
            c
        })
        .collect();
    let r = render_case(&case, fx::clock());
    let row = format!("| {} | {} |", c0.user, c0.action);
    let rows = r.report_md.lines().filter(|l| l.contains(&row)).count();
    assert_eq!(rows, irpack::report::model::CONTAINMENT_ROWS);
    let first = format!(
        "The first {} of {n} containment actions",
        irpack::report::model::CONTAINMENT_ROWS
    );
    assert!(r.report_md.contains(&first), "{}", r.report_md);
    let more = n - irpack::analysis::prose::LIST_CAP;
    assert!(r.report_md.contains(&format!("- Containment: {more} more")));
    let listed = format!(
        "- The first {} of {n} actions are listed",
        irpack::report::model::CONTAINMENT_ROWS
    );
    assert!(r.handoff_md.contains(&listed), "{}", r.handoff_md);
}

#[test]
fn empty_case_renders() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = fx::build(&dir.path().join("case"), "x");
    case.out.events.clear();
    case.concl = irpack::pipeline::Conclusions {
        analysis: Default::default(),
        classification: irpack::analysis::classify::classify(
            &Default::default(),
            &[],
            &case.out.collected.case,
        ),
        actions: vec![],
        regulatory: vec![],
    };
    let r = render_case(&case, fx::clock());
    assert!(r.report_md.contains("No detection fired on this evidence."));
    assert!(r
        .report_html
        .contains("No events were read from the evidence."));
}

/// A noisy tenant (every generated account looks compromised, thousands of IPs) must give a
/// report, a notification and action lines a person can read: lists in sentences are named up
/// to a cap and counted beyond it, while the JSON outputs keep every IP. Before the cap a 64 MiB
/// sign-in export gave a 121 MB report whose verdict line alone was 37 MB.
#[test]
fn noisy_tenant_gives_readable_prose_with_complete_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mut f = std::fs::File::create(input.join("signins.json")).unwrap();
    irpack::gen::write_one(irpack::gen::Kind::Signin, 7, 4 << 20, &mut f).unwrap();
    drop(f);
    let out = dir.path().join("case");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_irpack"))
        .args(["run", "--quiet", "--case-id", "IR-NOISY", "--out"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();

    let findings: serde_json::Value =
        serde_json::from_str(&read("analysis/findings.json")).unwrap();
    let finding_ips: std::collections::BTreeSet<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["ips"].as_array().unwrap().iter())
        .filter_map(|ip| ip.as_str())
        .collect();
    assert!(
        finding_ips.len() > 10 * irpack::analysis::prose::LIST_CAP,
        "the generated tenant should be noisy: {} IPs in findings",
        finding_ips.len()
    );

    let report = read("report/report.md");
    let longest = report.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 16 << 10, "a report line is {longest} bytes");
    assert!(
        report.contains(" more"),
        "capped lists say how many are left out"
    );
    let notification = read("report/notification.md");
    assert!(
        notification.len() < 16 << 10,
        "notification is {} bytes",
        notification.len()
    );

    // The block-IPs action names a few, counts them all, and names only IPs the findings hold.
    let actions: serde_json::Value = serde_json::from_str(&read("analysis/actions.json")).unwrap();
    let block = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "block_ips")
        .expect("a block_ips action");
    let text = block["description"].as_str().unwrap();
    assert!(
        text.len() < 4096,
        "block_ips description is {} bytes",
        text.len()
    );
    let (count, rest) = text
        .split_once(" IPs: ")
        .map(|(head, rest)| (head.rsplit('(').next().unwrap(), rest))
        .expect("the action states how many IPs");
    let count: usize = count.parse().unwrap();
    assert!(count > irpack::analysis::prose::LIST_CAP && count <= finding_ips.len());
    let named: Vec<&str> = rest.split(" and ").next().unwrap().split(", ").collect();
    assert_eq!(named.len(), irpack::analysis::prose::LIST_CAP);
    for ip in named {
        assert!(finding_ips.contains(ip), "{ip} named but in no finding");
    }
}

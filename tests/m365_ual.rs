//! Microsoft 365 Unified Audit Log: the real Purview export in the corpus, every export variant
//! in samples/m365_ual, broken input, fuzzing, and (ignored) the 100 MB throughput run.

mod common;

use common::check_accounting;

use irpack::event::{actions, Event, EventClass, Outcome};
use irpack::sources::{self, ParseContext, Parsed};
use proptest::prelude::*;
use std::path::Path;

fn ctx() -> ParseContext {
    ParseContext::default()
}

fn parse_str(text: &str) -> Parsed {
    parse_raw(text.as_bytes())
}

fn parse_raw(bytes: &[u8]) -> Parsed {
    let reg = sources::registry();
    sources::parse_bytes(&reg, bytes, "mem", &sources::sha256_hex(bytes), &ctx())
}

fn sample(name: &str) -> (Vec<u8>, Parsed) {
    let p = common::samples_dir().join("m365_ual").join(name);
    let bytes = std::fs::read(&p).unwrap();
    (bytes, common::parse_path(&p, &ctx()))
}

fn extra_str<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.extra.get(k).and_then(|v| v.as_str())
}

fn param<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.extra
        .get("parameters")
        .and_then(|p| p.get(k))
        .and_then(|v| v.as_str())
}

#[test]
fn corpus_purview_export() {
    let Some(path) = common::corpus_file("m365_ual/infosecstreams-huntress2023__purview.csv")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let p = common::parse_path(&path, &ctx());
    assert_eq!(p.format, Some("m365_ual"));
    assert_eq!(p.rejected.len(), 0, "rejections: {:?}", p.rejected);
    assert_eq!(p.events.len(), 219);
    check_accounting(&bytes, &p);
    assert!(p
        .events
        .iter()
        .all(|e| e.variant() == "purview_csv" && e.time_zone() == "UTC"));

    // The raw record is the whole CSV row, starting at its RecordId.
    let first = &p.events[0];
    let raw = &bytes[first.cold().byte_offset as usize
        ..(first.cold().byte_offset + first.cold().byte_len) as usize];
    assert!(raw.starts_with(b"538815b7-273a-4a3f-9957-c86897966eec,9/20/2023 4:05:03 AM,8,Add service principal.,Certificate,\"{"));
    assert_eq!(first.line(), 2);
    assert_eq!(first.action, actions::OTHER);
    assert_eq!(first.operation(), "Add service principal.");
    assert_eq!(extra_str(first, "initiated_by_type"), Some("app"));
    assert_eq!(
        extra_str(first, "initiated_by_app"),
        Some("Microsoft Azure AD Internal - Jit Provisioning")
    );
    assert_eq!(first.user, None);
    let sp = &first.targets[0];
    assert_eq!(sp.kind.as_deref(), Some("ServicePrincipal"));
    assert_eq!(sp.name.as_deref(), Some("IAMTenantCrawler"));
    // "[\r\n  true\r\n]" inside the JSON string decodes to the value.
    let enabled = sp
        .modified
        .iter()
        .find(|m| m.name == "AccountEnabled")
        .unwrap();
    assert_eq!(enabled.new.as_deref(), Some("true"));
    assert_eq!(enabled.old, None);

    // New-InboxRule: 38 rules whose one-character names spell the CTF flag.
    let rules: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.operation() == "New-InboxRule")
        .collect();
    assert_eq!(rules.len(), 38);
    assert!(rules
        .iter()
        .all(|e| e.action == actions::INBOX_RULE_CREATED && e.outcome == Outcome::Success));
    let name: String = rules
        .iter()
        .map(|e| e.targets[0].name.as_deref().unwrap())
        .collect();
    assert_eq!(name, "flag{24c4230fa7d50eef392b2c850f74b0f6}");
    let r = rules[0];
    assert_eq!(r.time.to_rfc3339(), "2023-09-26T01:56:15+00:00");
    assert_eq!(r.time_original(), "2023-09-26T01:56:15");
    assert_eq!(
        r.user.as_deref(),
        Some("DebraB@M365B132131.OnMicrosoft.com")
    );
    assert_eq!(r.src_ip.as_deref(), Some("185.73.124.135"));
    assert_eq!(r.cold().src_port, Some(19823));
    assert_eq!(
        r.cold().session_id.as_deref(),
        Some("9dfdecb6-59a0-4714-846e-86c0fc911104")
    );
    assert_eq!(param(r, "From"), Some("flag@ctf.com"));
    assert_eq!(param(r, "MoveToFolder"), Some("Conversation History"));
    assert_eq!(param(r, "MarkAsRead"), Some("True"));
    assert_eq!(param(r, "StopProcessingRules"), Some("True"));
    assert_eq!(r.targets[0].kind.as_deref(), Some("inbox_rule"));
    assert_eq!(extra_str(r, "record_type"), Some("1"));
    assert_eq!(extra_str(r, "record_type_name"), Some("ExchangeAdmin"));
    assert_eq!(extra_str(r, "workload"), Some("Exchange"));
    assert_eq!(
        rules
            .iter()
            .filter(|e| param(e, "MoveToFolder") == Some("Inbox"))
            .count(),
        1
    );

    // Set-Mailbox rows are system provisioning without forwarding.
    let sm: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.operation() == "Set-Mailbox")
        .collect();
    assert_eq!(sm.len(), 8);
    assert!(sm.iter().all(|e| e.action == actions::MAILBOX_UPDATED));
    assert_eq!(
        sm[0].user.as_deref(),
        Some("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)")
    );
    assert_eq!(
        param(sm[0], "MaxSendSize"),
        Some("1 GB (1,073,741,824 bytes)")
    );
    assert_eq!(sm[0].targets[0].kind.as_deref(), Some("mailbox"));
    assert!(sm.iter().all(|e| extra_str(e, "forwarding_to").is_none()));

    // Reset user password. by the admin, target the user.
    let rp: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.operation() == "Reset user password.")
        .collect();
    assert_eq!(rp.len(), 34);
    assert!(rp
        .iter()
        .all(|e| e.action == actions::PASSWORD_RESET && e.class == EventClass::AccountChange));
    let r = rp[0];
    assert_eq!(r.time.to_rfc3339(), "2023-09-26T01:43:41+00:00");
    assert_eq!(r.user.as_deref(), Some("admin@M365B132131.onmicrosoft.com"));
    assert_eq!(extra_str(r, "initiated_by_type"), Some("user"));
    assert_eq!(
        r.targets[0].name.as_deref(),
        Some("AdeleV@M365B132131.OnMicrosoft.com")
    );
    assert_eq!(
        r.targets[0].id.as_deref(),
        Some("68cebb9f-0933-41b5-affa-37d95c29d9d6")
    );
    assert_eq!(r.targets[0].kind.as_deref(), Some("User"));

    let tr: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.action == actions::TOKENS_REVOKED)
        .collect();
    assert_eq!(tr.len(), 34);
    assert_eq!(
        tr[0].targets[0].name.as_deref(),
        Some("AlexW@M365B132131.OnMicrosoft.com")
    );
    assert_eq!(extra_str(tr[0], "initiated_by_type"), Some("user"));

    // STS logons: the failure says why; ResultStatus "Success" there only means the HTTP call.
    let failed: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.operation() == "UserLoginFailed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].action, actions::SIGN_IN);
    assert_eq!(failed[0].outcome, Outcome::Failure);
    assert_eq!(
        failed[0].reason.as_deref(),
        Some("InvalidUserNameOrPassword")
    );
    assert_eq!(extra_str(failed[0], "error_number"), Some("50126"));
    assert_eq!(
        failed[0].device.as_ref().and_then(|d| d.os.as_deref()),
        Some("MacOs")
    );
    let ok = p
        .events
        .iter()
        .filter(|e| e.operation() == "UserLoggedIn")
        .count();
    assert_eq!(ok, 20);
    assert!(p
        .events
        .iter()
        .filter(|e| e.operation() == "UserLoggedIn")
        .all(|e| e.outcome == Outcome::Success));

    let files: Vec<&Event> = p
        .events
        .iter()
        .filter(|e| e.action == actions::FILE_ACCESSED)
        .collect();
    assert_eq!(files.len(), 6);
    assert_eq!(
        files[0].targets[0].name.as_deref(),
        Some("XT1000 Project Progress Report.pptx")
    );
    assert_eq!(
        files[0].resource().as_deref(),
        Some(
            "https://m365b132131-my.sharepoint.com/personal/johannal_m365b132131_onmicrosoft_com/"
        )
    );
    assert_eq!(
        p.events
            .iter()
            .filter(|e| e.action == actions::SHARING_LINK_CREATED)
            .count(),
        4
    );
    // Unknown operations are kept, never dropped.
    let set_plan = p
        .events
        .iter()
        .filter(|e| e.operation() == "Set-MailboxPlan")
        .count();
    assert_eq!(set_plan, 27);
    assert!(p
        .events
        .iter()
        .filter(|e| e.operation() == "Set-MailboxPlan")
        .all(|e| e.action == actions::OTHER));
}

#[test]
fn sample_purview_incident() {
    let (bytes, p) = sample("purview_export_incident.csv");
    assert_eq!(p.format, Some("m365_ual"));
    assert_eq!((p.events.len(), p.rejected.len()), (26, 0));
    check_accounting(&bytes, &p);
    let by = |op: &str| {
        p.events
            .iter()
            .filter(|e| e.operation() == op)
            .collect::<Vec<_>>()
    };

    let rule = by("New-InboxRule")[0];
    assert_eq!(rule.action, actions::INBOX_RULE_CREATED);
    assert_eq!(
        param(rule, "ForwardTo"),
        Some("invoices.accounts@proton-mail.example")
    );
    assert_eq!(param(rule, "DeleteMessage"), Some("True"));
    assert_eq!(
        param(rule, "SubjectOrBodyContainsWords"),
        Some("invoice;payment;wire;bank details")
    );
    assert_eq!(rule.targets[0].name.as_deref(), Some(".."));
    assert_eq!(
        (rule.src_ip.as_deref(), rule.cold().src_port),
        (Some("198.51.100.23"), Some(50412))
    );

    let sm = by("Set-Mailbox");
    assert_eq!(sm[0].action, actions::MAILBOX_FORWARDING_SET);
    assert_eq!(
        extra_str(sm[0], "forwarding_to"),
        Some("smtp:invoices.accounts@proton-mail.example")
    );
    let fwd = sm[0].targets[0]
        .modified
        .iter()
        .find(|m| m.name == "ForwardingSmtpAddress")
        .unwrap();
    assert_eq!(
        fwd.new.as_deref(),
        Some("smtp:invoices.accounts@proton-mail.example")
    );
    assert_eq!(sm[1].action, actions::MAILBOX_FORWARDING_REMOVED);
    assert_eq!(sm[1].user.as_deref(), Some("it.admin@contoso.com"));

    let client = by("UpdateInboxRules")[0];
    assert_eq!(client.action, actions::CLIENT_RULES_UPDATED);
    assert_eq!(client.targets[0].name.as_deref(), Some("RSS sync"));
    assert_eq!(extra_str(client, "rule_operation"), Some("AddMailboxRule"));
    let ops = client.extra.get("operation_properties").unwrap();
    assert!(ops
        .get("RuleActions")
        .and_then(|v| v.as_str())
        .unwrap()
        .contains("MoveToFolder"));

    let mia = by("MailItemsAccessed");
    assert_eq!(
        mia[0].extra.get("item_count").and_then(|v| v.as_u64()),
        Some(3)
    );
    assert_eq!(extra_str(mia[0], "mail_access_type"), Some("Bind"));
    assert_eq!(
        mia[1].extra.get("item_count").and_then(|v| v.as_u64()),
        Some(250)
    );
    assert_eq!(mia[1].src_ip.as_deref(), Some("198.51.100.23"));

    let dl = by("FileDownloaded");
    assert_eq!(dl.len(), 6);
    assert!(dl
        .iter()
        .all(|e| e.action == actions::FILE_DOWNLOADED
            && e.src_ip.as_deref() == Some("198.51.100.23")));
    let span = dl.last().unwrap().time - dl[0].time;
    assert!(
        span.num_seconds() <= 60,
        "the download burst is within a minute"
    );
    assert_eq!(
        extra_str(dl[0], "site_url"),
        Some("https://contoso.sharepoint.com/sites/Finance/")
    );
    assert_eq!(by("FileSyncDownloadedFull")[0].action, actions::FILE_SYNCED);
    assert_eq!(
        by("AnonymousLinkCreated")[0].action,
        actions::SHARING_LINK_CREATED
    );
    assert_eq!(by("Send")[0].action, actions::MAIL_SENT);
    assert_eq!(
        extra_str(by("Send")[0], "subject"),
        Some("RE: Updated banking details for March invoices")
    );

    let mfa = by("User registered security info.")[0];
    assert_eq!(mfa.action, actions::MFA_METHOD_REGISTERED);
    assert_eq!(mfa.src_ip.as_deref(), Some("198.51.100.23"));
    let consent = by("Consent to application.")[0];
    assert_eq!(consent.action, actions::OAUTH_CONSENT);
    assert_eq!(consent.targets[0].name.as_deref(), Some("Mail Sync Pro"));
    let admin_consent = consent.targets[0]
        .modified
        .iter()
        .find(|m| m.name == "ConsentContext.IsAdminConsent")
        .unwrap();
    assert_eq!(admin_consent.new.as_deref(), Some("False"));

    let reset = by("Reset user password.")[0];
    assert_eq!(
        (reset.action.as_str(), reset.user.as_deref()),
        (actions::PASSWORD_RESET, Some("it.admin@contoso.com"))
    );

    // Token revocation by a Microsoft service: the initiator is an app, not a user.
    let sts = by("Update StsRefreshTokenValidFrom Timestamp.")[0];
    assert_eq!(sts.action, actions::TOKENS_REVOKED);
    assert_eq!(sts.user, None);
    assert_eq!(extra_str(sts, "initiated_by_type"), Some("app"));
    assert_eq!(
        extra_str(sts, "initiated_by_app"),
        Some("Microsoft Substrate Management")
    );
    assert_eq!(
        sts.targets[0].name.as_deref(),
        Some("megan.bowen@contoso.com")
    );
    let m = &sts.targets[0].modified[0];
    assert_eq!(
        (m.old.as_deref(), m.new.as_deref()),
        (Some("2024-02-02T08:15:40Z"), Some("2024-03-11T11:40:03Z"))
    );

    let upd = by("Update user.");
    assert_eq!(upd[0].action, actions::ACCOUNT_DISABLED);
    assert_eq!(upd[1].action, actions::MFA_METHOD_DELETED);
    assert_eq!(
        by("Remove-InboxRule")[0].action,
        actions::INBOX_RULE_REMOVED
    );
    let unknown = by("SearchQueryPerformed")[0];
    assert_eq!(
        (unknown.action.as_str(), unknown.outcome),
        (actions::OTHER, Outcome::Unknown)
    );
}

#[test]
fn sample_powershell_exports_utf8_and_utf16() {
    let (b8, p8) = sample("search_unifiedauditlog_exportcsv_ps7.csv");
    let (b16, p16) = sample("search_unifiedauditlog_exportcsv_utf16.csv");
    assert!(b16.starts_with(&[0xFF, 0xFE]));
    assert_eq!(p16.decoded_from, Some("utf-16le"));
    for (b, p) in [(&b8, &p8), (&b16, &p16)] {
        assert_eq!(p.format, Some("m365_ual"));
        assert_eq!((p.events.len(), p.rejected.len()), (8, 0));
        check_accounting(b, p);
        assert!(p.events.iter().all(|e| e.variant() == "powershell_csv"));
    }
    // The #TYPE line is not a record: both files yield the same events at shifted lines.
    for (a, b) in p8.events.iter().zip(&p16.events) {
        assert_eq!((a.time, &a.action, &a.user), (b.time, &b.action, &b.user));
        assert_eq!(a.line() + 1, b.line());
        assert_eq!(b.cold().decoded_from.as_deref(), Some("utf-16le"));
    }
    let sts: Vec<&Event> = p16
        .events
        .iter()
        .filter(|e| e.action == actions::TOKENS_REVOKED)
        .collect();
    assert_eq!(sts.len(), 1);
    assert_eq!(
        extra_str(sts[0], "initiated_by_app"),
        Some("Microsoft Substrate Management")
    );
    assert_eq!(
        extra_str(&p16.events[0], "record_id").map(str::len),
        Some(36)
    );
}

#[test]
fn sample_legacy_and_flattened_csv() {
    let (b, p) = sample("legacy_portal_export.csv");
    assert_eq!((p.events.len(), p.rejected.len()), (6, 0));
    check_accounting(&b, &p);
    assert!(p.events.iter().all(|e| e.variant() == "legacy_csv"));
    assert_eq!(
        p.events
            .iter()
            .filter(|e| e.action == actions::MAILBOX_FORWARDING_SET)
            .count(),
        1
    );

    let (b, p) = sample("extractor_suite_auditdataonly.csv");
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    check_accounting(&b, &p);
    let e = &p.events[0];
    assert_eq!(
        (e.variant(), e.action.as_str()),
        ("auditdata_csv", actions::INBOX_RULE_CREATED)
    );
    assert_eq!(extra_str(e, "parameters_raw"), Some("System.Object[]"));
    assert_eq!(e.cold().src_port, Some(50412));
}

#[test]
fn sample_json_variants() {
    let cases: &[(&str, usize, &str)] = &[
        ("management_api_content.json", 5, "auditdata_json"),
        ("extractor_suite_sofelk.json", 9, "auditdata_json"),
        ("extractor_suite_ual.json", 5, "cmdlet_json"),
        ("extractor_suite_ual.jsonl", 4, "cmdlet_json"),
        ("graph_auditlog_query_records.json", 5, "graph_json"),
    ];
    for (name, n, variant) in cases {
        let (b, p) = sample(name);
        assert_eq!(p.format, Some("m365_ual"), "{name}");
        assert_eq!(
            (p.events.len(), p.rejected.len()),
            (*n, 0),
            "{name}: {:?}",
            p.rejected
        );
        check_accounting(&b, &p);
        assert!(p.events.iter().all(|e| e.variant() == *variant), "{name}");
    }
    // JSONL with AuditData as a string and CreationDate as PowerShell 5.1's /Date(ms)/.
    let (_, p) = sample("extractor_suite_ual.jsonl");
    let sts = p
        .events
        .iter()
        .find(|e| e.action == actions::TOKENS_REVOKED)
        .unwrap();
    assert_eq!(sts.time.to_rfc3339(), "2024-03-11T11:40:03+00:00");
    let (_, p) = sample("graph_auditlog_query_records.json");
    let rule = p
        .events
        .iter()
        .find(|e| e.operation() == "New-InboxRule")
        .unwrap();
    assert_eq!(
        param(rule, "ForwardTo"),
        Some("invoices.accounts@proton-mail.example")
    );
    let (_, p) = sample("extractor_suite_sofelk.json");
    assert_eq!(
        p.events
            .iter()
            .filter(|e| e.action == actions::FILE_DOWNLOADED)
            .count(),
        6
    );
}

#[test]
fn creationdate_fallback_and_zones() {
    // Legacy layout without AuditData time: CreationDate is documented UTC only for Purview;
    // a PowerShell export's date without zone is assumed UTC, and said so.
    let t = "CreationDate,UserIds,Operations,AuditData\r\n3/11/2024 9:03:05 AM,a@b.example,FileAccessed,\r\n";
    let p = parse_str(t);
    assert_eq!((p.events.len(), p.rejected.len()), (1, 0));
    assert_eq!(p.events[0].time.to_rfc3339(), "2024-03-11T09:03:05+00:00");
    assert_eq!(p.events[0].time_zone(), "UTC (assumed: no zone given)");
    let mut c = ParseContext::default();
    c.zones
        .insert("m365_ual".into(), "Europe/Berlin".parse().unwrap());
    let reg = sources::registry();
    let p = sources::parse_bytes(&reg, t.as_bytes(), "mem", "x", &c);
    assert_eq!(p.events[0].time.to_rfc3339(), "2024-03-11T08:03:05+00:00");
    assert_eq!(p.events[0].time_zone(), "Europe/Berlin (assumed)");
    let t = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\r\nx,3/11/2024 9:03:05 PM,6,FileAccessed,a@b.example,\r\n";
    let p = parse_str(t);
    assert_eq!(p.events[0].time.to_rfc3339(), "2024-03-11T21:03:05+00:00");
    assert_eq!(p.events[0].time_zone(), "UTC");
}

const HDR: &str = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n";

fn row(ct: &str, op: &str) -> String {
    let ad = format!(
        r#"{{"CreationTime":"{ct}","Id":"i","Operation":"{op}","RecordType":6,"Workload":"SharePoint","UserId":"a@b.example"}}"#
    );
    format!(
        "i,3/11/2024 9:03:05 AM,6,{op},a@b.example,\"{}\",,\r\n",
        ad.replace('"', "\"\"")
    )
}

#[test]
fn bad_input_is_rejected_with_location() {
    // Bad timestamp on line 3.
    let t = format!(
        "{HDR}{}{}{}",
        row("2024-03-11T09:00:00", "FileAccessed"),
        row("2024-13-45T99:00:00", "FileAccessed"),
        row("2024-03-11T09:00:02", "FileDownloaded")
    );
    let p = parse_str(&t);
    assert_eq!((p.events.len(), p.rejected.len()), (2, 1));
    let r = &p.rejected[0];
    assert_eq!((r.record_no, r.line), (2, 3));
    assert!(
        r.reason.contains("CreationTime '2024-13-45T99:00:00'"),
        "{}",
        r.reason
    );
    check_accounting(t.as_bytes(), &p);

    // Truncated file: the last row's AuditData stops mid-JSON.
    let full = format!(
        "{HDR}{}{}",
        row("2024-03-11T09:00:00", "FileAccessed"),
        row("2024-03-11T09:00:01", "FileAccessed")
    );
    let cut = &full[..full.len() - 40];
    let p = parse_str(cut);
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    assert_eq!(p.rejected[0].line, 3);
    // The cut lands inside the quoted AuditData cell, so the CSV layer names the cause.
    assert!(
        p.rejected[0].reason.contains("quoted field not closed"),
        "{}",
        p.rejected[0].reason
    );

    // A row cut short before the AuditData column.
    let t = format!(
        "{HDR}i,3/11/2024 9:03:05 AM,6,FileAccessed\r\n{}",
        row("2024-03-11T09:00:01", "FileAccessed")
    );
    let p = parse_str(&t);
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    assert_eq!(p.rejected[0].line, 2);
    assert!(
        p.rejected[0].reason.contains("row cut short"),
        "{}",
        p.rejected[0].reason
    );

    // No time anywhere.
    let t = "CreationDate,UserIds,Operations,AuditData\r\n,a@b.example,FileAccessed,\"{\"\"Operation\"\":\"\"FileAccessed\"\"}\"\r\n";
    let p = parse_str(t);
    assert_eq!(p.rejected.len(), 1);
    assert!(p.rejected[0].reason.contains("no CreationTime"));

    // JSON lines with a broken last line.
    let t = "{\"CreationTime\":\"2024-03-11T09:00:00\",\"Operation\":\"FileAccessed\",\"Workload\":\"SharePoint\"}\n{\"CreationTime\":\"2024-03-11T09:00:01\",\"Operation\":\"FileAc";
    let p = parse_str(t);
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    assert_eq!(p.rejected[0].line, 2);

    // Zero bytes: nothing detected, nothing to account for.
    let p = parse_raw(b"");
    assert_eq!((p.format, p.events.len(), p.rejected.len()), (None, 0, 0));
    // Header only: no records.
    let p = parse_str(HDR);
    assert_eq!(
        (p.format, p.events.len(), p.rejected.len()),
        (Some("m365_ual"), 0, 0)
    );
}

#[test]
fn generator_output_parses_cleanly() {
    let mut buf = Vec::new();
    let n = irpack::sources::m365_ual::generate(11, 300_000, &mut buf).unwrap();
    assert!(buf.len() >= 300_000);
    let p = parse_raw(&buf);
    assert_eq!(n as usize, p.events.len());
    assert_eq!(p.format, Some("m365_ual"));
    assert_eq!(p.rejected.len(), 0, "{:?}", p.rejected.first());
    assert!(p.events.len() > 100);
    check_accounting(&buf, &p);
    let kinds: std::collections::BTreeSet<&str> =
        p.events.iter().map(|e| e.action.as_str()).collect();
    for a in [
        actions::SIGN_IN,
        actions::MAIL_ITEMS_ACCESSED,
        actions::FILE_DOWNLOADED,
        actions::INBOX_RULE_CREATED,
        actions::TOKENS_REVOKED,
    ] {
        assert!(kinds.contains(a), "generator lacks {a}");
    }
}

/// Throughput at 100 MB. Run with
/// `cargo test --release --test m365_ual -- --ignored --nocapture bench_`.
#[test]
#[ignore]
fn bench_purview_csv_100mb() {
    let mut buf = Vec::with_capacity(105 << 20);
    irpack::sources::m365_ual::generate(2024, 100 << 20, &mut buf).unwrap();
    // CPU time of this thread as well as wall time: the machine is shared, and wall time
    // alone measures the neighbours.
    let cpu_ns = || {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
            })
    };
    let cpu0 = cpu_ns();
    let start = std::time::Instant::now();
    let p = parse_raw(&buf);
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_ns()).map(|(a, b)| (b - a) as f64 / 1e9);
    assert_eq!(p.rejected.len(), 0);
    let mb = buf.len() as f64 / (1024.0 * 1024.0);
    println!(
        "UAL Purview CSV: {:.1} MiB, {} events; wall {:.2} s = {:.1} MiB/s, {:.0} events/s",
        mb,
        p.events.len(),
        secs,
        mb / secs,
        p.events.len() as f64 / secs
    );
    if let Some(c) = cpu {
        println!(
            "  CPU {:.2} s = {:.1} MiB/s, {:.0} events/s per core",
            c,
            mb / c,
            p.events.len() as f64 / c
        );
    }
}

fn samples_bytes() -> Vec<Vec<u8>> {
    let dir = common::samples_dir().join("m365_ual");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x != "py"))
        .map(|p| std::fs::read(Path::new(&p)).unwrap())
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = parse_raw(&bytes);
        check_accounting(&bytes, &p);
    }

    #[test]
    fn mutated_samples_keep_accounting(which in 0usize..64, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..12)) {
        let all = samples_bytes();
        let mut b = all[which % all.len()].clone();
        for (pos, byte) in flips {
            let i = ((b.len() as f64) * pos) as usize;
            if i < b.len() {
                b[i] = byte;
            }
        }
        let keep = ((b.len() as f64) * (0.5 + cut / 2.0)) as usize;
        b.truncate(keep);
        let p = parse_raw(&b);
        check_accounting(&b, &p);
    }
}

//! Entra ID audit logs: the Elastic diagnostic sample in the corpus, Graph / Event Hub /
//! PowerShell JSON, portal and Log Analytics CSV samples, broken input and fuzzing.

mod common;

use common::check_accounting;
use common::{extra_str as x, parse_raw};

use irpack::event::{actions, EventClass, Outcome};
use irpack::sources::{self, ParseContext, Parsed, Source};
use proptest::prelude::*;

fn ctx() -> ParseContext {
    ParseContext::default()
}

fn sample(name: &str) -> (Vec<u8>, Parsed) {
    let p = common::samples_dir().join("entra_audit").join(name);
    let bytes = std::fs::read(&p).unwrap();
    (bytes, common::parse_path(&p, &ctx()))
}

#[test]
fn corpus_elastic_diagnostic_lines() {
    let Some(path) =
        common::corpus_file("entra_audit/elastic-integrations__test-audit-logs-sample.log")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let p = common::parse_path(&path, &ctx());
    assert_eq!(p.format, Some("entra_audit"));
    // Three lines, one record each (no line carries a `records` array).
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    check_accounting(&bytes, &p);
    assert_eq!(
        p.events.iter().map(|e| e.line()).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let e = &p.events[0];
    assert_eq!(e.variant(), "diagnostic_json");
    assert_eq!(e.operation(), "Add service principal credentials");
    assert_eq!(e.action, actions::OTHER);
    assert_eq!(e.class, EventClass::AccountChange);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.time.to_rfc3339(), "2022-01-22T18:15:02.516809300+00:00");
    assert_eq!(e.time_original(), "2022-01-22T18:15:02.5168093+00:00");
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(e.user, None);
    assert_eq!(e.app().as_deref(), Some("Managed Service Identity"));
    assert_eq!(x(e, "initiated_by_type"), Some("app"));
    assert_eq!(x(e, "initiated_by_app"), Some("Managed Service Identity"));
    assert_eq!(
        x(e, "initiated_by_service_principal_id"),
        Some("b9814691-9ca1-4e55-a1ac-8ef5dd010ec0")
    );
    assert_eq!(e.src_ip.as_deref(), Some("1.128.3.4"));
    assert_eq!(
        e.cold().correlation_id.as_deref(),
        Some("53161141-e3f4-4944-85b6-7b953f17265e")
    );
    assert_eq!(
        e.user_agent().as_deref(),
        Some("Microsoft Azure Graph Client Library 2.1.17-internal")
    );
    assert_eq!(
        x(e, "tenant_id"),
        Some("4bbb79f7-5724-4c9e-95f3-de075f6ec090")
    );
    assert_eq!(
        x(e, "audit_id"),
        Some("Directory_53161141-e3f4-4944-85b6-7b953f17265e_6X649_134684731")
    );
    assert_eq!(x(e, "category"), Some("ApplicationManagement"));
    let t = &e.targets[0];
    assert_eq!(
        (t.kind.as_deref(), t.name.as_deref()),
        (Some("ServicePrincipal"), Some("billing-test-wus"))
    );
    assert_eq!(
        t.id.as_deref(),
        Some("a7d5dcbe-0627-4ddf-a2f4-86b6785bcc42")
    );
    // JSON strings inside the JSON are decoded: a list stays a (compact) JSON list, a lone
    // string is unwrapped.
    let kd = &t.modified[0];
    assert_eq!(kd.name, "KeyDescription");
    assert!(kd
        .old
        .as_deref()
        .unwrap()
        .starts_with("[\"[KeyIdentifier=7dffcdc5-f2d5-43ae-86f1-682561befd4b,"));
    assert!(kd
        .new
        .as_deref()
        .unwrap()
        .contains("d747da7e-e11b-4af2-aede-0487c44067af"));
    let inc = t
        .modified
        .iter()
        .find(|m| m.name == "Included Updated Properties")
        .unwrap();
    assert_eq!(
        (inc.old.as_deref(), inc.new.as_deref()),
        (None, Some("KeyDescription"))
    );
    assert_eq!(
        p.events[2].time.to_rfc3339(),
        "2022-01-22T18:15:02.387542900+00:00"
    );
}

#[test]
fn sample_graph_directory_audits() {
    let (b, p) = sample("graph_directoryaudits.json");
    assert_eq!(p.format, Some("entra_audit"));
    assert_eq!((p.events.len(), p.rejected.len()), (8, 0));
    check_accounting(&b, &p);
    let acts: Vec<&str> = p.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        acts,
        vec![
            actions::MFA_METHOD_REGISTERED,
            actions::OAUTH_CONSENT,
            actions::APP_ROLE_ASSIGNED,
            actions::ROLE_MEMBER_ADDED,
            actions::PASSWORD_RESET,
            actions::TOKENS_REVOKED,
            actions::ACCOUNT_DISABLED,
            actions::MFA_METHOD_DELETED,
        ]
    );
    let mfa = &p.events[0];
    assert_eq!(
        (mfa.user.as_deref(), mfa.src_ip.as_deref()),
        (Some("megan.bowen@contoso.com"), Some("198.51.100.23"))
    );
    assert_eq!(x(mfa, "initiated_by_type"), Some("user"));
    assert_eq!(
        mfa.extra["additional_details"]["Method"],
        "Authenticator App"
    );
    assert_eq!(x(mfa, "logged_by_service"), Some("Authentication Methods"));
    let role = &p.events[3];
    assert_eq!(role.outcome, Outcome::Failure);
    assert!(role
        .reason
        .as_deref()
        .unwrap()
        .contains("Insufficient privileges"));
    assert_eq!(
        role.targets[0].name.as_deref(),
        Some("Global Administrator")
    );
    let sts = &p.events[5];
    assert_eq!(sts.user, None);
    assert_eq!(x(sts, "initiated_by_type"), Some("app"));
    assert_eq!(
        x(sts, "initiated_by_app"),
        Some("Microsoft Substrate Management")
    );
    let m = &sts.targets[0].modified[0];
    assert_eq!(
        (m.old.as_deref(), m.new.as_deref()),
        (Some("2024-02-02T08:15:40Z"), Some("2024-03-11T11:40:03Z"))
    );
    let reset = &p.events[4];
    assert_eq!(reset.user.as_deref(), Some("it.admin@contoso.com"));
    assert_eq!(
        reset.targets[0].name.as_deref(),
        Some("megan.bowen@contoso.com")
    );
}

#[test]
fn sample_eventhub_records_and_powershell() {
    let (b, p) = sample("diagnostic_eventhub_records.json");
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    check_accounting(&b, &p);
    assert!(p.events.iter().all(|e| e.variant() == "diagnostic_json"));
    assert_eq!(p.events[1].action, actions::PASSWORD_CHANGED);
    assert_eq!(p.events[1].outcome, Outcome::Failure);
    assert_eq!(p.events[2].action, actions::ACCOUNT_DISABLED);
    // "Update user" touching only StsRefreshTokensValidFrom, done by Identity Protection.
    let e = &p.events[3];
    assert_eq!(
        (e.operation().as_str(), e.action.as_str()),
        ("Update user", actions::TOKENS_REVOKED)
    );
    assert_eq!(
        x(e, "initiated_by_app"),
        Some("Azure AD Identity Protection")
    );
    assert_eq!(e.src_ip.as_deref(), Some("20.190.151.68"));

    let (b, p) = sample("mggraph_convertto_json.json");
    assert_eq!((p.events.len(), p.rejected.len()), (2, 0));
    check_accounting(&b, &p);
    assert_eq!(p.events[0].action, actions::MFA_METHOD_REGISTERED);
    assert_eq!(p.events[0].user.as_deref(), Some("megan.bowen@contoso.com"));
    assert_eq!(
        x(&p.events[1], "initiated_by_app"),
        Some("Microsoft Substrate Management")
    );
}

#[test]
fn sample_portal_and_sentinel_csv() {
    let (b, p) = sample("portal_download_auditlogs.csv");
    assert_eq!(p.format, Some("entra_audit"));
    assert_eq!((p.events.len(), p.rejected.len()), (6, 0));
    check_accounting(&b, &p);
    assert!(p.events.iter().all(|e| e.variant() == "portal_csv"));
    let e = &p.events[0];
    assert_eq!(e.action, actions::MFA_METHOD_REGISTERED);
    assert_eq!(e.src_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(e.line(), 2);
    let consent = &p.events[1];
    assert_eq!(consent.targets[0].name.as_deref(), Some("Mail Sync Pro"));
    assert_eq!(consent.targets[0].modified[0].new.as_deref(), Some("False"));
    let sts = &p.events[4];
    assert_eq!(
        (sts.action.as_str(), x(sts, "initiated_by_type")),
        (actions::TOKENS_REVOKED, Some("app"))
    );
    assert_eq!(sts.user, None);
    assert_eq!(p.events[5].action, actions::ACCOUNT_DISABLED);

    let (b, p) = sample("sentinel_auditlogs_export.csv");
    assert_eq!((p.events.len(), p.rejected.len()), (5, 0));
    check_accounting(&b, &p);
    let e = &p.events[0];
    assert_eq!(e.variant(), "sentinel_csv");
    assert_eq!(e.time_original(), "3/11/2024, 9:05:30.441 AM");
    assert_eq!(e.time.to_rfc3339(), "2024-03-11T09:05:30.441+00:00");
    assert_eq!(
        x(e, "tenant_id"),
        Some("7f3c2a91-5d4e-4b8a-9f61-2c0d8e4b7a15")
    );
    assert_eq!(p.events[3].action, actions::TOKENS_REVOKED);
    assert_eq!(
        x(&p.events[3], "initiated_by_app"),
        Some("Microsoft Substrate Management")
    );
}

#[test]
fn bad_input_is_rejected_with_location() {
    let good = r#"{"activityDisplayName":"Reset user password","activityDateTime":"2024-03-11T11:40:02Z","initiatedBy":{"user":{"userPrincipalName":"a@b.example"}},"targetResources":[],"result":"success"}"#;
    let bad_time = good.replace("2024-03-11T11:40:02Z", "yesterday");
    let t = format!("{good}\n{bad_time}\n{}", &good[..60]);
    let p = parse_raw(t.as_bytes());
    assert_eq!(p.format, Some("entra_audit"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 2));
    check_accounting(t.as_bytes(), &p);
    assert_eq!(p.rejected[0].line, 2);
    assert!(
        p.rejected[0]
            .reason
            .contains("activityDateTime 'yesterday'"),
        "{}",
        p.rejected[0].reason
    );
    assert_eq!(p.rejected[1].line, 3);
    assert!(
        p.rejected[1].reason.contains("JSON"),
        "{}",
        p.rejected[1].reason
    );

    // No activity name.
    let t = r#"{"value":[{"activityDateTime":"2024-03-11T11:40:02Z","initiatedBy":{},"targetResources":[]}]}"#;
    let p = sources::entra_audit::EntraAudit;
    let input = sources::Input::new(t, "x", "mem", 0, None);
    let mut items = Vec::new();
    p.parse(&input, &ctx(), &mut |i| items.push(i));
    assert_eq!(items.len(), 1);
    assert!(items[0]
        .as_ref()
        .unwrap_err()
        .reason
        .contains("no activityDisplayName"));

    // Portal CSV with a broken date on line 3.
    let (b, _) = sample("portal_download_auditlogs.csv");
    let text = String::from_utf8(b).unwrap().replacen(
        "\"2024-03-11T09:07:12.9021554Z\"",
        "\"11.03.2024 kurz nach neun\"",
        1,
    );
    let p = parse_raw(text.as_bytes());
    assert_eq!((p.events.len(), p.rejected.len()), (5, 1));
    assert_eq!(p.rejected[0].line, 3);

    // A Log Analytics row without any time column is rejected, not guessed.
    let t = "TenantId,ActivityDisplayName,InitiatedBy,TargetResources\r\nx,Update user,{,[\r\n";
    let p = parse_raw(t.as_bytes());
    assert_eq!(
        (p.format, p.events.len(), p.rejected.len()),
        (Some("entra_audit"), 0, 1)
    );
    assert!(p.rejected[0].reason.contains("no activityDateTime"));

    let p = parse_raw(b"");
    assert_eq!((p.events.len(), p.rejected.len()), (0, 0));
}

#[test]
fn does_not_claim_other_sources() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let src = sources::entra_audit::EntraAudit;
    for sub in [
        "entra_signin",
        "entra_risk",
        "m365_ual",
        "fortigate",
        "panos",
        "radius",
    ] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = sources::text::decode(&std::fs::read(f.path()).unwrap())
                .text
                .into_owned();
            let head: String = text.chars().take(sources::SNIFF_BYTES).collect();
            assert_eq!(
                src.sniff(&head),
                0,
                "entra_audit claims {}",
                f.path().display()
            );
        }
    }
}

fn samples_bytes() -> Vec<Vec<u8>> {
    let dir = common::samples_dir().join("entra_audit");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
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
        b.truncate(((b.len() as f64) * (0.5 + cut / 2.0)) as usize);
        let p = parse_raw(&b);
        check_accounting(&b, &p);
    }
}

//! Runbook coverage: which questions of RB-001 (identity anomaly) and RB-0003 (leaked
//! credentials) the evidence answered, and for the rest which log source would answer them.
//! Driven by what is present: a question whose source is missing is never marked answered.

use super::model::{is_malicious, t, Ref};
use super::ReportInput;
use crate::analysis::{rules, Finding};
use crate::event::actions;
use serde::{Deserialize, Serialize};

pub const ANSWERED: &str = "answered";
pub const PARTLY: &str = "partly";
pub const NOT_ANSWERABLE: &str = "not answerable";

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Row {
    pub runbook: String,
    pub step: String,
    pub question: String,
    /// [`ANSWERED`], [`PARTLY`] or [`NOT_ANSWERABLE`].
    pub status: String,
    pub answer: String,
    pub refs: Vec<Ref>,
}

/// Families of log sources, by what they can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    SignIn,
    Audit,
    Mailbox,
    Risk,
    Radius,
    Firewall,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::SignIn,
        Family::Audit,
        Family::Mailbox,
        Family::Risk,
        Family::Radius,
        Family::Firewall,
    ];

    pub fn sources(self) -> &'static [&'static str] {
        match self {
            Family::SignIn => &["entra_signin"],
            Family::Audit => &["entra_audit", "m365_ual"],
            Family::Mailbox => &["m365_ual"],
            Family::Risk => &["entra_risk"],
            Family::Radius => &["radius_detail", "nps"],
            Family::Firewall => &["fortigate", "panos", "cef"],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Family::SignIn => "Entra ID sign-in log",
            Family::Audit => "directory audit log (Entra audit or M365 Unified Audit Log)",
            Family::Mailbox => "M365 Unified Audit Log (mailbox and file activity)",
            Family::Risk => "Entra ID risk detections",
            Family::Radius => "RADIUS / NPS accounting",
            Family::Firewall => "firewall / VPN log (FortiGate, PAN-OS, CEF)",
        }
    }

    /// Why it matters, as a recommendation.
    pub fn why(self) -> &'static str {
        match self {
            Family::SignIn => "Export interactive and non-interactive sign-ins for the window and 30 days before it: locations, MFA and client apps come from there.",
            Family::Audit => "Export the Entra audit log: password resets, session revocations and MFA method changes are only there.",
            Family::Mailbox => "Export the Unified Audit Log: inbox rules, forwarding, mail and file access answer what the attacker did.",
            Family::Risk => "Export risk detections: they date the leak and show how late the platform noticed.",
            Family::Radius => "Export RADIUS/NPS accounting: it shows network sessions of the account and whether they are still open.",
            Family::Firewall => "Export firewall/VPN logs: they show VPN logins and traffic from the suspicious IPs.",
        }
    }
}

/// Whether any evidence item of this family was recognized (even with no events).
pub fn family_present(input: &ReportInput, fam: Family) -> bool {
    let srcs = fam.sources();
    input
        .collected
        .files
        .iter()
        .any(|f| f.format.as_deref().is_some_and(|x| srcs.contains(&x)))
        || input
            .events
            .iter()
            .any(|e| srcs.contains(&e.source().as_str()))
        || input
            .compact
            .is_some_and(|c| c.flows.per_source().keys().any(|s| srcs.contains(s)))
        || input
            .released
            .as_ref()
            .is_some_and(|r| r.sources.iter().any(|s| srcs.contains(&s.as_str())))
}

struct Ctx<'a, 'b> {
    input: &'a ReportInput<'b>,
    refs: &'a dyn Fn(&mut dyn Iterator<Item = &String>) -> Vec<Ref>,
}

impl Ctx<'_, '_> {
    fn has(&self, f: Family) -> bool {
        family_present(self.input, f)
    }
    fn findings(&self, rule_ids: &[&str]) -> Vec<&Finding> {
        self.input
            .concl
            .analysis
            .findings
            .iter()
            .filter(|f| rule_ids.contains(&f.rule.as_str()))
            .collect()
    }
    fn refs_of(&self, fs: &[&Finding]) -> Vec<Ref> {
        let mut r = (self.refs)(&mut fs.iter().flat_map(|f| f.evidence.iter()));
        r.truncate(6);
        r
    }
    fn missing(&self, fams: &[Family]) -> String {
        let names: Vec<&str> = fams
            .iter()
            .filter(|f| !self.has(**f))
            .map(|f| f.label())
            .collect();
        format!("needs {}", names.join(" and "))
    }
}

fn titles(fs: &[&Finding]) -> String {
    let mut v: Vec<String> = fs.iter().take(4).map(|f| f.title.clone()).collect();
    if fs.len() > 4 {
        v.push(format!("{} more", fs.len() - 4));
    }
    v.join("; ")
}

fn row(rb: &str, step: &str, q: &str, status: &str, answer: String, refs: Vec<Ref>) -> Row {
    Row {
        runbook: rb.into(),
        step: step.into(),
        question: q.into(),
        status: status.into(),
        answer,
        refs,
    }
}

/// A question answered by findings of `rule_ids`, answerable when all `need` families exist.
fn by_findings(
    c: &Ctx,
    rb: &str,
    step: &str,
    q: &str,
    need: &[Family],
    rule_ids: &[&str],
    none_found: &str,
) -> Row {
    if !need.iter().all(|f| c.has(*f)) {
        return row(rb, step, q, NOT_ANSWERABLE, c.missing(need), Vec::new());
    }
    let fs = c.findings(rule_ids);
    if fs.is_empty() {
        row(rb, step, q, ANSWERED, none_found.into(), Vec::new())
    } else {
        row(
            rb,
            step,
            q,
            ANSWERED,
            format!("yes: {}", titles(&fs)),
            c.refs_of(&fs),
        )
    }
}

pub fn rows(
    input: &ReportInput,
    refs: &dyn Fn(&mut dyn Iterator<Item = &String>) -> Vec<Ref>,
) -> Vec<Row> {
    use Family::*;
    let c = Ctx { input, refs };
    let a = &input.concl.analysis;
    let case = &input.collected.case;
    let mut out = Vec::new();
    const RB1: &str = "RB-001";
    const RB3: &str = "RB-0003";

    // RB-001 step 1: immediate context.
    let users: Vec<String> = input
        .concl
        .classification
        .users
        .iter()
        .map(|u| u.user.clone())
        .chain(case.alert.iter().flat_map(|al| al.users.clone()))
        .collect();
    out.push(if users.is_empty() {
        row(
            RB1,
            "1.2",
            "Affected account identified?",
            NOT_ANSWERABLE,
            "no alert users in the case file and no classified user".into(),
            Vec::new(),
        )
    } else {
        let mut u = users.clone();
        u.sort();
        u.dedup();
        row(
            RB1,
            "1.2",
            "Affected account identified?",
            ANSWERED,
            crate::analysis::prose::capped(&u, ", "),
            Vec::new(),
        )
    });
    out.push(by_findings(
        &c,
        RB1,
        "1.3",
        "Authentication locations and travel feasibility?",
        &[SignIn],
        &[rules::IMPOSSIBLE_TRAVEL, rules::NEW_COUNTRY],
        "sign-in locations reviewed: no impossible travel or new country",
    ));
    out.push(if case.ioc.ips.is_empty() && case.ioc.cidrs.is_empty() {
        row(
            RB1,
            "2.1",
            "Suspicious IP known bad (TI, Tor, VPN)?",
            NOT_ANSWERABLE,
            "no IOC list in the case file; threat-intelligence lookups are outside the evidence"
                .into(),
            Vec::new(),
        )
    } else {
        let fs = c.findings(&[rules::IOC_HIT]);
        let listed: Vec<String> = super::model::suspicious_ips(a)
            .into_iter()
            .filter(|ip| super::model::ioc_listed_ip(&case.ioc, ip))
            .collect();
        let mut parts = Vec::new();
        if !listed.is_empty() {
            parts.push(format!(
                "suspicious IP(s) on the case IOC list: {}",
                crate::analysis::prose::capped(&listed, ", ")
            ));
        }
        if !fs.is_empty() {
            parts.push(format!("IOC hits: {}", titles(&fs)));
        }
        if parts.is_empty() {
            parts.push("no suspicious IP is on the case IOC list".into());
        }
        parts.push("no TI feed consulted".into());
        row(
            RB1,
            "2.1",
            "Suspicious IP known bad (TI, Tor, VPN)?",
            PARTLY,
            parts.join("; "),
            c.refs_of(&fs),
        )
    });
    out.push(if case.travel.is_empty() {
        row(RB1, "2.2", "Travel record or remote-work request on file?", NOT_ANSWERABLE,
            "no travel records in the case file".into(), Vec::new())
    } else {
        row(RB1, "2.2", "Travel record or remote-work request on file?", ANSWERED,
            format!("{} travel record(s) in the case file, applied to the travel and new-country checks", case.travel.len()), Vec::new())
    });
    out.push(if !c.has(Risk) {
        row(
            RB1,
            "2.3",
            "Other alerts on this account in the past 30 days?",
            NOT_ANSWERABLE,
            c.missing(&[Risk]),
            Vec::new(),
        )
    } else {
        row(
            RB1,
            "2.3",
            "Other alerts on this account in the past 30 days?",
            ANSWERED,
            format!("{} risk detection(s) in the evidence", a.risk.len()),
            refs(&mut a.risk.iter().map(|r| &r.evidence)),
        )
    });
    out.push(if !c.has(SignIn) && !c.has(Mailbox) {
        row(
            RB1,
            "2.4",
            "Which applications and data did the account access from the suspicious location?",
            NOT_ANSWERABLE,
            c.missing(&[SignIn, Mailbox]),
            Vec::new(),
        )
    } else {
        let fs = c.findings(&[rules::BULK_DOWNLOAD, rules::BULK_MAIL_ACCESS]);
        let status = if c.has(SignIn) && c.has(Mailbox) {
            ANSWERED
        } else {
            PARTLY
        };
        let mut ans = if fs.is_empty() {
            "no bulk access found".to_string()
        } else {
            titles(&fs)
        };
        if !c.has(Mailbox) {
            ans.push_str("; mailbox and file access not visible without the UAL");
        }
        row(
            RB1,
            "2.4",
            "Which applications and data did the account access from the suspicious location?",
            status,
            ans,
            c.refs_of(&fs),
        )
    });
    out.push(row(
        RB1,
        "3",
        "Did the user confirm the activity?",
        NOT_ANSWERABLE,
        "outside the logs: contact the user over a second channel".into(),
        Vec::new(),
    ));
    out.push(by_findings(
        &c,
        RB1,
        "5.1",
        "Other accounts authenticated from the same suspicious IP?",
        &[SignIn],
        &[
            rules::SHARED_IP,
            rules::SHARED_USER_AGENT,
            rules::PASSWORD_SPRAY,
        ],
        "no other account shares the suspicious IPs",
    ));
    out.push(by_findings(
        &c,
        RB1,
        "5.2",
        "Privileged resources accessed or data downloaded?",
        &[Mailbox],
        &[
            rules::BULK_DOWNLOAD,
            rules::BULK_MAIL_ACCESS,
            rules::ROLE_ADDED,
        ],
        "no bulk download, bulk mail access or role change found",
    ));
    out.push(by_findings(
        &c,
        RB1,
        "5.3",
        "New inbox rules, forwarding or OAuth grants?",
        &[Audit],
        &[
            rules::INBOX_RULE,
            rules::MAILBOX_FORWARDING,
            rules::OAUTH_CONSENT,
        ],
        "none created in the window",
    ));
    out.push(by_findings(
        &c,
        RB1,
        "5.4",
        "MFA method changes (attacker device added)?",
        &[Audit],
        &[rules::MFA_METHOD_REGISTERED],
        "no MFA method registered or changed",
    ));
    let bad: Vec<&Finding> = a.findings.iter().filter(|f| is_malicious(f)).collect();
    out.push(match bad.iter().min_by_key(|f| f.first_seen) {
        Some(f) => row(
            RB1,
            "5.5",
            "Dwell time: first suspicious event?",
            ANSWERED,
            format!("{} ({})", t(f.first_seen), f.title),
            c.refs_of(&[*f]),
        ),
        None if input.event_count() == 0 => row(
            RB1,
            "5.5",
            "Dwell time: first suspicious event?",
            NOT_ANSWERABLE,
            "no events were read from the evidence".into(),
            Vec::new(),
        ),
        None => row(
            RB1,
            "5.5",
            "Dwell time: first suspicious event?",
            ANSWERED,
            "no suspicious event found".into(),
            Vec::new(),
        ),
    });
    out.push(by_findings(
        &c,
        RB1,
        "PC-3",
        "Initial access vector?",
        &[SignIn],
        &[
            rules::PASSWORD_SPRAY,
            rules::BRUTE_FORCE,
            rules::FAILURES_THEN_SUCCESS,
            rules::MFA_FATIGUE,
            rules::LEGACY_AUTH,
            rules::RISK_DETECTION,
        ],
        "not visible in the sign-in log (phishing or token theft leave no failed attempts)",
    ));

    // Containment questions: did the response happen, per the logs?
    let cont = &a.containment;
    let revoked: Vec<_> = cont
        .iter()
        .filter(|c| c.action == actions::TOKENS_REVOKED)
        .collect();
    out.push(if !c.has(Audit) {
        row(
            RB1,
            "C-1",
            "Sessions revoked?",
            NOT_ANSWERABLE,
            c.missing(&[Audit]),
            Vec::new(),
        )
    } else {
        row(
            RB1,
            "C-1",
            "Sessions revoked?",
            ANSWERED,
            if revoked.is_empty() {
                "no session revocation in the logs".into()
            } else {
                crate::analysis::prose::capped(
                    revoked
                        .iter()
                        .map(|r| format!("{} at {}", r.user, t(r.time))),
                    "; ",
                )
            },
            refs(&mut revoked.iter().map(|r| &r.evidence)),
        )
    });
    let network = c.has(Radius) || c.has(Firewall);
    out.push(if !network {
        row(RB1, "C-4", "Network sessions of the account and the suspicious IPs (RADIUS, VPN, firewall)?", NOT_ANSWERABLE,
            c.missing(&[Radius, Firewall]), Vec::new())
    } else {
        let active: usize = a.network.iter().flat_map(|n| n.radius_sessions.iter()).filter(|s| s.still_active).count();
        row(RB1, "C-4", "Network sessions of the account and the suspicious IPs (RADIUS, VPN, firewall)?", ANSWERED,
            format!("{} suspicious IP(s) with a network view; {} session(s) still active at the end of the logs", a.network.len(), active),
            refs(&mut a.network.iter().flat_map(|n| n.evidence.iter())).into_iter().take(6).collect())
    });
    // RB-0003: leaked credentials.
    let leaked: Vec<_> = a
        .risk
        .iter()
        .filter(|r| r.risk_event_type.eq_ignore_ascii_case("leakedCredentials"))
        .collect();
    out.push(if !c.has(Risk) {
        row(
            RB3,
            "1",
            "leakedCredentials risk event found?",
            NOT_ANSWERABLE,
            c.missing(&[Risk]),
            Vec::new(),
        )
    } else if leaked.is_empty() {
        row(
            RB3,
            "1",
            "leakedCredentials risk event found?",
            ANSWERED,
            format!(
                "no leakedCredentials detection ({} other risk detection(s))",
                a.risk.len()
            ),
            Vec::new(),
        )
    } else {
        row(
            RB3,
            "1",
            "leakedCredentials risk event found?",
            ANSWERED,
            format!("{} detection(s) for {}", leaked.len(), {
                let mut u: Vec<_> = leaked.iter().map(|r| r.user.clone()).collect();
                u.sort();
                u.dedup();
                crate::analysis::prose::capped(&u, ", ")
            }),
            refs(&mut leaked.iter().map(|r| &r.evidence)),
        )
    });
    out.push(if leaked.is_empty() {
        row(
            RB3,
            "2",
            "Password changed after the leak detection?",
            NOT_ANSWERABLE,
            "no leakedCredentials detection to compare with".into(),
            Vec::new(),
        )
    } else if !c.has(Audit) {
        row(
            RB3,
            "2",
            "Password changed after the leak detection?",
            NOT_ANSWERABLE,
            c.missing(&[Audit]),
            Vec::new(),
        )
    } else {
        let parts: Vec<String> = leaked
            .iter()
            .map(|r| match r.password_changed_after {
                Some(p) => format!("{}: changed {}", r.user, t(p)),
                None => format!("{}: not changed since", r.user),
            })
            .collect();
        row(
            RB3,
            "2",
            "Password changed after the leak detection?",
            ANSWERED,
            parts.join("; "),
            Vec::new(),
        )
    });
    out.push(if !c.has(SignIn) {
        row(
            RB3,
            "3",
            "30-day sign-in baseline established?",
            NOT_ANSWERABLE,
            c.missing(&[SignIn]),
            Vec::new(),
        )
    } else if a.baselines.is_empty() {
        row(
            RB3,
            "3",
            "30-day sign-in baseline established?",
            PARTLY,
            "no per-user baseline was computed".into(),
            Vec::new(),
        )
    } else {
        let with = a.baselines.iter().filter(|b| b.has_baseline).count();
        let without: Vec<String> = a
            .baselines
            .iter()
            .filter(|b| !b.has_baseline)
            .map(|b| b.user.clone())
            .collect();
        row(
            RB3,
            "3",
            "30-day sign-in baseline established?",
            if without.is_empty() { ANSWERED } else { PARTLY },
            if without.is_empty() {
                format!("{with} user(s) with a baseline")
            } else {
                format!(
                    "{with} user(s) with a baseline; too little history for {}",
                    crate::analysis::prose::capped(&without, ", ")
                )
            },
            Vec::new(),
        )
    });
    out.push(by_findings(
        &c,
        RB3,
        "4",
        "Anomalous sign-ins after the leak (new country/IP/device, no MFA)?",
        &[SignIn],
        &[
            rules::NEW_COUNTRY,
            rules::NEW_IP,
            rules::NEW_DEVICE,
            rules::SINGLE_FACTOR_UNKNOWN_IP,
            rules::FAILURES_THEN_SUCCESS,
        ],
        "no anomalous sign-in found",
    ));
    out.push(by_findings(
        &c,
        RB3,
        "5",
        "Post-sign-in activity (rules, forwarding, MFA, OAuth, bulk access)?",
        &[Audit, Mailbox],
        &[
            rules::INBOX_RULE,
            rules::MAILBOX_FORWARDING,
            rules::MFA_METHOD_REGISTERED,
            rules::OAUTH_CONSENT,
            rules::BULK_DOWNLOAD,
            rules::BULK_MAIL_ACCESS,
        ],
        "no persistence or bulk access found",
    ));
    out.push(if !c.has(SignIn) {
        row(
            RB3,
            "6",
            "MFA enforced, legacy auth allowed, privileged role?",
            NOT_ANSWERABLE,
            c.missing(&[SignIn]),
            Vec::new(),
        )
    } else if a.users.is_empty() {
        row(
            RB3,
            "6",
            "MFA enforced, legacy auth allowed, privileged role?",
            PARTLY,
            "no per-user summary was computed".into(),
            Vec::new(),
        )
    } else {
        let parts: Vec<String> = a
            .users
            .iter()
            .map(|u| {
                format!(
                    "{}: MFA {}, legacy auth {}, {}",
                    u.user,
                    match u.mfa_in_use {
                        Some(true) => "in use",
                        Some(false) => "not in use",
                        None => "unknown",
                    },
                    if u.legacy_auth > 0 {
                        "used"
                    } else {
                        "not seen"
                    },
                    if u.privileged {
                        "privileged"
                    } else {
                        "not privileged"
                    }
                )
            })
            .collect();
        row(
            RB3,
            "6",
            "MFA enforced, legacy auth allowed, privileged role?",
            ANSWERED,
            crate::analysis::prose::capped(&parts, "; "),
            Vec::new(),
        )
    });
    out.push(by_findings(
        &c,
        RB3,
        "7",
        "IP reputation and shared use of the anomalous IPs?",
        &[SignIn],
        &[rules::IOC_HIT, rules::SHARED_IP],
        "no case IOC hit and no IP shared across users (no TI feed consulted)",
    ));

    out
}

//! Which classified data an account could reach: the case file's `[[data.assets]]` matched by
//! the account itself, its own mailbox, and the sites, mailboxes and apps its events touched
//! in the window.

use crate::case::DataAsset;
use crate::event::{actions, Event};
use crate::timeline::hashes::Cite;

/// One way an account reached a classified asset.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    pub asset: &'a DataAsset,
    /// In words: "the account itself is classified", "downloaded 3 files from …".
    pub how: String,
    pub evidence: Vec<String>,
}

/// What is known about one account's data.
#[derive(Debug, Clone, Default)]
pub struct Reach<'a> {
    pub access: Vec<Access<'a>>,
    /// A `user` asset (or the account's own `mailbox`) classifies the account itself; without
    /// one its own data is unknown.
    pub classified: bool,
}

impl Reach<'_> {
    pub fn holding<'s>(&'s self, cat: &'s str) -> impl Iterator<Item = &'s Access<'s>> + 's {
        self.access
            .iter()
            .filter(move |a| a.asset.categories.iter().any(|c| c == cat))
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    let (s, p) = (s.trim(), prefix.trim());
    !p.is_empty() && s.len() >= p.len() && s.is_char_boundary(p.len()) && eq(&s[..p.len()], p)
}

pub(crate) const FILE_ACTIONS: &[&str] = &[
    actions::FILE_DOWNLOADED,
    actions::FILE_SYNCED,
    actions::FILE_ACCESSED,
    actions::SHARING_LINK_CREATED,
];
pub(crate) const MAIL_ACTIONS: &[&str] = &[
    actions::MAIL_ITEMS_ACCESSED,
    actions::MAIL_SENT,
    actions::INBOX_RULE_CREATED,
    actions::INBOX_RULE_CHANGED,
    actions::MAILBOX_FORWARDING_SET,
];

/// Whether one of these locations lies on the site `id` (as `reach` compares them).
pub(crate) fn names_location(locations: &[&str], id: &str) -> bool {
    locations.iter().any(|l| starts_with_ci(l, id))
}

/// Strings in an event that can name a site or file location.
pub(crate) fn locations(e: &Event) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    v.extend(e.resource().as_deref());
    for k in [
        "SiteUrl",
        "site_url",
        "ObjectId",
        "object_id",
        "SourceRelativeUrl",
    ] {
        v.extend(e.extra.get(k).and_then(|x| x.as_str()));
    }
    for t in &e.targets {
        v.extend(t.id.as_deref());
        v.extend(t.name.as_deref());
    }
    v
}

/// Strings in an event that can name the mailbox it touched.
pub(crate) fn mailboxes(e: &Event) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for k in ["MailboxOwnerUPN", "mailbox_owner_upn", "mailbox", "Mailbox"] {
        v.extend(e.extra.get(k).and_then(|x| x.as_str()));
    }
    v.extend(e.resource().as_deref());
    for t in &e.targets {
        v.extend(t.name.as_deref());
        v.extend(t.id.as_deref());
    }
    v
}

fn hashes(es: &[&Event], cite: Cite) -> Vec<String> {
    es.iter().map(|e| cite.hash(e)).collect()
}

/// What `user` could reach, from the case file and the account's own events.
/// `cite` finds the hashes of the events it cites.
pub fn reach<'a>(user: &str, assets: &'a [DataAsset], events: &[&Event], cite: Cite) -> Reach<'a> {
    let mine: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| e.user.as_deref().is_some_and(|u| eq(u, user)))
        .collect();
    let mut r = Reach::default();
    for a in assets {
        match a.kind.as_str() {
            "user" if eq(&a.id, user) || a.id.trim() == "*" => {
                r.classified = true;
                r.access.push(Access {
                    asset: a,
                    how: if a.id.trim() == "*" {
                        "the case file classifies every account (*)".into()
                    } else {
                        "the case file classifies the account itself".into()
                    },
                    evidence: vec![],
                });
            }
            "mailbox" if eq(&a.id, user) || a.id.trim() == "*" => {
                r.classified = true;
                r.access.push(Access {
                    asset: a,
                    how: format!("its own mailbox {user} is classified"),
                    evidence: vec![],
                });
            }
            "mailbox" => {
                let hit: Vec<&Event> = mine
                    .iter()
                    .copied()
                    .filter(|e| MAIL_ACTIONS.contains(&e.action.as_str()))
                    .filter(|e| mailboxes(e).iter().any(|m| eq(m, &a.id)))
                    .collect();
                if !hit.is_empty() {
                    r.access.push(Access {
                        asset: a,
                        how: format!("accessed the mailbox {} ({} events)", a.id, hit.len()),
                        evidence: hashes(&hit, cite),
                    });
                }
            }
            "site" => {
                let hit: Vec<&Event> = mine
                    .iter()
                    .copied()
                    .filter(|e| FILE_ACTIONS.contains(&e.action.as_str()))
                    .filter(|e| names_location(&locations(e), &a.id))
                    .collect();
                if !hit.is_empty() {
                    let downloads = hit
                        .iter()
                        .filter(|e| {
                            e.action == actions::FILE_DOWNLOADED || e.action == actions::FILE_SYNCED
                        })
                        .count();
                    r.access.push(Access {
                        asset: a,
                        how: format!(
                            "touched files on the site {} ({} events, {} downloads or syncs)",
                            a.id,
                            hit.len(),
                            downloads
                        ),
                        evidence: hashes(&hit, cite),
                    });
                }
            }
            "app" => {
                let hit: Vec<&Event> = mine
                    .iter()
                    .copied()
                    .filter(|e| {
                        e.app_id().as_deref().is_some_and(|x| eq(x, &a.id))
                            || e.app().as_deref().is_some_and(|x| eq(x, &a.id))
                    })
                    .collect();
                if !hit.is_empty() {
                    r.access.push(Access {
                        asset: a,
                        how: format!("used the application {} ({} events)", a.id, hit.len()),
                        evidence: hashes(&hit, cite),
                    });
                }
            }
            _ => {}
        }
    }
    r
}

//! The same event exported twice (a sign-in in a Graph JSON page and in a portal CSV, or two
//! overlapping Graph pages) appears once on the timeline, keeping every provenance.

use crate::event::Event;
use std::collections::HashMap;

/// Identity of an event across exports: the source's own record id plus time, user and action.
/// Events without a request or correlation id are never merged: nothing proves they are one.
type Key = (
    String,
    String,
    i64,
    Option<String>,
    String,
    crate::event::Outcome,
);

fn key(e: &Event) -> Option<Key> {
    let id = e
        .cold()
        .request_id
        .as_ref()
        .or(e.cold().correlation_id.as_ref())?;
    Some((
        e.source().to_string(),
        id.to_ascii_lowercase(),
        e.time.timestamp(),
        e.user_key(),
        e.action.to_string(),
        e.outcome,
    ))
}

/// The same identity as one string, for the streaming merge (`timeline::spill`).
pub fn key_string(e: &Event) -> Option<String> {
    let (source, id, secs, user, action, outcome) = key(e)?;
    Some(format!(
        "{source}\u{1f}{id}\u{1f}{secs}\u{1f}{}\u{1f}{action}\u{1f}{outcome:?}",
        // A user of "" and no user at all are different identities.
        user.map_or_else(|| "0".to_string(), |u| format!("1{u}"))
    ))
}

/// Merge duplicates in a sorted timeline; returns how many copies were folded in.
/// The first copy in timeline order is kept; later copies become `also_seen_in` entries.
pub fn dedup(events: &mut Vec<Event>) -> usize {
    let mut first: HashMap<Key, usize> = HashMap::new();
    let mut keep = vec![true; events.len()];
    let mut moved: Vec<(usize, usize)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(k) = key(e) {
            match first.get(&k) {
                Some(&j) => {
                    keep[i] = false;
                    moved.push((j, i));
                }
                None => {
                    first.insert(k, i);
                }
            }
        }
    }
    for &(j, i) in &moved {
        let mut p = vec![events[i].full_provenance()];
        p.extend(events[i].cold().also_seen_in.iter().cloned());
        events[j].cold_mut().also_seen_in.extend(p);
    }
    let mut idx = 0;
    events.retain(|_| {
        let k = keep[idx];
        idx += 1;
        k
    });
    moved.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};
    use chrono::TimeZone;

    fn ev(path: &str, req: Option<&str>, user: &str) -> Event {
        let mut e = Event::new(
            chrono::Utc.with_ymd_and_hms(2024, 3, 12, 10, 5, 0).unwrap(),
            "x",
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            "sign_in",
            "Sign-in activity",
            Outcome::Success,
            Provenance {
                evidence_path: path.into(),
                record_no: 1,
                ..Default::default()
            },
        );
        e.cold_mut().request_id = req.map(str::to_string);
        e.user = Some(user.into());
        e
    }

    #[test]
    fn same_request_id_merges_keeping_both_provenances() {
        let mut v = vec![
            ev("a.json", Some("R1"), "Adele@contoso.com"),
            ev("b.csv", Some("r1"), "adele@contoso.com"),
            ev("c.json", Some("R2"), "adele@contoso.com"),
        ];
        assert_eq!(dedup(&mut v), 1);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].cold().also_seen_in[0].evidence_path, "b.csv");
    }

    #[test]
    fn no_id_means_no_merge() {
        let mut v = vec![ev("a.json", None, "u"), ev("b.json", None, "u")];
        assert_eq!(dedup(&mut v), 0);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn different_users_or_times_stay_apart() {
        let mut v = vec![
            ev("a.json", Some("R1"), "u1"),
            ev("b.json", Some("R1"), "u2"),
        ];
        assert_eq!(dedup(&mut v), 0);
    }
}

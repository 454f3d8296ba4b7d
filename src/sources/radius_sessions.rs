//! RADIUS accounting records joined into sessions: who was connected, from where (the
//! client's public IP on VPN, a MAC on Wi-Fi), with which inside IP, from when to when, and
//! how much data moved. Works on any events the RADIUS parsers emit (FreeRADIUS detail, NPS),
//! because both put the same facts under the same `extra` keys.
//!
//! Rules, each from how NASes really behave:
//! - Key = source + NAS (IP, else NAS-Identifier) + Acct-Session-Id + user (case-insensitive):
//!   session ids are only unique per NAS, and some NASes reuse them after a reboot.
//! - The time of a record is its receive time minus Acct-Delay-Time (RFC 2866: the NAS's own
//!   time of the event), so a retransmitted Stop lands on the same instant as the first.
//! - Counters are cumulative: the session's totals are those of its last record (the first
//!   Stop when there is one), with gigawords applied by the parsers.
//! - A Stop ends a session; further Stops for it are retransmissions (counted, not new ends).
//! - Accounting-On/Off from the same NAS after a session's last record means the NAS
//!   rebooted or shut down: the session is over without a Stop (`nas_restart_at`), not active.
//! - A session with neither is `still_active` when the log ends.

use super::radius_detail::keys;
use crate::event::{actions, Event, EventClass};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One RADIUS session assembled from its accounting records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadiusSession {
    /// Source format of the records (`radius_detail`, `nps`).
    pub source: String,
    /// The NAS as keyed: its IP, else its NAS-Identifier, else empty.
    pub nas: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_identifier: Option<String>,
    /// Acct-Session-Id.
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Framed-IP-Address: the address the user had inside (VPN pool, Wi-Fi DHCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framed_ip: Option<String>,
    /// Calling-Station-Id as sent: the client's public IP on VPN, a MAC on Wi-Fi/MAB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_station_id: Option<String>,
    /// The calling station when it is an IP address (the client's public IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_station_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_port_type: Option<String>,
    /// Start of the session: the Start record's time, or (when the log begins mid-session)
    /// the first record's time minus its Acct-Session-Time, flagged by `start_estimated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    pub start_estimated: bool,
    /// Time of the (first) Stop record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// No Stop, but the NAS sent Accounting-On/Off afterwards (reboot, shutdown): when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_restart_at: Option<DateTime<Utc>>,
    /// `Accounting-On` or `Accounting-Off`, with `nas_restart_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_restart: Option<String>,
    /// Neither a Stop nor a NAS restart by the end of the log.
    pub still_active: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Acct-Session-Time of the last record, else end − start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Acct-Input (from the user) octets with gigawords, from the last record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Acct-Output (to the user) octets with gigawords, from the last record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_cause: Option<String>,
    pub has_start: bool,
    pub interim_count: u32,
    /// Stop records seen; more than one means the NAS retransmitted the Stop.
    pub stop_count: u32,
    /// `Event::hash()` of every record this session rests on (Accounting-On/Off included),
    /// in time order.
    pub event_hashes: Vec<String>,
}

impl RadiusSession {
    /// The latest instant the session is known to have lasted until: its Stop, the NAS
    /// restart, or the last record seen.
    pub fn known_until(&self) -> DateTime<Utc> {
        self.end.or(self.nas_restart_at).unwrap_or(self.last_seen)
    }
}

fn extra_str<'e>(ev: &'e Event, key: &str) -> Option<&'e str> {
    ev.extra
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn extra_u64(ev: &Event, key: &str) -> Option<u64> {
    let v = ev.extra.get(key)?;
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The NAS's own time of the record: receive time minus Acct-Delay-Time.
fn event_time(ev: &Event) -> DateTime<Utc> {
    let delay = extra_u64(ev, keys::ACCT_DELAY_TIME).unwrap_or(0);
    // A delay beyond a day is a broken counter, not a real delay: keep the receive time.
    if delay > 86_400 {
        return ev.time;
    }
    ev.time - Duration::seconds(delay as i64)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Start,
    Interim,
    Stop,
    NasOn,
    NasOff,
}

fn kind_of(ev: &Event) -> Option<Kind> {
    if ev.class != EventClass::Accounting {
        return None;
    }
    match ev.action.as_str() {
        actions::SESSION_START => Some(Kind::Start),
        actions::SESSION_INTERIM => Some(Kind::Interim),
        actions::SESSION_STOP => Some(Kind::Stop),
        actions::ACCOUNTING_ON => Some(Kind::NasOn),
        actions::ACCOUNTING_OFF => Some(Kind::NasOff),
        _ => None,
    }
}

/// Per-session working state beside the public record.
struct Work {
    s: RadiusSession,
    /// Time of the record whose counters the session carries.
    final_at: Option<DateTime<Utc>>,
}

/// Joins Start/Interim/Stop records into sessions. Pure: same events in, same sessions out;
/// events are taken in receive-time order, so the order they come in only breaks ties.
/// Records without Acct-Session-Id cannot be joined and are left out (they stay in the
/// timeline as events).
pub fn sessions(events: &[Event]) -> Vec<RadiusSession> {
    // Records are taken in the order the server received them (the NAS's send order); the
    // delay-corrected time only gives the values: sorting by it could put a delayed Stop
    // before a Start received a moment earlier.
    let mut order: Vec<(DateTime<Utc>, usize, Kind)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, ev)| kind_of(ev).map(|k| (ev.time, i, k)))
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));

    let mut work: Vec<Work> = Vec::new();
    let mut by_key: HashMap<(String, String, String, String), usize> = HashMap::new();

    for &(_, i, kind) in &order {
        let ev = &events[i];
        let t = event_time(ev);
        let nas_ip = extra_str(ev, keys::NAS_IP);
        let nas_id = extra_str(ev, keys::NAS_IDENTIFIER);
        if matches!(kind, Kind::NasOn | Kind::NasOff) {
            let label = if kind == Kind::NasOn {
                "Accounting-On"
            } else {
                "Accounting-Off"
            };
            let hash = ev.hash();
            for w in work.iter_mut() {
                let s = &mut w.s;
                let same_nas = match (nas_ip, s.nas_ip.as_deref()) {
                    (Some(a), Some(b)) => a == b,
                    _ => {
                        matches!((nas_id, s.nas_identifier.as_deref()), (Some(a), Some(b)) if a == b)
                    }
                };
                if s.source == *ev.source()
                    && same_nas
                    && s.stop_count == 0
                    && s.nas_restart_at.is_none()
                    && s.last_seen <= t
                {
                    s.nas_restart_at = Some(t);
                    s.nas_restart = Some(label.to_string());
                    s.event_hashes.push(hash.clone());
                }
            }
            continue;
        }
        let Some(session_id) = ev
            .cold()
            .session_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let nas = nas_ip.or(nas_id).unwrap_or("").to_string();
        let key = (
            ev.source().to_string(),
            nas.clone(),
            session_id.to_string(),
            ev.user_key().unwrap_or_default(),
        );

        let existing = by_key.get(&key).copied();
        let reuse = existing.filter(|&w| {
            let s = &work[w].s;
            // A Start after the old session ended is a new session with a reused id.
            let ended = s.stop_count > 0 || s.nas_restart_at.is_some();
            !(kind == Kind::Start && ended)
        });
        let w = match reuse {
            Some(w) => w,
            None => {
                work.push(Work {
                    s: RadiusSession {
                        source: ev.source().to_string(),
                        nas,
                        nas_ip: nas_ip.map(str::to_string),
                        nas_identifier: nas_id.map(str::to_string),
                        session_id: session_id.to_string(),
                        user: ev.user.as_ref().map(String::from),
                        framed_ip: None,
                        calling_station_id: None,
                        client_ip: None,
                        called_station_id: None,
                        nas_port_type: None,
                        start: None,
                        start_estimated: false,
                        end: None,
                        nas_restart_at: None,
                        nas_restart: None,
                        still_active: true,
                        first_seen: t,
                        last_seen: t,
                        duration_secs: None,
                        bytes_in: None,
                        bytes_out: None,
                        terminate_cause: None,
                        has_start: false,
                        interim_count: 0,
                        stop_count: 0,
                        event_hashes: Vec::new(),
                    },
                    final_at: None,
                });
                by_key.insert(key, work.len() - 1);
                work.len() - 1
            }
        };
        let Work { s, final_at } = &mut work[w];
        s.event_hashes.push(ev.hash());
        s.last_seen = s.last_seen.max(t);
        // A record after a NAS restart shows the session survived it.
        if s.nas_restart_at.is_some_and(|r| r <= t) {
            s.nas_restart_at = None;
            s.nas_restart = None;
        }
        fill(&mut s.nas_ip, nas_ip);
        fill(&mut s.nas_identifier, nas_id);
        fill(&mut s.user, ev.user.as_deref());
        fill(&mut s.framed_ip, extra_str(ev, keys::FRAMED_IP));
        fill(
            &mut s.calling_station_id,
            extra_str(ev, keys::CALLING_STATION_ID),
        );
        fill(&mut s.client_ip, ev.src_ip.as_deref());
        fill(
            &mut s.called_station_id,
            extra_str(ev, keys::CALLED_STATION_ID),
        );
        fill(&mut s.nas_port_type, extra_str(ev, keys::NAS_PORT_TYPE));

        match kind {
            Kind::Start => {
                if !s.has_start || s.start_estimated {
                    s.start = Some(t);
                    s.start_estimated = false;
                }
                s.has_start = true;
            }
            Kind::Interim => s.interim_count += 1,
            Kind::Stop => {
                if s.stop_count == 0 {
                    s.end = Some(t);
                    s.terminate_cause = extra_str(ev, keys::TERMINATE_CAUSE).map(str::to_string);
                }
                s.stop_count += 1;
            }
            Kind::NasOn | Kind::NasOff => {}
        }
        if !s.has_start {
            // Log began mid-session: the NAS's own session clock tells when it started.
            if let Some(st) = extra_u64(ev, keys::SESSION_TIME).filter(|v| *v < 10 * 365 * 86_400) {
                let est = t - Duration::seconds(st as i64);
                if s.start.is_none_or(|cur| est < cur) {
                    s.start = Some(est);
                    s.start_estimated = true;
                }
            }
        }
        // Counters: from the first Stop, else from the latest record.
        let take = match kind {
            Kind::Stop => s.stop_count == 1,
            _ => s.stop_count == 0 && final_at.is_none_or(|f| t >= f),
        };
        if take {
            *final_at = Some(t);
            if let Some(v) = extra_u64(ev, keys::SESSION_TIME) {
                s.duration_secs = Some(v);
            }
            if ev.cold().bytes_in.is_some() {
                s.bytes_in = ev.cold().bytes_in;
            }
            if ev.cold().bytes_out.is_some() {
                s.bytes_out = ev.cold().bytes_out;
            }
        }
    }

    let mut out: Vec<RadiusSession> = work
        .into_iter()
        .map(|Work { mut s, final_at }| {
            s.still_active = s.stop_count == 0 && s.nas_restart_at.is_none();
            if final_at.is_none() || s.duration_secs.is_none() {
                if let (Some(a), Some(b)) = (s.start, s.end) {
                    s.duration_secs = u64::try_from((b - a).num_seconds()).ok();
                }
            }
            s
        })
        .collect();
    out.sort_by(|a, b| {
        a.start
            .unwrap_or(a.first_seen)
            .cmp(&b.start.unwrap_or(b.first_seen))
            .then_with(|| a.nas.cmp(&b.nas))
            .then_with(|| a.session_id.cmp(&b.session_id))
            .then_with(|| a.user.cmp(&b.user))
    });
    out
}

fn fill(slot: &mut Option<String>, v: Option<&str>) {
    if slot.is_none() {
        if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
            *slot = Some(v.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Outcome, Provenance};
    use serde_json::json;

    fn ev(t: i64, action: &str, sid: &str, user: &str, extra: serde_json::Value) -> Event {
        let mut e = Event::new(
            DateTime::from_timestamp(t, 0).unwrap(),
            t.to_string(),
            "UTC",
            "radius_detail",
            "accounting",
            EventClass::Accounting,
            action,
            action,
            Outcome::Success,
            Provenance {
                record_no: t as u64,
                ..Provenance::default()
            },
        );
        e.cold_mut().session_id = Some(sid.into()).filter(|s: &String| !s.is_empty());
        e.user = Some(user.into()).filter(|s: &crate::event::SharedStr| !s.is_empty());
        if let serde_json::Value::Object(m) = extra {
            e.extra = m.into_iter().collect();
        }
        e
    }

    #[test]
    fn start_interim_stop_retransmit_and_reuse() {
        let nas = json!({"nas_ip": "10.0.0.1"});
        let evs = vec![
            ev(
                100,
                actions::SESSION_START,
                "s1",
                "Bob",
                json!({"nas_ip": "10.0.0.1", "framed_ip": "10.9.0.2"}),
            ),
            ev(
                400,
                actions::SESSION_STOP,
                "s1",
                "bob",
                json!({"nas_ip": "10.0.0.1", "session_time": 300, "terminate_cause": "Idle-Timeout"}),
            ),
            ev(
                160,
                actions::SESSION_INTERIM,
                "s1",
                "bob",
                json!({"nas_ip": "10.0.0.1", "session_time": 60}),
            ),
            // Retransmitted Stop: received 5 s later, same NAS time.
            ev(
                405,
                actions::SESSION_STOP,
                "s1",
                "bob",
                json!({"nas_ip": "10.0.0.1", "session_time": 300, "acct_delay_time": 5}),
            ),
            // Same id reused after the Stop: a new session.
            ev(900, actions::SESSION_START, "s1", "bob", nas.clone()),
        ];
        let ss = sessions(&evs);
        assert_eq!(ss.len(), 2);
        let a = &ss[0];
        assert_eq!(a.start.unwrap().timestamp(), 100);
        assert_eq!(a.end.unwrap().timestamp(), 400);
        assert_eq!((a.interim_count, a.stop_count), (1, 2));
        assert_eq!(a.duration_secs, Some(300));
        assert_eq!(a.framed_ip.as_deref(), Some("10.9.0.2"));
        assert_eq!(a.terminate_cause.as_deref(), Some("Idle-Timeout"));
        assert_eq!(a.event_hashes.len(), 4);
        assert!(!a.still_active);
        assert!(ss[1].still_active);
        assert_eq!(ss[1].start.unwrap().timestamp(), 900);
    }

    #[test]
    fn nas_reboot_and_mid_session_log() {
        let evs = vec![
            ev(
                1000,
                actions::SESSION_INTERIM,
                "w1",
                "dana",
                json!({"nas_ip": "10.2.0.5", "session_time": 600}),
            ),
            ev(
                2000,
                actions::ACCOUNTING_ON,
                "00000000",
                "",
                json!({"nas_ip": "10.2.0.5"}),
            ),
            ev(
                1500,
                actions::SESSION_INTERIM,
                "v1",
                "eve",
                json!({"nas_ip": "10.1.0.1", "session_time": 60}),
            ),
        ];
        let ss = sessions(&evs);
        assert_eq!(ss.len(), 2);
        let d = ss.iter().find(|s| s.session_id == "w1").unwrap();
        assert!(d.start_estimated && !d.has_start);
        assert_eq!(d.start.unwrap().timestamp(), 400);
        assert_eq!(d.nas_restart.as_deref(), Some("Accounting-On"));
        assert_eq!(d.nas_restart_at.unwrap().timestamp(), 2000);
        assert!(!d.still_active);
        assert_eq!(d.event_hashes.len(), 2);
        let e = ss.iter().find(|s| s.session_id == "v1").unwrap();
        assert!(e.still_active);
    }
}

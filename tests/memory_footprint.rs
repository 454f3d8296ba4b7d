//! What one event costs in memory once held for the analysis (trimmed, remembering its
//! timeline hash), per source family: the analysis holds every event, so this is what the
//! run's peak grows by per event. Measured with a counting allocator that rounds each block
//! the way glibc malloc does, so the figures track resident memory, not just requested bytes.

use irpack::event::{Event, HashMemo};
use irpack::gen::{self, Kind};
use irpack::sources::{self, ParseContext};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// A glibc chunk: the request plus an 8-byte header, rounded up to 16, at least 32 bytes.
fn chunk(size: usize) -> isize {
    (size + 8).div_ceil(16).max(2) as isize * 16
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(chunk(l.size()), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(chunk(l.size()), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(chunk(l.size()), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(chunk(new) - chunk(l.size()), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes held per event of `kind`, as the pipeline keeps them for the analysis.
fn bytes_per_event(kind: Kind) -> (usize, f64) {
    let mut data = Vec::new();
    gen::write_one(kind, 7, 4 << 20, &mut data).unwrap();
    let reg = sources::registry();
    let sha = sources::sha256_hex(&data);
    let ctx = ParseContext::default();
    let before = live();
    let mut events: Vec<Event> = Vec::new();
    sources::parse_bytes_with(&reg, &data, "evidence/x", &sha, &ctx, &mut |r| {
        if let Ok(mut e) = r {
            e.remember_hash();
            irpack::analysis::trim_for_analysis(&mut e);
            events.push(e);
        }
    });
    events.shrink_to_fit();
    let held = live() - before;
    let n = events.len();
    assert!(n > 1000, "{kind:?}: only {n} events");
    drop(events);
    (n, held as f64 / n as f64)
}

#[test]
fn bytes_held_per_event() {
    eprintln!("size_of::<Event>() = {}", std::mem::size_of::<Event>());
    for kind in [
        Kind::Signin,
        Kind::Ual,
        Kind::Radius,
        Kind::Fortigate,
        Kind::Panos,
    ] {
        let (n, per) = bytes_per_event(kind);
        eprintln!("{kind:?}: {n} events, {per:.0} bytes per event held");
    }
}

#[test]
#[ignore]
fn breakdown() {
    for kind in [
        Kind::Signin,
        Kind::Ual,
        Kind::Radius,
        Kind::Fortigate,
        Kind::Panos,
    ] {
        let mut data = Vec::new();
        gen::write_one(kind, 7, 4 << 20, &mut data).unwrap();
        let reg = sources::registry();
        let sha = sources::sha256_hex(&data);
        let ctx = ParseContext::default();
        let mut events: Vec<Event> = Vec::new();
        sources::parse_bytes_with(&reg, &data, "evidence/x", &sha, &ctx, &mut |r| {
            if let Ok(mut e) = r {
                e.remember_hash();
                irpack::analysis::trim_for_analysis(&mut e);
                events.push(e);
            }
        });
        events.shrink_to_fit();
        let n = events.len() as f64;
        let mut line = format!("{kind:?}:");
        let mut step = |name: &str, f: &mut dyn FnMut(&mut Event), evs: &mut Vec<Event>| {
            let b = live();
            for e in evs.iter_mut() {
                f(e);
            }
            line += &format!(" {name}={:.0}", (b - live()) as f64 / n);
        };
        step("extra", &mut |e| e.extra = Default::default(), &mut events);
        step(
            "memo",
            &mut |e| e.timeline_sha256 = HashMemo(None),
            &mut events,
        );
        step(
            "prov_ev",
            &mut |e| {
                e.provenance.evidence_sha256 = Default::default();
                e.provenance.evidence_path = String::new();
            },
            &mut events,
        );
        step(
            "prov_raw",
            &mut |e| e.provenance.raw_sha256 = String::new(),
            &mut events,
        );
        step(
            "fixed_str",
            &mut |e| {
                e.time_original = String::new();
                e.time_zone = String::new();
                e.source = String::new();
                e.variant = String::new();
                e.action = String::new();
                e.operation = String::new();
            },
            &mut events,
        );
        step(
            "gdm",
            &mut |e| {
                e.geo = None;
                e.device = None;
                e.mfa = None;
            },
            &mut events,
        );
        step(
            "targets",
            &mut |e| {
                e.targets = Vec::new();
                e.also_seen_in = Vec::new();
            },
            &mut events,
        );
        step(
            "opt_str",
            &mut |e| {
                e.reason = None;
                e.user = None;
                e.user_id = None;
                e.src_ip = None;
                e.dst_ip = None;
                e.user_agent = None;
                e.client_app = None;
                e.app = None;
                e.app_id = None;
                e.resource = None;
                e.session_id = None;
                e.correlation_id = None;
                e.request_id = None;
            },
            &mut events,
        );
        let b = live();
        drop(events);
        line += &format!(" rest={:.0}", (b - live()) as f64 / n);
        eprintln!("{line}");
    }
}

//! What one event costs in memory once held for the analysis (trimmed, remembering its
//! timeline hash; a firewall flow as a compact record when `irpack run` holds it so), per
//! source family: the analysis holds every event, so this is what the run's peak grows by
//! per event. Measured with a counting allocator that rounds each block
//! the way glibc malloc does, so the figures track resident memory, not just requested bytes.

use irpack::event::Event;
use irpack::gen::{self, Kind};
use irpack::sources::{self, ParseContext};
use irpack::timeline::flowstore::{Compactor, FlowRec, FlowStore};
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

/// Bytes held per event of `kind`, as `irpack run` keeps them for the analysis (flows,
/// accounting, VPN and admin logins compact, under a case file with no indicators; one
/// interner for the item).
fn bytes_per_event(kind: Kind) -> (usize, f64) {
    let mut data = Vec::new();
    gen::write_one(kind, 7, 4 << 20, &mut data).unwrap();
    let reg = sources::registry();
    let sha = sources::sha256_hex(&data);
    let ctx = ParseContext::default();
    let compactor = Compactor::new(&irpack::case::CaseFile::minimal("IR-MEM"));
    let before = live();
    let mut events: Vec<Event> = Vec::new();
    let mut flows = FlowStore::default();
    // One per evidence item, as `irpack run` keeps (and then drops) it.
    let mut interner = irpack::event::Interner::default();
    sources::parse_bytes_with(&reg, &data, "evidence/x", &sha, &ctx, &mut |r| {
        if let Ok(mut e) = r {
            if compactor.compact(&e) && flows.push(&e, 0) {
                return;
            }
            e.remember_hash();
            irpack::analysis::trim_for_analysis(&mut e);
            interner.event(&mut e);
            events.push(e);
        }
    });
    drop(interner);
    events.shrink_to_fit();
    flows.shrink_to_fit();
    let held = live() - before;
    let n = events.len() + flows.len();
    assert!(n > 1000, "{kind:?}: only {n} events");
    drop(events);
    drop(flows);
    (n, held as f64 / n as f64)
}

/// Bounds about 10% over what each family costs today (sign-in, UAL, RADIUS, FortiGate,
/// PAN-OS: 613 / 647 / 149 / 81 / 81 bytes), so a change that makes every held event larger, stops sharing, or
/// stops holding records compactly, is noticed. A held sign-in is now its 496-byte `Event`
/// plus two `extra` entries (96) and its user's shared strings; a UAL record the struct, its
/// targets (~90, sharing kinds, ids and names) and a few `extra` entries (~60). They were
/// 866 / 1,195 before the analysis trimmed the original time text, request, correlation and
/// (outside accounting) session ids, and `extra` keys outside the events their readers look
/// at or repeating the resource or a target, before targets shared their strings, and before
/// addresses were held in place (`ShortStr`). Sign-ins and UAL share repeated strings,
/// locations, devices and MFA details through an `Interner`, and `Event` shrank from 776 to
/// 528 bytes (they were 2,372 / 1,935). RADIUS (all accounting in the generator: a third of
/// it Wi-Fi clients whose calling station is a MAC), FortiGate and PAN-OS (flows, threat
/// logs, VPN and admin logins) are held as 80-byte compact records plus their interned
/// session ids, users and stations: RADIUS was 1,596 bytes per event held whole (928
/// interned), FortiGate 247 and PAN-OS 316 with only flows and threat logs compact, 1,184 /
/// 1,301 with every event whole, and before the trimming and the struct work 4,827 / 4,986
/// / 2,511 / 2,312 / 2,405.
#[test]
fn bytes_held_per_event() {
    eprintln!("size_of::<Event>() = {}", std::mem::size_of::<Event>());
    eprintln!("size_of::<FlowRec>() = {}", std::mem::size_of::<FlowRec>());
    assert!(
        std::mem::size_of::<FlowRec>() <= 80,
        "the compact flow record grew"
    );
    let mut over = Vec::new();
    for (kind, bound) in [
        (Kind::Signin, 675.0),
        (Kind::Ual, 712.0),
        (Kind::Radius, 165.0),
        (Kind::Fortigate, 88.0),
        (Kind::Panos, 88.0),
    ] {
        let (n, per) = bytes_per_event(kind);
        eprintln!("{kind:?}: {n} events, {per:.0} bytes per event held");
        if per > bound {
            over.push(format!("{kind:?}: {per:.0} > {bound}"));
        }
    }
    assert!(over.is_empty(), "held events grew: {over:?}");
}

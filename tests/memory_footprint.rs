//! What one event costs in memory once held for the analysis (trimmed, its timeline hash in
//! the run's table on disk; a firewall flow as a compact record on disk when `irpack run`
//! holds it so), per source family: the analysis holds every event, so this is what the run's peak
//! grows by per event. Measured with a counting allocator that rounds each block the way
//! glibc malloc does, so the figures track resident memory, not just requested bytes.

use irpack::event::Event;
use irpack::gen::{self, Kind};
use irpack::sources::{self, ParseContext};
use irpack::timeline::flowstore::{self, Compactor, FlowRec, FlowWriter};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The most `LIVE` has been since `reset_peak`.
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

/// A glibc chunk: the request plus an 8-byte header, rounded up to 16, at least 32 bytes.
fn chunk(size: usize) -> isize {
    (size + 8).div_ceil(16).max(2) as isize * 16
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(chunk(l.size()));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(chunk(l.size()), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        grew(chunk(l.size()));
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        grew(chunk(new) - chunk(l.size()));
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The tests share the allocation counter: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Bytes held per event of `kind`, as `irpack run` keeps them for the analysis (flows,
/// accounting, VPN and admin logins compact, under a case file with no indicators, their
/// records written to the on-disk store as the merge does; one interner for the item).
fn bytes_per_event(kind: Kind) -> (usize, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    gen::write_one(kind, 7, 4 << 20, &mut data).unwrap();
    let reg = sources::registry();
    let sha = sources::sha256_hex(&data);
    let ctx = ParseContext::default();
    let compactor = Compactor::new(&irpack::case::CaseFile::minimal("IR-MEM"));
    let before = live();
    let mut events: Vec<Event> = Vec::new();
    let mut writer = FlowWriter::create(&dir.path().join("flows.bin")).unwrap();
    // One per evidence item, as `irpack run` keeps (and then drops) it.
    let mut interner = irpack::event::Interner::default();
    let mut wire = Vec::new();
    let mut pos = 0;
    sources::parse_bytes_with(&reg, &data, "evidence/x", &sha, &ctx, &mut |r| {
        if let Ok(mut e) = r {
            wire.clear();
            if compactor.compact(&e) && flowstore::wire(&e, &mut wire) {
                let (t, n) = (e.time.timestamp_micros(), e.provenance.record_no);
                writer.push(pos, 0, t, n, &wire).unwrap();
                pos += 1;
                return;
            }
            // As `irpack run` holds it: the hash of its full form is in the run's table
            // on disk (`timeline::hashes`), not in the event.
            e.mark_hash_known();
            irpack::analysis::trim_for_analysis(&mut e);
            interner.event(&mut e);
            events.push(e);
        }
    });
    drop(interner);
    drop(wire);
    events.shrink_to_fit();
    let flows = writer.finish().unwrap();
    let held = live() - before;
    let n = events.len() + flows.len();
    assert!(n > 1000, "{kind:?}: only {n} events");
    drop(events);
    drop(flows);
    (n, held as f64 / n as f64)
}

/// Bounds about 10% over what each family costs today (sign-in, UAL, RADIUS, FortiGate,
/// PAN-OS: 159 / 96 / 31 / 1 / 1 bytes), so a change that makes every held event larger,
/// stops sharing, stops holding records compactly, or holds compact records in memory
/// again, is noticed. A held sign-in is its 128-byte `Event` and its share of the user's
/// strings, of its trimmed `extra` map, which equal maps share (an `Interner` keeps one
/// block per distinct map), and of its `Descr` (zone, source, operation, user agent, client
/// app, app, app id and resource), which equal combinations share likewise; a UAL record the
/// struct and its targets (~90, sharing kinds, ids and names). They were 238 / 129 with the
/// 216-byte `Event`, before the zone, source, operation, user agent, client app, app, app id
/// and resource moved from eight pointers in each event to one shared block, and the hash of
/// each held event's full form (33 bytes in the struct) moved to the run's table on disk
/// (UAL's figure counts its compact records too, so it fell by less); 278 / 143 with the
/// 256-byte `Event`, before the original time
/// text, the variant and the provenance but for the record number (none of which a rule or
/// the report reads) moved to the boxed part too; 389 / 193 with each event's `extra` its
/// own block (two entries of a sign-in 96 bytes, a UAL record's ~60); 613 / 647 with the
/// 496-byte
/// `Event`, before the facts a held event lacks (ports, destination, byte counts, ids,
/// copies, the raw record's place and hash) moved to one boxed part it does not keep and
/// targets and `extra` became thin vectors; 866 / 1,195 before the
/// analysis trimmed the original time text, request, correlation and (outside accounting)
/// session ids, and `extra` keys outside the events their readers look at or repeating the
/// resource or a target, before targets shared their strings, and before addresses were
/// held in place (`ShortStr`). Sign-ins and UAL share repeated strings, locations, devices
/// and MFA details through an `Interner`, and `Event` shrank from 776 to 528 bytes (they
/// were 2,372 / 1,935). RADIUS (all accounting in the generator: a third of it Wi-Fi
/// clients whose calling station is a MAC), FortiGate and PAN-OS (flows, threat logs, VPN
/// and admin logins) and UAL's plain activity (mail items accessed, mail sent, files
/// accessed, downloaded or synced, sharing links: UAL was 647 bytes per event with all of
/// it held whole) are compact records on disk (`FlowWriter`), so what stays in memory is
/// their interned session ids, users and stations (many distinct sessions in RADIUS, a few
/// users in the firewalls), each string once in one buffer (69 bytes per RADIUS event when
/// each was a `String` in a list and another as a map key). Held in memory as 80-byte
/// records they were 149 / 81 / 81;
/// RADIUS was 1,596 bytes per event held whole (928 interned), FortiGate 247 and PAN-OS 316
/// with only flows and threat logs compact, 1,184 / 1,301 with every event whole, and
/// before the trimming and the struct work 4,827 / 4,986 / 2,511 / 2,312 / 2,405.
#[test]
fn bytes_held_per_event() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("size_of::<Event>() = {}", std::mem::size_of::<Event>());
    assert!(std::mem::size_of::<Event>() <= 128, "the event struct grew");
    eprintln!("size_of::<FlowRec>() = {}", std::mem::size_of::<FlowRec>());
    assert!(
        std::mem::size_of::<FlowRec>() <= 80,
        "the compact flow record grew"
    );
    let mut over = Vec::new();
    for (kind, bound) in [
        (Kind::Signin, 175.0),
        (Kind::Ual, 106.0),
        (Kind::Radius, 35.0),
        (Kind::Fortigate, 8.0),
        (Kind::Panos, 8.0),
    ] {
        let (n, per) = bytes_per_event(kind);
        eprintln!("{kind:?}: {n} events, {per:.0} bytes per event held");
        if per > bound {
            over.push(format!("{kind:?}: {per:.0} > {bound}"));
        }
    }
    assert!(over.is_empty(), "held events grew: {over:?}");
}

/// `irpack run` keeps its compact records on disk (`FlowWriter`, written by the merge), so
/// memory for them does not grow with their number: written 2,000 or 200,000 times over
/// (the same sources, zones, users and sessions), the store holds the same bytes, and the
/// peak while writing and scanning them is the same (the writer's and the scan's buffers),
/// where holding them would take 80 bytes each (15.8 MB more).
#[test]
fn compact_records_are_not_held_in_memory() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut data = Vec::new();
    gen::write_one(Kind::Fortigate, 3, 1 << 20, &mut data).unwrap();
    let reg = sources::registry();
    let sha = sources::sha256_hex(&data);
    let compactor = Compactor::new(&irpack::case::CaseFile::minimal("IR-MEM"));
    let mut wires: Vec<(i64, Vec<u8>)> = Vec::new();
    sources::parse_bytes_with(
        &reg,
        &data,
        "evidence/x",
        &sha,
        &ParseContext::default(),
        &mut |r| {
            if let Ok(e) = r {
                let mut w = Vec::new();
                if compactor.compact(&e) && flowstore::wire(&e, &mut w) {
                    wires.push((e.time.timestamp_micros(), w));
                }
            }
        },
    );
    assert!(wires.len() > 500, "only {} compact records", wires.len());
    let dir = tempfile::tempdir().unwrap();
    let measure = |n: usize| -> (isize, isize) {
        let before = live();
        reset_peak();
        let mut w = FlowWriter::create(&dir.path().join(format!("flows-{n}.bin"))).unwrap();
        for i in 0..n {
            let (t, wire) = &wires[i % wires.len()];
            w.push(i as u64, 0, *t, i as u64, wire).unwrap();
        }
        let st = w.finish().unwrap();
        let held = live() - before;
        assert_eq!(st.len(), n);
        let (mut count, mut last) = (0, None);
        for (i, r) in st.iter() {
            assert_eq!(r.pos, i as u64);
            count += 1;
            last = Some(r.pos);
        }
        assert_eq!((count, last), (n, Some(n as u64 - 1)));
        assert_eq!(st.per_source().values().map(|s| s.0).sum::<u64>(), n as u64);
        let peak = PEAK.load(Ordering::Relaxed) - before;
        drop(st);
        (held, peak)
    };
    let (small_held, small_peak) = measure(2_000);
    let (big_held, big_peak) = measure(200_000);
    eprintln!("store held: {small_held} / {big_held} bytes; peak {small_peak} / {big_peak}");
    assert!(
        big_held <= small_held + 1024,
        "the store grew with its records: {small_held} -> {big_held} bytes"
    );
    assert!(
        big_peak <= small_peak + 64 * 1024,
        "the peak grew with the records: {small_peak} -> {big_peak} bytes"
    );
}

/// The bundled gazetteer is held from the analysis's first step to the end of the run, at
/// every input size: its ~34k cities in one sorted table with their names in one buffer
/// (2.4 MB with the country and state tables), where a map keyed by owned strings with a
/// list per name made it 14.5 MB. The
/// first call here is the one that builds it (nothing else in this binary locates places).
#[test]
fn gazetteer_is_small() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = live();
    let g = irpack::analysis::geo::gazetteer();
    let held = live() - before;
    eprintln!("gazetteer: {} cities, {held} bytes", g.city_count());
    assert!(g.city_count() > 30_000);
    assert!(
        held > 0,
        "the gazetteer was built before this test measured it"
    );
    assert!(held < 3 << 20, "the gazetteer holds {held} bytes");
}

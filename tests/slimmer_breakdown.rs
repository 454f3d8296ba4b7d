use irpack::event::{Event, SharedStr};
use irpack::gen::{self, Kind};
use irpack::sources::{self, ParseContext};
use std::collections::{BTreeMap, HashSet};

fn chunk(size: usize) -> usize {
    if size == 0 { return 0; }
    (size + 8).div_ceil(16).max(2) * 16
}
fn s(x: &String) -> usize { chunk(x.capacity()) }
fn os(x: &Option<String>) -> usize { x.as_ref().map(s).unwrap_or(0) }
fn ss(x: &SharedStr, seen: &mut HashSet<usize>) -> usize {
    let p = x.as_str().as_ptr() as usize;
    if !seen.insert(p) { return 0; }
    // Arc<String>: 16 counts + 24 String
    chunk(40) + chunk(x.len())
}
fn oss(x: &Option<SharedStr>, seen: &mut HashSet<usize>) -> usize { x.as_ref().map(|v| ss(v, seen)).unwrap_or(0) }
fn val(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(x) => s(x),
        serde_json::Value::Array(a) => chunk(a.capacity() * 32) + a.iter().map(val).sum::<usize>(),
        serde_json::Value::Object(m) => {
            // BTreeMap leaf node: 11 * (24 + 32) + ~ header ≈ 632
            let nodes = m.len().div_ceil(11).max(1);
            nodes * chunk(632) + m.iter().map(|(k, v)| s(k) + val(v)).sum::<usize>()
        }
        _ => 0,
    }
}

fn breakdown(kind: Kind) {
    let mut data = Vec::new();
    gen::write_one(kind, 7, 4 << 20, &mut data).unwrap();
    let reg = sources::registry();
    let sha = sources::sha256_hex(&data);
    let ctx = ParseContext::default();
    let mut events: Vec<Event> = Vec::new();
    let mut interner = irpack::event::Interner::default();
    sources::parse_bytes_with(&reg, &data, "evidence/x", &sha, &ctx, &mut |r| {
        if let Ok(mut e) = r {
            e.remember_hash();
            irpack::analysis::trim_for_analysis(&mut e);
            interner.event(&mut e);
            events.push(e);
        }
    });
    let n = events.len() as f64;
    let mut b: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut extra_keys: BTreeMap<String, (usize, usize, HashSet<String>)> = BTreeMap::new();
    for e in &events {
        *b.entry("struct").or_default() += std::mem::size_of::<Event>();
        *b.entry("time_original").or_default() += s(&e.time_original);
        let mut sh = 0;
        for x in [&e.time_zone, &e.source, &e.variant, &e.action, &e.operation] { sh += ss(x, &mut seen); }
        *b.entry("shared req").or_default() += sh;
        for (name, x) in [("reason", &e.reason), ("user", &e.user), ("user_id", &e.user_id), ("user_agent", &e.user_agent), ("client_app", &e.client_app), ("app", &e.app), ("app_id", &e.app_id), ("resource", &e.resource)] {
            *b.entry(name).or_default() += oss(x, &mut seen);
        }
        *b.entry("src_ip").or_default() += os(&e.src_ip);
        *b.entry("dst_ip").or_default() += os(&e.dst_ip);
        *b.entry("session_id").or_default() += os(&e.session_id);
        *b.entry("correlation_id").or_default() += os(&e.correlation_id);
        *b.entry("request_id").or_default() += os(&e.request_id);
        let mut t = chunk(e.targets.capacity() * std::mem::size_of::<irpack::event::Target>());
        for x in &e.targets { t += oss(&x.kind, &mut seen) + oss(&x.id, &mut seen) + oss(&x.name, &mut seen) + chunk(x.modified.capacity()*72) + x.modified.iter().map(|m| s(&m.name)+os(&m.old)+os(&m.new)).sum::<usize>(); }
        *b.entry("targets").or_default() += t;
        if let Some(g) = &e.geo { if seen.insert(std::sync::Arc::as_ptr(g) as usize) { *b.entry("geo").or_default() += chunk(16 + std::mem::size_of_val(&**g)) + os(&g.city)+os(&g.state)+os(&g.country); } }
        if let Some(g) = &e.device { if seen.insert(std::sync::Arc::as_ptr(g) as usize) { *b.entry("device").or_default() += chunk(16 + std::mem::size_of_val(&**g)) + os(&g.id)+os(&g.name)+os(&g.os)+os(&g.browser)+os(&g.trust_type); } }
        if let Some(g) = &e.mfa { if seen.insert(std::sync::Arc::as_ptr(g) as usize) { *b.entry("mfa").or_default() += chunk(16 + std::mem::size_of_val(&**g)) + os(&g.requirement)+os(&g.method)+os(&g.detail); } }
        let mut xv = 0; let mut xk = 0;
        let ev = serde_json::to_value(&e.extra).unwrap();
        let m = ev.as_object().cloned().unwrap_or_default();
        xv += chunk(m.len() * 40);
        for (k, v) in e.extra.iter() {
            xk += ss(k, &mut seen);
            let vb = val(v);
            xv += vb;
            let ent = extra_keys.entry(k.to_string()).or_default();
            ent.0 += 1; ent.1 += vb;
            if ent.2.len() < 2000 { ent.2.insert(v.to_string()); }
        }
        *b.entry("extra vec+values").or_default() += xv;
        *b.entry("extra keys").or_default() += xk;
        let mut p = 0;
        for pr in std::iter::once(&e.provenance).chain(e.also_seen_in.iter()) {
            p += ss(&pr.evidence_sha256, &mut seen) + ss(&pr.evidence_path, &mut seen);
        }
        p += chunk(e.also_seen_in.capacity() * std::mem::size_of::<irpack::event::Provenance>());
        *b.entry("provenance heap").or_default() += p;
    }
    let total: usize = b.values().sum();
    eprintln!("== {kind:?}: {} events, est {:.0} B/event", events.len(), total as f64 / n);
    for (k, v) in &b { if *v > 0 { eprintln!("  {k:20} {:8.1}", *v as f64 / n); } }
    for (k, (c, bytes, vals)) in &extra_keys { eprintln!("  extra[{k}] present {:.2} avg {:.1} B, distinct {}", *c as f64 / n, *bytes as f64 / *c as f64, vals.len()); }
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events { *ops.entry(format!("{}/{}", e.action, e.operation)).or_default() += 1; }
    eprintln!("  ops: {}", ops.len());
    for i in [0usize, 1, 2, events.len()/2] { if let Some(e) = events.get(i) { eprintln!("  sample: {}", e.canonical_json()); } }
    eprintln!("  size_of Event {} Target {} Provenance {} Extra {}", std::mem::size_of::<Event>(), std::mem::size_of::<irpack::event::Target>(), std::mem::size_of::<irpack::event::Provenance>(), std::mem::size_of::<irpack::event::Extra>());
}

#[test]
fn breakdown_ual_signin() {
    breakdown(Kind::Ual);
    breakdown(Kind::Signin);
}

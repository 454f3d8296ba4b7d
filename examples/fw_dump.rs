//! Prints what irpack makes of a firewall log file: one JSON event or rejection per line.
//! `cargo run --example fw_dump -- FILE [ZONE]`
use irpack::sources::{self, ParseContext};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: fw_dump FILE [ZONE]");
        std::process::exit(2);
    };
    let mut ctx = ParseContext::default();
    if let Some(z) = args.next() {
        ctx.default_zone = z.parse().ok();
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let reg = sources::registry();
    let p = sources::parse_bytes(&reg, &bytes, &path, &sources::sha256_hex(&bytes), &ctx);
    println!(
        "format={:?} events={} rejected={}",
        p.format,
        p.events.len(),
        p.rejected.len()
    );
    for e in &p.events {
        println!("{}", serde_json::to_string(e).unwrap_or_default());
    }
    for r in &p.rejected {
        println!("REJECT {r}");
    }
}

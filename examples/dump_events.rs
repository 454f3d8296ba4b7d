//! Prints the events irpack reads from a file (one JSON per line) and the rejections.
use irpack::sources::{self, ParseContext};

fn main() {
    let path = std::env::args().nth(1).expect("usage: dump_events <file>");
    let bytes = std::fs::read(&path).expect("read");
    let reg = sources::registry();
    let sha = sources::sha256_hex(&bytes);
    let p = sources::parse_bytes(&reg, &bytes, &path, &sha, &ParseContext::default());
    eprintln!(
        "format={:?} events={} rejected={} decoded_from={:?}",
        p.format,
        p.events.len(),
        p.rejected.len(),
        p.decoded_from
    );
    for e in &p.events {
        println!("{}", serde_json::to_string(e).unwrap());
    }
    for r in &p.rejected {
        eprintln!("REJECT {r}");
    }
}

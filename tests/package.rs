//! Package stage: the BagIt ZIP is deterministic, verifies untouched, is accepted by
//! `sha256sum -c` and the Python `bagit` validator, and `verify` catches each kind of
//! tampering with the right message; signing, custody transfers, redaction.

mod fixture_case;

use fixture_case as fx;
use irpack::package::verify::{self, VerifyOptions, VerifyReport};
use irpack::package::{self, PackageError, PackageInfo, PackageOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn packaged(dir: &Path, pkg: &PackageOptions) -> (fx::Case, PackageInfo) {
    let mut case = fx::build(&dir.join("case"), "Move to RSS");
    let info = irpack::pipeline::report_and_package(&mut case.out, &case.concl, &case.opts, pkg)
        .expect("packaging works");
    (case, info)
}

fn check(p: &Path) -> VerifyReport {
    verify::verify(p, &VerifyOptions::default()).unwrap()
}

fn listing(r: &VerifyReport) -> String {
    r.problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Assert that some problem is about `file` and says `says`.
fn caught(r: &VerifyReport, file: &str, says: &str) {
    assert!(
        r.problems
            .iter()
            .any(|p| p.file == file && p.message.contains(says)),
        "expected a problem on {file} saying {says:?}; got:\n{}",
        listing(r)
    );
}

fn zip_path(info: &PackageInfo) -> PathBuf {
    info.package.clone().unwrap()
}

#[test]
fn untouched_package_verifies_as_zip_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (case, info) = packaged(dir.path(), &PackageOptions::default());
    let zip = zip_path(&info);
    assert_eq!(zip, case.out.case_dir.join("IR-2024-0042.zip"));
    let r = check(&zip);
    assert!(r.ok(), "{}", listing(&r));
    let checked = r.checked.join("\n");
    assert!(checked.contains("11 raw record(s) re-hashed"), "{checked}");
    assert!(checked.contains("custody \"packaged\" entry pins this manifest"));
    assert!(checked.contains("3 original(s) match their acquisition hash"));

    let root = fx::extract(&zip, &dir.path().join("x"));
    let r = check(&root);
    assert!(r.ok(), "{}", listing(&r));
    // The folder holding the bag works too.
    assert!(check(&dir.path().join("x")).ok());

    // Layout from DESIGN.md; custody is a tag file listed in the tag manifest.
    for f in [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "custody/custody.jsonl",
        "data/evidence/exports/signins.jsonl",
        "data/evidence/exports/radius.zip",
        "data/timeline/timeline.jsonl",
        "data/analysis/findings.json",
        "data/analysis/classification.json",
        "data/analysis/regulatory.json",
        "data/report/report.md",
        "data/report/report.html",
        "data/report/notification.md",
        "data/report/handoff.md",
        "data/collected.json",
    ] {
        assert!(root.join(f).is_file(), "{f} missing");
    }
    let tagm = std::fs::read_to_string(root.join("tagmanifest-sha256.txt")).unwrap();
    assert!(tagm.contains("  custody/custody.jsonl\n"));
    // Originals byte-identical.
    assert_eq!(
        std::fs::read(root.join("data/evidence/exports/audit-utf16.json")).unwrap(),
        std::fs::read(case.out.case_dir.join("evidence/exports/audit-utf16.json")).unwrap()
    );
    // bag-info.
    let info_txt = std::fs::read_to_string(root.join("bag-info.txt")).unwrap();
    for l in [
        "Source-Organization: Contoso Ltd\n",
        "External-Identifier: IR-2024-0042\n",
        "Bagging-Date: 2024-05-02\n",
        "Contact-Name: Dana Examiner\n",
        "Bag-Software-Agent: irpack ",
        "Internal-Sender-Description: ",
    ] {
        assert!(info_txt.contains(l), "{l:?} not in\n{info_txt}");
    }
    assert_eq!(
        irpack::package::bagit::bag_info_value(&info_txt, "Payload-Oxum"),
        info.payload_oxum
    );
    // The bag's custody log ends with the packaged entry; the case folder's goes on.
    let bag_custody =
        irpack::evidence::custody::read_and_verify(&root.join("custody/custody.jsonl")).unwrap();
    assert_eq!(bag_custody.last().unwrap().action, "packaged");
    assert_eq!(bag_custody[bag_custody.len() - 2].action, "reported");
    let case_custody = fx::custody_entries(&case.out.case_dir);
    let last = case_custody.last().unwrap();
    assert_eq!(last.action, "package_written");
    assert_eq!(
        last.details["sha256"].as_str(),
        info.package_sha256.as_deref()
    );
    assert_eq!(
        last.details["tagmanifest_sha256"].as_str().unwrap(),
        irpack::sources::sha256_hex(tagm.as_bytes())
    );
    // ZIP entries sorted, under the case id, with the clock as their time.
    let mut a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let names: Vec<String> = (0..a.len())
        .map(|i| a.by_index(i).unwrap().name().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.iter().all(|n| n.starts_with("IR-2024-0042/")));
    let m = a.by_index(0).unwrap();
    let t = m.last_modified().unwrap();
    assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2024, 5, 2, 9));
}

#[test]
fn manifest_passes_sha256sum() {
    if Command::new("sha256sum").arg("--version").output().is_err() {
        eprintln!("NOTE: sha256sum not found; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, info) = packaged(dir.path(), &PackageOptions::default());
    let root = fx::extract(&zip_path(&info), &dir.path().join("x"));
    for m in ["manifest-sha256.txt", "tagmanifest-sha256.txt"] {
        let out = Command::new("sha256sum")
            .args(["-c", "--strict", m])
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sha256sum -c {m}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn python_bagit_validates_the_bag() {
    let importable = Command::new("python3")
        .args(["-c", "import bagit"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        eprintln!(
            "NOTE: Python bagit not importable (pip install bagit); BagIt validation skipped"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, info) = packaged(
        dir.path(),
        &PackageOptions {
            redact: true,
            ..Default::default()
        },
    );
    for (zip, sub) in [
        (zip_path(&info), "x"),
        (info.redacted.clone().unwrap(), "r"),
    ] {
        let root = fx::extract(&zip, &dir.path().join(sub));
        let out = Command::new("python3")
            .args(["-m", "bagit", "--validate"])
            .arg(&root)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && log.contains("is valid"),
            "bagit.py --validate {}: {log}",
            root.display()
        );
        // And it notices a change.
        std::fs::write(root.join("data/report/report.md"), "changed").unwrap();
        let out = Command::new("python3")
            .args(["-m", "bagit", "--validate"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(!out.status.success(), "bagit.py accepted a changed bag");
    }
}

#[test]
fn same_inputs_case_and_clock_give_identical_zip() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (_, ia) = packaged(a.path(), &PackageOptions::default());
    let (_, ib) = packaged(b.path(), &PackageOptions::default());
    assert_eq!(ia.package_sha256, ib.package_sha256);
    assert_eq!(
        std::fs::read(zip_path(&ia)).unwrap(),
        std::fs::read(zip_path(&ib)).unwrap()
    );
    // A different clock gives a different package.
    let c = tempfile::tempdir().unwrap();
    let mut case = fx::build(&c.path().join("case"), "Move to RSS");
    case.opts.now = fx::later(1);
    let ic = irpack::pipeline::report_and_package(
        &mut case.out,
        &case.concl,
        &case.opts,
        &Default::default(),
    )
    .unwrap();
    assert_ne!(ia.package_sha256, ic.package_sha256);
}

/// `irpack run` frees the held events before deflating: the package is the same, and the
/// events are gone afterwards, unless a redacted copy still needs them.
#[test]
fn releasing_held_events_changes_nothing_in_the_package() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (kept, ia) = packaged(a.path(), &PackageOptions::default());
    let release = PackageOptions {
        release_events: true,
        ..Default::default()
    };
    let (released, ib) = packaged(b.path(), &release);
    assert!(!kept.out.events.is_empty());
    assert!(released.out.events.is_empty());
    assert_eq!(
        std::fs::read(zip_path(&ia)).unwrap(),
        std::fs::read(zip_path(&ib)).unwrap()
    );
    let c = tempfile::tempdir().unwrap();
    let (redacting, ic) = packaged(
        c.path(),
        &PackageOptions {
            redact: true,
            ..release
        },
    );
    assert!(!redacting.out.events.is_empty());
    assert!(ic.redacted.is_some());
    assert_eq!(ia.package_sha256, ic.package_sha256);
}

#[test]
fn end_to_end_run_is_deterministic_and_verifies() {
    let inputs = tempfile::tempdir().unwrap();
    let in_dir = inputs.path().join("exports");
    std::fs::create_dir_all(&in_dir).unwrap();
    std::fs::write(in_dir.join("notes.txt"), "nothing a parser knows\n").unwrap();
    std::fs::write(in_dir.join("[x](javascript:alert(1)).log"), "a,b\n1,2\n").unwrap();
    let mut shas = Vec::new();
    for run in ["one", "two"] {
        let out_parent = tempfile::tempdir().unwrap();
        let opts = irpack::pipeline::RunOptions {
            inputs: vec![in_dir.clone()],
            out: out_parent.path().join(run),
            case: irpack::case::CaseFile::minimal("IR-E2E"),
            now: fx::clock(),
            examiner: Some("Dana Examiner".into()),
            zones: Default::default(),
            force: false,
            ..Default::default()
        };
        let mut out = irpack::pipeline::collect(&opts).unwrap();
        let concl = irpack::pipeline::analyze(&mut out, &opts).unwrap();
        let info = irpack::pipeline::report_and_package(
            &mut out,
            &concl,
            &opts,
            &PackageOptions::default(),
        )
        .unwrap();
        let r = check(&zip_path(&info));
        assert!(r.ok(), "{}", listing(&r));
        let md = std::fs::read_to_string(opts.out.join("report/report.md")).unwrap();
        assert!(
            md.contains(r"\[x\](javascript:alert(1)).log"),
            "file name escaped"
        );
        shas.push(info.package_sha256.unwrap());
    }
    assert_eq!(shas[0], shas[1]);
}

/// Package, extract, apply `damage` to the extracted bag, verify the folder.
fn tampered(damage: impl FnOnce(&Path)) -> VerifyReport {
    let dir = tempfile::tempdir().unwrap();
    let (_, info) = packaged(dir.path(), &PackageOptions::default());
    let root = fx::extract(&zip_path(&info), &dir.path().join("x"));
    damage(&root);
    let r = check(&root);
    assert!(!r.ok(), "tampering not caught");
    r
}

/// Flip the lowest bit of the byte at `at` (or the middle byte).
fn flip(path: &Path, at: Option<usize>) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.unwrap_or(b.len() / 2);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// Change the first character of a manifest (a hex digit) to another hex digit.
fn other_digit(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    b[0] = if b[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(path, b).unwrap();
}

/// Offset of the first occurrence of `needle` in a file.
fn offset_of(path: &Path, needle: &str) -> usize {
    let b = std::fs::read(path).unwrap();
    b.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle:?} not in {}", path.display()))
}

#[test]
fn evidence_flip_is_caught_three_ways() {
    let r = tampered(|root| {
        let p = root.join("data/evidence/exports/signins.jsonl");
        let at = offset_of(&p, "203.0.113.50");
        flip(&p, Some(at + 2));
    });
    let f = "data/evidence/exports/signins.jsonl";
    caught(&r, f, "content differs from manifest-sha256.txt line");
    caught(&r, f, "differs from acquisition");
    caught(
        &r,
        "data/timeline/timeline.jsonl",
        "raw record at evidence/exports/signins.jsonl bytes",
    );
    caught(&r, f, "events cite evidence sha256");
}

#[test]
fn decoded_and_zipped_evidence_flips_are_caught() {
    let r = tampered(|root| {
        let p = root.join("data/evidence/exports/audit-utf16.json");
        let at = offset_of(&p, "R\0e\0v\0o\0k\0e\0");
        flip(&p, Some(at));
    });
    caught(
        &r,
        "data/evidence/exports/audit-utf16.json",
        "content differs from manifest-sha256.txt",
    );
    caught(
        &r,
        "data/timeline/timeline.jsonl",
        "raw record at evidence/exports/audit-utf16.json",
    );

    // Inside the compressed member data (after the 30-byte header and the 16-byte name).
    let r = tampered(|root| flip(&root.join("data/evidence/exports/radius.zip"), Some(70)));
    caught(
        &r,
        "data/evidence/exports/radius.zip",
        "content differs from manifest-sha256.txt",
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.file == "data/timeline/timeline.jsonl"
                && p.message.contains("radius.zip!/logs/detail-2024")),
        "{}",
        listing(&r)
    );
}

#[test]
fn timeline_analysis_and_report_flips_are_caught() {
    let r = tampered(|root| flip(&root.join("data/timeline/timeline.jsonl"), None));
    caught(
        &r,
        "data/timeline/timeline.jsonl",
        "content differs from manifest-sha256.txt",
    );
    caught(&r, "data/timeline/timeline.jsonl", "timeline chain broken");
    assert!(r
        .problems
        .iter()
        .any(|p| p.file == "data/timeline/timeline.jsonl" && p.line.is_some()));

    let r = tampered(|root| flip(&root.join("data/analysis/findings.json"), None));
    caught(
        &r,
        "data/analysis/findings.json",
        "content differs from manifest-sha256.txt",
    );
    assert_eq!(r.problems.len(), 1, "{}", listing(&r));

    let r = tampered(|root| flip(&root.join("data/report/report.md"), None));
    caught(
        &r,
        "data/report/report.md",
        "content differs from manifest-sha256.txt",
    );
    assert_eq!(r.problems.len(), 1, "{}", listing(&r));
}

#[test]
fn custody_flip_and_reorder_are_caught() {
    let r = tampered(|root| {
        let p = root.join("custody/custody.jsonl");
        let at = offset_of(&p, "Dana Examiner");
        flip(&p, Some(at));
    });
    caught(
        &r,
        "custody/custody.jsonl",
        "content differs from tagmanifest-sha256.txt",
    );
    caught(
        &r,
        "custody/custody.jsonl",
        "custody chain broken: entry was altered",
    );
    assert_eq!(
        r.problems
            .iter()
            .find(|p| p.message.contains("chain broken"))
            .unwrap()
            .line,
        Some(1)
    );

    let r = tampered(|root| {
        let p = root.join("custody/custody.jsonl");
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(2, 3);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    });
    caught(&r, "custody/custody.jsonl", "removed or reordered");
    caught(
        &r,
        "custody/custody.jsonl",
        "content differs from tagmanifest-sha256.txt",
    );
}

#[test]
fn manifest_tagmanifest_and_bag_info_flips_are_caught() {
    // A digit of the first payload hash.
    let r = tampered(|root| other_digit(&root.join("manifest-sha256.txt")));
    caught(
        &r,
        "manifest-sha256.txt",
        "content differs from tagmanifest-sha256.txt",
    );
    caught(
        &r,
        "custody/custody.jsonl",
        "\"packaged\" entry records manifest sha256",
    );
    caught(
        &r,
        "data/analysis/actions.json",
        "content differs from manifest-sha256.txt line 1: expected sha256",
    );

    let r = tampered(|root| other_digit(&root.join("tagmanifest-sha256.txt")));
    caught(
        &r,
        "bag-info.txt",
        "content differs from tagmanifest-sha256.txt line 1",
    );
    // A byte that breaks the digest's form is named by line.
    let r = tampered(|root| {
        let p = root.join("manifest-sha256.txt");
        let mut b = std::fs::read(&p).unwrap();
        b[0] = b'g';
        std::fs::write(&p, b).unwrap();
    });
    caught(&r, "manifest-sha256.txt", "not a SHA-256 hex digest");
    assert_eq!(
        r.problems
            .iter()
            .find(|p| p.message.contains("hex digest"))
            .unwrap()
            .line,
        Some(1)
    );

    let r = tampered(|root| {
        let p = root.join("bag-info.txt");
        let at = offset_of(&p, "Contoso");
        flip(&p, Some(at));
    });
    caught(
        &r,
        "bag-info.txt",
        "content differs from tagmanifest-sha256.txt",
    );
    assert_eq!(r.problems.len(), 1, "{}", listing(&r));

    let r = tampered(|root| {
        let p = root.join("bag-info.txt");
        let text = std::fs::read_to_string(&p).unwrap();
        let oxum = irpack::package::bagit::bag_info_value(&text, "Payload-Oxum").unwrap();
        std::fs::write(&p, text.replace(&oxum, "1.1")).unwrap();
    });
    caught(&r, "bag-info.txt", "Payload-Oxum says 1.1");
}

#[test]
fn deleted_and_added_files_are_caught() {
    let r = tampered(|root| std::fs::remove_file(root.join("data/report/handoff.md")).unwrap());
    caught(
        &r,
        "data/report/handoff.md",
        "listed in manifest-sha256.txt",
    );
    caught(&r, "data/report/handoff.md", "but missing from the bag");
    caught(&r, "bag-info.txt", "Payload-Oxum says");

    let r =
        tampered(|root| std::fs::write(root.join("data/evidence/extra.log"), "planted").unwrap());
    caught(&r, "data/evidence/extra.log", "not in manifest-sha256.txt");

    let r = tampered(|root| std::fs::write(root.join("notes.txt"), "planted").unwrap());
    caught(
        &r,
        "notes.txt",
        "tag file not listed in tagmanifest-sha256.txt",
    );
    assert_eq!(r.problems.len(), 1, "{}", listing(&r));
}

#[test]
fn zip_entries_changed_inside_the_archive_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (_, info) = packaged(dir.path(), &PackageOptions::default());
    let src = zip_path(&info);
    let dst = dir.path().join("changed.zip");
    {
        let mut a = zip::ZipArchive::new(std::fs::File::open(&src).unwrap()).unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(&dst).unwrap());
        for i in 0..a.len() {
            let mut m = a.by_index(i).unwrap();
            let name = m.name().to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut m, &mut bytes).unwrap();
            if name.ends_with("data/report/notification.md") {
                bytes.extend_from_slice(b"\nPS: all clear.\n");
            }
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, &bytes).unwrap();
        }
        w.start_file("elsewhere/x.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.finish().unwrap();
    }
    let r = check(&dst);
    caught(
        &r,
        "data/report/notification.md",
        "content differs from manifest-sha256.txt",
    );
    caught(&r, "elsewhere/x.txt", "outside the bag folder");
}

#[test]
fn verify_cli_exit_codes_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (_, info) = packaged(dir.path(), &PackageOptions::default());
    let bin = env!("CARGO_BIN_EXE_irpack");
    let ok = Command::new(bin)
        .arg("verify")
        .arg(zip_path(&info))
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let root = fx::extract(&zip_path(&info), &dir.path().join("x"));
    flip(&root.join("data/report/report.html"), None);
    let bad = Command::new(bin).arg("verify").arg(&root).output().unwrap();
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(
        out.contains("DIFFERS: data/report/report.html: content differs from manifest-sha256.txt"),
        "{out}"
    );
    let json = Command::new(bin)
        .args(["verify", "--json"])
        .arg(&root)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["problems"][0]["file"], "data/report/report.html");
    let missing = Command::new(bin)
        .arg("verify")
        .arg(dir.path().join("nope.zip"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn signed_package_checks_origin_with_the_given_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signer.key");
    let vk = package::sign::keygen(&key, false).unwrap();
    let (_, info) = packaged(
        dir.path(),
        &PackageOptions {
            sign_key: Some(key.clone()),
            ..Default::default()
        },
    );
    assert!(info.signed);
    let zip = zip_path(&info);
    let pubkey = package::sign::pub_path(&key);
    let r = verify::verify(
        &zip,
        &VerifyOptions {
            pubkey: Some(pubkey.clone()),
        },
    )
    .unwrap();
    assert!(r.ok(), "{}", listing(&r));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(r
        .checked
        .iter()
        .any(|c| c.contains(&hex::encode(vk.to_bytes()))));
    // Without the key: the embedded one, with a warning that it proves integrity only.
    let r = check(&zip);
    assert!(r.ok());
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("integrity only, not who signed")));
    // Another signer's key fails.
    let other = dir.path().join("other.key");
    package::sign::keygen(&other, false).unwrap();
    let r = verify::verify(
        &zip,
        &VerifyOptions {
            pubkey: Some(package::sign::pub_path(&other)),
        },
    )
    .unwrap();
    caught(&r, "tagmanifest-sha256.txt.sig", "signature does not match");
    // Re-sealing the manifests after tampering does not survive the signature.
    let root = fx::extract(&zip, &dir.path().join("x"));
    std::fs::write(root.join("data/report/report.md"), "all clear\n").unwrap();
    let m = std::fs::read_to_string(root.join("manifest-sha256.txt")).unwrap();
    let new_sha = irpack::sources::sha256_hex(b"all clear\n");
    let m: String = m
        .lines()
        .map(|l| {
            if l.ends_with("  data/report/report.md") {
                format!("{new_sha}  data/report/report.md\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(root.join("manifest-sha256.txt"), &m).unwrap();
    let tm = std::fs::read_to_string(root.join("tagmanifest-sha256.txt")).unwrap();
    let tm: String = tm
        .lines()
        .map(|l| {
            if l.ends_with("  manifest-sha256.txt") {
                format!(
                    "{}  manifest-sha256.txt\n",
                    irpack::sources::sha256_hex(m.as_bytes())
                )
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(root.join("tagmanifest-sha256.txt"), tm).unwrap();
    let r = verify::verify(
        &root,
        &VerifyOptions {
            pubkey: Some(pubkey),
        },
    )
    .unwrap();
    caught(&r, "tagmanifest-sha256.txt.sig", "signature does not match");
    // An unsigned package fails when a key is demanded.
    let d2 = tempfile::tempdir().unwrap();
    let (_, plain) = packaged(d2.path(), &PackageOptions::default());
    let r = verify::verify(
        &zip_path(&plain),
        &VerifyOptions {
            pubkey: Some(package::sign::pub_path(&key)),
        },
    )
    .unwrap();
    caught(&r, "tagmanifest-sha256.txt.sig", "not signed");
}

#[test]
fn existing_package_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, info) = packaged(dir.path(), &PackageOptions::default());
    let before = std::fs::read(zip_path(&info)).unwrap();
    let entries_before = fx::custody_entries(&case.out.case_dir).len();
    let err = irpack::package::report_and_package(
        &mut case.out,
        &case.concl,
        case.opts.now,
        None,
        &PackageOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("exists; use --force"), "{err}");
    assert_eq!(std::fs::read(zip_path(&info)).unwrap(), before);
    assert_eq!(
        fx::custody_entries(&case.out.case_dir).len(),
        entries_before,
        "a refused run leaves no custody entry"
    );
    let again = irpack::package::report_and_package(
        &mut case.out,
        &case.concl,
        case.opts.now,
        None,
        &PackageOptions {
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    let r = check(&zip_path(&again));
    assert!(r.ok(), "{}", listing(&r));
    let leftovers: Vec<_> = std::fs::read_dir(&case.out.case_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn changed_evidence_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = fx::build(&dir.path().join("case"), "x");
    std::fs::write(
        case.out.case_dir.join("evidence/exports/signins.jsonl"),
        "edited\n",
    )
    .unwrap();
    let err = irpack::pipeline::report_and_package(
        &mut case.out,
        &case.concl,
        &case.opts,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            irpack::pipeline::PipelineError::Package(PackageError::EvidenceChanged { .. })
        ),
        "{err}"
    );
    assert!(!case.out.case_dir.join("IR-2024-0042.zip").exists());
}

#[test]
fn no_package_writes_only_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (case, info) = packaged(
        dir.path(),
        &PackageOptions {
            no_package: true,
            ..Default::default()
        },
    );
    assert!(info.package.is_none());
    assert!(!case.out.case_dir.join("IR-2024-0042.zip").exists());
    for f in ["report.md", "report.html", "notification.md", "handoff.md"] {
        assert!(case.out.case_dir.join("report").join(f).is_file());
    }
    assert_eq!(
        fx::custody_entries(&case.out.case_dir)
            .last()
            .unwrap()
            .action,
        "reported"
    );
}

#[test]
fn custody_transfer_appends_a_chained_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (case, _) = packaged(dir.path(), &PackageOptions::default());
    let cd = &case.out.case_dir;
    let e = package::record_transfer(
        cd,
        fx::later(2),
        &fx::actor(),
        "Dana Examiner",
        "Evidence locker 3",
        "long-term storage",
    )
    .unwrap();
    let all = fx::custody_entries(cd);
    assert_eq!(all.last().unwrap(), &e);
    assert_eq!(e.action, "transfer");
    assert_eq!(e.details["to"], "Evidence locker 3");
    assert_eq!(e.prev_sha256, all[all.len() - 2].sha256);
    // Through the CLI.
    let out = Command::new(env!("CARGO_BIN_EXE_irpack"))
        .arg("custody")
        .arg(cd)
        .args([
            "transfer",
            "--from",
            "Evidence locker 3",
            "--to",
            "Counsel",
            "--purpose",
            "legal review",
            "--now",
            "2024-05-03T10:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = fx::custody_entries(cd).pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.time.as_str()),
        ("transfer", "2024-05-03T10:00:00Z")
    );
    // A broken chain refuses new entries.
    let p = cd.join("custody.jsonl");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("Dana Examiner", "Dana Examinor", 1);
    std::fs::write(&p, text).unwrap();
    assert!(package::record_transfer(cd, fx::later(3), &fx::actor(), "a", "b", "c").is_err());
    // Not a case folder.
    assert!(
        package::record_transfer(dir.path(), fx::later(3), &fx::actor(), "a", "b", "c").is_err()
    );
}

#[test]
fn redacted_copy_hides_identities_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key");
    let pkg = PackageOptions {
        redact: true,
        redact_key: Some(key.clone()),
        ..Default::default()
    };
    let (case, info) = packaged(&dir.path().join("a"), &pkg);
    let red = info.redacted.clone().unwrap();
    assert_eq!(red, case.out.case_dir.join("IR-2024-0042-redacted.zip"));
    assert!(key.is_file(), "key created outside the package");
    let r = check(&red);
    assert!(r.ok(), "{}", listing(&r));

    let mut a = zip::ZipArchive::new(std::fs::File::open(&red).unwrap()).unwrap();
    let mut all = String::new();
    for i in 0..a.len() {
        let mut m = a.by_index(i).unwrap();
        let name = m.name().to_string();
        assert!(
            !name.contains("/data/evidence/"),
            "original evidence in the redacted copy: {name}"
        );
        assert!(!name.ends_with(".key"));
        let mut s = String::new();
        std::io::Read::read_to_string(&mut m, &mut s).unwrap();
        all.push_str(&s);
    }
    for original in [
        fx::VICTIM,
        fx::OTHER,
        "admin@contoso.com",
        fx::ATTACKER_IP,
        fx::HOME_IP,
        "10.8.0.5",
    ] {
        assert!(!all.contains(original), "{original} survived redaction");
    }
    assert!(all.contains("@redacted.invalid"));
    assert!(all.contains("## Key timeline"), "the report is still there");

    // Same key, same input → same pseudonyms (a second case folder); another key differs.
    let (_, info2) = packaged(&dir.path().join("b"), &pkg);
    let md = |zip: &Path| {
        let mut a = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
        let mut m = a
            .by_name("IR-2024-0042-redacted/data/report/report.md")
            .unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut m, &mut s).unwrap();
        s
    };
    assert_eq!(md(&red), md(&info2.redacted.unwrap()));
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(case.out.case_dir.join("redaction-map.json")).unwrap(),
    )
    .unwrap();
    let alice = map[format!("Email:{}", fx::VICTIM)]
        .as_str()
        .unwrap()
        .to_string();
    assert!(md(&red).contains(&alice));
    let (_, info3) = packaged(
        &dir.path().join("c"),
        &PackageOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert!(!md(&info3.redacted.unwrap()).contains(&alice));
    // The custody log records the copy without the key.
    let last = fx::custody_entries(&case.out.case_dir).pop().unwrap();
    assert_eq!(last.action, "redacted_copy_written");
    let keytext = std::fs::read_to_string(&key).unwrap();
    let keyhex = keytext.lines().last().unwrap();
    assert!(!serde_json::to_string(&last).unwrap().contains(keyhex));
}

#[test]
fn cli_run_signs_redacts_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_irpack");
    let key = dir.path().join("k");
    let kg = Command::new(bin)
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        kg.status.success(),
        "{}",
        String::from_utf8_lossy(&kg.stderr)
    );
    let again = Command::new(bin)
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "keygen does not overwrite");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("export.csv"),
        "user,ip\nalice@contoso.com,203.0.113.50\n",
    )
    .unwrap();
    let out = dir.path().join("case");
    let run = Command::new(bin)
        .arg("run")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args([
            "--case-id",
            "IR-CLI",
            "--now",
            "2024-05-02T09:00:00Z",
            "--redact",
            "--sign-key",
        ])
        .arg(&key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("package: ") && stdout.contains("(signed)"),
        "{stdout}"
    );
    assert!(out.join("IR-CLI.zip").is_file() && out.join("IR-CLI-redacted.zip").is_file());
    let v = Command::new(bin)
        .arg("verify")
        .arg(out.join("IR-CLI.zip"))
        .arg("--pubkey")
        .arg(package::sign::pub_path(&key))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // The evidence mentions an address and an IP; the redacted copy carries no evidence.
    let mut a = zip::ZipArchive::new(std::fs::File::open(out.join("IR-CLI-redacted.zip")).unwrap())
        .unwrap();
    for i in 0..a.len() {
        let mut m = a.by_index(i).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut m, &mut s).unwrap();
        assert!(
            !s.contains("alice@contoso.com") && !s.contains("203.0.113.50"),
            "{}",
            m.name()
        );
    }
    // --no-package writes no ZIP.
    let out2 = dir.path().join("case2");
    let run = Command::new(bin)
        .arg("run")
        .arg(&input)
        .arg("--out")
        .arg(&out2)
        .args(["--case-id", "IR-CLI", "--no-package"])
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(!out2.join("IR-CLI.zip").exists() && out2.join("report/report.html").is_file());
}

/// A folder whose name ends in `!` puts `!/` into plain file paths and into zip member
/// paths (`e!/x.zip!/m.json`); verify must split a member path where the archive is, as
/// intake does, and read a plain file as itself.
#[test]
fn folder_named_with_bang_verifies() {
    let inputs = tempfile::tempdir().unwrap();
    let in_dir = inputs.path().join("e!");
    std::fs::create_dir_all(in_dir.join("x!")).unwrap();
    std::fs::write(in_dir.join("x!/plain.txt"), "not a log\n").unwrap();
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zw.start_file("m!/inner.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zw, b"member bytes\n").unwrap();
    let zip_bytes = zw.finish().unwrap().into_inner();
    std::fs::write(in_dir.join("x!/a.zip"), zip_bytes).unwrap();
    let out_parent = tempfile::tempdir().unwrap();
    let opts = irpack::pipeline::RunOptions {
        inputs: vec![in_dir.clone()],
        out: out_parent.path().join("case"),
        case: irpack::case::CaseFile::minimal("IR-BANG"),
        now: fx::clock(),
        examiner: Some("Dana Examiner".into()),
        ..Default::default()
    };
    let mut out = irpack::pipeline::collect(&opts).unwrap();
    let stored: Vec<&str> = out
        .collected
        .items
        .iter()
        .map(|i| i.stored_path.as_str())
        .collect();
    assert!(
        stored.iter().any(|p| p.ends_with("a.zip!/m!/inner.txt")),
        "{stored:?}"
    );
    assert!(
        stored.iter().any(|p| p.ends_with("x!/plain.txt")),
        "{stored:?}"
    );
    let concl = irpack::pipeline::analyze(&mut out, &opts).unwrap();
    let info =
        irpack::pipeline::report_and_package(&mut out, &concl, &opts, &PackageOptions::default())
            .unwrap();
    let r = check(&zip_path(&info));
    assert!(r.ok(), "{}", listing(&r));
}

//! BagIt 1.0 (RFC 8493): payload under `data/`, `manifest-sha256.txt` over the payload,
//! `bagit.txt` and `bag-info.txt` as tag files, `tagmanifest-sha256.txt` over every tag
//! file. Manifests use the `sha256sum -c` line format (`<hex>  <path>`).

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;

pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
pub const MANIFEST: &str = "manifest-sha256.txt";
pub const TAGMANIFEST: &str = "tagmanifest-sha256.txt";
pub const BAG_INFO: &str = "bag-info.txt";
pub const BAGIT: &str = "bagit.txt";
pub const SIGNATURE: &str = "tagmanifest-sha256.txt.sig";
pub const PUBLIC_KEY: &str = "tagmanifest-sha256.txt.pub";

/// Where an entry's bytes come from: a file on disk (streamed) or memory.
#[derive(Debug, Clone)]
pub enum Content {
    File(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the bag root, `/`-separated.
    pub path: String,
    pub content: Content,
    pub sha256: String,
    pub size: u64,
}

pub fn sha256_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

impl Entry {
    pub fn bytes(path: impl Into<String>, bytes: Vec<u8>) -> Entry {
        Entry {
            path: path.into(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            content: Content::Bytes(bytes),
        }
    }

    pub fn file(path: impl Into<String>, file: PathBuf) -> std::io::Result<Entry> {
        let (sha256, size) = sha256_reader(std::fs::File::open(&file)?)?;
        Ok(Entry {
            path: path.into(),
            content: Content::File(file),
            sha256,
            size,
        })
    }
}

/// Hash many files in parallel; the first error names its file.
pub fn hash_files(files: Vec<(String, PathBuf)>) -> Result<Vec<Entry>, (PathBuf, std::io::Error)> {
    let mut v: Vec<Entry> = files
        .into_par_iter()
        .map(|(p, f)| Entry::file(p, f.clone()).map_err(|e| (f, e)))
        .collect::<Result<_, _>>()?;
    v.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(v)
}

/// RFC 8493 §2.1.3: only `%`, CR and LF are percent-encoded in manifest paths.
pub fn encode_path(p: &str) -> String {
    p.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn decode_path(p: &str) -> String {
    p.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
}

/// Manifest text: one `<sha256>  <path>` line per entry, sorted by path.
pub fn manifest(entries: &[Entry]) -> String {
    let mut lines: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    lines.sort();
    lines
        .into_iter()
        .map(|(p, h)| format!("{h}  {}\n", encode_path(p)))
        .collect()
}

/// One manifest line, parsed: (1-based line, hash, path) or (line, what is wrong).
pub type ManifestLine = Result<(usize, String, String), (usize, String)>;

pub fn parse_manifest(text: &str) -> Vec<ManifestLine> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let n = i + 1;
            let Some((h, p)) = l.split_once(char::is_whitespace) else {
                return Err((n, format!("not `<sha256>  <path>`: {l:?}")));
            };
            let p = p.trim_start_matches([' ', '\t', '*']);
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((n, format!("not a SHA-256 hex digest: {h:?}")));
            }
            if p.is_empty() {
                return Err((n, "no path after the digest".into()));
            }
            Ok((n, h.to_ascii_lowercase(), decode_path(p)))
        })
        .collect()
}

/// `Payload-Oxum`: total payload octets `.` payload file count.
pub fn payload_oxum(entries: &[Entry]) -> String {
    format!(
        "{}.{}",
        entries.iter().map(|e| e.size).sum::<u64>(),
        entries.len()
    )
}

/// The bag-info.txt metadata irpack writes.
#[derive(Debug, Clone)]
pub struct BagInfo {
    pub source_organization: Option<String>,
    pub external_identifier: String,
    pub bagging_date: String,
    pub contact_name: Option<String>,
    pub internal_sender_description: String,
    pub software_agent: String,
}

impl BagInfo {
    /// The tag file text (labels in RFC 8493 §2.2.2 order of appearance; values one line).
    pub fn text(&self, oxum: &str) -> String {
        let one = crate::report::escape::one_line;
        let mut s = String::new();
        if let Some(o) = &self.source_organization {
            s.push_str(&format!("Source-Organization: {}\n", one(o)));
        }
        if let Some(c) = &self.contact_name {
            s.push_str(&format!("Contact-Name: {}\n", one(c)));
        }
        s.push_str(&format!(
            "External-Identifier: {}\n",
            one(&self.external_identifier)
        ));
        s.push_str(&format!(
            "Internal-Sender-Description: {}\n",
            one(&self.internal_sender_description)
        ));
        s.push_str(&format!("Bagging-Date: {}\n", self.bagging_date));
        s.push_str(&format!("Payload-Oxum: {oxum}\n"));
        s.push_str(&format!(
            "Bag-Software-Agent: {}\n",
            one(&self.software_agent)
        ));
        s
    }
}

/// Read a bag-info value (first occurrence of `label`, case-insensitive).
pub fn bag_info_value(text: &str, label: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(label)
            .then(|| v.trim().to_string())
    })
}

/// A complete bag: every file with its bag-relative path, sorted.
#[derive(Debug, Clone)]
pub struct Bag {
    /// Top-level folder name inside the ZIP (the case id).
    pub name: String,
    pub files: Vec<Entry>,
}

impl Bag {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.files.iter().find(|e| e.path == path)
    }
}

/// Payload entries (under `data/`) hashed, with their manifest and oxum.
pub struct Payload {
    pub entries: Vec<Entry>,
    pub manifest: String,
    pub oxum: String,
}

impl Payload {
    pub fn new(entries: Vec<Entry>) -> Payload {
        let manifest = manifest(&entries);
        let oxum = payload_oxum(&entries);
        Payload {
            entries,
            manifest,
            oxum,
        }
    }
}

/// Assemble the bag: payload + bagit.txt, bag-info.txt, manifest, `extra_tags` (e.g. the
/// custody log), the tag manifest over all of those, and optionally its signature.
pub fn assemble(
    name: &str,
    payload: Payload,
    bag_info: String,
    extra_tags: Vec<Entry>,
    signer: Option<&ed25519_dalek::SigningKey>,
) -> Bag {
    let mut tags = vec![
        Entry::bytes(BAGIT, BAGIT_TXT.as_bytes().to_vec()),
        Entry::bytes(BAG_INFO, bag_info.into_bytes()),
        Entry::bytes(MANIFEST, payload.manifest.into_bytes()),
    ];
    tags.extend(extra_tags);
    let tagmanifest = manifest(&tags);
    let mut files = payload.entries;
    if let Some(key) = signer {
        files.push(Entry::bytes(
            SIGNATURE,
            super::sign::sign(key, tagmanifest.as_bytes()).into_bytes(),
        ));
        files.push(Entry::bytes(
            PUBLIC_KEY,
            super::sign::public_hex(&key.verifying_key()).into_bytes(),
        ));
    }
    files.extend(tags);
    files.push(Entry::bytes(TAGMANIFEST, tagmanifest.into_bytes()));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Bag {
        name: name.to_string(),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_with_odd_names() {
        let e = vec![
            Entry::bytes("data/b 2%.txt", b"x".to_vec()),
            Entry::bytes("data/a\nb", b"y".to_vec()),
        ];
        let m = manifest(&e);
        assert!(m.contains("data/b 2%25.txt"));
        assert!(m.contains("data/a%0Ab"));
        let parsed: Vec<_> = parse_manifest(&m).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(parsed[0].2, "data/a\nb");
        assert_eq!(parsed[1].2, "data/b 2%.txt");
        assert_eq!(payload_oxum(&e), "2.2");
    }

    #[test]
    fn bad_manifest_lines_are_named() {
        let r = parse_manifest("zz  data/x\n\nabc\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].clone().unwrap_err().0, 1);
        assert_eq!(r[1].clone().unwrap_err().0, 3);
    }

    #[test]
    fn bag_info_is_one_line_per_label() {
        let info = BagInfo {
            source_organization: Some("Contoso\nEvil: yes".into()),
            external_identifier: "IR-1".into(),
            bagging_date: "2024-05-01".into(),
            contact_name: None,
            internal_sender_description: "d".into(),
            software_agent: "irpack 0".into(),
        };
        let t = info.text("10.2");
        assert_eq!(bag_info_value(&t, "payload-oxum").as_deref(), Some("10.2"));
        assert!(t.contains("Source-Organization: Contoso Evil: yes\n"));
        assert!(bag_info_value(&t, "Evil").is_none());
    }
}

//! Pseudonymization for the lessons-learned copy: user names, mail addresses and IPs are
//! replaced by keyed HMAC-SHA256 pseudonyms, the same input always giving the same
//! pseudonym under one key, so the analysis still reads ("user-3f9a2c… signed in from
//! 10.71.4.9, then created a rule"). The key stays out of every package.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Domain used for pseudonymous mail addresses (reserved, never resolves).
pub const DOMAIN: &str = "redacted.invalid";

pub struct Redactor {
    key: Vec<u8>,
    /// Known identities that are not mail addresses (`CONTOSO\alice`, RADIUS user names),
    /// lower-cased.
    names: HashMap<String, ()>,
    /// original (normalized) → pseudonym
    forward: HashMap<String, String>,
    /// pseudonym → original, to detect collisions
    taken: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Name,
    Email,
    Ip,
}

impl Redactor {
    pub fn new(key: &[u8]) -> Self {
        Redactor {
            key: key.to_vec(),
            names: HashMap::new(),
            forward: HashMap::new(),
            taken: HashMap::new(),
        }
    }

    /// Add a known user identity (a UPN, a `DOMAIN\user`, a RADIUS user name). Mail
    /// addresses and IPs are found without being added.
    pub fn add_name(&mut self, name: &str) {
        let n = name.trim();
        if n.chars().count() >= 3 && !n.contains('@') && n.parse::<IpAddr>().is_err() {
            self.names.insert(n.to_lowercase(), ());
        }
    }

    fn mac(&self, tag: &str, value: &str, round: u32) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        m.update(tag.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        m.update(&round.to_be_bytes());
        m.finalize().into_bytes().into()
    }

    /// The pseudonym for `value` of `kind`, stable for this key.
    fn pseudonym(&mut self, kind: Kind, value: &str) -> String {
        let norm = match kind {
            Kind::Ip => value
                .parse::<IpAddr>()
                .map(|i| i.to_string())
                .unwrap_or_else(|_| value.to_string()),
            _ => value.to_lowercase(),
        };
        let fkey = format!("{kind:?}:{norm}");
        if let Some(p) = self.forward.get(&fkey) {
            return p.clone();
        }
        let mut round = 0u32;
        let p = loop {
            let h = self.mac(&format!("{kind:?}"), &norm, round);
            let cand = match kind {
                Kind::Email => format!("user-{}@{DOMAIN}", hex::encode(&h[..3])),
                Kind::Name => format!("user-{}", hex::encode(&h[..3])),
                Kind::Ip => match norm.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => Ipv4Addr::new(10, h[0], h[1], h[2]).to_string(),
                    _ => Ipv6Addr::new(
                        0xfd00,
                        0,
                        0,
                        0,
                        u16::from_be_bytes([h[0], h[1]]),
                        u16::from_be_bytes([h[2], h[3]]),
                        u16::from_be_bytes([h[4], h[5]]),
                        u16::from_be_bytes([h[6], h[7]]),
                    )
                    .to_string(),
                },
            };
            match self.taken.get(&cand) {
                Some(orig) if orig != &fkey => round += 1,
                _ => break cand,
            }
        };
        self.taken.insert(p.clone(), fkey.clone());
        self.forward.insert(fkey, p.clone());
        p
    }

    /// Every original → pseudonym mapping made so far (for the examiner, never packaged).
    pub fn mapping(&self) -> BTreeMap<String, String> {
        self.forward
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Rewrite one string.
    pub fn redact_str(&mut self, s: &str) -> String {
        let spans = self.spans(s);
        if spans.is_empty() {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (start, end, kind) in spans {
            out.push_str(&s[at..start]);
            out.push_str(&self.pseudonym(kind, &s[start..end]));
            at = end;
        }
        out.push_str(&s[at..]);
        out
    }

    /// Rewrite every string in a JSON value (object keys stay: they are field names).
    pub fn redact_json(&mut self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.redact_str(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.redact_json(x)),
            _ => {}
        }
    }

    /// Non-overlapping spans to replace, in order: known names (whole tokens), mail
    /// addresses, IPv4 and IPv6 addresses.
    fn spans(&self, s: &str) -> Vec<(usize, usize, Kind)> {
        let b = s.as_bytes();
        let mut found: Vec<(usize, usize, Kind)> = Vec::new();
        let tok = |c: u8| c.is_ascii_alphanumeric() || b"._%+-@\\$".contains(&c) || c >= 0x80;
        // Tokens: known names and mail addresses.
        let mut i = 0;
        while i < b.len() {
            if !tok(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && tok(b[i]) {
                i += 1;
            }
            let token = &s[start..i];
            let trimmed = token.trim_end_matches(['.', '-']);
            if !self.names.is_empty() && self.names.contains_key(&trimmed.to_lowercase()) {
                found.push((start, start + trimmed.len(), Kind::Name));
                continue;
            }
            if let Some((a, z)) = email_in(token) {
                found.push((start + a, start + z, Kind::Email));
            }
        }
        // IPv4: runs of digits and dots.
        let mut i = 0;
        while i < b.len() {
            if !(b[i].is_ascii_digit())
                || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
            {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let mut end = i;
            while end > start && b[end - 1] == b'.' {
                end -= 1;
            }
            let next_ok = end >= b.len() || !b[end].is_ascii_alphanumeric();
            // A version number after a slash (`Chrome/120.0.0.0`) is not an address.
            let after_slash = start > 0 && b[start - 1] == b'/';
            if next_ok && !after_slash && s[start..end].parse::<Ipv4Addr>().is_ok() {
                found.push((start, end, Kind::Ip));
            }
        }
        // IPv6: runs of hex digits, colons and dots with at least two colons.
        let hexish = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
        let mut i = 0;
        while i < b.len() {
            if !hexish(b[i]) || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && hexish(b[i]) {
                i += 1;
            }
            let run = &s[start..i];
            if i < b.len() && b[i].is_ascii_alphanumeric() {
                continue;
            }
            if run.matches(':').count() >= 2
                && run.bytes().any(|c| c.is_ascii_hexdigit())
                && run.parse::<Ipv6Addr>().is_ok()
            {
                found.push((start, i, Kind::Ip));
            }
        }
        // Longest first at each start, then drop overlaps.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out: Vec<(usize, usize, Kind)> = Vec::new();
        for f in found {
            if out.last().is_none_or(|l| f.0 >= l.1) {
                out.push(f);
            }
        }
        out
    }
}

/// The mail address inside a token, as byte offsets, when there is one (and it is not
/// already a pseudonym).
fn email_in(token: &str) -> Option<(usize, usize)> {
    let at = token.find('@')?;
    let b = token.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let dom = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut a = at;
    while a > 0 && local(b[a - 1]) {
        a -= 1;
    }
    let mut z = at + 1;
    while z < b.len() && dom(b[z]) {
        z += 1;
    }
    while z > at + 1 && (b[z - 1] == b'.' || b[z - 1] == b'-') {
        z -= 1;
    }
    let domain = &token[at + 1..z];
    if a == at || !domain.contains('.') || domain.eq_ignore_ascii_case(DOMAIN) {
        return None;
    }
    Some((a, z))
}

/// Load the key (hex, one line) or create one with 32 random bytes (owner-only file).
pub fn load_or_create_key(path: &Path) -> Result<Vec<u8>, super::sign::KeyError> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|source| super::sign::KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let k = super::sign::parse_hex::<32>(&text, "redaction key").map_err(|message| {
            super::sign::KeyError::Bad {
                path: path.display().to_string(),
                message,
            }
        })?;
        return Ok(k.to_vec());
    }
    let k = super::sign::random_32()?;
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    super::sign::write_private(
        path,
        format!(
            "# irpack redaction key (HMAC-SHA256): whoever holds it can test guesses against pseudonyms\n{}\n",
            hex::encode(k)
        )
        .as_bytes(),
    )
    .map_err(|source| super::sign::KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(k.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_and_complete() {
        let mut r = Redactor::new(b"k");
        r.add_name("CONTOSO\\alice");
        r.add_name("bob");
        let s = "Alice@Contoso.com signed in from 203.0.113.7 and [2001:db8::1]:443; CONTOSO\\alice; bob; bobby; ua Chrome/120.0.0.0";
        let out = r.redact_str(s);
        for orig in [
            "alice@contoso.com",
            "Alice@Contoso.com",
            "203.0.113.7",
            "2001:db8::1",
            "CONTOSO\\alice",
            "; bob;",
        ] {
            assert!(!out.contains(orig), "{orig} in {out}");
        }
        assert!(out.contains("bobby"), "whole tokens only: {out}");
        assert!(out.contains("Chrome/120.0.0.0"), "versions stay: {out}");
        assert!(out.contains("@redacted.invalid"));
        // Same input, same pseudonym; a second key gives different ones.
        assert_eq!(
            r.redact_str("alice@contoso.com"),
            r.redact_str("ALICE@contoso.com")
        );
        assert_eq!(r.redact_str("203.0.113.7"), r.redact_str("203.0.113.7"));
        let mut r2 = Redactor::new(b"other");
        assert_ne!(r.redact_str("203.0.113.7"), r2.redact_str("203.0.113.7"));
        // Pseudonyms are left alone on a second pass.
        let again = r.redact_str(&out);
        assert!(again.contains(&r.redact_str("alice@contoso.com")));
    }

    #[test]
    fn times_macs_and_hashes_are_not_addresses() {
        let mut r = Redactor::new(b"k");
        for s in [
            "2024-05-01T12:00:00Z",
            "12:00:00.123",
            "00:11:22:33:44:55",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "version 1.2.3",
            "1.2.3.4.5",
        ] {
            assert_eq!(r.redact_str(s), s);
        }
    }

    #[test]
    fn json_strings_rewritten() {
        let mut r = Redactor::new(b"k");
        let mut v = serde_json::json!({"user": "a@b.com", "n": 1, "ips": ["198.51.100.1"]});
        r.redact_json(&mut v);
        let s = v.to_string();
        assert!(!s.contains("a@b.com") && !s.contains("198.51.100.1"), "{s}");
        assert!(s.contains("\"user\""));
    }
}

//! `custody.jsonl`: one entry per action, each carrying the SHA-256 of the previous entry,
//! so removing, reordering or editing an entry breaks the chain where it happened.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustodyEntry {
    pub seq: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// `acquired`, `parsed`, `timeline_written`, `analyzed`, `reported`, `packaged`, `transfer`, ...
    pub action: String,
    pub actor: String,
    pub host: String,
    pub tool: String,
    pub details: serde_json::Value,
    pub prev_sha256: String,
    /// SHA-256 of this entry's canonical JSON with `sha256` set to the empty string.
    pub sha256: String,
}

impl CustodyEntry {
    pub fn compute_hash(&self) -> String {
        let mut e = self.clone();
        e.sha256 = String::new();
        hex::encode(Sha256::digest(
            serde_json::to_string(&e)
                .expect("entry serializes")
                .as_bytes(),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Broken {
        path: String,
        line: usize,
        message: String,
    },
}

/// Who is acting, where, with what: stamped on every entry.
#[derive(Debug, Clone)]
pub struct Actor {
    pub examiner: String,
    pub host: String,
    pub tool: String,
}

impl Actor {
    pub fn detect(examiner: Option<&str>) -> Self {
        let examiner = examiner
            .map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        Actor {
            examiner,
            host: hostname(),
            tool: crate::tool_version(),
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// An append-only custody log on disk.
pub struct CustodyLog {
    path: PathBuf,
    last: String,
    next_seq: u64,
}

impl CustodyLog {
    /// Open (verifying the chain) or create the log at `path`.
    pub fn open(path: &Path) -> Result<Self, CustodyError> {
        let (last, next_seq) = if path.exists() {
            let entries = read_and_verify(path)?;
            entries
                .last()
                .map(|e| (e.sha256.clone(), e.seq + 1))
                .unwrap_or((GENESIS.to_string(), 1))
        } else {
            (GENESIS.to_string(), 1)
        };
        Ok(CustodyLog {
            path: path.to_path_buf(),
            last,
            next_seq,
        })
    }

    pub fn head(&self) -> &str {
        &self.last
    }

    pub fn append(
        &mut self,
        time: &str,
        actor: &Actor,
        action: &str,
        details: serde_json::Value,
    ) -> Result<CustodyEntry, CustodyError> {
        let mut e = CustodyEntry {
            seq: self.next_seq,
            time: time.to_string(),
            action: action.to_string(),
            actor: actor.examiner.clone(),
            host: actor.host.clone(),
            tool: actor.tool.clone(),
            details,
            prev_sha256: self.last.clone(),
            sha256: String::new(),
        };
        e.sha256 = e.compute_hash();
        let io = |source| CustodyError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        let mut line = serde_json::to_string(&e).expect("entry serializes");
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)?;
        self.last = e.sha256.clone();
        self.next_seq += 1;
        Ok(e)
    }
}

/// Read every entry and check sequence numbers, each entry's hash and the link to the previous.
pub fn read_and_verify(path: &Path) -> Result<Vec<CustodyEntry>, CustodyError> {
    let text = std::fs::read_to_string(path).map_err(|source| CustodyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    verify_text(&text).map_err(|(line, message)| CustodyError::Broken {
        path: path.display().to_string(),
        line,
        message,
    })
}

/// Check a custody log's text; on failure, the 1-based line and what is wrong.
pub fn verify_text(text: &str) -> Result<Vec<CustodyEntry>, (usize, String)> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let e: CustodyEntry =
            serde_json::from_str(line).map_err(|err| (n, format!("not a custody entry: {err}")))?;
        if e.seq != out.len() as u64 + 1 {
            return Err((
                n,
                format!(
                    "sequence number {} where {} was expected (entries removed or reordered)",
                    e.seq,
                    out.len() + 1
                ),
            ));
        }
        if e.prev_sha256 != prev {
            return Err((
                n,
                format!(
                    "prev_sha256 {} does not match the previous entry's hash {prev}",
                    e.prev_sha256
                ),
            ));
        }
        let h = e.compute_hash();
        if h != e.sha256 {
            return Err((
                n,
                format!("entry was altered: its hash is {h}, it claims {}", e.sha256),
            ));
        }
        prev = e.sha256.clone();
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_edits_and_reorders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("custody.jsonl");
        let actor = Actor {
            examiner: "a".into(),
            host: "h".into(),
            tool: "t".into(),
        };
        let mut log = CustodyLog::open(&p).unwrap();
        for i in 0..3 {
            log.append(
                "2024-01-01T00:00:00Z",
                &actor,
                "acquired",
                serde_json::json!({ "n": i }),
            )
            .unwrap();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(verify_text(&text).unwrap().len(), 3);
        let lines: Vec<&str> = text.lines().collect();
        let swapped = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]);
        assert!(verify_text(&swapped).is_err());
        let edited = text.replacen("\"n\":1", "\"n\":7", 1);
        assert_eq!(verify_text(&edited).unwrap_err().0, 2);
        let reopened = CustodyLog::open(&p).unwrap();
        assert_eq!(reopened.next_seq, 4);
    }
}

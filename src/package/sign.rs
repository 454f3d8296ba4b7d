//! Ed25519 signatures over the tag manifest (which pins every other file by hash). Keys and
//! signatures are one line of lowercase hex, so they can be read, mailed and compared by eye.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no random source: {0}")]
    Random(String),
}

/// 32 bytes from the operating system's random source.
pub fn random_32() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

/// The first non-comment line of a key file, decoded from hex to exactly N bytes.
pub fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("no {what} in the file"))?;
    let bytes = hex::decode(line).map_err(|e| format!("{what}: not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{what}: {} bytes where {N} were expected", b.len()))
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })
}

pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let seed =
        parse_hex::<32>(&read(path)?, "ed25519 secret key").map_err(|message| KeyError::Bad {
            path: path.display().to_string(),
            message,
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let b = parse_hex::<32>(text, "ed25519 public key")?;
    VerifyingKey::from_bytes(&b).map_err(|e| format!("not a valid ed25519 public key: {e}"))
}

pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    parse_public_key(&read(path)?).map_err(|message| KeyError::Bad {
        path: path.display().to_string(),
        message,
    })
}

pub fn public_hex(key: &VerifyingKey) -> String {
    format!("{}\n", hex::encode(key.to_bytes()))
}

/// Sign `msg`; the signature as one line of hex.
pub fn sign(key: &SigningKey, msg: &[u8]) -> String {
    format!("{}\n", hex::encode(key.sign(msg).to_bytes()))
}

/// Check a hex signature over `msg`.
pub fn verify(key: &VerifyingKey, msg: &[u8], sig_text: &str) -> Result<(), String> {
    let b = parse_hex::<64>(sig_text, "ed25519 signature")?;
    key.verify_strict(msg, &Signature::from_bytes(&b))
        .map_err(|_| "signature does not match the tag manifest and this public key".to_string())
}

/// Write a new key pair: `path` (secret, owner-only where the OS allows) and `path.pub`.
/// Refuses to overwrite either file unless `force`.
pub fn keygen(path: &Path, force: bool) -> Result<VerifyingKey, KeyError> {
    let pub_path = pub_path(path);
    for p in [path, pub_path.as_path()] {
        if p.exists() && !force {
            return Err(KeyError::Bad {
                path: p.display().to_string(),
                message: "exists; use --force to replace it".into(),
            });
        }
    }
    let key = SigningKey::from_bytes(&random_32()?);
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| KeyError::Io { path: p, source }
    };
    let secret = format!(
        "# irpack ed25519 signing key (secret: keep it off the evidence package)\n{}\n",
        hex::encode(key.to_bytes())
    );
    write_private(path, secret.as_bytes()).map_err(io(path))?;
    let vk = key.verifying_key();
    std::fs::write(&pub_path, public_hex(&vk)).map_err(io(&pub_path))?;
    Ok(vk)
}

pub fn pub_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    s.into()
}

/// Write a file readable by its owner only (on Unix); elsewhere a plain write.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_sign_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let vk = keygen(&p, false).unwrap();
        assert!(keygen(&p, false).is_err(), "refuses to overwrite");
        let sk = load_signing_key(&p).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert_eq!(load_public_key(&pub_path(&p)).unwrap(), vk);
        let sig = sign(&sk, b"manifest");
        assert!(verify(&vk, b"manifest", &sig).is_ok());
        assert!(verify(&vk, b"manifesT", &sig).is_err());
        let other = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        assert!(verify(&other, b"manifest", &sig).is_err());
        assert!(verify(&vk, b"manifest", "zz").is_err());
    }
}

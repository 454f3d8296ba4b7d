//! The normalized event: the contract between parsers, the timeline, the analysis and the
//! report. Mirrored in `schemas/event.schema.json`; a test validates every emitted event.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use thin_vec::ThinVec;

use crate::rcvec::RcVec;

/// What kind of thing happened, in OCSF-like classes so exports map one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    Authentication,
    AccountChange,
    ApiActivity,
    NetworkActivity,
    RiskDetection,
    Accounting,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    /// Sign-in interrupted (e.g. MFA required, 50074/50076): neither success nor failure.
    Interrupted,
    #[default]
    Unknown,
}

/// Where an event came from, precisely enough to re-read and re-hash the raw record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// SHA-256 of the evidence item (the file, or the zip member) the record was read from.
    /// One copy shared by all the item's events (serialized as a plain string).
    pub evidence_sha256: SharedStr,
    /// Path of the evidence item as stored in the package (`data/evidence/...`), `!`-joined for zip members.
    pub evidence_path: SharedStr,
    /// 1-based record number within the evidence item, counting rejected records too.
    pub record_no: u64,
    /// 1-based line where the record starts (in the decoded text).
    pub line: u64,
    /// Byte offset and length of the raw record in the (decoded) text.
    pub byte_offset: u64,
    pub byte_len: u64,
    /// SHA-256 of the raw record bytes at that place.
    pub raw_sha256: HexDigest,
    /// `None` when offsets are into the original bytes; otherwise the encoding the original
    /// was decoded from (e.g. `utf-16le`), and offsets are into its UTF-8 decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<SharedStr>,
}

/// The part of an event's [`Provenance`] that a held event keeps: the record number, which
/// orders events of equal time from one item (`pipeline::timeline_order`, the merge's
/// folds). The item's hash and path, the line, and the raw record's place and hash are in
/// [`Cold`]: only the timeline, its exports and `verify` read them (no rule or report
/// section does), so a held event does not pay 88 bytes for them;
/// [`Event::full_provenance`] puts the two together again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub record_no: u64,
}

/// [`Provenance`] as it serializes, from an event's [`Origin`] and [`Cold`] parts.
#[derive(Serialize)]
struct ProvenanceSer<'a> {
    evidence_sha256: &'a str,
    evidence_path: &'a str,
    record_no: u64,
    line: u64,
    byte_offset: u64,
    byte_len: u64,
    raw_sha256: &'a HexDigest,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded_from: &'a Option<SharedStr>,
}

/// An event's verbatim source fields, sorted by key: a map with `BTreeMap`'s behaviour and
/// JSON (an object in key order), kept as one sorted vector. The analysis holds every event,
/// and a B-tree node has room for 11 entries (~640 bytes) however few the event keeps.
/// Keys are [`SharedStr`]s: they come from a few dozen names, so held events share them.
///
/// The vector is an [`RcVec`]: a parser builds and changes the map in place (the block is
/// its own), and an [`Interner`] makes held events whose trimmed maps are equal share one
/// block (after the analysis trims them, 400k held sign-ins have a handful of distinct
/// maps). Changing a shared map copies it first, so the other events keep theirs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extra(RcVec<(SharedStr, serde_json::Value)>);

/// A key for [`Extra`]. Keys come from a few hundred field names however many records
/// there are, and a firewall record brings about a hundred: each thread keeps the names it
/// has seen, so a key costs a lookup and no allocation, and all events share its block.
pub trait ExtraKey {
    fn into_key(self) -> SharedStr;
}

impl ExtraKey for &str {
    fn into_key(self) -> SharedStr {
        SharedStr::key(self)
    }
}

impl ExtraKey for &String {
    fn into_key(self) -> SharedStr {
        SharedStr::key(self)
    }
}

impl ExtraKey for String {
    fn into_key(self) -> SharedStr {
        SharedStr::key(&self)
    }
}

impl ExtraKey for SharedStr {
    fn into_key(self) -> SharedStr {
        self
    }
}

impl ExtraKey for &SharedStr {
    fn into_key(self) -> SharedStr {
        self.clone()
    }
}

impl Extra {
    pub fn new() -> Self {
        Extra(RcVec::new())
    }

    /// Whether `a` and `b` hold the same block (shared by an [`Interner`]).
    pub fn ptr_eq(a: &Extra, b: &Extra) -> bool {
        RcVec::ptr_eq(&a.0, &b.0)
    }

    fn find(&self, k: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(k))
    }

    pub fn get(&self, k: &str) -> Option<&serde_json::Value> {
        self.find(k).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, k: &str) -> Option<&mut serde_json::Value> {
        self.find(k).ok().map(|i| &mut self.0.make_mut()[i].1)
    }

    pub fn contains_key(&self, k: &str) -> bool {
        self.find(k).is_ok()
    }

    /// Set `k`, returning the value it replaced.
    pub fn insert(&mut self, k: impl ExtraKey, v: serde_json::Value) -> Option<serde_json::Value> {
        let k = k.into_key();
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.0.make_mut()[i].1, v)),
            Err(i) => {
                self.0.insert(i, (k, v));
                None
            }
        }
    }

    /// The slot for `k`, filled only if it is empty (`BTreeMap::entry`'s `or_insert`s).
    pub fn entry(&mut self, k: impl ExtraKey) -> ExtraEntry<'_> {
        ExtraEntry {
            map: self,
            key: k.into_key(),
        }
    }

    /// Add each pair whose key is not there yet, the first of repeated keys winning: what
    /// `entry(k).or_insert(v)` pair by pair gives, with one sort instead of an insertion
    /// into place per pair (a firewall record brings about a hundred keys, and shifting the
    /// vector for each was a tenth of the parse time).
    pub fn extend_absent<K: ExtraKey>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, serde_json::Value)>,
    ) {
        let before = self.0.len();
        self.0
            .extend(pairs.into_iter().map(|(k, v)| (k.into_key(), v)));
        if self.0.len() == before {
            return;
        }
        // Stable: entries already there, then new ones in the order given, stay first.
        self.0.make_mut().sort_by(|a, b| a.0.cmp(&b.0));
        self.0.dedup_by(|later, first| later.0 == first.0);
    }

    pub fn remove(&mut self, k: &str) -> Option<serde_json::Value> {
        self.find(k).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SharedStr, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &SharedStr> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Keep the entries `keep` accepts, and give back the room of the others.
    pub fn retain(&mut self, mut keep: impl FnMut(&SharedStr, &mut serde_json::Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
        self.0.shrink_to_fit();
    }
}

impl std::ops::Index<&str> for Extra {
    type Output = serde_json::Value;
    /// Like `BTreeMap`'s: panics when the key is absent (for tests; code uses `get`).
    fn index(&self, k: &str) -> &serde_json::Value {
        self.get(k).expect("key in extra")
    }
}

/// See [`Extra::entry`].
pub struct ExtraEntry<'a> {
    map: &'a mut Extra,
    key: SharedStr,
}

impl<'a> ExtraEntry<'a> {
    pub fn or_insert(self, v: serde_json::Value) -> &'a mut serde_json::Value {
        self.or_insert_with(|| v)
    }

    pub fn or_insert_with(
        self,
        v: impl FnOnce() -> serde_json::Value,
    ) -> &'a mut serde_json::Value {
        let i = match self.map.find(&self.key) {
            Ok(i) => i,
            Err(i) => {
                self.map.0.insert(i, (self.key, v()));
                i
            }
        };
        &mut self.map.0.make_mut()[i].1
    }
}

impl<K: ExtraKey> FromIterator<(K, serde_json::Value)> for Extra {
    /// As a `BTreeMap` collects: sorted by key, the last value of a repeated key kept.
    fn from_iter<I: IntoIterator<Item = (K, serde_json::Value)>>(it: I) -> Self {
        let mut v: Vec<(SharedStr, serde_json::Value)> =
            it.into_iter().map(|(k, v)| (k.into_key(), v)).collect();
        // Stable, so equal keys stay in insertion order and the last one can win.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: RcVec<(SharedStr, serde_json::Value)> = RcVec::with_capacity(v.len());
        for (k, val) in v {
            match out.make_mut().last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        Extra(out)
    }
}

impl<K: ExtraKey> Extend<(K, serde_json::Value)> for Extra {
    fn extend<I: IntoIterator<Item = (K, serde_json::Value)>>(&mut self, it: I) {
        for (k, v) in it {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Extra {
    type Item = (SharedStr, serde_json::Value);
    type IntoIter = crate::rcvec::IntoIter<(SharedStr, serde_json::Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, serde_json::Value>::deserialize(d)
            .map(|m| Extra(m.into_iter().map(|(k, v)| (k.into_key(), v)).collect()))
    }
}

/// A SHA-256 as its lower-case hex, held as the 32 bytes when it is one (every parsed
/// record's is), so each held event saves the 80-byte hex string. Any other text (a tampered
/// timeline read back for `verify`) is kept as it was, so it still reads and reports as
/// written. Serializes exactly as the hex string did.
#[derive(Debug, Clone, Eq)]
pub enum HexDigest {
    Sha256([u8; 32]),
    Text(String),
}

impl Default for HexDigest {
    fn default() -> Self {
        HexDigest::Text(String::new())
    }
}

impl HexDigest {
    fn lower_hex(s: &str) -> Option<[u8; 32]> {
        let lower = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if s.len() != 64 || !s.bytes().all(lower) {
            return None;
        }
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok().map(|()| b)
    }
}

impl From<[u8; 32]> for HexDigest {
    fn from(b: [u8; 32]) -> Self {
        HexDigest::Sha256(b)
    }
}

impl From<&str> for HexDigest {
    fn from(s: &str) -> Self {
        match HexDigest::lower_hex(s) {
            Some(b) => HexDigest::Sha256(b),
            None => HexDigest::Text(s.to_string()),
        }
    }
}

impl From<String> for HexDigest {
    fn from(s: String) -> Self {
        match HexDigest::lower_hex(&s) {
            Some(b) => HexDigest::Sha256(b),
            None => HexDigest::Text(s),
        }
    }
}

impl std::fmt::Display for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HexDigest::Sha256(b) => f.write_str(&hex::encode(b)),
            HexDigest::Text(s) => f.write_str(s),
        }
    }
}

/// Equal when the strings they serialize to are.
impl PartialEq for HexDigest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HexDigest::Sha256(a), HexDigest::Sha256(b)) => a == b,
            (HexDigest::Text(a), b) | (b, HexDigest::Text(a)) => *b == **a,
        }
    }
}

impl PartialEq<str> for HexDigest {
    fn eq(&self, other: &str) -> bool {
        match self {
            HexDigest::Sha256(b) => HexDigest::lower_hex(other).is_some_and(|o| o == *b),
            HexDigest::Text(s) => s == other,
        }
    }
}

impl PartialEq<String> for HexDigest {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

impl PartialEq<HexDigest> for String {
    fn eq(&self, other: &HexDigest) -> bool {
        *other == **self
    }
}

impl Serialize for HexDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            HexDigest::Sha256(b) => {
                let mut buf = [0u8; 64];
                // 32 bytes always fit 64 hex digits.
                let _ = hex::encode_to_slice(b, &mut buf);
                s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
            }
            HexDigest::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for HexDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(HexDigest::from)
    }
}

/// A string that many events hold, stored once for all of them: the analysis keeps every
/// event, and the same source, action, application, user agent, user or evidence path
/// repeated in each cost a heap block (32-100 bytes) per field per event. Eight bytes in
/// the struct, where a `String` takes 24. An [`Interner`] makes equal ones share one block.
/// Reads as a `&str`, compares, orders and hashes as the `str`, and serializes exactly as a
/// `String` does.
///
/// An `Arc<String>`, not an `Arc<str>`: a thin pointer, so 8 bytes in the struct (and in
/// an `Option`) where the fat `Arc<str>` takes 16, for 16 such fields in every held event;
/// the extra indirection costs one block per distinct value once interned, and taking a
/// parser's `String` keeps its buffer instead of copying it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Arc<String>);

impl SharedStr {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether both hold the one same block (what interning gives equal strings).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// An [`Extra`] key: the thread's block for the name, allocated the first time only.
    /// Bounded: past 4,096 distinct names (only odd input has them) a key is allocated each
    /// time, as before.
    fn key(s: &str) -> SharedStr {
        thread_local! {
            static KEYS: std::cell::RefCell<std::collections::HashSet<SharedStr>> =
                std::cell::RefCell::new(std::collections::HashSet::new());
        }
        KEYS.with_borrow_mut(|keys| {
            if let Some(k) = keys.get(s) {
                return k.clone();
            }
            let k = SharedStr::from(s);
            if keys.len() < 4096 {
                keys.insert(k.clone());
            }
            k
        })
    }

    /// A source or variant name: a parser gives the same one for each of its events, so the
    /// thread keeps the last few and hands out the same block instead of allocating one per
    /// event.
    fn named(s: &str) -> SharedStr {
        thread_local! {
            static NAMES: std::cell::RefCell<Vec<SharedStr>> = const {
                std::cell::RefCell::new(Vec::new())
            };
        }
        NAMES.with_borrow_mut(|names| {
            if let Some(n) = names.iter().find(|n| n.as_str() == s) {
                return n.clone();
            }
            let n = SharedStr::from(s);
            // A handful of formats and variants; bounded whatever the input.
            if names.len() >= 16 {
                names.remove(0);
            }
            names.push(n.clone());
            n
        })
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        SharedStr(Arc::new(String::new()))
    }
}

/// As the `str`'s, so messages that print a field with `{:?}` read as before.
impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr(Arc::new(s.to_string()))
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> Self {
        SharedStr(Arc::new(s.clone()))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr(Arc::new(s))
    }
}

impl From<&SharedStr> for SharedStr {
    fn from(s: &SharedStr) -> Self {
        s.clone()
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> Self {
        Arc::unwrap_or_clone(s.0)
    }
}

impl From<&SharedStr> for String {
    fn from(s: &SharedStr) -> Self {
        s.as_str().to_string()
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == other.as_str()
    }
}

impl From<SharedStr> for serde_json::Value {
    fn from(s: SharedStr) -> Self {
        serde_json::Value::String(s.into())
    }
}

impl From<&SharedStr> for serde_json::Value {
    fn from(s: &SharedStr) -> Self {
        serde_json::Value::String(s.into())
    }
}

impl Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SharedStr::from)
    }
}

/// A short string (an IPv4 address) held in place, a longer one shared: 16 bytes with no
/// heap block for up to 15 bytes of text. Addresses are in nearly every held event, and a
/// sign-in's is often its own, so a [`SharedStr`] (8 bytes plus a 48-byte block and the
/// text's) or a `String` (24 plus 32) cost more than the text. Reads as a `&str`, compares,
/// orders and hashes as the `str`, and serializes exactly as a `String` does.
#[derive(Clone)]
pub struct ShortStr(ShortRepr);

#[derive(Clone)]
enum ShortRepr {
    Inline(InlineLen, [u8; SHORT_MAX]),
    Shared(SharedStr),
}

const SHORT_MAX: usize = 15;

/// The length of inline text, as an enum so the values 16..=255 of its byte are free to
/// tell the variants (and `None`) apart: that keeps `ShortStr` and `Option<ShortStr>` at 16
/// bytes.
#[derive(Clone, Copy)]
#[repr(u8)]
enum InlineLen {
    L0,
    L1,
    L2,
    L3,
    L4,
    L5,
    L6,
    L7,
    L8,
    L9,
    L10,
    L11,
    L12,
    L13,
    L14,
    L15,
}

impl InlineLen {
    fn of(n: usize) -> Option<Self> {
        use InlineLen::*;
        Some(match n {
            0 => L0,
            1 => L1,
            2 => L2,
            3 => L3,
            4 => L4,
            5 => L5,
            6 => L6,
            7 => L7,
            8 => L8,
            9 => L9,
            10 => L10,
            11 => L11,
            12 => L12,
            13 => L13,
            14 => L14,
            15 => L15,
            _ => return None,
        })
    }
}

impl ShortStr {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from a whole `str` of that length, so always UTF-8.
            ShortRepr::Inline(n, b) => std::str::from_utf8(&b[..*n as usize]).unwrap_or_default(),
            ShortRepr::Shared(s) => s.as_str(),
        }
    }

    /// The longer text's block, to share through an [`Interner`].
    fn shared_mut(&mut self) -> Option<&mut SharedStr> {
        match &mut self.0 {
            ShortRepr::Inline(..) => None,
            ShortRepr::Shared(s) => Some(s),
        }
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> Self {
        match InlineLen::of(s.len()) {
            Some(n) => {
                let mut b = [0u8; SHORT_MAX];
                b[..s.len()].copy_from_slice(s.as_bytes());
                ShortStr(ShortRepr::Inline(n, b))
            }
            None => ShortStr(ShortRepr::Shared(SharedStr::from(s))),
        }
    }
}

impl From<String> for ShortStr {
    fn from(s: String) -> Self {
        if s.len() <= SHORT_MAX {
            ShortStr::from(s.as_str())
        } else {
            ShortStr(ShortRepr::Shared(SharedStr::from(s)))
        }
    }
}

impl From<&String> for ShortStr {
    fn from(s: &String) -> Self {
        ShortStr::from(s.as_str())
    }
}

impl From<&ShortStr> for String {
    fn from(s: &ShortStr) -> Self {
        s.as_str().to_string()
    }
}

impl From<ShortStr> for String {
    fn from(s: ShortStr) -> Self {
        match s.0 {
            ShortRepr::Shared(s) => s.into(),
            ShortRepr::Inline(..) => s.as_str().to_string(),
        }
    }
}

impl From<&ShortStr> for serde_json::Value {
    fn from(s: &ShortStr) -> Self {
        serde_json::Value::String(s.into())
    }
}

impl From<ShortStr> for serde_json::Value {
    fn from(s: ShortStr) -> Self {
        serde_json::Value::String(s.into())
    }
}

impl Default for ShortStr {
    fn default() -> Self {
        ShortStr::from("")
    }
}

impl std::ops::Deref for ShortStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for ShortStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for ShortStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ShortStr {}

impl PartialOrd for ShortStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ShortStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for ShortStr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for ShortStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<ShortStr> for String {
    fn eq(&self, other: &ShortStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<ShortStr> for str {
    fn eq(&self, other: &ShortStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<ShortStr> for &str {
    fn eq(&self, other: &ShortStr) -> bool {
        *self == other.as_str()
    }
}

/// As the `str`'s, so messages that print a field with `{:?}` read as before.
impl std::fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ShortStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ShortStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ShortStr::from)
    }
}

/// Makes equal strings (and equal locations, devices and MFA details) of held events share
/// one block. `irpack run` keeps one per evidence item while it parses the item (so no lock
/// is taken, and the set is freed with the item: the few distinct values are then repeated
/// once per item, not once per event); the timeline reader one per read.
///
/// Only fields whose values repeat across events go through it: interning a value seen once
/// costs its set entry and saves nothing, so request and correlation ids and session ids
/// are left alone. Whole `extra` maps are shared (a trimmed one repeats across events; its
/// values are JSON values, which own their strings, so sharing them one by one would not
/// do). An address too long to be held in place (IPv6) is shared, and original time texts
/// (unbounded variety; a held event has none) are left alone.
#[derive(Default)]
pub struct Interner {
    strs: std::collections::HashSet<SharedStr>,
    geos: std::collections::HashSet<GeoKey>,
    devices: std::collections::HashSet<Arc<Device>>,
    mfas: std::collections::HashSet<Arc<Mfa>>,
    extras: std::collections::HashSet<ExtraByContent>,
    descrs: std::collections::HashSet<Arc<Descr>>,
}

/// An `extra` map compared and hashed by what it serializes to: numbers by kind and bits
/// (`0.0 == -0.0`, and `serde_json`'s `Value` has no `Hash`), so only maps whose JSON is
/// byte-identical share a block.
struct ExtraByContent(Extra);

fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Number(x), V::Number(y)) => number_bits(x) == number_bits(y),
        (V::String(x), V::String(y)) => x == y,
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
        }
        _ => false,
    }
}

fn hash_json<H: std::hash::Hasher>(v: &serde_json::Value, h: &mut H) {
    use serde_json::Value as V;
    use std::hash::Hash;
    std::mem::discriminant(v).hash(h);
    match v {
        V::Null => {}
        V::Bool(b) => b.hash(h),
        V::Number(n) => number_bits(n).hash(h),
        V::String(s) => s.hash(h),
        V::Array(a) => {
            a.len().hash(h);
            a.iter().for_each(|v| hash_json(v, h));
        }
        V::Object(o) => {
            o.len().hash(h);
            for (k, v) in o {
                k.hash(h);
                hash_json(v, h);
            }
        }
    }
}

/// A number's kind (unsigned, negative, float) and bits.
fn number_bits(n: &serde_json::Number) -> (u8, u64) {
    if let Some(u) = n.as_u64() {
        (0, u)
    } else if let Some(i) = n.as_i64() {
        (1, i as u64)
    } else {
        (2, n.as_f64().map_or(0, f64::to_bits))
    }
}

impl PartialEq for ExtraByContent {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0 .0, &other.0 .0);
        a.len() == b.len()
            && a.iter()
                .zip(b.iter())
                .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
    }
}

impl Eq for ExtraByContent {}

impl std::hash::Hash for ExtraByContent {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.len().hash(h);
        for (k, v) in self.0.iter() {
            k.as_str().hash(h);
            hash_json(v, h);
        }
    }
}

/// A location compared and hashed by the bits of its coordinates, so `Eq` and `Hash` agree
/// (`0.0 == -0.0` would share one of two locations that serialize differently).
struct GeoKey(Arc<Geo>);

impl GeoKey {
    fn bits(&self) -> impl PartialEq + std::hash::Hash + '_ {
        let g = &*self.0;
        (
            &g.city,
            &g.state,
            &g.country,
            g.lat.map(f64::to_bits),
            g.lon.map(f64::to_bits),
            g.asn,
        )
    }
}

impl PartialEq for GeoKey {
    fn eq(&self, other: &Self) -> bool {
        self.bits() == other.bits()
    }
}

impl Eq for GeoKey {}

impl std::hash::Hash for GeoKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.bits().hash(h)
    }
}

impl Interner {
    /// The one shared copy of `s`'s text.
    pub fn share(&mut self, s: &mut SharedStr) {
        match self.strs.get(s.as_str()) {
            Some(a) => {
                if !SharedStr::ptr_eq(a, s) {
                    *s = a.clone();
                }
            }
            None => {
                self.strs.insert(s.clone());
            }
        }
    }

    fn share_opt(&mut self, s: &mut Option<SharedStr>) {
        if let Some(s) = s {
            self.share(s);
        }
    }

    fn share_arc<T: Eq + std::hash::Hash>(
        set: &mut std::collections::HashSet<Arc<T>>,
        v: &mut Option<Arc<T>>,
    ) {
        if let Some(v) = v {
            match set.get(&**v) {
                Some(a) => *v = a.clone(),
                None => {
                    set.insert(v.clone());
                }
            }
        }
    }

    /// The one shared block of `extra`'s content (its keys shared, the first time).
    fn share_extra(&mut self, extra: &mut Extra) {
        if extra.is_empty() {
            return;
        }
        let key = ExtraByContent(std::mem::take(extra));
        match self.extras.get(&key) {
            Some(a) => *extra = a.0.clone(),
            None => {
                let mut key = key;
                for (k, _) in key.0 .0.make_mut() {
                    self.share(k);
                }
                *extra = key.0.clone();
                self.extras.insert(key);
            }
        }
    }

    /// The one shared block of `d`'s content (its texts shared, the first time: one user
    /// agent or app is in many combinations).
    fn share_descr(&mut self, d: &mut Arc<Descr>) {
        if let Some(a) = self.descrs.get(&**d) {
            if !Arc::ptr_eq(a, d) {
                *d = a.clone();
            }
            return;
        }
        let m = Arc::make_mut(d);
        for s in [&mut m.time_zone, &mut m.source, &mut m.operation] {
            self.share(s);
        }
        for s in [
            &mut m.user_agent,
            &mut m.client_app,
            &mut m.app,
            &mut m.app_id,
            &mut m.resource,
        ] {
            self.share_opt(s);
        }
        self.descrs.insert(d.clone());
    }

    /// Share what `e` holds with the events interned before it.
    pub fn event(&mut self, e: &mut Event) {
        self.share(&mut e.action);
        for s in [&mut e.reason, &mut e.user, &mut e.user_id] {
            self.share_opt(s);
        }
        self.share_descr(&mut e.descr);
        let cold = e.cold.0.as_deref_mut();
        let (dst_ip, copies) = match cold {
            Some(c) => {
                for s in [
                    &mut c.decoded_from,
                    &mut c.variant,
                    &mut c.evidence_sha256,
                    &mut c.evidence_path,
                ] {
                    self.share_opt(s);
                }
                (Some(&mut c.dst_ip), &mut c.also_seen_in[..])
            }
            None => (None, &mut [][..]),
        };
        for ip in std::iter::once(&mut e.src_ip).chain(dst_ip) {
            if let Some(s) = ip.as_mut().and_then(ShortStr::shared_mut) {
                self.share(s);
            }
        }
        for p in copies {
            self.share(&mut p.evidence_sha256);
            self.share(&mut p.evidence_path);
            self.share_opt(&mut p.decoded_from);
        }
        self.share_extra(&mut e.extra);
        for t in e.targets.iter_mut() {
            self.share_opt(&mut t.kind);
            self.share_opt(&mut t.id);
            self.share_opt(&mut t.name);
        }
        if let Some(g) = &mut e.geo {
            let key = GeoKey(g.clone());
            match self.geos.get(&key) {
                Some(a) => *g = a.0.clone(),
                None => {
                    self.geos.insert(key);
                }
            }
        }
        Self::share_arc(&mut self.devices, &mut e.device);
        Self::share_arc(&mut self.mfas, &mut e.mfa);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Geo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 where the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Mfa {
    /// `singleFactorAuthentication` / `multiFactorAuthentication` as the source says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// True when a second factor was satisfied for this sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModifiedProperty {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// An object an action was done to: a user, an app, a mailbox rule, a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
///
/// Kind, id and name are [`SharedStr`]s: a UAL record names the same mailbox, user or
/// object as many others (its owner's, an admin's), and the analysis holds every event.
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SharedStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<SharedStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<SharedStr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modified: Vec<ModifiedProperty>,
}

/// One normalized event. Optional facts are absent, never guessed.
///
/// Serialized through [`EventSer`] and read through [`EventDe`], which list the fields in
/// the canonical order: the facts a held event never has (network details, ids, copies) are
/// kept apart in [`Cold`], so the struct is what every held event pays, and its JSON is
/// unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// UTC time of the event.
    pub time: DateTime<Utc>,
    /// The timestamp text exactly as the source wrote it is in [`Cold`]
    /// ([`Event::time_original`]): no rule or report section reads it, and the analysis
    /// trims it. The zone, the source, the operation, the user agent, the client app, the
    /// app, its id and the resource are in [`Descr`] ([`Event::descr`]), shared by the
    /// events that have the same ones. The variant within the format is in [`Cold`]
    /// ([`Event::variant`]): only the timeline and its exports read it.
    pub class: EventClass,
    /// Normalized verb (see `crate::event::actions`).
    pub action: SharedStr,
    pub outcome: Outcome,
    pub reason: Option<SharedStr>,
    pub user: Option<SharedStr>,
    pub user_id: Option<SharedStr>,
    /// Addresses are [`ShortStr`]s: an IPv4 address in place, 16 bytes where an
    /// `Option<String>` took 24 plus a 32-byte block.
    pub src_ip: Option<ShortStr>,
    pub geo: Option<Arc<Geo>>,
    pub device: Option<Arc<Device>>,
    pub mfa: Option<Arc<Mfa>>,
    /// Zone, source, operation, user agent, client app, app, app id and resource: see
    /// [`Descr`]. Read with [`Event::descr`] (or [`Event::source`] and the like), written with
    /// [`Event::descr_mut`].
    descr: Arc<Descr>,
    /// A `ThinVec`: one pointer (no block when empty), where a `Vec` takes 24 bytes; most
    /// events have none.
    pub targets: ThinVec<Target>,
    /// Source fields kept verbatim (or decoded from nested JSON strings), sorted by key.
    pub extra: Extra,
    /// Where the event came from: its record number here, the rest in [`Cold`]; the whole
    /// is [`Event::full_provenance`].
    pub provenance: Origin,
    /// Ports, destination, byte counts, ids, copies, original time text, variant and the
    /// rest of the provenance: see [`Cold`]. Read with
    /// [`Event::cold`], written with [`Event::cold_mut`].
    cold: ColdBox,
    /// Whether the hash of the event's full form is known elsewhere (the run's on-disk
    /// table of held events' hashes, `timeline::hashes`, or [`Cold::memo`]), so it may be
    /// trimmed for the analysis and still be cited by that hash. One byte in the struct's
    /// padding: the 32-byte hash itself is not held per event. Never compared.
    hash_known: HashKnown,
}

/// An event's descriptive texts whose combination repeats across the events of one
/// evidence item: a file's sign-ins come from a few hundred combinations of user agent,
/// client app, app and resource (25,809 generated sign-ins have 252), a UAL file's held
/// records from under a thousand (13,260 have 916). Apart, they were eight pointers in
/// every held event (64 bytes); together they are one, and an [`Interner`] makes events
/// with equal ones share one 80-byte block (once per combination per item), the way equal
/// trimmed `extra` maps share one.
///
/// The user, its id, the reason and the address stay in [`Event`]: they vary per sign-in,
/// so with them nearly every combination would be distinct. The action is read by nearly
/// every rule and follows from the source and operation, so it would save one pointer
/// more for no fewer blocks; it stays in place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Descr {
    /// The zone the original carried (`UTC`, `+01:00`) or that was assumed (`Europe/Berlin (assumed)`).
    pub time_zone: SharedStr,
    /// Source format id (`entra_signin`, `m365_ual`, `fortigate`, ...).
    pub source: SharedStr,
    /// The operation name as the source wrote it.
    pub operation: SharedStr,
    pub user_agent: Option<SharedStr>,
    pub client_app: Option<SharedStr>,
    pub app: Option<SharedStr>,
    pub app_id: Option<SharedStr>,
    pub resource: Option<SharedStr>,
}

/// The facts of an event that a held event does not have: a sign-in or UAL record has no
/// ports, destination or byte counts (flows and accounting, which do, are held as compact
/// records on disk), the analysis trims its ids, its original time text, its variant and
/// its provenance but for the record number (no rule or report section reads them), and
/// copies in other exports are rare. Boxed apart so they cost a held event one pointer
/// instead of 256 bytes; a parsed event pays one block while it is parsed and written.
///
/// The texts kept here are `None` when empty (an empty text reads as `""`), so an event
/// whose other cold facts are absent needs no block: set them through [`Event`]'s setters
/// ([`Event::set_time_original`], [`Event::set_variant`], [`Event::set_provenance`]),
/// which keep that form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cold {
    pub src_port: Option<u16>,
    pub dst_ip: Option<ShortStr>,
    pub dst_port: Option<u16>,
    pub session_id: Option<String>,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
    pub bytes_in: Option<u64>,
    pub bytes_out: Option<u64>,
    /// The same event read from other exports (e.g. a sign-in in both a Graph JSON page and a
    /// portal CSV): kept so every copy stays traceable after de-duplication.
    pub also_seen_in: Vec<Provenance>,
    /// [`Provenance::byte_offset`] and the rest of the raw record's place and hash.
    pub byte_offset: u64,
    pub byte_len: u64,
    pub raw_sha256: HexDigest,
    pub decoded_from: Option<SharedStr>,
    /// [`Event::time_original`]; shared, not a `String` (parsers' texts repeat per item).
    pub time_original: Option<SharedStr>,
    /// [`Event::variant`].
    pub variant: Option<SharedStr>,
    /// [`Provenance::evidence_sha256`], [`Provenance::evidence_path`], [`Provenance::line`].
    pub evidence_sha256: Option<SharedStr>,
    pub evidence_path: Option<SharedStr>,
    pub line: u64,
    /// The hash of the event's full form, remembered by the event itself
    /// ([`Event::remember_hash`], [`crate::timeline::read_file`]) where no table of the
    /// run's hashes holds it. Never serialized and never compared.
    pub memo: HashMemo,
}

/// What [`Event::cold`] reads when an event has none.
static NO_COLD: Cold = Cold {
    src_port: None,
    dst_ip: None,
    dst_port: None,
    session_id: None,
    correlation_id: None,
    request_id: None,
    bytes_in: None,
    bytes_out: None,
    also_seen_in: Vec::new(),
    byte_offset: 0,
    byte_len: 0,
    raw_sha256: HexDigest::Text(String::new()),
    decoded_from: None,
    time_original: None,
    variant: None,
    evidence_sha256: None,
    evidence_path: None,
    line: 0,
    memo: HashMemo(None),
};

/// A text kept in [`Cold`]: `None` when empty.
fn nonempty(s: SharedStr) -> Option<SharedStr> {
    (!s.is_empty()).then_some(s)
}

/// A [`nonempty`] text read back.
fn text(s: &Option<SharedStr>) -> &str {
    s.as_deref().unwrap_or_default()
}

impl Cold {
    fn is_empty(&self) -> bool {
        // The memo compares equal to any other: only its absence makes the part empty.
        *self == NO_COLD && self.memo.0.is_none()
    }
}

/// An event's [`Cold`] part, absent when it has none. Compares and prints as the part it
/// reads as, so an emptied part equals an absent one.
#[derive(Clone, Default)]
struct ColdBox(Option<Box<Cold>>);

impl ColdBox {
    fn get(&self) -> &Cold {
        self.0.as_deref().unwrap_or(&NO_COLD)
    }
}

impl PartialEq for ColdBox {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for ColdBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.get(), f)
    }
}

/// [`Event`] as it serializes: its fields in the canonical order, borrowed.
#[derive(Serialize)]
struct EventSer<'a> {
    #[serde(with = "utc_micros")]
    time: DateTime<Utc>,
    time_original: &'a str,
    time_zone: &'a SharedStr,
    source: &'a SharedStr,
    variant: &'a str,
    class: EventClass,
    action: &'a SharedStr,
    operation: &'a SharedStr,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_ip: &'a Option<ShortStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: &'a Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_ip: &'a Option<ShortStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_port: &'a Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geo: &'a Option<Arc<Geo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: &'a Option<Arc<Device>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_app: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: &'a Option<SharedStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa: &'a Option<Arc<Mfa>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_in: &'a Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_out: &'a Option<u64>,
    #[serde(skip_serializing_if = "<[Target]>::is_empty")]
    targets: &'a [Target],
    #[serde(skip_serializing_if = "Extra::is_empty")]
    extra: &'a Extra,
    provenance: ProvenanceSer<'a>,
    #[serde(skip_serializing_if = "<[Provenance]>::is_empty")]
    also_seen_in: &'a [Provenance],
}

/// [`Event`] as it reads: [`EventSer`]'s fields, owned.
#[derive(Deserialize)]
struct EventDe {
    #[serde(with = "utc_micros")]
    time: DateTime<Utc>,
    time_original: SharedStr,
    time_zone: SharedStr,
    source: SharedStr,
    variant: SharedStr,
    class: EventClass,
    action: SharedStr,
    operation: SharedStr,
    outcome: Outcome,
    #[serde(default)]
    reason: Option<SharedStr>,
    #[serde(default)]
    user: Option<SharedStr>,
    #[serde(default)]
    user_id: Option<SharedStr>,
    #[serde(default)]
    src_ip: Option<ShortStr>,
    #[serde(default)]
    src_port: Option<u16>,
    #[serde(default)]
    dst_ip: Option<ShortStr>,
    #[serde(default)]
    dst_port: Option<u16>,
    #[serde(default)]
    geo: Option<Arc<Geo>>,
    #[serde(default)]
    device: Option<Arc<Device>>,
    #[serde(default)]
    user_agent: Option<SharedStr>,
    #[serde(default)]
    client_app: Option<SharedStr>,
    #[serde(default)]
    app: Option<SharedStr>,
    #[serde(default)]
    app_id: Option<SharedStr>,
    #[serde(default)]
    resource: Option<SharedStr>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    mfa: Option<Arc<Mfa>>,
    #[serde(default)]
    bytes_in: Option<u64>,
    #[serde(default)]
    bytes_out: Option<u64>,
    #[serde(default)]
    targets: Vec<Target>,
    #[serde(default)]
    extra: Extra,
    provenance: Provenance,
    #[serde(default)]
    also_seen_in: Vec<Provenance>,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (c, d) = (self.cold(), self.descr());
        EventSer {
            time: self.time,
            time_original: text(&c.time_original),
            time_zone: &d.time_zone,
            source: &d.source,
            variant: text(&c.variant),
            class: self.class,
            action: &self.action,
            operation: &d.operation,
            outcome: self.outcome,
            reason: &self.reason,
            user: &self.user,
            user_id: &self.user_id,
            src_ip: &self.src_ip,
            src_port: &c.src_port,
            dst_ip: &c.dst_ip,
            dst_port: &c.dst_port,
            geo: &self.geo,
            device: &self.device,
            user_agent: &d.user_agent,
            client_app: &d.client_app,
            app: &d.app,
            app_id: &d.app_id,
            resource: &d.resource,
            session_id: &c.session_id,
            correlation_id: &c.correlation_id,
            request_id: &c.request_id,
            mfa: &self.mfa,
            bytes_in: &c.bytes_in,
            bytes_out: &c.bytes_out,
            targets: &self.targets[..],
            extra: &self.extra,
            provenance: ProvenanceSer {
                evidence_sha256: text(&c.evidence_sha256),
                evidence_path: text(&c.evidence_path),
                record_no: self.provenance.record_no,
                line: c.line,
                byte_offset: c.byte_offset,
                byte_len: c.byte_len,
                raw_sha256: &c.raw_sha256,
                decoded_from: &c.decoded_from,
            },
            also_seen_in: &c.also_seen_in,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = EventDe::deserialize(d)?;
        let p = w.provenance;
        let cold = Cold {
            byte_offset: p.byte_offset,
            byte_len: p.byte_len,
            raw_sha256: p.raw_sha256,
            decoded_from: p.decoded_from,
            src_port: w.src_port,
            dst_ip: w.dst_ip,
            dst_port: w.dst_port,
            session_id: w.session_id,
            correlation_id: w.correlation_id,
            request_id: w.request_id,
            bytes_in: w.bytes_in,
            bytes_out: w.bytes_out,
            also_seen_in: w.also_seen_in,
            time_original: nonempty(w.time_original),
            variant: nonempty(w.variant),
            evidence_sha256: nonempty(p.evidence_sha256),
            evidence_path: nonempty(p.evidence_path),
            line: p.line,
            memo: HashMemo::default(),
        };
        let descr = Descr {
            time_zone: w.time_zone,
            source: w.source,
            operation: w.operation,
            user_agent: w.user_agent,
            client_app: w.client_app,
            app: w.app,
            app_id: w.app_id,
            resource: w.resource,
        };
        Ok(Event {
            time: w.time,
            class: w.class,
            action: w.action,
            outcome: w.outcome,
            reason: w.reason,
            user: w.user,
            user_id: w.user_id,
            src_ip: w.src_ip,
            geo: w.geo,
            device: w.device,
            mfa: w.mfa,
            descr: Arc::new(descr),
            targets: w.targets.into(),
            extra: w.extra,
            provenance: Origin {
                record_no: p.record_no,
            },
            cold: ColdBox((!cold.is_empty()).then(|| Box::new(cold))),
            hash_known: HashKnown::default(),
        })
    }
}

/// A remembered event hash that takes no part in equality (see [`Cold::memo`]).
#[derive(Debug, Clone, Default)]
pub struct HashMemo(pub Option<[u8; 32]>);

/// [`Event`]'s flag that the hash of its full form is known; takes no part in equality.
#[derive(Debug, Clone, Copy, Default)]
struct HashKnown(bool);

impl PartialEq for HashKnown {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl HashMemo {
    /// From the hex a timeline line records; nothing is remembered if it is not 64 hex
    /// digits (the event is then hashed, and kept whole, as if read from no timeline).
    pub fn from_hex(h: &str) -> Self {
        let mut b = [0u8; 32];
        HashMemo(hex::decode_to_slice(h, &mut b).ok().map(|()| b))
    }
}

impl PartialEq for HashMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Event {
    /// A new event with the required facts; everything optional starts absent.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        time: DateTime<Utc>,
        time_original: impl Into<SharedStr>,
        time_zone: impl Into<SharedStr>,
        source: &str,
        variant: &str,
        class: EventClass,
        action: impl Into<SharedStr>,
        operation: impl Into<SharedStr>,
        outcome: Outcome,
        provenance: Provenance,
    ) -> Self {
        let descr = Descr {
            time_zone: time_zone.into(),
            source: SharedStr::named(source),
            operation: operation.into(),
            ..Descr::default()
        };
        let mut e = Event {
            time,
            class,
            action: action.into(),
            outcome,
            reason: None,
            user: None,
            user_id: None,
            src_ip: None,
            geo: None,
            device: None,
            mfa: None,
            descr: Arc::new(descr),
            targets: ThinVec::new(),
            extra: Extra::new(),
            provenance: Origin::default(),
            cold: ColdBox::default(),
            hash_known: HashKnown::default(),
        };
        e.set_time_original(time_original);
        e.set_variant(SharedStr::named(variant));
        e.set_provenance(provenance);
        e
    }

    /// The timestamp text exactly as the source wrote it (`""` in a held event: the
    /// analysis trims it).
    pub fn time_original(&self) -> &str {
        text(&self.cold().time_original)
    }

    pub fn set_time_original(&mut self, s: impl Into<SharedStr>) {
        self.set_cold_text(s.into(), |c| &mut c.time_original);
    }

    /// Set a text kept in the boxed part; an empty one on an event without that part
    /// leaves it without (a held event must not gain a block for nothing).
    fn set_cold_text(
        &mut self,
        s: SharedStr,
        field: impl FnOnce(&mut Cold) -> &mut Option<SharedStr>,
    ) {
        let s = nonempty(s);
        if s.is_some() || self.cold.0.is_some() {
            *field(self.cold_mut()) = s;
        }
    }

    /// Variant within the format (`graph_json`, `portal_csv`, `sentinel_csv`, ...); `""` in
    /// a held event (the analysis trims it).
    pub fn variant(&self) -> &str {
        text(&self.cold().variant)
    }

    pub fn set_variant(&mut self, s: impl Into<SharedStr>) {
        self.set_cold_text(s.into(), |c| &mut c.variant);
    }

    /// The event's zone, source, operation, user agent, client app, app, app id and
    /// resource.
    pub fn descr(&self) -> &Descr {
        &self.descr
    }

    /// [`Event::descr`] to write: copied first if other events share it, so they keep
    /// theirs.
    pub fn descr_mut(&mut self) -> &mut Descr {
        Arc::make_mut(&mut self.descr)
    }

    /// [`Descr::time_zone`].
    pub fn time_zone(&self) -> &SharedStr {
        &self.descr.time_zone
    }

    /// [`Descr::source`].
    pub fn source(&self) -> &SharedStr {
        &self.descr.source
    }

    /// [`Descr::operation`].
    pub fn operation(&self) -> &SharedStr {
        &self.descr.operation
    }

    /// [`Descr::user_agent`].
    pub fn user_agent(&self) -> &Option<SharedStr> {
        &self.descr.user_agent
    }

    /// [`Descr::client_app`].
    pub fn client_app(&self) -> &Option<SharedStr> {
        &self.descr.client_app
    }

    /// [`Descr::app`].
    pub fn app(&self) -> &Option<SharedStr> {
        &self.descr.app
    }

    /// [`Descr::app_id`].
    pub fn app_id(&self) -> &Option<SharedStr> {
        &self.descr.app_id
    }

    /// [`Descr::resource`].
    pub fn resource(&self) -> &Option<SharedStr> {
        &self.descr.resource
    }

    /// [`Provenance::evidence_path`] (`""` in a held event).
    pub fn evidence_path(&self) -> &str {
        text(&self.cold().evidence_path)
    }

    /// [`Provenance::line`] (0 in a held event).
    pub fn line(&self) -> u64 {
        self.cold().line
    }

    /// Set where the event came from: the record number in place, the rest in [`Cold`].
    pub fn set_provenance(&mut self, p: Provenance) {
        self.provenance = Origin {
            record_no: p.record_no,
        };
        let rest_is_default = p.evidence_sha256.is_empty()
            && p.evidence_path.is_empty()
            && p.line == 0
            && p.byte_offset == 0
            && p.byte_len == 0
            && p.raw_sha256 == NO_COLD.raw_sha256
            && p.decoded_from.is_none();
        if rest_is_default && self.cold.0.is_none() {
            return;
        }
        let c = self.cold_mut();
        c.evidence_sha256 = nonempty(p.evidence_sha256);
        c.evidence_path = nonempty(p.evidence_path);
        c.line = p.line;
        c.byte_offset = p.byte_offset;
        c.byte_len = p.byte_len;
        c.raw_sha256 = p.raw_sha256;
        c.decoded_from = p.decoded_from;
    }

    /// The whole [`Provenance`]: the [`Origin`] and the rest kept in [`Cold`]. A held event
    /// (trimmed for the analysis) has only its record number any more.
    pub fn full_provenance(&self) -> Provenance {
        let (o, c) = (&self.provenance, self.cold());
        Provenance {
            evidence_sha256: c.evidence_sha256.clone().unwrap_or_default(),
            evidence_path: c.evidence_path.clone().unwrap_or_default(),
            record_no: o.record_no,
            line: c.line,
            byte_offset: c.byte_offset,
            byte_len: c.byte_len,
            raw_sha256: c.raw_sha256.clone(),
            decoded_from: c.decoded_from.clone(),
        }
    }

    /// The event's ports, destination, byte counts, ids and copies (all absent if it has
    /// none of them).
    pub fn cold(&self) -> &Cold {
        self.cold.get()
    }

    /// [`Event::cold`] to write, given a block the first time.
    pub fn cold_mut(&mut self) -> &mut Cold {
        self.cold.0.get_or_insert_with(Box::default)
    }

    /// [`Event::cold`] to write, if the event has a block (none is given).
    pub fn cold_if_any_mut(&mut self) -> Option<&mut Cold> {
        self.cold.0.as_deref_mut()
    }

    /// Give back the [`Cold`] block if nothing in it is set any more (after trimming).
    pub fn drop_empty_cold(&mut self) {
        if self.cold.0.as_deref().is_some_and(Cold::is_empty) {
            self.cold.0 = None;
        }
    }

    /// Canonical JSON: struct fields in declaration order, maps sorted, no whitespace.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("event serializes")
    }

    /// The event's identity: SHA-256 of its canonical JSON. Findings cite this.
    pub fn hash(&self) -> String {
        hex::encode(self.hash_bytes())
    }

    /// [`Event::hash`] as bytes: the remembered hash ([`Cold::memo`]) or that of the event
    /// as it is. An event `irpack run` holds has its hash in the run's table
    /// (`timeline::hashes::HashTable`), not here: ask the table.
    pub fn hash_bytes(&self) -> [u8; 32] {
        match self.cold().memo.0 {
            Some(h) => h,
            None => Sha256::digest(self.canonical_json().as_bytes()).into(),
        }
    }

    /// Remember the hash of the event as it is now, in the event itself, as
    /// [`crate::timeline::read_file`] does, so it can be trimmed for the analysis and still
    /// be cited by the hash of its full form. Costs the event a [`Cold`] block: `irpack run`
    /// keeps its held events' hashes on disk instead ([`Event::mark_hash_known`]).
    pub fn remember_hash(&mut self) {
        let h = Sha256::digest(self.canonical_json().as_bytes()).into();
        self.remember(h);
    }

    /// Remember `h` as the hash of the event's full form (see [`Event::remember_hash`]).
    pub fn remember(&mut self, h: [u8; 32]) {
        self.cold_mut().memo = HashMemo(Some(h));
        self.hash_known = HashKnown(true);
    }

    /// The hash the event remembers ([`Event::remember_hash`]), if any.
    pub fn remembered_hash(&self) -> Option<[u8; 32]> {
        self.cold().memo.0
    }

    /// Take the remembered hash out of the event (to keep it elsewhere: the run's table),
    /// giving back a block left empty; the event still counts its full hash as known.
    pub fn forget_hash(&mut self) -> Option<[u8; 32]> {
        let h = self.cold_if_any_mut()?.memo.0.take();
        self.drop_empty_cold();
        h
    }

    /// Say that the hash of the event's full form is kept elsewhere (the run's table of
    /// held events' hashes), so it may be trimmed for the analysis.
    pub fn mark_hash_known(&mut self) {
        self.hash_known = HashKnown(true);
    }

    /// Whether the hash of the event's full form is known ([`Event::mark_hash_known`],
    /// [`Event::remember_hash`]): only then may the analysis trim it.
    pub fn hash_known(&self) -> bool {
        self.hash_known.0
    }

    /// Lower-cased user for grouping (UPNs differ in case across sources).
    pub fn user_key(&self) -> Option<String> {
        self.user.as_ref().map(|u| u.trim().to_ascii_lowercase())
    }
}

/// Normalized action names. Parsers map source operations onto these; an operation with no
/// mapping keeps `action = "other"` and its original name in `operation`.
pub mod actions {
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_OUT: &str = "sign_out";
    pub const INBOX_RULE_CREATED: &str = "inbox_rule_created";
    pub const INBOX_RULE_CHANGED: &str = "inbox_rule_changed";
    pub const INBOX_RULE_REMOVED: &str = "inbox_rule_removed";
    pub const CLIENT_RULES_UPDATED: &str = "client_inbox_rules_updated";
    pub const MAILBOX_FORWARDING_SET: &str = "mailbox_forwarding_set";
    /// Set-Mailbox clearing the forwarding address (`-ForwardingSmtpAddress $null`).
    pub const MAILBOX_FORWARDING_REMOVED: &str = "mailbox_forwarding_removed";
    /// Set-Mailbox changing anything other than forwarding.
    pub const MAILBOX_UPDATED: &str = "mailbox_updated";
    pub const MAIL_ITEMS_ACCESSED: &str = "mail_items_accessed";
    pub const MAIL_SENT: &str = "mail_sent";
    pub const FILE_ACCESSED: &str = "file_accessed";
    pub const FILE_DOWNLOADED: &str = "file_downloaded";
    pub const FILE_SYNCED: &str = "file_synced";
    pub const SHARING_LINK_CREATED: &str = "sharing_link_created";
    pub const OAUTH_CONSENT: &str = "oauth_consent";
    pub const APP_ROLE_ASSIGNED: &str = "app_role_assigned";
    pub const MFA_METHOD_REGISTERED: &str = "mfa_method_registered";
    pub const MFA_METHOD_CHANGED: &str = "mfa_method_changed";
    pub const MFA_METHOD_DELETED: &str = "mfa_method_deleted";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const TOKENS_REVOKED: &str = "tokens_revoked";
    pub const ACCOUNT_DISABLED: &str = "account_disabled";
    pub const ACCOUNT_ENABLED: &str = "account_enabled";
    pub const ROLE_MEMBER_ADDED: &str = "role_member_added";
    pub const ROLE_MEMBER_REMOVED: &str = "role_member_removed";
    pub const USER_UPDATED: &str = "user_updated";
    pub const RISK_DETECTED: &str = "risk_detected";
    pub const USER_RISK_CHANGED: &str = "user_risk_changed";
    pub const SESSION_START: &str = "session_start";
    pub const SESSION_INTERIM: &str = "session_interim";
    pub const SESSION_STOP: &str = "session_stop";
    pub const ACCOUNTING_ON: &str = "accounting_on";
    pub const ACCOUNTING_OFF: &str = "accounting_off";
    pub const VPN_TUNNEL_UP: &str = "vpn_tunnel_up";
    pub const VPN_TUNNEL_DOWN: &str = "vpn_tunnel_down";
    pub const VPN_LOGIN: &str = "vpn_login";
    pub const VPN_LOGIN_FAILED: &str = "vpn_login_failed";
    pub const ADMIN_LOGIN: &str = "admin_login";
    pub const FLOW_ALLOWED: &str = "flow_allowed";
    pub const FLOW_DENIED: &str = "flow_denied";
    pub const THREAT: &str = "threat";
    pub const OTHER: &str = "other";
}

/// Times serialize as RFC 3339 UTC with microseconds, so the canonical form never varies.
mod utc_micros {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `extend_absent` is `entry(k).or_insert(v)` pair by pair: keys already there keep their
    /// value, and of a key repeated among the new pairs the first wins.
    #[test]
    fn extend_absent_is_or_insert_pair_by_pair() {
        let start = [("m", 0), ("b", 1)];
        let pairs = [
            ("z", 2),
            ("b", 3),
            ("a", 4),
            ("z", 5),
            ("m", 6),
            ("c", 7),
            ("a", 8),
        ];
        let mut one_by_one = Extra::new();
        let mut batch = Extra::new();
        for (k, v) in start {
            one_by_one.insert(k.to_string(), json!(v));
            batch.insert(k.to_string(), json!(v));
        }
        for (k, v) in pairs {
            one_by_one.entry(k.to_string()).or_insert(json!(v));
        }
        batch.extend_absent(pairs.iter().map(|(k, v)| (k.to_string(), json!(v))));
        assert_eq!(batch, one_by_one);
        let got: Vec<(String, i64)> = batch
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_i64().unwrap()))
            .collect();
        let want = [("a", 4), ("b", 1), ("c", 7), ("m", 0), ("z", 2)];
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_string(), v)).to_vec(),
            "sorted, old values kept, first new value of a repeated key"
        );
        batch.extend_absent(std::iter::empty::<(String, serde_json::Value)>());
        assert_eq!(batch, one_by_one);
    }

    /// `Extra` must behave and serialize exactly as the `BTreeMap` it replaced: the timeline's
    /// hashes are over this JSON.
    #[test]
    fn extra_behaves_and_serializes_like_a_btreemap() {
        let ops: Vec<(&str, serde_json::Value)> = vec![
            ("zeta", json!(1)),
            ("alpha", json!("a")),
            ("Beta", json!({"x": [1, 2]})),
            ("alpha", json!("replaced")),
            ("", json!(null)),
            ("émoji", json!("é")),
            ("alpha2", json!(true)),
        ];
        let mut x = Extra::new();
        let mut b = BTreeMap::new();
        for (k, v) in &ops {
            assert_eq!(
                x.insert(k.to_string(), v.clone()),
                b.insert(k.to_string(), v.clone())
            );
        }
        x.entry("zeta").or_insert(json!("not set"));
        b.entry("zeta".to_string()).or_insert(json!("not set"));
        x.entry("new").or_insert_with(|| json!(2));
        b.entry("new".to_string()).or_insert_with(|| json!(2));
        assert_eq!(
            serde_json::to_string(&x).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(x.len(), b.len());
        assert_eq!(x.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert_eq!(x.get("alpha"), b.get("alpha"));
        assert!(x.contains_key("") && !x.contains_key("missing"));
        assert_eq!(x.remove("Beta"), b.remove("Beta"));
        // Collecting keeps the last value of a repeated key, as a BTreeMap does.
        let c: Extra = ops
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let d: BTreeMap<String, serde_json::Value> = ops
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            serde_json::to_string(&d).unwrap()
        );
        // Read back, a repeated key in the JSON also keeps the last value.
        let back: Extra = serde_json::from_str(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), r#"{"a":2,"b":3}"#);
        x.retain(|k, _| k.starts_with('a'));
        assert_eq!(x.keys().collect::<Vec<_>>(), ["alpha", "alpha2"]);
    }

    /// Held events whose trimmed `extra` maps are equal share one block once interned;
    /// changing one map copies it, the others keep what they had; maps whose JSON differs
    /// (`0.0` and `-0.0` compare equal as numbers) do not share.
    #[test]
    fn interned_extras_share_one_block_and_copy_on_change() {
        let base = Event::new(
            Utc::now(),
            "t",
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            "sign_in",
            "op",
            Outcome::Failure,
            Provenance::default(),
        );
        let (mut a, mut b) = (base.clone(), base.clone());
        for (e, name) in [(&mut a, "One"), (&mut b, "Two")] {
            e.extra.insert("errorCode", json!(50126));
            e.extra.insert("is_interactive", json!(true));
            e.extra.insert("userDisplayName", json!(name));
            e.remember_hash();
            crate::analysis::trim_for_analysis(e);
        }
        assert_eq!(
            a.extra.keys().collect::<Vec<_>>(),
            ["errorCode", "is_interactive"]
        );
        assert_eq!(a.extra, b.extra);
        assert!(!Extra::ptr_eq(&a.extra, &b.extra), "built apart");
        let (ja, jb) = (a.canonical_json(), b.canonical_json());

        let mut interner = Interner::default();
        interner.event(&mut a);
        interner.event(&mut b);
        assert!(Extra::ptr_eq(&a.extra, &b.extra), "one block");
        assert_eq!((a.canonical_json(), b.canonical_json()), (ja, jb.clone()));

        a.extra.insert("errorCode", json!(0));
        assert!(!Extra::ptr_eq(&a.extra, &b.extra));
        assert_eq!(a.extra["errorCode"], json!(0));
        assert_eq!(b.extra["errorCode"], json!(50126));
        let mut c = b.clone();
        assert!(Extra::ptr_eq(&c.extra, &b.extra));
        *c.extra.get_mut("is_interactive").unwrap() = json!(false);
        c.extra.entry("new").or_insert(json!(1));
        c.extra.retain(|k, _| k != "errorCode");
        assert_eq!(
            c.extra.keys().collect::<Vec<_>>(),
            ["is_interactive", "new"]
        );
        assert_eq!(b.canonical_json(), jb, "the shared map is unchanged");
        drop(interner);
        assert_eq!(b.canonical_json(), jb);

        let mut interner = Interner::default();
        let (mut z, mut n) = (base.clone(), base.clone());
        z.extra.insert("x", json!(0.0));
        n.extra.insert("x", json!(-0.0));
        assert_eq!(z.extra, n.extra, "equal as numbers");
        interner.event(&mut z);
        interner.event(&mut n);
        assert!(!Extra::ptr_eq(&z.extra, &n.extra));
        assert_eq!(serde_json::to_string(&z.extra).unwrap(), r#"{"x":0.0}"#);
        assert_eq!(serde_json::to_string(&n.extra).unwrap(), r#"{"x":-0.0}"#);
    }

    #[test]
    fn shared_str_serializes_as_a_string() {
        let p = Provenance {
            evidence_sha256: "ab".repeat(32).into(),
            ..Default::default()
        };
        let j = serde_json::to_string(&p).unwrap();
        assert!(j.starts_with(&format!(r#"{{"evidence_sha256":"{}","#, "ab".repeat(32))));
        let back: Provenance = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
        assert_eq!("ab".repeat(32), back.evidence_sha256);
    }

    /// A record hash reads and writes as the hex it was; text that is not lower-case hex
    /// (only a tampered timeline has it) round-trips unchanged and compares as text.
    #[test]
    fn hex_digest_round_trips_exactly() {
        let hex = "0123456789abcdef".repeat(4);
        for s in [
            hex.as_str(),
            &hex.to_ascii_uppercase(),
            "",
            "xyz",
            &hex[..62],
        ] {
            let d = HexDigest::from(s);
            assert_eq!(d.to_string(), s);
            let j = serde_json::to_string(&d).unwrap();
            assert_eq!(j, serde_json::to_string(s).unwrap());
            let back: HexDigest = serde_json::from_str(&j).unwrap();
            assert_eq!(back, d);
            let owned: String = s.to_string();
            assert!(d == *s && owned == d);
        }
        assert!(matches!(
            HexDigest::from(hex.as_str()),
            HexDigest::Sha256(_)
        ));
        let (lower, upper) = (HexDigest::from(hex.as_str()), hex.to_ascii_uppercase());
        assert!(lower != upper);
        assert_eq!(HexDigest::Text(hex.clone()), HexDigest::from(hex.as_str()));
    }

    /// `SharedStr` serializes, reads back, compares, orders and hashes exactly as the
    /// `String` it replaced: the timeline's hashes are over its JSON, and sorted or grouped
    /// output must not move.
    #[test]
    fn shared_str_is_a_string_in_all_but_storage() {
        use std::hash::{BuildHasher, RandomState};
        let texts = [
            "",
            "a",
            "B",
            "é",
            "line\nbreak \"quoted\" \\",
            "\u{1F600}",
            "zz",
        ];
        let h = RandomState::new();
        for a in texts {
            let s = SharedStr::from(a);
            let owned = a.to_string();
            let j = serde_json::to_string(&s).unwrap();
            assert_eq!(j, serde_json::to_string(&owned).unwrap());
            let back: SharedStr = serde_json::from_str(&j).unwrap();
            assert_eq!(back, s);
            // Both ways round, against `&str`, `str` and `String`.
            assert!(s == a);
            assert!(a == s);
            assert!(s == *a);
            assert!(*a == s);
            assert!(s == owned);
            assert!(owned == s);
            assert_eq!(s.as_str(), a);
            assert_eq!(format!("{s}"), a);
            assert_eq!(format!("{s:?}"), format!("{a:?}"));
            assert_eq!(String::from(&s), owned);
            assert_eq!(
                h.hash_one(&s),
                h.hash_one(a),
                "hashes as the str (Borrow<str>)"
            );
            for b in texts {
                let t = SharedStr::from(b);
                assert_eq!(s.cmp(&t), a.cmp(b));
                assert_eq!(s == t, a == b);
            }
        }
        // In an event: the field serializes as the string, `None` is skipped as before.
        let mut e = Event::new(
            Utc::now(),
            "t",
            "UTC",
            "src",
            "v",
            EventClass::Authentication,
            "sign_in",
            "op",
            Outcome::Success,
            Provenance::default(),
        );
        e.descr_mut().app = Some("App".into());
        let j = e.canonical_json();
        assert!(j.contains(r#""app":"App""#) && !j.contains("user_agent"));
        let back: Event = serde_json::from_str(&j).unwrap();
        assert_eq!(back.canonical_json(), j);
    }

    /// Equal strings of interned events share one block, locations, devices and MFA details
    /// one value; nothing an event serializes changes, and unequal values stay apart.
    #[test]
    fn interner_shares_equal_values() {
        let ev = |user: &str, country: &str, lat: f64| {
            let mut e = Event::new(
                Utc::now(),
                "2024-01-01T00:00:00Z".to_string(),
                "UTC".to_string(),
                "entra_signin",
                "graph_json",
                EventClass::Authentication,
                "sign_in".to_string(),
                "Sign-in activity".to_string(),
                Outcome::Success,
                Provenance {
                    evidence_path: "evidence/a.json".to_string().into(),
                    ..Default::default()
                },
            );
            e.user = Some(user.into());
            e.descr_mut().app = Some("Office 365 Exchange Online".into());
            e.geo = Some(Arc::new(Geo {
                country: Some(country.into()),
                lat: Some(lat),
                ..Default::default()
            }));
            e.mfa = Some(Arc::new(Mfa {
                requirement: Some("multiFactorAuthentication".into()),
                ..Default::default()
            }));
            e.extra
                .insert("error_code".to_string(), serde_json::json!(0));
            e
        };
        let originals = [
            ev("anna@x", "DE", 48.1),
            ev("anna@x", "DE", 48.1),
            ev("ben@x", "NL", 52.3),
            ev("ben@x", "NL", -0.0),
            ev("ben@x", "NL", 0.0),
        ];
        let mut held = originals.clone();
        let mut interner = Interner::default();
        for e in &mut held {
            interner.event(e);
        }
        for (a, b) in originals.iter().zip(&held) {
            assert_eq!(a.canonical_json(), b.canonical_json());
        }
        let [a, b, c, d, z] = &held;
        let same = |x: &SharedStr, y: &SharedStr| SharedStr::ptr_eq(x, y);
        assert!(!same(&originals[0].action, &originals[1].action));
        // Source and variant names are one block per thread from the start.
        assert!(same(originals[0].source(), originals[1].source()));
        for (x, y) in [
            (a.source(), c.source()),
            (
                a.cold().variant.as_ref().unwrap(),
                c.cold().variant.as_ref().unwrap(),
            ),
            (a.time_zone(), c.time_zone()),
            (&a.action, &c.action),
            (a.operation(), c.operation()),
            (
                a.cold().evidence_path.as_ref().unwrap(),
                c.cold().evidence_path.as_ref().unwrap(),
            ),
            (a.user.as_ref().unwrap(), b.user.as_ref().unwrap()),
            (a.app().as_ref().unwrap(), c.app().as_ref().unwrap()),
            (
                a.extra.keys().next().unwrap(),
                c.extra.keys().next().unwrap(),
            ),
        ] {
            assert!(same(x, y), "{x} not shared");
        }
        assert!(!same(a.user.as_ref().unwrap(), c.user.as_ref().unwrap()));
        // Times are not interned: their variety is unbounded.
        assert!(!same(
            a.cold().time_original.as_ref().unwrap(),
            b.cold().time_original.as_ref().unwrap()
        ));
        let arc = |e: &Event| e.geo.clone().unwrap();
        assert!(Arc::ptr_eq(&arc(a), &arc(b)));
        assert!(!Arc::ptr_eq(&arc(a), &arc(c)));
        // -0.0 == 0.0, but they serialize differently: two locations.
        assert!(!Arc::ptr_eq(&arc(d), &arc(z)));
        assert!(Arc::ptr_eq(
            a.mfa.as_ref().unwrap(),
            c.mfa.as_ref().unwrap()
        ));
    }

    /// Held events whose zone, source, operation, user agent, client app, app, app id and
    /// resource are equal share one [`Descr`] block (and blocks that differ share their
    /// equal texts); changing one event's copies its block first, so the others keep theirs.
    #[test]
    fn descr_shared_by_content_and_copied_on_write() {
        let ev = |user: &str, app: &str| {
            let mut e = every_field_set();
            e.user = Some(user.into());
            e.descr_mut().app = Some(app.to_string().into());
            e
        };
        let originals = [ev("anna@x", "A"), ev("ben@x", "A"), ev("anna@x", "B")];
        let mut held = originals.clone();
        let mut interner = Interner::default();
        for e in &mut held {
            interner.event(e);
        }
        let [a, b, c] = &mut held;
        assert!(!std::ptr::eq(originals[0].descr(), originals[1].descr()));
        assert!(std::ptr::eq(a.descr(), b.descr()));
        assert!(!std::ptr::eq(a.descr(), c.descr()));
        for (x, y) in [
            (a.operation(), c.operation()),
            (a.time_zone(), c.time_zone()),
            (
                a.user_agent().as_ref().unwrap(),
                c.user_agent().as_ref().unwrap(),
            ),
            (
                a.resource().as_ref().unwrap(),
                c.resource().as_ref().unwrap(),
            ),
        ] {
            assert!(SharedStr::ptr_eq(x, y), "{x} not shared");
        }
        b.descr_mut().app = Some("C".into());
        assert_eq!(a.app().as_deref(), Some("A"));
        assert_eq!(b.app().as_deref(), Some("C"));
        assert!(!std::ptr::eq(a.descr(), b.descr()));
        assert_eq!(a.canonical_json(), originals[0].canonical_json());
        let json = b.canonical_json();
        assert!(json.contains(r#""app":"C","app_id":"appid""#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), *b);
    }

    /// `Extra` keys given as text share the thread's one block per name from the start,
    /// however they are given; serialization is unchanged.
    #[test]
    fn extra_keys_share_one_block_per_name() {
        let mut a = Extra::new();
        let mut b = Extra::new();
        a.insert("srcip", json!("10.0.0.1"));
        b.insert("srcip".to_string(), json!("10.0.0.2"));
        b.extend_absent([(&"dstip".to_string(), json!(1))]);
        a.entry("dstip").or_insert(json!(2));
        for k in ["srcip", "dstip"] {
            let ka = a.keys().find(|x| *x == k).unwrap();
            let kb = b.keys().find(|x| *x == k).unwrap();
            assert!(SharedStr::ptr_eq(ka, kb), "{k}");
        }
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"dstip":1,"srcip":"10.0.0.2"}"#
        );
    }

    /// What the analysis holds per event starts here (see tests/memory_footprint.rs): 128
    /// bytes since the zone, source, operation, user agent, client app, app, app id and
    /// resource moved to one shared [`Descr`] block and the timeline hash to the run's table
    /// on disk (`timeline::hashes`) (216 before; 256 before the original
    /// time text, the variant and the provenance but for the record number moved to
    /// [`Cold`] too; 496 before the first [`Cold`]).
    #[test]
    fn event_struct_size() {
        let n = std::mem::size_of::<Event>();
        eprintln!("size_of::<Event>() = {n}");
        eprintln!("size_of::<Cold>() = {}", std::mem::size_of::<Cold>());
        assert!(
            n <= 128,
            "Event grew to {n} bytes; every held event pays it"
        );
    }

    fn every_field_set() -> Event {
        let mut e = Event::new(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            "2023-11-14T22:13:20.123456Z",
            "UTC",
            "fortigate",
            "syslog",
            EventClass::NetworkActivity,
            "flow_allowed",
            "traffic",
            Outcome::Success,
            Provenance {
                evidence_sha256: "ab".repeat(32).into(),
                evidence_path: "data/evidence/fw.log".into(),
                record_no: 7,
                line: 9,
                byte_offset: 1234,
                byte_len: 56,
                raw_sha256: HexDigest::from("cd".repeat(32).as_str()),
                decoded_from: Some("utf-16le".into()),
            },
        );
        e.reason = Some("r".into());
        e.user = Some("u@x".into());
        e.user_id = Some("uid".into());
        e.src_ip = Some("10.0.0.1".into());
        e.geo = Some(Arc::new(Geo {
            country: Some("DE".into()),
            ..Default::default()
        }));
        e.device = Some(Arc::new(Device {
            os: Some("Windows".into()),
            ..Default::default()
        }));
        e.descr_mut().user_agent = Some("ua".into());
        e.descr_mut().client_app = Some("Browser".into());
        e.descr_mut().app = Some("app".into());
        e.descr_mut().app_id = Some("appid".into());
        e.descr_mut().resource = Some("res".into());
        e.mfa = Some(Arc::new(Mfa {
            satisfied: Some(true),
            ..Default::default()
        }));
        e.targets.push(Target {
            kind: Some("user".into()),
            ..Default::default()
        });
        e.extra.insert("k", json!(1));
        let c = e.cold_mut();
        c.src_port = Some(1);
        c.dst_ip = Some("2001:db8::1234:5678:9abc".into());
        c.dst_port = Some(2);
        c.session_id = Some("s".into());
        c.correlation_id = Some("c".into());
        c.request_id = Some("q".into());
        c.bytes_in = Some(3);
        c.bytes_out = Some(u64::MAX);
        c.also_seen_in = vec![Provenance {
            record_no: 1,
            ..Default::default()
        }];
        e
    }

    /// The fields kept apart in [`Cold`] and [`Origin`] serialize where the one struct had
    /// them: the canonical JSON (and every hash over it) is unchanged, and reads back whole.
    #[test]
    fn split_event_serializes_in_the_canonical_order() {
        let e = every_field_set();
        let j = e.canonical_json();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            // serde_json's map is sorted unless preserve_order: read the order off the text.
            let mut ks: Vec<(usize, String)> = v
                .as_object()
                .unwrap()
                .keys()
                .map(|k| (j.find(&format!("\"{k}\":")).unwrap(), k.clone()))
                .collect();
            ks.sort();
            ks.into_iter().map(|(_, k)| k).collect()
        };
        let want = [
            "time",
            "time_original",
            "time_zone",
            "source",
            "variant",
            "class",
            "action",
            "operation",
            "outcome",
            "reason",
            "user",
            "user_id",
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "geo",
            "device",
            "user_agent",
            "client_app",
            "app",
            "app_id",
            "resource",
            "session_id",
            "correlation_id",
            "request_id",
            "mfa",
            "bytes_in",
            "bytes_out",
            "targets",
            "extra",
            "provenance",
            "also_seen_in",
        ];
        assert_eq!(keys(&v), want);
        let prov = &j[j.find("\"provenance\":").unwrap()..];
        assert!(
            prov.starts_with(&format!(
                r#""provenance":{{"evidence_sha256":"{}","evidence_path":"data/evidence/fw.log","record_no":7,"line":9,"byte_offset":1234,"byte_len":56,"raw_sha256":"{}","decoded_from":"utf-16le"}},"also_seen_in":[{{"#,
                "ab".repeat(32),
                "cd".repeat(32)
            )),
            "{prov}"
        );
        let p: Provenance = serde_json::from_value(v["provenance"].clone()).unwrap();
        assert_eq!(e.full_provenance(), p);
        let back: Event = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.canonical_json(), j);
        // Absent facts are left out, as before; an event with none has no block.
        let bare: Event = serde_json::from_str(
            r#"{"time":"2024-01-01T00:00:00.000000Z","time_original":"","time_zone":"UTC","source":"s","variant":"","class":"authentication","action":"a","operation":"o","outcome":"unknown","provenance":{"evidence_sha256":"","evidence_path":"","record_no":5,"line":0,"byte_offset":0,"byte_len":0,"raw_sha256":""}}"#,
        )
        .unwrap();
        assert!(bare.cold.0.is_none());
        assert_eq!(bare.provenance.record_no, 5);
        assert!(!bare.canonical_json().contains("port"));
    }

    /// An emptied [`Cold`] part equals an absent one (equality is over what an event says,
    /// not where it keeps it), and the analysis's trimming gives the block back.
    #[test]
    fn cold_part_compares_by_content_and_is_dropped_when_trimmed() {
        let bare = |time_original: &str, variant: &str| {
            Event::new(
                DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap(),
                time_original,
                "UTC",
                "entra_signin",
                variant,
                EventClass::Authentication,
                "sign_in",
                "op",
                Outcome::Success,
                Provenance::default(),
            )
        };
        let fresh = bare("", "");
        assert!(fresh.cold.0.is_none(), "no block for no facts");
        // Empty texts kept in the block read as absent ones.
        let mut emptied = bare("t", "graph_json");
        assert!(emptied.cold.0.is_some());
        emptied.set_time_original("");
        emptied.set_variant("");
        assert_eq!(emptied, fresh);
        emptied.drop_empty_cold();
        assert!(emptied.cold.0.is_none());
        let mut set_none = fresh.clone();
        set_none.cold_mut().session_id = None;
        assert!(set_none.cold.0.is_some());
        assert_eq!(set_none, fresh);
        assert_eq!(format!("{set_none:?}"), format!("{fresh:?}"));
        set_none.drop_empty_cold();
        assert!(set_none.cold.0.is_none());

        let mut e = every_field_set();
        let full = e.canonical_json();
        e.remember_hash();
        let h = e.hash();
        crate::analysis::trim_for_analysis(&mut e);
        assert_eq!(e.hash(), h, "cited by the hash of its full form");
        // Ports, destination and byte counts stay (a network event has them).
        assert_eq!(e.cold().dst_port, Some(2));
        assert!(e.cold().request_id.is_none() && e.cold().raw_sha256 == *"");
        assert_ne!(e.canonical_json(), full);

        let mut signin = bare("2024-01-01T00:00:00Z", "graph_json");
        signin.set_provenance(Provenance {
            evidence_sha256: "ab".repeat(32).into(),
            evidence_path: "data/evidence/signins.json".into(),
            record_no: 3,
            line: 4,
            raw_sha256: HexDigest::from("cd".repeat(32).as_str()),
            byte_len: 10,
            ..Default::default()
        });
        signin.cold_mut().correlation_id = Some("c".into());
        signin.cold_mut().request_id = Some("r".into());
        signin.cold_mut().session_id = Some("s".into());
        // As `irpack run` holds it: the hash of its full form is in the run's table.
        signin.mark_hash_known();
        crate::analysis::trim_for_analysis(&mut signin);
        assert!(signin.cold.0.is_none(), "a held sign-in keeps no block");
        // Its record number, which orders events of equal time, stays in place.
        assert_eq!(signin.provenance.record_no, 3);
        assert_eq!((signin.time_original(), signin.variant()), ("", ""));
    }
}

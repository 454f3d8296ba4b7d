//! The case file: the documented example parses and matches the JSON Schema, the schema
//! matches the Rust struct key for key, and bad files fail with line, key and expectation.

use irpack::case::{CaseFile, Thresholds};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example_text() -> String {
    std::fs::read_to_string(root().join("samples/case.example.toml")).unwrap()
}

fn schema() -> Value {
    let s = std::fs::read_to_string(root().join("schemas/case.schema.json")).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("schema compiles")
}

/// TOML → JSON as the schema describes it: date-times become RFC 3339 strings.
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn example_parses_with_every_section() {
    let c = CaseFile::parse(&example_text(), "case.example.toml").unwrap();
    assert_eq!(c.case_id, "IR-2025-0142");
    let alert = c.alert.as_ref().unwrap();
    assert_eq!(alert.kind.as_deref(), Some("leakedCredentials"));
    assert_eq!(alert.users.len(), 2);
    assert_eq!(
        c.aware_at.unwrap().to_rfc3339(),
        "2025-05-24T07:40:00+00:00"
    );
    assert_eq!(c.time_zones["fortigate"], "Europe/Berlin");
    assert_eq!(c.network.vpn_ranges.len(), 2);
    assert_eq!(c.travel[0].country, "PT");
    assert_eq!(c.privileged.users, vec!["it.admin@contoso.example"]);
    assert_eq!(c.data.assets.len(), 5);
    assert_eq!(c.data.nis2_entity, Some(true));
    assert_eq!(c.data.card_brands, vec!["visa", "mastercard"]);
    assert!(c.data.sec_materiality_determined_at.is_none());
}

#[test]
fn example_thresholds_are_the_defaults() {
    let c = CaseFile::parse(&example_text(), "case.example.toml").unwrap();
    assert_eq!(c.thresholds, Thresholds::default());
    // Every threshold is written out in the example (it documents the defaults).
    let t: toml::Value = toml::from_str(&example_text()).unwrap();
    let written: BTreeSet<String> = t["thresholds"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let fields: BTreeSet<String> = serde_json::to_value(Thresholds::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(written, fields);
}

#[test]
fn every_example_key_has_a_comment() {
    // A key line is documented when a comment line sits right above it, or it continues a
    // group introduced by a comment (e.g. window_start / window_end), or it is inside
    // [[data.assets]] (documented once in the comment above the first).
    let text = example_text();
    let lines: Vec<&str> = text.lines().collect();
    let mut undocumented = Vec::new();
    let mut in_assets = false;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_assets = t == "[[data.assets]]";
            continue;
        }
        if t.is_empty() || t.starts_with('#') || !t.contains('=') || in_assets {
            continue;
        }
        let mut j = i;
        let mut documented = false;
        while j > 0 {
            j -= 1;
            let p = lines[j].trim();
            if p.starts_with('#') {
                documented = true;
                break;
            }
            if p.is_empty() || p.starts_with('[') {
                break;
            }
        }
        if !documented {
            undocumented.push(t.to_string());
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented keys: {undocumented:?}"
    );
}

#[test]
fn example_as_json_validates_against_schema() {
    let v: toml::Value = toml::from_str(&example_text()).unwrap();
    let json = toml_to_json(v);
    let val = validator();
    assert!(val.is_valid(&json), "{:?}", errors(&val, &json));
}

#[test]
fn serialized_struct_validates_against_schema() {
    let val = validator();
    let full = CaseFile::parse(&example_text(), "x").unwrap();
    for c in [full, CaseFile::minimal("IR-1")] {
        let json = serde_json::to_value(&c).unwrap();
        assert!(val.is_valid(&json), "{:?}", errors(&val, &json));
    }
}

/// Collect `properties` keys of an object schema, following `$ref` and `oneOf` to the object.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return resolve(schema, &schema["$defs"][name]);
    }
    if let Some(alts) = node.get("oneOf").and_then(Value::as_array) {
        for a in alts {
            let r = resolve(schema, a);
            if r.get("properties").is_some() {
                return r;
            }
        }
    }
    node
}

/// Walk the serialized struct alongside the schema: the same keys at every object level.
fn same_keys(schema: &Value, node: &Value, value: &Value, path: &str, diffs: &mut Vec<String>) {
    let node = resolve(schema, node);
    match value {
        Value::Object(map) if node.get("properties").is_some() => {
            let props = node["properties"].as_object().unwrap();
            let a: BTreeSet<&String> = props.keys().collect();
            let b: BTreeSet<&String> = map.keys().collect();
            if a != b {
                diffs.push(format!("{path}: schema {a:?} vs struct {b:?}"));
            }
            for (k, v) in map {
                if let Some(p) = props.get(k) {
                    same_keys(schema, p, v, &format!("{path}.{k}"), diffs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.get("items") {
                for (i, v) in items.iter().enumerate() {
                    same_keys(schema, item_schema, v, &format!("{path}[{i}]"), diffs);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn schema_matches_struct_key_for_key() {
    let schema = schema();
    let full = CaseFile::parse(&example_text(), "x").unwrap();
    let json = serde_json::to_value(&full).unwrap();
    let mut diffs = Vec::new();
    same_keys(&schema, &schema, &json, "$", &mut diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
    // The schema's documented defaults are the Rust defaults.
    let defaults = serde_json::to_value(Thresholds::default()).unwrap();
    for (k, v) in schema["$defs"]["thresholds"]["properties"]
        .as_object()
        .unwrap()
    {
        assert_eq!(
            v["default"].as_f64(),
            defaults[k].as_f64(),
            "default of thresholds.{k}"
        );
    }
}

#[test]
fn bad_json_fails_schema() {
    let val = validator();
    let good: Value = toml_to_json(toml::from_str(&example_text()).unwrap());
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let bad = [
        ("unknown key", mutate(&|v| v["bogus"] = Value::from(1))),
        (
            "missing case_id",
            mutate(&|v| {
                v.as_object_mut().unwrap().remove("case_id");
            }),
        ),
        (
            "bad category",
            mutate(&|v| v["data"]["assets"][0]["categories"][0] = Value::from("PHI")),
        ),
        (
            "bad country",
            mutate(&|v| v["travel"][0]["country"] = Value::from("Portugal")),
        ),
        (
            "bad time",
            mutate(&|v| v["aware_at"] = Value::from("yesterday")),
        ),
        (
            "negative threshold",
            mutate(&|v| v["thresholds"]["baseline_days"] = Value::from(-1)),
        ),
        (
            "unknown alert key",
            mutate(&|v| v["alert"]["user"] = Value::from("x")),
        ),
    ];
    for (what, v) in bad {
        assert!(!val.is_valid(&v), "{what} should fail the schema");
    }
    assert!(val.is_valid(&good));
}

/// (file text, line, substrings the message must hold)
const BAD_FILES: &[(&str, usize, &[&str])] = &[
    (
        "organisation = \"Contoso\"\n",
        1,
        &["missing field `case_id`", "key `case_id`"],
    ),
    (
        "case_id = \"IR 1\"\n",
        1,
        &["key `case_id`", "expected only letters"],
    ),
    (
        "case_id = \"IR-1\"\n[alert]\ntype = \"leakedCredentials\"\nuser = [\"a@b.c\"]\n",
        4,
        &["key `alert.user`", "unknown field `user`", "expected one of"],
    ),
    (
        "case_id = \"IR-1\"\n\n[thresholds]\ntravel_speed_kmh = \"fast\"\n",
        4,
        &["key `thresholds.travel_speed_kmh`", "expected"],
    ),
    (
        "case_id = \"IR-1\"\n[thresholds]\nbaseline_days = -3\n",
        3,
        &["key `thresholds.baseline_days`", "expected a whole number above 0"],
    ),
    (
        "case_id = \"IR-1\"\n[ioc]\nips = [\n  \"185.220.101.34\",\n  \"185.220.101\",\n]\n",
        5,
        &["key `ioc.ips`", "expected an IP address", "185.220.101"],
    ),
    (
        "case_id = \"IR-1\"\n[time_zones]\nfortigate = \"Berlin\"\n",
        3,
        &["key `time_zones.fortigate`", "expected an IANA time zone"],
    ),
    (
        "case_id = \"IR-1\"\naware_at = 2025-05-24T08:00:00\n",
        2,
        &["key `aware_at`", "without a zone"],
    ),
    (
        "case_id = \"IR-1\"\naware_at = \"last tuesday\"\n",
        2,
        &["key `aware_at`", "expected an RFC 3339 date-time"],
    ),
    (
        "case_id = \"IR-1\"\n[[data.assets]]\nkind = \"user\"\nid = \"*\"\ncategories = [\"none\"]\n\n[[data.assets]]\nkind = \"site\"\nid = \"https://x\"\ncategories = [\"PHI\"]\n",
        10,
        &["key `data.assets[1].categories`", "expected one of eu_personal_data"],
    ),
    (
        "case_id = \"IR-1\"\n[[data.assets]]\nkind = \"database\"\nid = \"x\"\ncategories = [\"phi\"]\n",
        3,
        &["key `data.assets[0].kind`", "expected one of user, site, mailbox, app"],
    ),
    (
        "case_id = \"IR-1\"\n[[travel]]\nuser = \"a@b.c\"\ncountry = \"PT\"\nfrom = 2025-05-20T00:00:00Z\nto = 2025-05-10T00:00:00Z\n",
        6,
        &["key `travel[0].to`", "expected a time after `from`"],
    ),
    (
        "case_id = \"IR-1\"\n[[travel]]\nuser = \"a@b.c\"\ncountry = \"Portugal\"\nfrom = 2025-05-20T00:00:00Z\nto = 2025-05-21T00:00:00Z\n",
        4,
        &["key `travel[0].country`", "ISO 3166-1 alpha-2"],
    ),
    (
        "case_id = \"IR-1\"\n[thresholds]\nbaseline_days = 5\nmin_baseline_days = 7\n",
        4,
        &["key `thresholds.min_baseline_days`", "expected at most baseline_days (5)"],
    ),
    (
        "case_id = \"IR-1\"\n[data]\ncard_brands = [\"visa\", \"diners\"]\n",
        3,
        &["key `data.card_brands`", "expected one of visa"],
    ),
    (
        "case_id = \"IR-1\"\norganisation = \"Contoso\n",
        2,
        &["key `organisation`"],
    ),
];

#[test]
fn bad_files_say_line_key_and_expectation() {
    for (text, line, needles) in BAD_FILES {
        let e = match CaseFile::parse(text, "case.toml") {
            Ok(_) => panic!("accepted a bad file:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with("case.toml: "), "{e}");
        assert!(
            e.contains(&format!("line {line},")),
            "expected line {line} in {e:?} for\n{text}"
        );
        for n in *needles {
            assert!(e.contains(n), "expected {n:?} in {e:?} for\n{text}");
        }
    }
}

#[test]
fn load_reports_missing_file() {
    let e = CaseFile::load(Path::new("/nonexistent/case.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read case file"), "{e}");
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any text: parsed or refused with a message, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = CaseFile::parse(&text, "case.toml");
        }

        /// The example with one cut or one inserted character: still no panic, and a refusal
        /// names a line when the position is known.
        #[test]
        fn mutated_example_never_panics(at in 0usize..6000, cut in 0usize..40, ins in "[\\[\\]=\"#a-z0-9 .\\n{}é]{0,3}") {
            let text = example_text();
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            let mutated = format!("{}{}{}", &text[..at], ins, &text[end..]);
            if let Err(e) = CaseFile::parse(&mutated, "case.toml") {
                let e = e.to_string();
                prop_assert!(e.starts_with("case.toml: "), "{}", e);
            }
        }
    }
}

//! The report model as the templates see it, without a copy of the whole model.
//!
//! `Value::from_serialize(&model)` builds a minijinja value of every string and struct in the
//! model at once: for a case with many findings (14k findings, each with its references)
//! that copy was 70+ MB beside the model, the largest allocation of the run. Here the model
//! is shared (`Arc`) and read where the template reads it: a field is converted when the
//! template asks for it, and the long lists (findings, users, containment, criteria, IOC
//! rows) one item at a time as a loop reaches it, each item dropped when the loop moves on.
//! An item, and every field not listed here as lazy, is converted with
//! `Value::from_serialize`, so it is the same value the whole-model conversion holds: the
//! templates render the same bytes either way (tested).

use super::model::{ClassView, IocView, Model, Scope};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use serde::Serialize;
use std::sync::Arc;

/// The model as a template value. The model is dropped with the last value that reads it.
pub fn value(model: Arc<Model>) -> Value {
    fields(&model, MODEL, model_field)
}

fn whole<T: Serialize + ?Sized>(v: &T) -> Value {
    Value::from_serialize(v)
}

/// A struct of the model, its fields converted when first read and kept (a template reads
/// `meta` or `notification` many times; what is kept is small, the long lists are
/// [`Items`], which hold nothing converted).
struct Fields {
    model: Arc<Model>,
    /// Field names in declaration order (serde's order: what iterating the struct yields).
    names: &'static [&'static str],
    get: fn(&Arc<Model>, &str) -> Option<Value>,
    /// Each field's value once read, by its position in `names`.
    read: std::sync::Mutex<Vec<Option<Value>>>,
}

fn fields(
    model: &Arc<Model>,
    names: &'static [&'static str],
    get: fn(&Arc<Model>, &str) -> Option<Value>,
) -> Value {
    Value::from_object(Fields {
        model: Arc::clone(model),
        names,
        get,
        read: std::sync::Mutex::new(vec![None; names.len()]),
    })
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fields")
            .field("names", &self.names)
            .finish()
    }
}

impl Object for Fields {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let at = self.names.iter().position(|n| *n == key)?;
        // A poisoned lock only means another reader panicked; the values are still whole.
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = read.get(at).cloned().flatten() {
            return Some(v);
        }
        let v = (self.get)(&self.model, key)?;
        if let Some(slot) = read.get_mut(at) {
            *slot = Some(v.clone());
        }
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(self.names)
    }
}

/// A list in the model, each item converted when read.
struct Items<T: 'static> {
    model: Arc<Model>,
    list: fn(&Model) -> &[T],
}

fn items<T: Serialize + Send + Sync + 'static>(
    model: &Arc<Model>,
    list: fn(&Model) -> &[T],
) -> Value {
    Value::from_object(Items {
        model: Arc::clone(model),
        list,
    })
}

impl<T> std::fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("len", &(self.list)(&self.model).len())
            .finish()
    }
}

impl<T: Serialize + Send + Sync + 'static> Object for Items<T> {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    /// Negative indices arrive already counted from the end (minijinja does it for `Seq`).
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_usize()?;
        (self.list)(&self.model).get(i).map(whole)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq((self.list)(&self.model).len())
    }
}

const MODEL: &[&str] = &[
    "meta",
    "summary",
    "scope",
    "classification",
    "findings",
    "users",
    "key_timeline",
    "activity",
    "chart",
    "network",
    "containment",
    "containment_total",
    "risk",
    "actions",
    "regulatory",
    "iocs",
    "inventory",
    "zones",
    "geo",
    "custody",
    "lessons",
    "runbook",
    "notification",
    "handoff",
];

fn model_field(m: &Arc<Model>, key: &str) -> Option<Value> {
    Some(match key {
        "meta" => whole(&m.meta),
        "summary" => whole(&m.summary),
        "scope" => fields(m, SCOPE, scope_field),
        "classification" => fields(m, CLASS, class_field),
        "findings" => items(m, |m| &m.findings),
        "users" => items(m, |m| &m.users),
        "key_timeline" => whole(&m.key_timeline),
        "activity" => items(m, |m| &m.activity),
        "chart" => whole(&m.chart),
        "network" => items(m, |m| &m.network),
        "containment" => items(m, |m| &m.containment),
        "containment_total" => whole(&m.containment_total),
        "risk" => items(m, |m| &m.risk),
        "actions" => items(m, |m| &m.actions),
        "regulatory" => items(m, |m| &m.regulatory),
        "iocs" => fields(m, IOCS, iocs_field),
        "inventory" => whole(&m.inventory),
        "zones" => whole(&m.zones),
        "geo" => whole(&m.geo),
        "custody" => whole(&m.custody),
        "lessons" => whole(&m.lessons),
        "runbook" => items(m, |m| &m.runbook),
        "notification" => whole(&m.notification),
        "handoff" => whole(&m.handoff),
        _ => return None,
    })
}

const SCOPE: &[&str] = &[
    "users",
    "ips",
    "window_start",
    "window_end",
    "window_source",
    "first_event",
    "last_event",
    "sources",
];

fn scope_field(m: &Arc<Model>, key: &str) -> Option<Value> {
    let s: &Scope = &m.scope;
    Some(match key {
        "users" => whole(&s.users),
        "ips" => whole(&s.ips),
        "window_start" => whole(&s.window_start),
        "window_end" => whole(&s.window_end),
        "window_source" => whole(&s.window_source),
        "first_event" => whole(&s.first_event),
        "last_event" => whole(&s.last_event),
        "sources" => whole(&s.sources),
        _ => return None,
    })
}

const CLASS: &[&str] = &[
    "verdict",
    "verdict_id",
    "summary",
    "escalate",
    "confidence",
    "confidence_reason",
    "met",
    "not_met",
    "missing",
    "users",
];

fn class_field(m: &Arc<Model>, key: &str) -> Option<Value> {
    let c: &ClassView = &m.classification;
    Some(match key {
        "verdict" => whole(&c.verdict),
        "verdict_id" => whole(&c.verdict_id),
        "summary" => whole(&c.summary),
        "escalate" => whole(&c.escalate),
        "confidence" => whole(&c.confidence),
        "confidence_reason" => whole(&c.confidence_reason),
        "met" => items(m, |m| &m.classification.met),
        "not_met" => items(m, |m| &m.classification.not_met),
        "missing" => whole(&c.missing),
        "users" => items(m, |m| &m.classification.users),
        _ => return None,
    })
}

const IOCS: &[&str] = &[
    "ips",
    "user_agents",
    "apps",
    "hits",
    "hit_refs",
    "case_lists",
];

fn iocs_field(m: &Arc<Model>, key: &str) -> Option<Value> {
    let i: &IocView = &m.iocs;
    Some(match key {
        "ips" => items(m, |m| &m.iocs.ips),
        "user_agents" => items(m, |m| &m.iocs.user_agents),
        "apps" => items(m, |m| &m.iocs.apps),
        "hits" => whole(&i.hits),
        "hit_refs" => whole(&i.hit_refs),
        "case_lists" => whole(&i.case_lists),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of each lazily read struct is named, in serde's order, and answers: a
    /// field added to the model but not here would be undefined to the templates.
    #[test]
    fn names_every_field_in_order() {
        let model = Arc::new(Model::default());
        let keys = |v: serde_json::Value| -> Vec<String> {
            match v {
                serde_json::Value::Object(m) => m.keys().cloned().collect(),
                _ => Vec::new(),
            }
        };
        let sorted = |names: &[&str]| {
            let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        let lazy = value(Arc::clone(&model));
        for (names, want, path) in [
            (MODEL, serde_json::to_value(&*model).unwrap(), None),
            (
                SCOPE,
                serde_json::to_value(&model.scope).unwrap(),
                Some("scope"),
            ),
            (
                CLASS,
                serde_json::to_value(&model.classification).unwrap(),
                Some("classification"),
            ),
            (
                IOCS,
                serde_json::to_value(&model.iocs).unwrap(),
                Some("iocs"),
            ),
        ] {
            // serde_json's map sorts its keys; the whole-model value keeps serde's order.
            assert_eq!(sorted(names), keys(want));
            let full = whole(&*model);
            let (full, lazy) = match path {
                None => (full, lazy.clone()),
                Some(p) => (full.get_attr(p).unwrap(), lazy.get_attr(p).unwrap()),
            };
            let order: Vec<String> = full.try_iter().unwrap().map(|k| k.to_string()).collect();
            assert_eq!(order, names);
            let lazy_order: Vec<String> = lazy.try_iter().unwrap().map(|k| k.to_string()).collect();
            assert_eq!(lazy_order, names);
            for n in names {
                assert!(!lazy.get_attr(n).unwrap().is_undefined(), "{n}");
            }
        }
    }
}

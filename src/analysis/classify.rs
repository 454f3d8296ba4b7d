//! Classification (placeholder until it lands).
use super::{Analysis, Classification, Verdict};
use crate::case::CaseFile;
use crate::event::Event;

pub fn classify(_analysis: &Analysis, _events: &[Event], _case: &CaseFile) -> Classification {
    Classification {
        verdict: Verdict::Undetermined,
        summary: String::new(),
        escalate: false,
        criteria_met: vec![],
        criteria_not_met: vec![],
        missing_evidence: vec![],
        confidence: "low".into(),
        confidence_reason: String::new(),
        users: vec![],
    }
}

//! Entry point of the detections (placeholder until the analysis lands).
use super::Analysis;
use crate::case::CaseFile;
use crate::event::Event;

pub fn analyze(_events: &[Event], _case: &CaseFile) -> Analysis {
    Analysis::default()
}

//! Recommended actions (placeholder until it lands).
use super::{Analysis, Classification, RecommendedAction};
use crate::case::CaseFile;

pub fn recommend(
    _analysis: &Analysis,
    _classification: &Classification,
    _case: &CaseFile,
) -> Vec<RecommendedAction> {
    Vec::new()
}

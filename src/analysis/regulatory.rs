//! Regulatory clocks (placeholder until it lands).
use super::{Analysis, Classification, RegulatoryFlag};
use crate::case::CaseFile;

pub fn flags(
    _analysis: &Analysis,
    _classification: &Classification,
    _case: &CaseFile,
) -> Vec<RegulatoryFlag> {
    Vec::new()
}

//! irpack: identity-compromise log exports in, one verifiable evidence package out.
//!
//! The pipeline is a function of plain inputs to plain outputs (see [`pipeline::run`]); the
//! `irpack` binary only parses flags and prints.

pub mod analysis;
pub mod case;
pub mod event;
pub mod evidence;
pub mod gen;
pub mod package;
pub mod pipeline;
pub mod profile;
pub mod rcvec;
pub mod report;
pub mod sources;
pub mod timeline;

/// `irpack <version>`, stamped on custody entries and reports.
pub fn tool_version() -> String {
    format!("irpack {}", env!("CARGO_PKG_VERSION"))
}

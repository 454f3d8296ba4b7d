//! irpack: identity-compromise log exports in, one verifiable evidence package out.

pub mod event;
pub mod sources;

//! Evidence intake and the chain-of-custody log.

pub mod custody;
pub mod intake;
pub mod mapped;

pub use custody::{CustodyEntry, CustodyLog};
pub use intake::{intake, EvidenceItem, Intake, IntakeError, IntakeOptions};

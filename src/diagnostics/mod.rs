//! Diagnostics (stub).
pub use crate::identity::{ObjectInfo, ObjectKind};
pub use crate::wait::WaitKind;

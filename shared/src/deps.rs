//! What a handler needs, built once per cold start: the store and the settings.

use crate::cursor::CursorCodec;

/// Settings fixed at cold start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub staff_group: String,
    pub retention_days: u32,
    pub cursors: CursorCodec,
}

/// Everything a handler needs, built once per cold start.
pub struct Deps<S> {
    pub store: S,
    pub settings: Settings,
}

//! A global logger that keeps this crate's records, for tests that assert on what was logged.
//! A test binary that uses it installs it once (`install`); its tests run in parallel, so each
//! one reads only the records that name its own servers (or runs alone in its binary).

use std::sync::Mutex;

/// (level, message) of every record of this crate.
pub struct Capture(pub Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("mcp_orchestrator") {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

/// The one capturing logger.
pub static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

/// Installs the capturing logger at debug level (again is harmless).
pub fn install() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);
}

/// The records kept so far.
#[allow(dead_code)] // reason: not every test binary that includes this file reads them all
pub fn records() -> Vec<(log::Level, String)> {
    LOGGER.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Takes the records kept so far, leaving none.
#[allow(dead_code)] // reason: not every test binary that includes this file takes them
pub fn take() -> Vec<(log::Level, String)> {
    std::mem::take(&mut *LOGGER.0.lock().unwrap_or_else(|e| e.into_inner()))
}

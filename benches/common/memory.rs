//! This process's memory, from `/proc/self` (Linux): the resident set and its peak.

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (through
/// `/proc/self/clear_refs`) and returns the current RSS in KiB; `None` where `/proc` does not
/// allow it.
pub fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

/// A `kB` line of `/proc/self/status` (e.g. `"VmHWM:"`), in KiB.
pub fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

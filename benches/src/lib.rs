//! Criterion benches for zkattr live in `benches/`; run them with `cargo bench -p zkattr-benches`.
//! Figures, with the machine they were taken on, are recorded in `docs/performance.md`.
#![deny(missing_docs)]

/// Peak resident set size of this process so far, in KiB (`VmHWM`), where `/proc` exists.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(super::peak_rss_kib().unwrap() > 0);
        }
    }
}

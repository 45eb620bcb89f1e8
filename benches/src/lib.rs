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

/// Resets the peak resident set size (`VmHWM`) to the current one (Linux `/proc/self/clear_refs`); false
/// where that is not possible, and then [`peak_rss_kib`] keeps the process's peak so far.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs `f` as one timed phase and prints a Markdown table row: the name, the wall time and the peak
/// resident set during the phase (reset before it; "unknown" where it cannot be reset or read).
pub fn phase<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let reset = reset_peak_rss();
    let t = std::time::Instant::now();
    let out = f();
    let peak = if reset { peak_rss_kib() } else { None };
    println!(
        "| {name} | {:.2} s | {} |",
        t.elapsed().as_secs_f64(),
        peak.map_or("unknown".into(), |kib| format!("{} MiB", kib / 1024))
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(super::peak_rss_kib().unwrap() > 0);
        }
    }

    #[test]
    fn a_reset_peak_covers_the_phase_only() {
        if !super::reset_peak_rss() {
            return;
        }
        // A 64 MiB allocation, touched and freed, raises the peak; after a reset the peak is below it again.
        let big = vec![1u8; 64 << 20];
        assert!(big.iter().map(|&b| u64::from(b)).sum::<u64>() == 64 << 20);
        let with = super::peak_rss_kib().unwrap();
        drop(big);
        assert!(super::reset_peak_rss());
        let after = super::peak_rss_kib().unwrap();
        assert!(
            after + (32 << 10) < with,
            "peak {with} KiB, after reset {after} KiB"
        );
    }
}

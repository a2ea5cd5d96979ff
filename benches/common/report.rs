//! Criterion's settings for the benches, and reading back what it measured: the ratio of
//! two functions of one run, and the formatting of the printed figures.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Whether the bench binary runs in benchmark mode (`cargo bench`), not as a test
/// (`cargo test --benches` runs each benchmark once, with no `--bench` flag).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Where criterion writes its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion` (benches run in the package root).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// The time per iteration of `group/function` measured since `since` (the slope estimate
/// when criterion has one, else the mean), in nanoseconds; `None` when that function did not
/// run in this process (filtered out).
pub fn estimate_ns(group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value
        .get("slope")
        .and_then(|s| s.get("point_estimate"))
        .and_then(serde_json::Value::as_f64)
        .or_else(|| value.get("mean")?.get("point_estimate")?.as_f64())
}

/// Prints `name / baseline` for this run, with the target, or why it cannot.
pub fn report_ratio(group: &str, name: &str, baseline: &str, target: &str, since: SystemTime) {
    match (
        estimate_ns(group, name, since),
        estimate_ns(group, baseline, since),
    ) {
        (Some(a), Some(b)) => println!(
            "ratio {group}: {name} / {baseline} = {:.3}  ({} vs {}; target: {target})",
            a / b,
            format_ns(a),
            format_ns(b)
        ),
        _ => println!("ratio {group}: {name} / {baseline}: not both measured in this run"),
    }
}

/// `1.23 µs`, `45.6 ms`, …
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Short runs by default (the machine is shared; ratios matter, not absolute precision);
/// command-line flags still override.
pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// A duration in seconds, for the printed figures.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

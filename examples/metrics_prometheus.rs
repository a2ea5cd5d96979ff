//! Metrics in Prometheus's text format: the client's counters and histograms (feature
//! `metrics`) after a short run against the fake TalkJS server, with some 503s and 429s
//! thrown in so that retries show.
//!
//! ```sh
//! cargo run --example metrics_prometheus --features metrics
//! ```
//!
//! The client records through the `metrics` facade, so any exporter plugs in: in a service,
//! install `metrics-exporter-prometheus` (its `PrometheusBuilder` serves `/metrics`), or an
//! OpenTelemetry or StatsD one, instead of the small recorder below. This example keeps its
//! own (~100 lines) rather than pull in an exporter with some 40 crates of its own: it keeps
//! each series, and prints them in the text format Prometheus scrapes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use talkjs::models::UserUpsert;
use talkjs_fake::{FakeTalkJs, Faults};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The upper bounds of the histograms' buckets, in seconds (Prometheus's defaults).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One series: a counter's value, or a histogram's bucket counts, sum and count.
#[derive(Default)]
struct Series {
    value: AtomicU64,
    histogram: Mutex<(Vec<u64>, f64, u64)>,
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        self.value.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.value.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Series {
    // The client records no gauges.
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, _: f64) {}
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        let Ok(mut h) = self.histogram.lock() else {
            return;
        };
        if h.0.is_empty() {
            h.0 = vec![0; BUCKETS.len()];
        }
        for (count, bound) in h.0.iter_mut().zip(BUCKETS) {
            if value <= bound {
                *count += 1;
            }
        }
        h.1 += value;
        h.2 += 1;
    }
}

/// A recorder keeping every series, by name and then by labels.
#[derive(Default)]
struct TextRecorder {
    counters: Mutex<BTreeMap<String, BTreeMap<String, Arc<Series>>>>,
    histograms: Mutex<BTreeMap<String, BTreeMap<String, Arc<Series>>>>,
}

/// `{a="1",b="2"}` with `extra` (e.g. `le="0.5"`) last, escaped as the text format wants.
fn labels(key: &Key, extra: Option<String>) -> String {
    let mut parts: Vec<String> = key
        .labels()
        .map(|l| {
            let value = l
                .value()
                .replace('\\', r"\\")
                .replace('"', "\\\"")
                .replace('\n', r"\n");
            format!("{}=\"{value}\"", l.key())
        })
        .collect();
    parts.extend(extra);
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl TextRecorder {
    fn series(
        map: &Mutex<BTreeMap<String, BTreeMap<String, Arc<Series>>>>,
        key: &Key,
    ) -> Arc<Series> {
        let Ok(mut map) = map.lock() else {
            return Arc::default();
        };
        let by_labels = map.entry(key.name().to_owned()).or_default();
        Arc::clone(by_labels.entry(labels(key, None)).or_default())
    }

    /// Everything recorded, in Prometheus's text format.
    fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(counters) = self.counters.lock() {
            for (name, series) in counters.iter() {
                let _ = writeln!(out, "# TYPE {name} counter");
                for (labels, s) in series {
                    let _ = writeln!(out, "{name}{labels} {}", s.value.load(Ordering::Relaxed));
                }
            }
        }
        if let Ok(histograms) = self.histograms.lock() {
            for (name, series) in histograms.iter() {
                let _ = writeln!(out, "# TYPE {name} histogram");
                for (labels, s) in series {
                    let Ok(h) = s.histogram.lock() else { continue };
                    let inner = labels.trim_start_matches('{').trim_end_matches('}');
                    let with = |le: &str| {
                        if inner.is_empty() {
                            format!("{{le=\"{le}\"}}")
                        } else {
                            format!("{{{inner},le=\"{le}\"}}")
                        }
                    };
                    for (count, bound) in h.0.iter().zip(BUCKETS) {
                        let _ = writeln!(out, "{name}_bucket{} {count}", with(&bound.to_string()));
                    }
                    let _ = writeln!(out, "{name}_bucket{} {}", with("+Inf"), h.2);
                    let _ = writeln!(out, "{name}_sum{labels} {}", h.1);
                    let _ = writeln!(out, "{name}_count{labels} {}", h.2);
                }
            }
        }
        out
    }
}

impl Recorder for TextRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Self::series(&self.counters, key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Series::default()))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Self::series(&self.histograms, key))
    }
}

/// A recorder that can be installed globally while `main` keeps a handle to render it.
#[derive(Clone, Default)]
struct Shared(Arc<TextRecorder>);

impl Recorder for Shared {
    fn describe_counter(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_counter(k, u, d);
    }
    fn describe_gauge(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_gauge(k, u, d);
    }
    fn describe_histogram(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_histogram(k, u, d);
    }
    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, m)
    }
    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, m)
    }
    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, m)
    }
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let recorder = Shared::default();
    metrics::set_global_recorder(recorder.clone())
        .map_err(|e| format!("a recorder is already installed: {e}"))?;

    // A fake TalkJS that answers 10 % of requests with a 5xx and 10 % with a 429.
    let fake = FakeTalkJs::builder()
        .faults(Faults::seeded(7).error_rate(0.1).throttle_rate(0.1))
        .start()
        .await?;
    let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    for i in 0..40 {
        let id = format!("user{i}");
        // Some calls may still fail after their retries; the metrics count them too.
        let _ = client
            .users()
            .upsert(&id, &UserUpsert::new().name(format!("User {i}")))
            .await;
        let _ = client.users().get(&id).await;
    }
    print!("{}", recorder.0.render());
    Ok(())
}

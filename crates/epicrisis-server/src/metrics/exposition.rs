//! The Prometheus text exposition format, version 0.0.4, written by hand: counters and
//! histograms with fixed buckets on atomics, families of them keyed by label values, and
//! the encoder that writes `# HELP`, `# TYPE` and the samples with escaped label values.
//! Small on purpose: a metrics crate would bring a registry, macros and a protobuf
//! format this server does not need.
//!
//! Label values are the program's own words (route patterns, engine and model names,
//! outcomes): never a URI, an episode or a patient. A family keeps at most
//! [`MAX_SERIES`] label sets; past that, new ones are counted under `other`, so a bug
//! that put an unbounded value in a label cannot grow the server's memory.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The most label sets one family keeps.
pub const MAX_SERIES: usize = 2000;

/// The value that stands for every label value past [`MAX_SERIES`].
pub const OVERFLOW: &str = "other";

/// An `f64` in an atomic (its bits), for sums and counters.
#[derive(Debug, Default)]
pub struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub fn add(&self, v: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// What a family makes for a new label set.
pub trait Metric: Send + Sync {
    fn new(bounds: &'static [f64]) -> Self;
}

/// A value that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicF64);

impl Counter {
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Adds `v`; a negative or NaN `v` is ignored (a counter never goes down).
    pub fn inc_by(&self, v: f64) {
        if v >= 0.0 {
            self.0.add(v);
        }
    }

    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

impl Metric for Counter {
    fn new(_: &'static [f64]) -> Self {
        Counter::default()
    }
}

/// Observations counted into fixed buckets (upper bounds, ascending; `+Inf` is implied).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last one is `+Inf`'s.
    buckets: Vec<AtomicU64>,
    sum: AtomicF64,
    count: AtomicU64,
}

/// A histogram as the encoder writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound, observations ≤ it), cumulative, `+Inf` last.
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    /// An observation; NaN is ignored.
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.add(v);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let buckets = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, n)| {
                total += n.load(Ordering::Relaxed);
                (bound, total)
            })
            .collect();
        // `count` is the `+Inf` bucket, so that the two always agree in one scrape.
        HistogramSnapshot {
            buckets,
            sum: self.sum.get(),
            count: total,
        }
    }
}

impl Metric for Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicF64::default(),
            count: AtomicU64::new(0),
        }
    }
}

/// Metrics of one name, one per set of label values.
pub struct Family<M> {
    labels: &'static [&'static str],
    bounds: &'static [f64],
    children: Mutex<BTreeMap<Vec<String>, Arc<M>>>,
}

impl<M: Metric> Family<M> {
    pub fn new(labels: &'static [&'static str]) -> Self {
        Self::with_buckets(labels, &[])
    }

    pub fn with_buckets(labels: &'static [&'static str], bounds: &'static [f64]) -> Self {
        Family {
            labels,
            bounds,
            children: Mutex::new(BTreeMap::new()),
        }
    }

    /// The metric of these label values (as many as the family's labels), made on first
    /// use.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        debug_assert_eq!(values.len(), self.labels.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_string()).collect();
        let Ok(mut children) = self.children.lock() else {
            return Arc::new(M::new(self.bounds));
        };
        if let Some(m) = children.get(&key) {
            return m.clone();
        }
        let key = if children.len() >= MAX_SERIES {
            vec![OVERFLOW.to_string(); self.labels.len()]
        } else {
            key
        };
        children
            .entry(key)
            .or_insert_with(|| Arc::new(M::new(self.bounds)))
            .clone()
    }

    /// Every label set with its metric, in label order.
    fn children(&self) -> Vec<(Vec<String>, Arc<M>)> {
        self.children
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// A label value as the format wants it: `\`, `"` and line feeds escaped.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: `\` and line feeds escaped (quotes stay).
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Go's float syntax (`+Inf`, `-Inf`, `NaN`, else a plain decimal).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `{a="x",b="y"}`, or nothing without labels.
fn label_set(names: &[&str], values: &[&str]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// The text of one scrape.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, names: &[&str], values: &[&str], v: f64) {
        let labels = label_set(names, values);
        let _ = writeln!(self.out, "{name}{labels} {}", format_value(v));
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, v: f64) {
        self.header(name, help, "gauge");
        self.sample(name, &[], &[], v);
    }

    /// A gauge with labels: one sample per set of values.
    pub fn gauges(&mut self, name: &str, help: &str, labels: &[&str], samples: &[(&[&str], f64)]) {
        self.header(name, help, "gauge");
        for (values, v) in samples {
            self.sample(name, labels, values, *v);
        }
    }

    /// A counter family; `name` ends in `_total`.
    pub fn counters(&mut self, name: &str, help: &str, family: &Family<Counter>) {
        self.header(name, help, "counter");
        for (values, c) in family.children() {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            self.sample(name, family.labels, &values, c.get());
        }
    }

    /// A histogram family: `_bucket` lines with `le`, then `_sum` and `_count`.
    pub fn histograms(&mut self, name: &str, help: &str, family: &Family<Histogram>) {
        self.header(name, help, "histogram");
        let mut names = family.labels.to_vec();
        names.push("le");
        for (values, h) in family.children() {
            let snap = h.snapshot();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            for (bound, n) in &snap.buckets {
                let le = format_value(*bound);
                let with_le: Vec<&str> = values.iter().copied().chain([le.as_str()]).collect();
                self.sample(&format!("{name}_bucket"), &names, &with_le, *n as f64);
            }
            let (s, c) = (format!("{name}_sum"), format!("{name}_count"));
            self.sample(&s, family.labels, &values, snap.sum);
            self.sample(&c, family.labels, &values, snap.count as f64);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(
            escape_label("/api/v1/episodes/{id}"),
            "/api/v1/episodes/{id}"
        );
        let mut e = Exposition::default();
        let family = Family::<Counter>::new(&["route"]);
        family.with(&["say \"hi\"\\\n"]).inc();
        e.counters("t_total", "line one\nback\\slash \"quoted\"", &family);
        assert_eq!(
            e.finish(),
            "# HELP t_total line one\\nback\\\\slash \"quoted\"\n\
             # TYPE t_total counter\n\
             t_total{route=\"say \\\"hi\\\"\\\\\\n\"} 1\n"
        );
    }

    #[test]
    fn histograms_count_into_cumulative_buckets_with_sum_and_count() {
        static BOUNDS: &[f64] = &[0.1, 1.0, 10.0];
        let family = Family::<Histogram>::with_buckets(&["engine"], BOUNDS);
        let h = family.with(&["deterministic"]);
        for v in [0.05, 0.1, 0.5, 3.0, 100.0, f64::NAN] {
            h.observe(v);
        }
        let snap = h.snapshot();
        assert_eq!(
            snap.buckets,
            [(0.1, 2), (1.0, 3), (10.0, 4), (f64::INFINITY, 5)],
            "0.1 is in the le=0.1 bucket; NaN is not counted"
        );
        assert_eq!(snap.count, 5);
        assert!((snap.sum - 103.65).abs() < 1e-9);
        let mut e = Exposition::default();
        e.histograms("d_seconds", "Durations.", &family);
        let text = e.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "# HELP d_seconds Durations.",
                "# TYPE d_seconds histogram",
                "d_seconds_bucket{engine=\"deterministic\",le=\"0.1\"} 2",
                "d_seconds_bucket{engine=\"deterministic\",le=\"1\"} 3",
                "d_seconds_bucket{engine=\"deterministic\",le=\"10\"} 4",
                "d_seconds_bucket{engine=\"deterministic\",le=\"+Inf\"} 5",
                "d_seconds_sum{engine=\"deterministic\"} 103.65",
                "d_seconds_count{engine=\"deterministic\"} 5",
            ]
        );
    }

    #[test]
    fn counters_only_go_up_and_values_use_go_syntax() {
        let c = Counter::default();
        c.inc();
        c.inc_by(2.5);
        c.inc_by(-4.0);
        c.inc_by(f64::NAN);
        assert_eq!(c.get(), 3.5);
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.005), "0.005");
        let mut e = Exposition::default();
        e.gauge("up_seconds", "Seconds.", 12.0);
        e.gauges("info", "Info.", &["version"], &[(&["0.1.0"], 1.0)]);
        assert_eq!(
            e.finish(),
            "# HELP up_seconds Seconds.\n# TYPE up_seconds gauge\nup_seconds 12\n\
             # HELP info Info.\n# TYPE info gauge\ninfo{version=\"0.1.0\"} 1\n"
        );
    }

    #[test]
    fn a_family_stops_growing_at_its_cap() {
        let family = Family::<Counter>::new(&["route"]);
        for i in 0..MAX_SERIES + 10 {
            family.with(&[&format!("/r{i}")]).inc();
        }
        let children = family.children();
        assert_eq!(children.len(), MAX_SERIES + 1);
        let other = children
            .iter()
            .find(|(k, _)| k == &[OVERFLOW.to_string()])
            .unwrap();
        assert_eq!(other.1.get(), 10.0);
        // An existing label set is still counted as itself.
        family.with(&["/r0"]).inc();
        assert_eq!(family.with(&["/r0"]).get(), 2.0);
    }
}

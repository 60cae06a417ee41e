//! How long operations tell the caller what they are doing. The library never prints: it
//! sends [`Event`]s to a [`Progress`] the caller gives. The binary can use the ready-made
//! [`TerminalProgress`] (an indicatif bar that draws only when stderr is a terminal),
//! [`LineProgress`] (plain lines to any writer, for logs), a closure, or [`NoProgress`].

use std::time::Duration;

/// A snapshot of a transfer (download, copy or hash).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    /// Bytes of the file done so far (including bytes resumed from an earlier run).
    pub done: u64,
    /// The file's size, when known.
    pub total: Option<u64>,
    /// Bytes per second over the current attempt.
    pub bytes_per_sec: f64,
    /// Time left at that speed, when the size is known.
    pub eta: Option<Duration>,
}

/// What an operation reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A file starts downloading (or resumes from `resumed_from` bytes).
    Start {
        label: &'a str,
        url: &'a str,
        total: Option<u64>,
        resumed_from: u64,
    },
    /// Bytes arrived, were copied or were hashed.
    Bytes { label: &'a str, transfer: Transfer },
    /// A failed attempt will be retried after `wait`.
    Retry {
        label: &'a str,
        attempt: u32,
        max: u32,
        wait: Duration,
        reason: &'a str,
    },
    /// A file's size and sha256 are being checked.
    Verifying { label: &'a str, total: u64 },
    /// A file is in place.
    Finished {
        label: &'a str,
        bytes: u64,
        sha256: &'a str,
    },
    /// Nothing to do for this file or model (already installed, optional file absent).
    Skipped { label: &'a str, reason: &'a str },
}

/// Receives progress events.
pub trait Progress {
    fn event(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Progress for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&mut self, _: &Event<'_>) {}
}

/// Writes one line per file event (start, retry, finished, skipped) to a writer; byte
/// counts are left out. For logs and non-interactive runs.
#[derive(Debug)]
pub struct LineProgress<W: std::io::Write> {
    out: W,
}

impl<W: std::io::Write> LineProgress<W> {
    pub fn new(out: W) -> Self {
        LineProgress { out }
    }
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn human(b: u64) -> String {
    epicrisis_llm::system::human_bytes(b)
}

impl<W: std::io::Write> Progress for LineProgress<W> {
    fn event(&mut self, event: &Event<'_>) {
        let line = match event {
            Event::Start {
                label,
                url,
                total,
                resumed_from,
            } => {
                let size = total
                    .map(|t| format!(" ({})", human(t)))
                    .unwrap_or_default();
                if *resumed_from > 0 {
                    format!(
                        "{label}: se retoma en {} desde {url}{size}",
                        human(*resumed_from)
                    )
                } else {
                    // Imports report their source path where downloads report a URL.
                    let verb = if url.starts_with("http://") || url.starts_with("https://") {
                        "descargando"
                    } else {
                        "copiando"
                    };
                    format!("{label}: {verb} {url}{size}")
                }
            }
            Event::Retry {
                label,
                attempt,
                max,
                wait,
                reason,
            } => format!(
                "{label}: {reason}; reintento {attempt}/{max} en {:.1} s",
                wait.as_secs_f64()
            ),
            Event::Verifying { label, total } => {
                format!("{label}: comprobando tamaño y sha256 ({})", human(*total))
            }
            Event::Finished {
                label,
                bytes,
                sha256,
            } => format!("{label}: listo, {}, sha256 {sha256}", human(*bytes)),
            Event::Skipped { label, reason } => format!("{label}: {reason}"),
            Event::Bytes { .. } => return,
        };
        let _ = writeln!(self.out, "{line}");
    }
}

#[cfg(feature = "indicatif")]
pub use terminal::TerminalProgress;

#[cfg(feature = "indicatif")]
mod terminal {
    use super::{Event, Progress, human};
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;

    /// An indicatif progress bar on stderr (bytes, speed, ETA), one bar per file. Draws
    /// only when stderr is a terminal; otherwise it is silent (pair it with
    /// [`super::LineProgress`] for logs).
    pub struct TerminalProgress {
        bar: Option<ProgressBar>,
        draw: bool,
    }

    impl Default for TerminalProgress {
        fn default() -> Self {
            Self::new()
        }
    }

    impl TerminalProgress {
        pub fn new() -> Self {
            TerminalProgress {
                bar: None,
                draw: std::io::stderr().is_terminal(),
            }
        }

        /// Whether anything will be drawn (stderr is a terminal).
        pub fn is_drawing(&self) -> bool {
            self.draw
        }

        fn new_bar(&self, label: &str, total: Option<u64>) -> ProgressBar {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), self.target()),
                None => ProgressBar::with_draw_target(None, self.target()),
            };
            let style = if total.is_some() {
                ProgressStyle::with_template(
                    "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
            } else {
                ProgressStyle::with_template("{msg:30!} {spinner} {bytes} {bytes_per_sec}")
            };
            if let Ok(s) = style {
                bar.set_style(s.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar
        }

        fn target(&self) -> ProgressDrawTarget {
            if self.draw {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            }
        }

        fn println(&self, line: String) {
            if !self.draw {
                return;
            }
            match &self.bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
    }

    impl Progress for TerminalProgress {
        fn event(&mut self, event: &Event<'_>) {
            if !self.draw {
                return;
            }
            match event {
                Event::Start {
                    label,
                    total,
                    resumed_from,
                    ..
                } => {
                    if let Some(b) = self.bar.take() {
                        b.finish_and_clear();
                    }
                    let bar = self.new_bar(label, *total);
                    bar.set_position(*resumed_from);
                    bar.reset_eta();
                    self.bar = Some(bar);
                }
                Event::Bytes { label, transfer } => {
                    if self.bar.is_none() {
                        self.bar = Some(self.new_bar(label, transfer.total));
                    }
                    if let Some(b) = &self.bar {
                        if let Some(t) = transfer.total {
                            b.set_length(t);
                        }
                        b.set_position(transfer.done);
                    }
                }
                Event::Retry {
                    label,
                    attempt,
                    max,
                    wait,
                    reason,
                } => self.println(format!(
                    "{label}: {reason}; reintento {attempt}/{max} en {:.1} s",
                    wait.as_secs_f64()
                )),
                Event::Verifying { label, total } => {
                    if let Some(b) = self.bar.take() {
                        b.finish_and_clear();
                    }
                    let bar = self.new_bar(&format!("{label} (sha256)"), Some(*total));
                    self.bar = Some(bar);
                }
                Event::Finished { label, bytes, .. } => {
                    if let Some(b) = self.bar.take() {
                        b.finish_and_clear();
                    }
                    self.println(format!("{label}: {} ✓", human(*bytes)));
                }
                Event::Skipped { label, reason } => {
                    self.println(format!("{label}: {reason}"));
                }
            }
        }
    }

    impl Drop for TerminalProgress {
        fn drop(&mut self) {
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

/// Turns byte counts into [`Transfer`] snapshots (speed, ETA) and throttles them.
pub(crate) struct Meter {
    started: std::time::Instant,
    start_bytes: u64,
    last_emit: Option<std::time::Instant>,
}

impl Meter {
    pub(crate) fn new(start_bytes: u64) -> Self {
        Meter {
            started: std::time::Instant::now(),
            start_bytes,
            last_emit: None,
        }
    }

    pub(crate) fn snapshot(&self, done: u64, total: Option<u64>) -> Transfer {
        let secs = self.started.elapsed().as_secs_f64();
        let moved = done.saturating_sub(self.start_bytes) as f64;
        let bytes_per_sec = if secs > 0.0 { moved / secs } else { 0.0 };
        let eta = match total {
            Some(t) if bytes_per_sec > 0.0 => Some(Duration::from_secs_f64(
                t.saturating_sub(done) as f64 / bytes_per_sec,
            )),
            Some(t) if t <= done => Some(Duration::ZERO),
            _ => None,
        };
        Transfer {
            done,
            total,
            bytes_per_sec,
            eta,
        }
    }

    /// Emits a `Bytes` event at most every 100 ms, and always when `force`.
    pub(crate) fn tick(
        &mut self,
        progress: &mut dyn Progress,
        label: &str,
        done: u64,
        total: Option<u64>,
        force: bool,
    ) {
        let now = std::time::Instant::now();
        if !force
            && self
                .last_emit
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.last_emit = Some(now);
        let transfer = self.snapshot(done, total);
        progress.event(&Event::Bytes { label, transfer });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_file_and_what_happens() {
        let mut p = LineProgress::new(Vec::new());
        p.event(&Event::Start {
            label: "tinyllama-1.1b-chat Q4_K_M",
            url: "http://x/y.gguf",
            total: Some(669_000_000),
            resumed_from: 100_000_000,
        });
        p.event(&Event::Bytes {
            label: "x",
            transfer: Transfer {
                done: 1,
                total: None,
                bytes_per_sec: 0.0,
                eta: None,
            },
        });
        p.event(&Event::Retry {
            label: "x",
            attempt: 2,
            max: 5,
            wait: Duration::from_millis(1500),
            reason: "conexión reiniciada",
        });
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(
            text,
            "tinyllama-1.1b-chat Q4_K_M: se retoma en 100 MB desde http://x/y.gguf (669 MB)\nx: conexión reiniciada; reintento 2/5 en 1.5 s\n"
        );
    }

    #[test]
    fn meter_computes_eta() {
        let m = Meter {
            started: std::time::Instant::now() - Duration::from_secs(2),
            start_bytes: 0,
            last_emit: None,
        };
        let t = m.snapshot(200, Some(1000));
        assert!((t.bytes_per_sec - 100.0).abs() < 5.0, "{t:?}");
        let eta = t.eta.unwrap().as_secs_f64();
        assert!((7.5..8.5).contains(&eta), "{eta}");
    }
}

//! The log: where the libraries' events go (issue 22). Only the binary installs a
//! subscriber; the libraries emit events (`tracing`) and never print.
//!
//! Lines go to standard error, filtered by `EPICRISIS_LOG` and written as
//! `EPICRISIS_LOG_FORMAT` says:
//!
//! - `text`: `TIME LEVEL SPAN{fields}: TARGET: MESSAGE fields`, without colours. An
//!   event's fields whose values are words of its message are not repeated, so the request
//!   line stays `… INFO request{request_id=…}: epicrisis::requests: GET /episodios/{id}
//!   200 3.1 ms`, as before plus the time and the id.
//! - `json`: one object per line: `timestamp`, `level`, `target`, the event's fields at
//!   the top (`message`, and `method`, `route`, `status`, `duration_ms` for a request),
//!   and `span` with the innermost span's name and fields (`request_id`, or a draft's
//!   `job_id`).
//!
//! llama.cpp's events are always dropped: they may carry prompt text.

use crate::config::{LogFormat, LogSettings};
use std::fmt;
use std::path::Path;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the subscriber from the settings (`--env-file`, `.env`, the environment);
/// the defaults when they cannot be read (the command then reports what is wrong).
pub fn install(env_file: Option<&Path>) {
    let settings = crate::config::Raw::load(env_file)
        .ok()
        .and_then(|raw| LogSettings::from_raw(&raw).ok())
        .unwrap_or_default();
    init(&settings);
}

/// Installs the subscriber; false when one is already installed.
pub fn init(s: &LogSettings) -> bool {
    let no_llama =
        tracing_subscriber::filter::filter_fn(|m| !m.target().starts_with("llama_cpp_2"));
    let base = tracing_subscriber::registry()
        .with(s.filter.clone())
        .with(no_llama);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match s.format {
        LogFormat::Text => base.with(layer.fmt_fields(TextFields)).try_init().is_ok(),
        LogFormat::Json => base
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
            .is_ok(),
    }
}

/// Fields as text: the message, then `name=value` for each field the message does not
/// already say (a field whose value is one of the message's words, or empty).
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'w>, fields: R) -> fmt::Result {
        let mut seen = Collected::default();
        fields.record(&mut seen);
        let message = seen.message.unwrap_or_default();
        // The message's words, without the punctuation that follows or opens them.
        let words: Vec<&str> = message
            .split_whitespace()
            .map(|w| {
                w.trim_start_matches('(')
                    .trim_end_matches([',', ';', ':', ')'])
            })
            .collect();
        let mut first = message.is_empty();
        w.write_str(&message)?;
        for (name, value) in &seen.fields {
            if value.is_empty() || words.contains(&value.as_str()) {
                continue;
            }
            if !first {
                w.write_char(' ')?;
            }
            first = false;
            write!(w, "{name}={value}")?;
        }
        Ok(())
    }
}

/// An event's or span's fields, as text.
#[derive(Debug, Default)]
pub struct Collected {
    message: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Collected {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_string()),
            name => self.fields.push((name, value.to_string())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            name => self.fields.push((name, format!("{value:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// A writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Kept {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Kept {
        type Writer = Kept;
        fn make_writer(&'a self) -> Kept {
            self.clone()
        }
    }

    #[test]
    fn text_lines_say_the_message_and_only_the_fields_it_does_not() {
        let kept = Kept::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(kept.clone())
            .with_ansi(false)
            .without_time()
            .fmt_fields(TextFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "abc123");
            let _in = span.enter();
            let (method, route, status, ms) = ("GET", "/episodios/{id}", 200u16, 3.1);
            tracing::info!(target: "epicrisis::requests", method, route, status,
                duration_ms = ms, "{method} {route} {status} {ms:.1} ms");
            tracing::info!(target: "epicrisis::jobs", outcome = "done", attempt = 2, seconds = 0.8,
                errors = 0, model = "", "borrador done: 0.8 s");
        });
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            " INFO request{request_id=abc123}: epicrisis::requests: GET /episodios/{id} 200 3.1 ms"
        );
        assert!(
            lines[1].ends_with("borrador done: 0.8 s attempt=2 errors=0"),
            "{}",
            lines[1]
        );
    }
}

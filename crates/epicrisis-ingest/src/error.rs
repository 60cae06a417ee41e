//! The one error type of the crate: where (file, line of a dataset, JSON path) and what.

use std::fmt;

/// What went wrong, for callers that react differently (the CLI maps all of them to exit
/// code 2; a server may answer 413 for [`ErrorKind::TooLarge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The input is larger than [`crate::Limits::max_bytes`].
    TooLarge,
    /// Nothing but whitespace.
    Empty,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Not JSON (syntax error).
    NotJson,
    /// Several JSON values (a JSONL dataset) where one episode was expected.
    Dataset,
    /// JSON of no shape this crate reads.
    UnknownShape,
    /// A shape that is recognised but not read (a FHIR resource other than a Bundle).
    Unsupported,
    /// A value of the wrong type at a path.
    WrongType,
    /// A required part is missing.
    Missing,
}

/// An input that cannot become an episode. `Display` reads
/// `"{file}: line {line}: {path}: {message}"`, leaving out the parts that are absent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", Location(.line, .path))]
pub struct IngestError {
    /// The file name to show (`episode.json`, `<stdin>`).
    pub file: String,
    /// The line of a JSONL dataset the record came from (1-based).
    pub line: Option<usize>,
    /// The JSON path inside the episode (`diagnostico_ingreso[2].codigo`).
    pub path: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
    pub kind: ErrorKind,
}

struct Location<'a>(&'a Option<usize>, &'a Option<String>);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.0 {
            write!(f, "line {line}: ")?;
        }
        if let Some(path) = self.1.as_deref().filter(|p| !p.is_empty()) {
            write!(f, "{path}: ")?;
        }
        Ok(())
    }
}

impl IngestError {
    pub(crate) fn new(file: &str, kind: ErrorKind, message: impl Into<String>) -> IngestError {
        IngestError {
            file: file.to_string(),
            line: None,
            path: None,
            message: message.into(),
            kind,
        }
    }

    pub(crate) fn at(mut self, path: &str) -> IngestError {
        if !path.is_empty() {
            self.path = Some(path.to_string());
        }
        self
    }

    pub(crate) fn on_line(mut self, line: Option<usize>) -> IngestError {
        self.line = line;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_out_absent_parts() {
        let e = IngestError::new("episode.json", ErrorKind::WrongType, "expected a string");
        assert_eq!(e.to_string(), "episode.json: expected a string");
        let e = e.at("dx[0]");
        assert_eq!(e.to_string(), "episode.json: dx[0]: expected a string");
        let e = e.on_line(Some(17));
        assert_eq!(
            e.to_string(),
            "episode.json: line 17: dx[0]: expected a string"
        );
    }
}

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

    /// What is wrong, in Spanish, for the person who imported the file: the file, the
    /// dataset line and the field, and what to do. The English [`IngestError::message`]
    /// has the technical detail (the types found, the limit); this one names the kind of
    /// fault and where, which is what a physician or an administrative can act on.
    pub fn message_es(&self) -> String {
        let mut place = String::new();
        if let Some(line) = self.line {
            place.push_str(&format!("línea {line}: "));
        }
        let field = self.path.as_deref().filter(|p| !p.is_empty());
        let what = match self.kind {
            ErrorKind::Io => "no se pudo leer el archivo".to_string(),
            ErrorKind::TooLarge => "el archivo es demasiado grande para ser un episodio; \
                 exporte un episodio por archivo"
                .to_string(),
            ErrorKind::Empty => "el archivo está vacío".to_string(),
            ErrorKind::InvalidUtf8 => "el archivo no está en UTF-8 (quizá se exportó en \
                 Latin-1 o Windows-1252); expórtelo de nuevo en UTF-8"
                .to_string(),
            ErrorKind::NotJson => format!(
                "el archivo no es JSON válido{}; revise que sea la exportación completa del \
                 episodio",
                json_position(&self.message)
            ),
            ErrorKind::Dataset => "el archivo trae varios episodios (uno por línea); importe \
                 uno por archivo, o use `epicrisis batch` para todos"
                .to_string(),
            ErrorKind::UnknownShape => "el contenido no tiene la forma de un episodio \
                 (registro compacto, exportación del hospital o Bundle FHIR); revise que sea \
                 el archivo correcto"
                .to_string(),
            ErrorKind::Unsupported => "es un recurso FHIR que no es un Bundle; exporte el \
                 episodio como Bundle"
                .to_string(),
            ErrorKind::WrongType => match field {
                Some(f) => format!("el campo «{f}» trae un valor de otro tipo que el esperado"),
                None => "el episodio trae un valor de otro tipo que el esperado".to_string(),
            },
            ErrorKind::Missing => match field {
                Some(f) => format!("falta el campo «{f}», sin el cual no hay episodio"),
                None => "falta una parte sin la cual no hay episodio".to_string(),
            },
        };
        if let Some(f) = field
            && !matches!(self.kind, ErrorKind::WrongType | ErrorKind::Missing)
        {
            place.push_str(&format!("campo «{f}»: "));
        }
        format!("{}: {place}{what}.", self.file)
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

/// «(línea L, columna C)» from serde_json's «… at line L, column C…», or nothing.
fn json_position(message: &str) -> String {
    let Some(at) = message.find("at line ") else {
        return String::new();
    };
    let rest = &message[at + "at line ".len()..];
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let column: String = rest
        .find("column ")
        .map(|c| {
            rest[c + "column ".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_default();
    match (line.is_empty(), column.is_empty()) {
        (false, false) => format!(" (línea {line}, columna {column})"),
        (false, true) => format!(" (línea {line})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spanish_message_says_where_and_what_without_english() {
        let e = IngestError::new(
            "episodio.json",
            ErrorKind::NotJson,
            "not valid JSON at line 3, column 17: expected `,` or `}`",
        );
        assert_eq!(
            e.message_es(),
            "episodio.json: el archivo no es JSON válido (línea 3, columna 17); revise que \
             sea la exportación completa del episodio."
        );
        let e = IngestError::new(
            "x.json",
            ErrorKind::WrongType,
            "expected an object, found 3",
        )
        .at("laboratorios_resumen[0]")
        .on_line(Some(4));
        assert_eq!(
            e.message_es(),
            "x.json: línea 4: el campo «laboratorios_resumen[0]» trae un valor de otro tipo \
             que el esperado."
        );
        for kind in [
            ErrorKind::Io,
            ErrorKind::TooLarge,
            ErrorKind::Empty,
            ErrorKind::InvalidUtf8,
            ErrorKind::Dataset,
            ErrorKind::UnknownShape,
            ErrorKind::Unsupported,
            ErrorKind::Missing,
        ] {
            let m = IngestError::new("a.json", kind, "the detail").message_es();
            assert!(!m.contains("detail") && m.starts_with("a.json: "), "{m}");
        }
    }

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

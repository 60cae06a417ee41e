//! Command-line mistakes told in Spanish, like the rest of the command line: clap's own
//! messages are English («unexpected argument», «Usage:»). [`parse`] reads the arguments
//! and, on a mistake, prints what was wrong, what would be right (clap's suggestion, the
//! values allowed) and the usage line, then exits with 2 (bad input). Help and version
//! are printed as clap prints them (their templates are Spanish, [`crate::cli`]).

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

/// The parsed command line, or an exit with a Spanish message.
pub fn parse<P: Parser + CommandFactory>() -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                print!("{}", placeholders_es(&e.render().to_string()));
                std::process::exit(0);
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                eprint!("{}", placeholders_es(&e.render().to_string()));
                std::process::exit(2);
            }
            _ => {
                eprint!("{}", message(&e));
                std::process::exit(2);
            }
        },
    }
}

/// clap's usage placeholders in Spanish (the help templates name the sections already).
fn placeholders_es(s: &str) -> String {
    s.replace("[OPTIONS]", "[OPCIONES]")
        .replace("<COMMAND>", "<COMANDO>")
        .replace("[COMMAND]", "[COMANDO]")
}

/// One context value as text (lists joined with commas).
fn text(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) if !v.is_empty() => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) if !v.is_empty() => Some(
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ContextValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a value's own check said, in Spanish where it is one of the usual ones.
fn reason(source: &str) -> String {
    let s = source.to_ascii_lowercase();
    if s.contains("invalid digit") || s.contains("cannot parse integer") {
        "se esperaba un número entero".into()
    } else if s.contains("invalid float") {
        "se esperaba un número".into()
    } else if s.contains("too large") || s.contains("number too") {
        "el número es demasiado grande".into()
    } else if s.contains("empty string") {
        "el valor está vacío".into()
    } else {
        source.to_string()
    }
}

/// The whole message: the mistake, a suggestion when there is one, the usage line and
/// where to read more.
pub fn message(e: &clap::Error) -> String {
    // `--threads <THREADS>`: the flag, without clap's placeholder for its value.
    let arg = text(e, ContextKind::InvalidArg).unwrap_or_default();
    let arg = match e.kind() {
        ErrorKind::MissingRequiredArgument => arg,
        _ => arg.split(' ').next().unwrap_or_default().to_string(),
    };
    let value = text(e, ContextKind::InvalidValue).unwrap_or_default();
    let mut out = match e.kind() {
        ErrorKind::UnknownArgument => format!("error: argumento desconocido «{arg}»"),
        ErrorKind::InvalidSubcommand => format!(
            "error: comando desconocido «{}»",
            text(e, ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::InvalidValue => format!("error: valor no válido «{value}» para {arg}"),
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e)
                .map(|s| format!(": {}", reason(&s.to_string())))
                .unwrap_or_default();
            format!("error: valor no válido «{value}» para {arg}{why}")
        }
        ErrorKind::MissingRequiredArgument => {
            format!("error: faltan argumentos obligatorios: {arg}")
        }
        ErrorKind::MissingSubcommand => "error: falta el comando".into(),
        ErrorKind::ArgumentConflict => format!(
            "error: {arg} no se puede usar junto con {}",
            text(e, ContextKind::PriorArg).unwrap_or_else(|| "otra opción dada".into())
        ),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!("error: número de valores incorrecto para {arg}")
        }
        ErrorKind::NoEquals => {
            format!("error: {arg} necesita un valor con «=»")
        }
        ErrorKind::InvalidUtf8 => "error: un argumento no es texto UTF-8 válido".into(),
        _ => "error: los argumentos no son válidos".into(),
    };
    out.push('\n');
    if let Some(valid) = text(e, ContextKind::ValidValue) {
        out.push_str(&format!("  valores posibles: {valid}\n"));
    }
    if let Some(s) = text(e, ContextKind::SuggestedSubcommand)
        .or_else(|| text(e, ContextKind::SuggestedArg))
        .or_else(|| text(e, ContextKind::SuggestedValue))
    {
        out.push_str(&format!("  ¿quiso decir «{s}»?\n"));
    }
    if let Some(usage) = text(e, ContextKind::Usage) {
        let usage = usage.trim();
        let usage = usage.strip_prefix("Usage:").unwrap_or(usage).trim();
        out.push_str(&format!("\nUso: {}\n", placeholders_es(usage)));
    }
    out.push_str("\nPara más información, use «--help».\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;

    fn err(args: &[&str]) -> String {
        match Cli::try_parse_from(args) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => message(&e),
        }
    }

    #[test]
    fn mistakes_are_told_in_spanish_with_the_suggestion_and_usage() {
        let m = err(&["epicrisis", "generat"]);
        assert!(m.starts_with("error: comando desconocido «generat»"), "{m}");
        assert!(m.contains("¿quiso decir «generate»?"), "{m}");
        let m = err(&["epicrisis", "generate", "x.json", "--threads", "dos"]);
        assert!(
            m.contains("valor no válido «dos» para --threads")
                && m.contains("se esperaba un número entero"),
            "{m}"
        );
        assert!(!m.contains("<THREADS>"), "{m}");
        let m = err(&["epicrisis", "generate", "x.json", "--engine", "gpt"]);
        assert!(m.contains("valores posibles:"), "{m}");
        let m = err(&["epicrisis", "validate"]);
        assert!(
            m.starts_with("error: faltan argumentos obligatorios"),
            "{m}"
        );
        let m = err(&["epicrisis", "generate", "x.json", "--colour"]);
        assert!(
            m.starts_with("error: argumento desconocido «--colour»"),
            "{m}"
        );
        assert!(m.contains("Uso: epicrisis generate"), "{m}");
        assert!(!m.contains("OPTIONS"), "{m}");
        for english in ["Usage", "unexpected", "invalid", "required", "try '"] {
            assert!(!m.contains(english), "{english:?} in {m}");
        }
    }
}

//! Source warnings as a clinician reads them: where in the data (in words, not a JSON
//! path), what kind of doubt, and how much harm it can do, so that a code that belongs to
//! another drug comes before a code written with a prefix.

use crate::episode::{SourceWarning, WarningKind};

impl WarningKind {
    /// The kind in Spanish, as a heading.
    pub fn label_es(self) -> &'static str {
        match self {
            WarningKind::SuspiciousCode => "Código que no corresponde",
            WarningKind::Inconsistent => "Datos contradictorios",
            WarningKind::Unreadable => "Dato que no se pudo leer",
            WarningKind::MalformedCode => "Código mal escrito",
            WarningKind::Normalised => "Corrección de formato",
        }
    }

    /// 0 for the doubts that can hurt a patient (a code of another drug or diagnosis),
    /// up to 4 for a value only rewritten into its canonical form.
    pub fn harm_rank(self) -> u8 {
        match self {
            WarningKind::SuspiciousCode => 0,
            WarningKind::Inconsistent => 1,
            WarningKind::Unreadable => 2,
            WarningKind::MalformedCode => 3,
            WarningKind::Normalised => 4,
        }
    }
}

/// Source keys and what a clinician calls them (the readers accept many spellings; the
/// common ones are named here, the rest are shown with their underscores as spaces).
const PLACES: &[(&str, &str)] = &[
    ("diagnostico_ingreso", "Diagnósticos de ingreso"),
    ("diagnosticos_ingreso", "Diagnósticos de ingreso"),
    ("diagnostico_egreso", "Diagnósticos de egreso"),
    ("diagnosticos_egreso", "Diagnósticos de egreso"),
    ("dx", "Diagnósticos"),
    ("diagnosticos", "Diagnósticos"),
    ("procedimientos", "Procedimientos"),
    ("proc", "Procedimientos"),
    (
        "tratamientos_intrahosp",
        "Tratamientos durante la hospitalización",
    ),
    ("tratamientos", "Tratamientos durante la hospitalización"),
    ("tto", "Tratamientos durante la hospitalización"),
    ("indicaciones_alta", "Indicaciones al alta"),
    ("medicamentos", "medicamentos"),
    ("med", "Medicamentos al alta"),
    ("laboratorios_resumen", "Laboratorio"),
    ("laboratorios_relevantes", "Laboratorio"),
    ("laboratorio", "Laboratorio"),
    ("lab", "Laboratorio"),
    ("evolucion", "Evolución"),
    ("paciente", "Paciente"),
    ("fecha_ingreso", "Fecha de ingreso"),
    ("fecha_egreso", "Fecha de egreso"),
    ("fecha_alta", "Fecha de alta"),
    ("codigo", "código"),
    ("code", "código"),
    ("nombre", "nombre"),
    ("dosis", "dosis"),
    ("via", "vía"),
    ("frecuencia", "frecuencia"),
    ("duracion", "duración"),
    ("valor", "valor"),
    ("fecha", "fecha"),
    ("unidad", "unidad"),
    ("entry", "Entrada"),
    ("resource", "recurso"),
];

impl SourceWarning {
    /// The message in Spanish without the path it starts with (the readers prefix it so
    /// that a message reads alone in a log).
    pub fn text_es(&self) -> &str {
        let m = if self.message_es.is_empty() {
            &self.message
        } else {
            &self.message_es
        };
        m.strip_prefix(self.path.as_str())
            .and_then(|r| r.strip_prefix(": "))
            .unwrap_or(m)
    }

    /// Where the doubt is, in words: `tratamientos_intrahosp[2].codigo` →
    /// «Tratamientos durante la hospitalización, n.º 3, código».
    pub fn place_es(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for segment in self.path.split('.').filter(|s| !s.is_empty()) {
            let (key, indices) = match segment.find('[') {
                Some(i) => (&segment[..i], &segment[i..]),
                None => (segment, ""),
            };
            if !key.is_empty() {
                let folded = key.to_lowercase();
                let named = PLACES
                    .iter()
                    .find(|(k, _)| *k == folded)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| key.replace('_', " "));
                parts.push(named);
            }
            for n in indices
                .split(['[', ']'])
                .filter_map(|x| x.parse::<usize>().ok())
            {
                parts.push(format!("n.º {}", n + 1));
            }
        }
        if parts.is_empty() {
            return "Datos del episodio".into();
        }
        let mut out = parts.join(", ");
        if let Some(first) = out.get(..1) {
            out = first.to_uppercase() + &out[1..];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(kind: WarningKind, path: &str, es: &str) -> SourceWarning {
        SourceWarning {
            kind,
            path: path.into(),
            message: String::new(),
            message_es: format!("{path}: {es}"),
        }
    }

    #[test]
    fn a_path_is_said_in_words() {
        let x = w(
            WarningKind::SuspiciousCode,
            "tratamientos_intrahosp[2].codigo",
            "m",
        );
        assert_eq!(
            x.place_es(),
            "Tratamientos durante la hospitalización, n.º 3, código"
        );
        assert_eq!(x.text_es(), "m");
        let y = w(
            WarningKind::Unreadable,
            "indicaciones_alta.medicamentos[0].dosis",
            "m",
        );
        assert_eq!(
            y.place_es(),
            "Indicaciones al alta, medicamentos, n.º 1, dosis"
        );
        let z = w(WarningKind::Unreadable, "otra_cosa_rara", "m");
        assert_eq!(z.place_es(), "Otra cosa rara");
        assert_eq!(
            w(WarningKind::Normalised, "", "m").place_es(),
            "Datos del episodio"
        );
    }

    #[test]
    fn a_code_of_another_drug_ranks_first() {
        let mut kinds = [
            WarningKind::Normalised,
            WarningKind::MalformedCode,
            WarningKind::SuspiciousCode,
            WarningKind::Unreadable,
            WarningKind::Inconsistent,
        ];
        kinds.sort_by_key(|k| k.harm_rank());
        assert_eq!(kinds[0], WarningKind::SuspiciousCode);
        assert_eq!(kinds[4], WarningKind::Normalised);
    }
}

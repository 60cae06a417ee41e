//! Rows mapped to an episode by a declared column mapping, for databases that have no
//! function returning the episode as JSON (`EPICRISIS_SOURCE_SQL_MAPPING`, a TOML file).
//!
//! The mapping is a set of queries the hospital's IT staff write for their schema, each
//! taking the episode's number as its only parameter (`$1` on PostgreSQL, `?` on MySQL).
//! The column names (aliases) are the field names of the rich episode format
//! (docs/input-formats.md); a dotted name nests (`"paciente.nombre"` →
//! `{"paciente": {"nombre": …}}`). The result is read by the rich reader, so everything it
//! accepts (dates as `dd/mm/aaaa` or ISO, doses as text, numbers as strings) is accepted.
//!
//! ```toml
//! [episodio]                      # one row; none: the database has no such episode
//! consulta = """
//! SELECT a.id_atencion, p.rut AS "paciente.rut", p.nombre AS "paciente.nombre",
//!        a.ingreso::text AS "atencion.fecha_ingreso", a.alta::text AS "atencion.fecha_alta",
//!        a.motivo AS motivo_ingreso
//! FROM atenciones a JOIN pacientes p USING (id_paciente) WHERE a.id_atencion = $1"""
//!
//! [[lista]]                       # every row an object of the list
//! campo = "diagnostico_egreso"
//! consulta = "SELECT codigo, nombre FROM diagnosticos WHERE id_atencion = $1 AND tipo = 'E'"
//!
//! [[lista]]                       # one column named `valor`: a list of plain values
//! campo = "indicaciones_alta.controles"
//! consulta = "SELECT texto AS valor FROM controles WHERE id_atencion = $1"
//! ```
//!
//! NULL cells are left out (the reader treats a missing field as not recorded).

use serde::Deserialize;
use serde_json::{Map, Value};

/// A declared column mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The query for the episode's single row.
    pub episodio: Query,
    /// The queries for its lists.
    #[serde(default, rename = "lista")]
    pub listas: Vec<ListQuery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub consulta: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Where the list goes, e.g. `indicaciones_alta.medicamentos`.
    pub campo: String,
    pub consulta: String,
}

/// One row: its columns' names and values.
pub(super) type Cells = Vec<(String, Value)>;

impl Mapping {
    /// Reads a mapping file's text; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        if m.episodio.consulta.trim().is_empty() {
            return Err("[episodio] consulta está vacía".into());
        }
        let mut seen = std::collections::HashSet::new();
        for l in &m.listas {
            if !valid_path(&l.campo) {
                return Err(format!(
                    "[[lista]] campo «{}»: se espera un nombre de campo, con puntos para anidar \
                     (indicaciones_alta.medicamentos)",
                    l.campo
                ));
            }
            if !seen.insert(l.campo.as_str()) {
                return Err(format!("[[lista]] campo «{}» aparece dos veces", l.campo));
            }
            if l.consulta.trim().is_empty() {
                return Err(format!(
                    "[[lista]] campo «{}»: consulta está vacía",
                    l.campo
                ));
            }
        }
        Ok(m)
    }
}

fn valid_path(p: &str) -> bool {
    !p.is_empty() && p.split('.').all(|s| !s.trim().is_empty())
}

/// The episode document: the episode's row, then each list at its place.
pub(super) fn build(episode: Cells, lists: Vec<(&str, Vec<Cells>)>) -> Result<Value, String> {
    let mut doc = Value::Object(Map::new());
    for (name, v) in episode {
        put(&mut doc, &name, v)?;
    }
    for (field, rows) in lists {
        let items: Vec<Value> = rows.into_iter().map(item).collect::<Result<_, _>>()?;
        put(&mut doc, field, Value::Array(items))?;
    }
    Ok(doc)
}

/// A list's row: a plain value when its only column is `valor`, else an object.
fn item(row: Cells) -> Result<Value, String> {
    if let [(name, _)] = row.as_slice()
        && name == "valor"
    {
        return Ok(row
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null));
    }
    let mut obj = Value::Object(Map::new());
    for (name, v) in row {
        put(&mut obj, &name, v)?;
    }
    Ok(obj)
}

/// Sets `path` (dotted) in `doc`, making the objects on the way; NULL is left out.
fn put(doc: &mut Value, path: &str, v: Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    if !valid_path(path) {
        return Err(format!("la columna «{path}» no es un nombre de campo"));
    }
    let mut here = doc;
    let parts: Vec<&str> = path.split('.').map(str::trim).collect();
    for (i, part) in parts.iter().enumerate() {
        let Value::Object(map) = here else {
            return Err(format!(
                "la columna «{path}» choca con «{}», que ya tiene un valor",
                parts[..i].join(".")
            ));
        };
        if i + 1 == parts.len() {
            if map.contains_key(*part) {
                return Err(format!("el campo «{path}» aparece dos veces"));
            }
            map.insert((*part).to_string(), v);
            return Ok(());
        }
        here = map
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cells(pairs: &[(&str, Value)]) -> Cells {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn dotted_names_nest_and_lists_go_in_place() {
        let ep = cells(&[
            ("id_atencion", json!(77)),
            ("paciente.nombre", json!("Ana Soto")),
            ("paciente.edad", json!(71)),
            ("paciente.rut", Value::Null),
        ]);
        let meds = vec![cells(&[
            ("nombre", json!("Cefuroxima")),
            ("dosis", json!("500 mg")),
        ])];
        let controls = vec![cells(&[("valor", json!("Control en 7 días"))])];
        let doc = build(
            ep,
            vec![
                ("indicaciones_alta.medicamentos", meds),
                ("indicaciones_alta.controles", controls),
            ],
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"id_atencion": 77, "paciente": {"nombre": "Ana Soto", "edad": 71},
                   "indicaciones_alta": {"medicamentos": [{"nombre": "Cefuroxima", "dosis": "500 mg"}],
                                         "controles": ["Control en 7 días"]}})
        );
    }

    #[test]
    fn clashes_and_bad_files_are_named() {
        let e = build(
            cells(&[("paciente", json!("x")), ("paciente.nombre", json!("y"))]),
            vec![],
        )
        .unwrap_err();
        assert!(e.contains("paciente.nombre") && e.contains("choca"), "{e}");
        let e = Mapping::parse(
            "[episodio]\nconsulta = \"SELECT 1\"\n[[lista]]\ncampo = \"a..b\"\nconsulta = \"x\"",
        )
        .unwrap_err();
        assert!(e.contains("a..b"), "{e}");
        let e = Mapping::parse("[episodio]\nconsulta = \"SELECT 1\"\nconsultas = 2").unwrap_err();
        assert!(e.contains("consultas"), "{e}");
        let m = Mapping::parse(
            "[episodio]\nconsulta = \"\"\"\nSELECT 1\n\"\"\"\n[[lista]]\ncampo = \"diagnostico_egreso\"\nconsulta = \"SELECT 2\"",
        )
        .unwrap();
        assert_eq!(m.listas.len(), 1);
    }
}

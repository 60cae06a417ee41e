//! The novel-word guard: content words of a model's sentence that neither the episode's
//! data nor the grammar of a clinical summary explains. The lexicon-based validator names
//! drugs, diagnoses, procedures and numbers; this guard catches the rest of a small model's
//! borrowings (from its training, or from the prompt's worked example).

use crate::prompt::{EXAMPLE_ANSWER, EXAMPLE_FACTS};
use epicrisis_validate::EpisodeIndex;

/// Words a narrative may use without the data containing them: the grammar of a clinical
/// summary, not its facts.
const NARRATIVE_WORDS: &[&str] = &[
    "evoluciona",
    "evolucion",
    "evolucionando",
    "evoluciono",
    "favorable",
    "favorablemente",
    "presenta",
    "presentando",
    "presento",
    "paciente",
    "hospitalizacion",
    "durante",
    "manteniendo",
    "mantiene",
    "mantuvo",
    "estable",
    "posterior",
    "posteriormente",
    "inicial",
    "inicialmente",
    "logrando",
    "logra",
    "mejoria",
    "progresiva",
    "progresivamente",
    "progresivo",
    "respuesta",
    "adecuada",
    "adecuado",
    "adecuadamente",
    "tratamiento",
    "manejo",
    "realiza",
    "realizo",
    "realizado",
    "realizada",
    "requirio",
    "requiere",
    "requiriendo",
    "alta",
    "horas",
    "tras",
    "luego",
    "ademas",
    "buena",
    "bueno",
    "clinica",
    "clinico",
    "clinicamente",
    "cuadro",
    "resolucion",
    "controlado",
    "controlada",
    "exito",
    "exitoso",
    "exitosa",
    "exitosamente",
    "complicacion",
    "incidente",
    "evento",
    "ingreso",
    "destaca",
    "observa",
    "objetiva",
    "persiste",
    "disminucion",
    "aumento",
    "normaliza",
    "normal",
    "satisfactoria",
    "satisfactorio",
    "favoreciendo",
    "quedando",
    "encontrandose",
    "encuentra",
    "indica",
    "indicandose",
    "inicia",
    "iniciandose",
    "completa",
    "completando",
    "completo",
    "recibe",
    "recibio",
    "recibiendo",
    "cursa",
    "cursando",
    "curso",
    "condicion",
    "condiciones",
    "general",
    "buenas",
    "posible",
    "permite",
    "permitiendo",
    "hasta",
    "desde",
    "entre",
    "hacia",
    "segun",
    "mediante",
    "luego",
    "dias",
    "dia",
    "semana",
    "semanas",
    "primer",
    "primero",
    "segundo",
    "tercer",
    "tercero",
    "cuarto",
    "quinto",
    "sexto",
    "septimo",
    "octavo",
    "noveno",
    "decimo",
    "postoperatorio",
    "postoperatoria",
    "evidencia",
    "evidenciando",
    "muestra",
    "mostrando",
    "signos",
    "sintomas",
    "mejora",
    "mejorando",
    "resuelve",
    "resuelto",
    "resuelta",
    "favorece",
    "continua",
    "continuando",
    "sigue",
    "siguiendo",
    "retiro",
    "retira",
    "manejado",
    "manejada",
    "tolerancia",
    "tolerando",
    "tolera",
    "actualmente",
    "finalmente",
    "posteriores",
    "sucesivamente",
    "diagnostico",
    "diagnosticos",
    "egreso",
    "ingresa",
    "ingresando",
    "hospitalizado",
    "hospitalizada",
    "procedimiento",
    "procedimientos",
    "terapeutica",
    "terapeutico",
    "score",
    "puntaje",
    "puntos",
    // Verbs of what was done: the object they take is the claim, checked on its own.
    "extrae",
    "extrayendo",
    "extrajo",
    "removido",
    "removida",
    "suspende",
    "suspendiendo",
    "suspendio",
    "coloca",
    "colocando",
    "instala",
    "instalando",
    "decide",
    "decidiendo",
    "programa",
    "programando",
    "confirma",
    "confirmando",
    "identifica",
    "identificando",
    "identificado",
    "identificada",
    "ajusta",
    "ajustando",
    "traslada",
    "trasladando",
    "obteniendo",
    "permanece",
    "permaneciendo",
    "permanencia",
    "reinicia",
    "reinicio",
    "reiniciando",
    "difiere",
    "difiriendo",
    "diferido",
    "diferida",
    "preservando",
    "conservando",
    "diagnostica",
    "diagnosticando",
    "diagnosticado",
    "diagnosticada",
    "corrige",
    "corrigiendo",
    "corregido",
    "corregida",
    "progresa",
    "progresando",
    "resolviendo",
    "normalizado",
    "normalizada",
    "normalizando",
];

/// Units of measure (folded, as the word splitter cuts them: `mmol/L` gives `mmol`): a
/// unit claims nothing by itself (the validator checks the number it goes with), and a
/// narrative that quotes a result from the data writes its unit (a repair round of the
/// bundled episode was once refused for «mmol», with «3,3 mmol/L» in the data).
const UNIT_WORDS: &[&str] = &[
    "mmol", "umol", "nmol", "pmol", "mosm", "mmhg", "cmh2o", "kpa", "mcgr", "mgdl", "gdl", "mgkg",
    "ugkg", "mcgkg", "kgm2", "lpm", "rpm", "ppm", "unidades", "mui", "uiml", "ufc", "x10",
    "celulas", "campo", "litro", "litros", "horas", "gotas", "puff", "puffs",
];

/// Function words (articles, prepositions, pronouns, auxiliaries).
const FUNCTION_WORDS: &[&str] = &[
    "para", "como", "cual", "cuales", "esta", "este", "esto", "estos", "estas", "sobre", "pero",
    "porque", "cuando", "donde", "tambien", "solo", "sola", "todo", "toda", "todos", "todas",
    "otro", "otra", "otros", "otras", "mismo", "misma", "cada", "ambos", "ambas", "tiene",
    "tienen", "tenia", "sido", "siendo", "esta", "estaba", "estado", "fueron", "habia", "hubo",
    "puede", "debe", "debido", "aunque", "mientras", "segun", "dicho", "dicha", "ello", "ella",
    "ellos", "ellas", "nuevo", "nueva", "mayor", "menor", "menos", "muy", "bien", "algun",
    "alguna", "ningun", "ninguna", "presente", "parte", "forma", "lugar", "vez", "veces",
];

/// Content words of the model's text that neither the episode nor the grammar of a
/// summary explains: a small model's borrowings (from its training, from an example)
/// that the lexicon-based validator cannot name.
pub fn novel_words(text: &str, index: &EpisodeIndex) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let by_synonym = synonym_keys(text, index);
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if raw.chars().count() < 4 || raw.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let folded = epicrisis_domain::text::fold(raw);
        // A gerund with its pronoun is the gerund: «realizándose» is «realizando».
        let folded = match folded.strip_suffix("se") {
            Some(base) if base.ends_with("ndo") && base.len() >= 6 => base.to_string(),
            _ => folded,
        };
        let key = epicrisis_domain::lexicon::word_key(&folded);
        if NARRATIVE_WORDS.contains(&key.as_str())
            || NARRATIVE_WORDS.contains(&folded.as_str())
            || FUNCTION_WORDS.contains(&folded.as_str())
            || UNIT_WORDS.contains(&folded.as_str())
            || index.all_stems.contains(&key)
            || by_synonym.contains(&key)
            || index.counterpart_keys.contains(&key)
            || index.all_stems.iter().any(|s| same_family(s, &key))
        {
            continue;
        }
        // Ordinary Spanish is the narrative's own; rare words, clinical terms and words of
        // the worked example are claims about this patient.
        let lx = epicrisis_domain::lexicon::lexicon();
        let from_example = example_words().contains(&key);
        let clinical = lx.lookup(&key).is_some();
        let common = lx.is_common_word(&folded) || lx.is_common_inflection(&folded);
        if common && !from_example && !clinical {
            continue;
        }
        if !out
            .iter()
            .any(|w| epicrisis_domain::text::fold(w) == folded)
        {
            out.push(raw.to_string());
        }
    }
    out
}

/// Word keys of `text` that the data supports through a synonym: the words of a
/// lexicon term whose concept the data names in other words («trombosis venosa
/// profunda» for the data's «TVP»). The counterparts of the data's shorthand
/// («cánula nasal» for «CN») are the index's own ([`EpisodeIndex::counterpart_keys`]).
fn synonym_keys(text: &str, index: &EpisodeIndex) -> std::collections::HashSet<String> {
    use epicrisis_domain::lexicon::{content_tokens, lexicon};
    let chars: Vec<char> = text.chars().collect();
    let tokens = epicrisis_domain::text::tokenize_chars(&chars);
    let content = content_tokens(&chars, &tokens);
    let mut keys = std::collections::HashSet::new();
    for m in lexicon().find_terms(&content, false) {
        if m.concepts.iter().any(|c| index.concepts.contains(c)) {
            keys.extend(content[m.start..m.end].iter().map(|t| t.key.clone()));
        }
    }
    keys
}

pub(crate) fn example_words() -> &'static std::collections::HashSet<String> {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        format!("{EXAMPLE_FACTS} {EXAMPLE_ANSWER}")
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4)
            .map(|w| epicrisis_domain::lexicon::word_key(&epicrisis_domain::text::fold(w)))
            .collect()
    })
}

/// Endings that make an adjective of a noun («tumor» → «tumoral», «ventrículo» →
/// «ventricular», «tiroides» → «tiroideo»).
const ADJECTIVE_ENDINGS: &[&str] = &[
    "al", "ar", "ico", "ica", "eo", "ea", "ivo", "iva", "oso", "osa",
];

/// Words of one family: a shared beginning of at least six letters (`desciende` /
/// `descenso`, `extracción` / `extraído`), one containing the other, or an adjective
/// of a noun of four letters or more (`tumor` / `tumoral`).
pub(crate) fn same_family(a: &str, b: &str) -> bool {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let adjective = |noun: &str, adj: &str| {
        let singular = noun
            .strip_suffix("es")
            .unwrap_or(noun)
            .trim_end_matches('s');
        let bases = [singular, singular.trim_end_matches(['a', 'e', 'o'])];
        bases.iter().any(|base| {
            base.len() >= 4
                && adj
                    .strip_prefix(base)
                    .is_some_and(|rest| ADJECTIVE_ENDINGS.contains(&rest))
        })
    };
    (common >= 5 && a.len() >= 6 && b.len() >= 6)
        || (a.len() >= 6 && b.contains(a))
        || (b.len() >= 6 && a.contains(b))
        || adjective(a, b)
        || adjective(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(record: &str) -> EpisodeIndex {
        let ep = epicrisis_ingest::read_episode(record.as_bytes(), "record.json").unwrap();
        EpisodeIndex::new(&ep)
    }

    #[test]
    fn the_class_of_a_drug_in_the_data_is_not_novel() {
        let ix = index_of(
            r#"{"dx": ["Colecistitis cronica (K80.1)"], "proc": [],
                "tto": ["Cefazolina 1g EV profilaxis (J01DB04)", "Enoxaparina 40mg SC c/24h (B01AB05)", "Nifedipino 30mg VO c/6h"],
                "evo": "sin incidentes", "dx_alta": [], "med": []}"#,
        );
        for sentence in [
            "Recibió profilaxis antibiótica.",
            "Completó tratamiento antibiótico.",
            "Con profilaxis tromboembólica y anticoagulación.",
            // Nifedipino without a code: the lexicon knows it (C08CA05).
            "Con tratamiento antihipertensivo.",
        ] {
            assert_eq!(
                novel_words(sentence, &ix),
                Vec::<String>::new(),
                "{sentence}"
            );
        }
        // Aspirin is an antiplatelet drug, not an anticoagulant; no antiviral was given.
        let ix = index_of(
            r#"{"dx": ["IAM (I21.4)"], "proc": [], "tto": ["Aspirina 100mg VO c/24h (B01AC06)"],
                "evo": "estable", "dx_alta": [], "med": []}"#,
        );
        assert_eq!(
            novel_words("Recibió antiagregante plaquetario.", &ix),
            Vec::<String>::new()
        );
        assert_eq!(
            novel_words("Inició anticoagulación.", &ix),
            vec!["anticoagulación"]
        );
        assert_eq!(
            novel_words("Recibió antivirales.", &ix),
            vec!["antivirales"]
        );
        // An analgesic opioid is not a sedation; oxygen does not say by which device.
        let ix = index_of(
            r#"{"dx": ["Neuralgia (G50.0)"], "proc": [], "tto": ["Tramadol 50mg VO c/8h (N02AX02)", "Oxigeno 2 L/min (V03AN01)"],
                "evo": "estable", "dx_alta": [], "med": []}"#,
        );
        assert_eq!(novel_words("Bajo sedación.", &ix), vec!["sedación"]);
        assert_eq!(novel_words("Con naricera.", &ix), vec!["naricera"]);
    }

    #[test]
    fn shorthand_paraphrases_and_adjectives_of_the_data_are_not_novel() {
        let ix = index_of(
            r#"{"dx": ["Tumor vesical (C67.9)"], "proc": ["Colecistectomia laparoscopica (51.23)"],
                "tto": ["TT 0.5mL IM (J07AM01)"],
                "evo": "Req O2 CN 1L por 24h, IAM VD, afebril 72h", "dx_alta": ["Tumor vesical (C67.9)"], "med": []}"#,
        );
        for sentence in [
            "Requirió oxígeno por cánula nasal durante 24 horas.",
            "Presenta compromiso del ventrículo derecho.",
            "Recibe toxoide tetánico.",
            "Evoluciona con defervescencia a las 72 horas.",
            "Postoperatorio sin incidentes, extrayendo la vesícula.",
            "Lesión tumoral vesical.",
        ] {
            assert_eq!(
                novel_words(sentence, &ix),
                Vec::<String>::new(),
                "{sentence}"
            );
        }
        // What the data does not hold stays novel, paraphrase rules or not.
        assert_eq!(
            novel_words("Presenta hipoxemia e ictericia.", &ix),
            vec!["hipoxemia", "ictericia"]
        );
    }

    #[test]
    fn paraphrases_need_their_word_in_the_data() {
        let ix = index_of(
            r#"{"dx": ["Neumonia (J18.9)"], "proc": [], "tto": [], "evo": "Tos, disnea",
                "dx_alta": ["Neumonia (J18.9)"], "med": []}"#,
        );
        let novel = novel_words("Evoluciona con defervescencia, resecado y sin tos.", &ix);
        assert!(novel.iter().any(|w| w == "defervescencia"), "{novel:?}");
        assert!(novel.iter().any(|w| w == "resecado"), "{novel:?}");
    }
}

//! What a summary may write in full when the data writes it short, or writes its
//! counterpart: Chilean clinical shorthand («CN» is «cánula nasal», «VD» «ventrículo
//! derecho», «TT» «toxoide tetánico») and the plain paraphrases a physician uses for a
//! word of the notes («afebril» → «defervescencia», «fémur» → «femoral», a
//! cholecystectomy removes the «vesícula»).
//!
//! Each entry is one direction: the data's word (folded) and the words a text may use
//! for it. The lexicon's synonym groups (`data/clinical_terms.tsv`) cover diagnoses,
//! procedures and drug classes; this table covers the words around them that carry no
//! item of their own — anatomy, devices, routes, the course of a stay — which the
//! novel-word guard would otherwise count as facts the data lacks.

/// (word of the data, folded; words a text may write for it, folded, space-separated).
pub const COUNTERPARTS: &[(&str, &str)] = &[
    // Shorthand of notes.
    ("cn", "canula nasal naricera oxigeno"),
    ("nrc", "naricera canula nasal oxigeno"),
    ("o2", "oxigeno oxigenoterapia"),
    ("vd", "ventriculo derecho"),
    ("vi", "ventriculo izquierdo"),
    ("tt", "toxoide tetanico tetanos"),
    ("rn", "recien nacido"),
    ("lme", "lactancia materna exclusiva"),
    ("iot", "intubacion orotraqueal intubado intubada"),
    ("vmi", "ventilacion mecanica invasiva"),
    ("vmni", "ventilacion mecanica invasiva"),
    ("hdn", "hemodinamicamente hemodinamico hemodinamica"),
    ("pa", "presion arterial"),
    ("fc", "frecuencia cardiaca"),
    ("fr", "frecuencia respiratoria"),
    ("sato2", "saturacion oxigeno"),
    ("sat", "saturacion saturando"),
    ("knt", "kinesioterapia kinesiologia kinesiologica kinesica"),
    (
        "atb",
        "antibiotico antibioticos antibioticoterapia antimicrobiano",
    ),
    ("ev", "endovenoso endovenosa intravenoso intravenosa"),
    ("vo", "via oral"),
    ("sc", "subcutaneo subcutanea"),
    ("im", "intramuscular"),
    ("gr", "globulos rojos"),
    ("bh", "balance hidrico"),
    ("mp", "murmullo pulmonar"),
    ("sra", "ruidos agregados"),
    ("gsa", "gases arteriales gasometria"),
    ("hgt", "hemoglucotest glicemia capilar glicemias capilares"),
    ("rtu", "reseccion transuretral"),
    ("qx", "quirurgico quirurgica cirugia"),
    (
        "op",
        "operatorio operatoria postoperatorio postoperatoria operado operada",
    ),
    ("pop", "postoperatorio postoperatoria operatorio"),
    ("rx", "radiografia radiologico radiologica"),
    ("tac", "tomografia computada computarizada escaner"),
    ("tc", "tomografia computada computarizada escaner"),
    ("eco", "ecografia ecotomografia ecocardiograma ecografico"),
    ("eda", "endoscopia digestiva alta"),
    ("ecg", "electrocardiograma"),
    ("da", "descendente anterior"),
    ("cd", "coronaria derecha"),
    ("cx", "circunfleja"),
    ("sng", "sonda nasogastrica"),
    ("cvc", "cateter venoso central"),
    ("dva", "drogas vasoactivas vasoactivos"),
    ("uci", "unidad cuidados intensivos"),
    ("upc", "unidad paciente critico"),
    ("tvp", "trombosis venosa profunda"),
    ("sos", "necesario"),
    ("uc", "urocultivo"),
    ("hc", "hemocultivo hemocultivos"),
    ("mdr", "multidrogoresistente multirresistente"),
    ("blee", "betalactamasas espectro extendido"),
    ("sarm", "staphylococcus aureus meticilino resistente"),
    ("samr", "staphylococcus aureus meticilino resistente"),
    ("coli", "escherichia"),
    (
        "dppni",
        "desprendimiento prematuro placenta normoinserta desprendida",
    ),
    ("tr", "tacto rectal"),
    ("rvr", "respuesta ventricular rapida"),
    ("fevi", "fraccion eyeccion ventriculo izquierdo"),
    ("tsh", "tiroidea tiroideo tiroides"),
    ("nyha", "funcional"),
    // Words of the data and their plain counterparts.
    ("afebril", "defervescencia apirexia fiebre"),
    ("fiebre", "febril"),
    ("colecistectomia", "vesicula biliar"),
    ("apendicectomia", "apendice"),
    ("femur", "femoral"),
    ("tibia", "tibial"),
    ("humero", "humeral"),
    ("volumen", "volemica volemico volemia"),
    ("cristaloides", "volemica volemia volumen"),
    ("pulmon", "pulmonar"),
    ("rinon", "renal"),
    ("higado", "hepatico hepatica"),
    ("corazon", "cardiaco cardiaca"),
    ("cerebro", "cerebral"),
    ("estomago", "gastrico gastrica"),
    ("intestino", "intestinal"),
    ("piel", "cutaneo cutanea"),
    ("sonda", "sondeo"),
    ("programada", "diferida diferido"),
    ("programado", "diferida diferido"),
    ("necrotico", "inviable inviabilidad"),
    ("necrosis", "inviable inviabilidad"),
    ("oxitocina", "uterotonico uterotonicos"),
    ("misoprostol", "uterotonico uterotonicos"),
    (
        "cirugia",
        "quirurgico quirurgica quirurgicamente operado operada operatorio preoperatorio intraoperatorio",
    ),
];

/// Endings of an operation's name («colecistectomía», «laparotomía», «hernioplastia»,
/// «osteosíntesis»): data that names an operation supports [`SURGERY_WORDS`].
pub const SURGERY_ENDINGS: &[&str] = &[
    "ectomia", "tomia", "plastia", "sintesis", "rafia", "pexia", "desis",
];

/// What a text may say of any operation the data names.
pub const SURGERY_WORDS: &[&str] = &[
    "cirugia",
    "quirurgico",
    "quirurgica",
    "quirurgicamente",
    "operado",
    "operada",
    "operatorio",
    "operatoria",
    "preoperatorio",
    "preoperatoria",
    "intraoperatorio",
    "intraoperatoria",
    "postoperatorio",
    "postoperatoria",
    "reseccion",
    "resecado",
    "resecada",
];

/// The words a text may write for the data's word `folded`, if it has any.
pub fn counterparts(folded: &str) -> impl Iterator<Item = &'static str> {
    COUNTERPARTS
        .iter()
        .filter(move |(k, _)| *k == folded)
        .flat_map(|(_, v)| v.split(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_folded_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, v) in COUNTERPARTS {
            assert!(seen.insert(*k), "{k} twice");
            for w in std::iter::once(*k).chain(v.split(' ')) {
                assert_eq!(crate::text::fold(w), w, "{w} is not folded");
            }
        }
        assert!(counterparts("cn").any(|w| w == "canula"));
    }
}

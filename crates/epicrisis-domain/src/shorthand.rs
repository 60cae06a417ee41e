//! What a summary may write in full when the data writes it short, or writes its
//! counterpart: Chilean clinical shorthand («CN» is «cánula nasal», «VD» «ventrículo
//! derecho», «TT» «toxoide tetánico») and the plain paraphrases a physician uses for a
//! word of the notes («afebril» → «defervescencia», «fémur» → «femoral», a
//! cholecystectomy removes the «vesícula»).
//!
//! Each entry is one direction: the data's word (folded) and the words a text may use
//! for it. A key of several words needs each of them somewhere in the data («prótesis»
//! and «cadera»: the prosthesis has a femoral and an acetabular part). The lexicon's
//! synonym groups (`data/clinical_terms.tsv`) cover diagnoses, procedures and drug
//! classes; this table covers the words around them that carry no item of their own —
//! anatomy, devices, routes, the course of a stay — which the novel-word guard would
//! otherwise count as facts the data lacks.

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
    (
        "rtu",
        "reseccion transuretral cirugia quirurgico quirurgica",
    ),
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
    ("eda", "endoscopia digestiva alta endoscopico endoscopica"),
    ("colonoscopia", "endoscopia endoscopico endoscopica"),
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
    ("lpm", "latidos litros minuto"),
    ("vrs", "virus respiratorio sincicial"),
    ("nbz", "nebulizacion nebulizaciones nebulizado"),
    ("pmn", "polimorfonucleares neutrofilos"),
    ("aureus", "staphylococcus estafilococo"),
    // Prescription shorthand: dosage forms and salts.
    ("amp", "ampolla ampollas"),
    ("comp", "comprimido comprimidos"),
    ("cap", "capsula capsulas"),
    ("kcl", "cloruro potasio"),
    ("nacl", "cloruro sodio"),
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
    // What a finding, an operation or a regimen of the data entails, in the words a
    // physician summarises it with (clinical knowledge, not paraphrase).
    ("hidrocefalia", "dilatacion ventricular ventriculomegalia"),
    ("fasciotomia", "descompresion descompresiva"),
    ("ev continua", "infusion perfusion"),
    ("bic", "bomba infusion continua"),
    ("goteo", "infusion perfusion"),
    ("espontanea", "expectante"),
    ("conservador", "expectante"),
    ("observacion", "expectante vigilancia"),
    ("cadera", "femoral"),
    ("protesis cadera", "acetabular acetabulo cotilo cotiloideo"),
    (
        "artroplastia cadera",
        "acetabular acetabulo cotilo cotiloideo",
    ),
    ("protesis rodilla", "tibial rotuliano rotuliana patelar"),
    ("team", "equipo multidisciplinario"),
    ("comite", "multidisciplinario"),
    (
        "cirugia coronaria",
        "revascularizacion miocardica miocardio",
    ),
    (
        "cirugia cardiaca coronario",
        "revascularizacion miocardica miocardio",
    ),
    ("quimioterapia", "quimioterapico quimioterapica adyuvante"),
    ("radioterapia", "radioterapico radioterapica adyuvante"),
    ("stent", "implante implantacion implanta endoprotesis"),
    ("sepsis", "septico septica infeccioso infecciosa"),
    ("pleurostomia", "drenaje pleural tubo"),
    ("hemodialisis", "dialisis"),
    ("absceso", "coleccion purulento purulenta"),
    ("drenaje", "evacuacion evacuando evacuado evacuada"),
    ("toracocentesis", "evacuacion evacuando evacuadora pleural"),
    ("paracentesis", "evacuacion evacuando evacuadora peritoneal"),
    ("bilateral", "contralateral"),
    ("legrado", "endometrio endometrial"),
    (
        "paracetamol",
        "antipiretico antipireticos analgesico analgesicos",
    ),
    (
        "metamizol",
        "antipiretico antipireticos analgesico analgesicos",
    ),
    (
        "ibuprofeno",
        "antipiretico antipireticos antiinflamatorio analgesico",
    ),
];

/// Names of tumours: data that names one supports [`TUMOUR_WORDS`] («astrocitoma»
/// → «resección tumoral»). Whole words, not an ending: «-oma» also ends «hematoma»,
/// «glaucoma» and «coma».
pub const TUMOUR_NAMES: &[&str] = &[
    "tumor",
    "cancer",
    "neoplasia",
    "carcinoma",
    "adenocarcinoma",
    "hepatocarcinoma",
    "glioma",
    "astrocitoma",
    "glioblastoma",
    "oligodendroglioma",
    "meningioma",
    "linfoma",
    "sarcoma",
    "osteosarcoma",
    "melanoma",
    "mieloma",
    "leucemia",
    "adenoma",
    "mioma",
    "miomatosis",
    "neuroblastoma",
    "blastoma",
    "mesotelioma",
    "metastasis",
];

/// What a text may say of any tumour the data names.
pub const TUMOUR_WORDS: &[&str] = &[
    "tumor",
    "tumoral",
    "tumores",
    "neoplasia",
    "neoplasico",
    "neoplasica",
    "oncologico",
    "oncologica",
    "lesion",
];

/// What a text may say of a drug the data gives as a rate (a dose per hour or per
/// minute, «8 mg/h»): it runs as an infusion.
pub const RATE_WORDS: &[&str] = &["infusion", "perfusion", "continua", "continuo"];

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

/// The words a text may write when the data has `has` each word of an entry's key
/// (`has` is asked about folded words).
pub fn counterparts(has: impl Fn(&str) -> bool) -> impl Iterator<Item = &'static str> {
    COUNTERPARTS
        .iter()
        .filter(move |(k, _)| k.split(' ').all(&has))
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
        for w in TUMOUR_NAMES.iter().chain(TUMOUR_WORDS).chain(RATE_WORDS) {
            assert_eq!(crate::text::fold(w), *w, "{w} is not folded");
        }
        assert!(counterparts(|w| w == "cn").any(|w| w == "canula"));
        // A key of two words needs both.
        let hip = |w: &str| w == "protesis" || w == "cadera";
        assert!(counterparts(hip).any(|w| w == "acetabular"));
        assert!(!counterparts(|w| w == "cadera").any(|w| w == "acetabular"));
        assert!(counterparts(|w| w == "cadera").any(|w| w == "femoral"));
    }
}

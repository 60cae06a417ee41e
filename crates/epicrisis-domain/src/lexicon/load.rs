//! Building the lexicon from the embedded data: the accent dictionary, the curated
//! clinical groups, the drug dictionary and the terms derived from CIE-10 titles.

use super::{
    Concept, ConceptId, ConceptKind, ConceptSource, GENERIC_HEADS, Lexicon, is_disease_word,
    term_keys,
};
use std::collections::{HashMap, HashSet};

const CIE10_TSV: &str = include_str!("../../data/cie10.tsv");
const DRUGS_TSV: &str = include_str!("../../data/drugs.tsv");
const ACCENTS_TSV: &str = include_str!("../../data/accents.tsv");
const COMMON_ES: &str = include_str!("../../data/common_es.txt");
const CLINICAL_TSV: &str = include_str!("../../data/clinical_terms.tsv");

/// CIE-10 chapters whose titles are not diagnoses a draft would invent (external causes,
/// factors influencing health status, symptoms and signs).
const SKIPPED_CHAPTERS: &[char] = &['V', 'W', 'X', 'Y', 'Z', 'R'];

impl Lexicon {
    /// Builds the lexicon from the embedded data, curated groups first.
    pub(super) fn load() -> Lexicon {
        let mut lx = Lexicon {
            concepts: Vec::new(),
            terms: HashMap::new(),
            first_keys: HashSet::new(),
            max_term_len: 1,
            icd10: HashMap::new(),
            accents: HashMap::new(),
            common: common_words(),
            atc_index: HashMap::new(),
            synonyms: HashMap::new(),
        };
        lx.load_accents();
        // Curated groups first: they win over derived terms with the same key.
        lx.load_clinical();
        lx.load_drugs();
        lx.load_cie10();
        lx
    }

    /// Reads the accent dictionary (folded word → accented spelling).
    fn load_accents(&mut self) {
        for line in ACCENTS_TSV.lines().filter(|l| !l.starts_with('#')) {
            if let Some((k, v)) = line.split_once('\t') {
                self.accents.insert(k.to_string(), v.to_string());
            }
        }
    }

    /// Adds the hand-curated groups (diagnoses, procedures, labs, drug classes, care
    /// units, findings), each with its synonyms and codes.
    fn load_clinical(&mut self) {
        for line in CLINICAL_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 2 {
                continue;
            }
            let kind = match cols[0] {
                "dx" => ConceptKind::Diagnosis,
                "proc" => ConceptKind::Procedure,
                "lab" => ConceptKind::Lab,
                "class" => ConceptKind::DrugClass,
                "unit" => ConceptKind::CareUnit,
                "finding" => ConceptKind::Finding,
                _ => continue,
            };
            let syns: Vec<&str> = cols[1].split('|').map(str::trim).collect();
            let codes = match kind {
                ConceptKind::Diagnosis => expand_categories(cols.get(2).copied().unwrap_or("")),
                ConceptKind::DrugClass => cols
                    .get(2)
                    .map(|c| c.split('|').map(str::to_string).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let id = self.add_concept(kind, syns[0], codes, ConceptSource::Curated);
            for s in syns {
                self.add_term(s, id, true);
            }
        }
    }

    /// Adds the drug dictionary: each drug with its ATC codes and variant names.
    fn load_drugs(&mut self) {
        for line in DRUGS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let canonical = cols[0].trim();
            if canonical.is_empty() {
                continue;
            }
            let codes: Vec<String> = cols
                .get(2)
                .map(|c| {
                    c.split('|')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let source = if cols.get(3).is_some_and(|s| s.trim() == "curated") {
                ConceptSource::Curated
            } else {
                ConceptSource::DrugDictionary
            };
            let id = self.add_concept(ConceptKind::Drug, canonical, codes.clone(), source);
            for c in &codes {
                self.atc_index.entry(c.clone()).or_default().push(id);
            }
            self.add_term(canonical, id, source == ConceptSource::Curated);
            if let Some(vs) = cols.get(1) {
                for v in vs.split('|').map(str::trim).filter(|v| !v.is_empty()) {
                    self.add_term(v, id, source == ConceptSource::Curated);
                }
            }
        }
    }

    /// Adds diagnoses derived from the CIE-10 titles, where no curated concept or drug
    /// already owns the term, and records every code's title.
    fn load_cie10(&mut self) {
        let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
        let mut complete_keys: HashSet<String> = HashSet::new();
        let mut order: Vec<(String, String)> = Vec::new();
        for line in CIE10_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let Some((code, name)) = line.split_once('\t') else {
                continue;
            };
            self.icd10
                .insert(crate::codes::code_key(code), name.trim().to_string());
            let first = code.chars().next().unwrap_or('Z');
            if SKIPPED_CHAPTERS.contains(&first) {
                continue;
            }
            let category = code.get(..3).unwrap_or(code).to_string();
            let residual = crate::text::fold(name.trim_start()).starts_with("otr");
            for core in cie10_cores(name) {
                let keys = term_keys(&core);
                if keys.is_empty() || keys.iter().all(|k| k.len() < 4) {
                    continue;
                }
                let generic = GENERIC_HEADS.contains(&keys[0].as_str());
                let mut candidates: Vec<usize> = vec![keys.len().min(5), 2];
                if !generic {
                    candidates.push(1);
                }
                for n in candidates {
                    if n == 0 || n > keys.len() {
                        continue;
                    }
                    let key = keys[..n].join(" ");
                    if n == keys.len() && keys.len() <= 5 && !residual {
                        complete_keys.insert(key.clone());
                    }
                    if n == 1
                        && (keys[0].len() < 5
                            || self.common.contains(&keys[0]) && !is_disease_word(&keys[0]))
                    {
                        continue;
                    }
                    let entry = by_key.entry(key.clone()).or_default();
                    if entry.is_empty() {
                        order.push((key.clone(), core.clone()));
                    }
                    if !entry.contains(&category) {
                        entry.push(category.clone());
                    }
                }
            }
        }
        for (key, core) in order {
            if self.terms.contains_key(&key) {
                // A curated concept or a drug already owns this term.
                continue;
            }
            let cats = by_key.remove(&key).unwrap_or_default();
            let n = key.split(' ').count();
            let display = core
                .split_whitespace()
                .take(n + 3)
                .collect::<Vec<_>>()
                .join(" ");
            let id = self.add_concept(ConceptKind::Diagnosis, &display, cats, ConceptSource::Cie10);
            self.concepts[id as usize].complete = complete_keys.contains(&key);
            self.synonyms.insert(id, vec![key.clone()]);
            self.insert_key(key, id, false);
        }
    }

    /// Adds a concept and returns its id.
    fn add_concept(
        &mut self,
        kind: ConceptKind,
        canonical: &str,
        codes: Vec<String>,
        source: ConceptSource,
    ) -> ConceptId {
        self.concepts.push(Concept {
            kind,
            canonical: canonical.to_string(),
            codes,
            source,
            complete: true,
        });
        (self.concepts.len() - 1) as ConceptId
    }

    /// Adds a phrase as a term of concept `id`; a dictionary term never takes a common
    /// word or a key a curated concept already has.
    fn add_term(&mut self, phrase: &str, id: ConceptId, curated: bool) {
        let keys = term_keys(phrase);
        if keys.is_empty() {
            return;
        }
        let key = keys.join(" ");
        let short_common = keys.len() == 1 && key.len() <= 4 && self.common.contains(&key);
        if !curated && keys.len() == 1 && self.common.contains(&key) {
            return;
        }
        // Drugs from the dictionary never take a key a curated concept already has.
        if !curated && self.terms.contains_key(&key) {
            return;
        }
        let syns = self.synonyms.entry(id).or_default();
        if !syns.contains(&key) {
            syns.push(key.clone());
        }
        self.insert_key(key, id, short_common);
    }

    /// Indexes a term key for concept `id`.
    fn insert_key(&mut self, key: String, id: ConceptId, needs_upper: bool) {
        let n = key.split(' ').count();
        self.max_term_len = self.max_term_len.max(n);
        if let Some(first) = key.split(' ').next() {
            self.first_keys.insert(first.to_string());
        }
        let e = self.terms.entry(key).or_default();
        if !e.concepts.contains(&id) {
            e.concepts.push(id);
        }
        e.needs_upper |= needs_upper;
    }
}

/// The "cores" of a CIE-10 title: the leading noun phrase without qualifiers such as
/// "no especificada" or "con obstrucción", and without a leading "Otros/Otras".
pub(super) fn cie10_cores(name: &str) -> Vec<String> {
    let folded = crate::text::fold(name);
    let mut core = folded.as_str();
    for cut in [",", "(", "[", ";", ":"] {
        if let Some(p) = core.find(cut) {
            core = &core[..p];
        }
    }
    let mut s = format!(" {} ", core.trim());
    for cut in [
        " con ",
        " sin ",
        " debid",
        " que ",
        " no especific",
        " no clasific",
        " especificad",
        " en otra",
        " de otr",
        " otras ",
        " otros ",
        " y ",
        " o ",
        " en ",
        " por ",
        " durante",
        " asociad",
        " secundari",
        " excepto",
        " a nivel ",
        " segun ",
        " tipo ",
        " inducid",
        " mediante",
        " incluid",
    ] {
        if let Some(p) = s[1..].find(cut) {
            s.truncate(p + 1);
            s.push(' ');
        }
    }
    let mut t = s.trim().to_string();
    for lead in [
        "otros ", "otras ", "otro ", "otra ", "los ", "las ", "el ", "la ",
    ] {
        if let Some(rest) = t.strip_prefix(lead) {
            t = rest.to_string();
        }
    }
    if t.is_empty() { Vec::new() } else { vec![t] }
}

/// The list of common Spanish words (one a line, `#` comments skipped).
fn common_words() -> HashSet<String> {
    COMMON_ES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The CIE-10 categories of a spec: `I60-I64` → I60..I64; `J12-J18|J69` → both.
fn expand_categories(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in spec.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let (la, lb) = (a.as_bytes()[0], b.as_bytes()[0]);
            let na: u32 = a[1..].parse().unwrap_or(0);
            let nb: u32 = b[1..].parse().unwrap_or(0);
            if la == lb && na <= nb {
                for n in na..=nb {
                    out.push(format!("{}{:02}", la as char, n));
                }
            }
        } else {
            out.push(part.to_string());
        }
    }
    out
}

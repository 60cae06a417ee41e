//! Planted errors: correct texts (references) with one error of a known kind put in, to
//! measure how many the validator catches. Deterministic for a given seed, and built
//! from vocabulary the dev data does not contain (drugs and diagnoses sampled from the
//! lexicon), so the figure says something about episodes nobody has seen.

use crate::report::{Category, Kind, Report, Severity};
use crate::scan::{CodeShape, scan_codes};
use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{ConceptKind, ConceptSource, content_tokens, lexicon};
use epicrisis_domain::numbers::{format_es, interpretations};
use epicrisis_domain::posology::{Piece, piece_at};
use epicrisis_domain::text::{fold, tokenize_chars};
use epicrisis_domain::{Episode, ItemKind};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The kinds of planted error (issue: invented code, invented drug, changed dose,
/// invented diagnosis, omitted discharge medication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PlantKind {
    InventedCode,
    InventedDrug,
    ChangedDose,
    InventedDiagnosis,
    OmittedDischargeMedication,
    OmittedDischargeDiagnosis,
}

impl PlantKind {
    pub const ALL: [PlantKind; 6] = [
        PlantKind::InventedCode,
        PlantKind::InventedDrug,
        PlantKind::ChangedDose,
        PlantKind::InventedDiagnosis,
        PlantKind::OmittedDischargeMedication,
        PlantKind::OmittedDischargeDiagnosis,
    ];
    /// The omissions, planted again in rephrased references.
    pub const OMISSIONS: [PlantKind; 2] = [
        PlantKind::OmittedDischargeMedication,
        PlantKind::OmittedDischargeDiagnosis,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PlantKind::InventedCode => "invented_code",
            PlantKind::InventedDrug => "invented_drug",
            PlantKind::ChangedDose => "changed_dose",
            PlantKind::InventedDiagnosis => "invented_diagnosis",
            PlantKind::OmittedDischargeMedication => "omitted_discharge_medication",
            PlantKind::OmittedDischargeDiagnosis => "omitted_discharge_diagnosis",
        }
    }
}

/// One text with one planted error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planted {
    pub kind: PlantKind,
    pub text: String,
    /// Where the planted words are (characters), `None` for an omission.
    pub span: Option<[usize; 2]>,
    /// The planted (or removed) words.
    pub mention: String,
}

impl Planted {
    /// Did the report catch this error? An error finding of a fitting category that
    /// overlaps the planted span (or, for an omission, names the removed drug).
    pub fn caught_by(&self, report: &Report) -> bool {
        let cats: &[Category] = match self.kind {
            PlantKind::InventedCode => &[Category::Code],
            PlantKind::InventedDrug => &[Category::Medication, Category::Code, Category::Dose],
            PlantKind::ChangedDose => &[Category::Dose, Category::Number],
            PlantKind::InventedDiagnosis => &[Category::Diagnosis, Category::Code],
            PlantKind::OmittedDischargeMedication => &[Category::Medication],
            PlantKind::OmittedDischargeDiagnosis => &[Category::Diagnosis],
        };
        report.findings.iter().any(|f| {
            f.severity == Severity::Error
                && cats.contains(&f.category)
                && match (self.span, f.span) {
                    (Some([a, b]), Some([c, d])) => c < b && a < d,
                    (None, None) => {
                        f.kind == Kind::Omission
                            && fold(&f.mention).contains(&fold(
                                self.mention.split_whitespace().next().unwrap_or(""),
                            ))
                    }
                    _ => false,
                }
        })
    }
}

/// A small deterministic generator (SplitMix64), so corpora are stable across versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            Some(&v[self.below(v.len())])
        }
    }
}

fn char_index(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

fn replace_chars(text: &str, start: usize, end: usize, with: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut s: String = chars[..start].iter().collect();
    s.push_str(with);
    s.extend(chars[end..].iter());
    s
}

/// Plants one error of `kind` in `text`, or `None` when the text offers no place for it
/// (no dose to change, no discharge medication to drop).
pub fn plant(episode: &Episode, text: &str, kind: PlantKind, seed: u64) -> Option<Planted> {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(kind as u64));
    match kind {
        PlantKind::InventedCode => invented_code(episode, text, &mut rng),
        PlantKind::InventedDrug => invented_drug(episode, text, &mut rng),
        PlantKind::ChangedDose => changed_dose(episode, text, &mut rng),
        PlantKind::InventedDiagnosis => invented_diagnosis(episode, text, &mut rng),
        PlantKind::OmittedDischargeMedication => omitted_med(episode, text, &mut rng),
        PlantKind::OmittedDischargeDiagnosis => omitted_diagnosis(episode, text, &mut rng),
    }
}

fn episode_code_keys(ep: &Episode) -> HashSet<String> {
    ep.codes().iter().map(|c| code_key(&c.display)).collect()
}

fn invented_code(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let chars: Vec<char> = text.chars().collect();
    let codes = scan_codes(&chars);
    let c = rng.pick(&codes)?.clone();
    let have = episode_code_keys(ep);
    let lx = lexicon();
    let candidate = |rng: &mut Rng| -> String {
        match c.shape {
            CodeShape::AtcFull | CodeShape::AtcGroup => {
                let drugs: Vec<&String> = lx
                    .concepts
                    .iter()
                    .filter(|x| x.kind == ConceptKind::Drug)
                    .flat_map(|x| x.codes.iter())
                    .collect();
                rng.pick(&drugs)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "J01XA01".into())
            }
            CodeShape::ProcedureLike => format!("{:02}.{}", 1 + rng.below(98), rng.below(10)),
            _ => {
                // Half the time a near miss in the same category (J18.9 → J18.1).
                if rng.below(2) == 0 && c.text.len() >= 3 {
                    format!("{}.{}", &c.text[..3], rng.below(10))
                } else {
                    let l = (b'A' + rng.below(14) as u8) as char;
                    format!("{l}{:02}.{}", rng.below(100), rng.below(10))
                }
            }
        }
    };
    for _ in 0..50 {
        let code = candidate(rng);
        if have.contains(&code_key(&code)) || code_key(&code) == code_key(&c.text) {
            continue;
        }
        let new_text = replace_chars(text, c.start, c.end, &code);
        let end = c.start + code.chars().count();
        return Some(Planted {
            kind: PlantKind::InventedCode,
            text: new_text,
            span: Some([c.start, end]),
            mention: code,
        });
    }
    None
}

/// Drugs a planted error may use: curated and dictionary drugs the episode does not
/// name, preferring ones whose name is a single clear word.
fn foreign_drug(ep: &Episode, text: &str, rng: &mut Rng) -> Option<String> {
    let lx = lexicon();
    let f = fold(text);
    let ep_text: String = ep
        .texts()
        .iter()
        .map(|(_, t)| fold(t))
        .collect::<Vec<_>>()
        .join(" ");
    for _ in 0..200 {
        let curated = rng.below(3) != 0;
        let pool: Vec<&epicrisis_domain::lexicon::Concept> = lx
            .concepts
            .iter()
            .filter(|c| {
                c.kind == ConceptKind::Drug && (c.source == ConceptSource::Curated) == curated
            })
            .collect();
        let c = rng.pick(&pool)?;
        let name = c.canonical.clone();
        let fname = fold(&name);
        if name.len() < 5
            || name.contains(' ') && rng.below(2) == 0
            || f.contains(&fname)
            || ep_text.contains(&fname)
        {
            continue;
        }
        if fname
            .chars()
            .any(|ch| !ch.is_ascii_alphabetic() && ch != ' ')
        {
            continue;
        }
        return Some(name);
    }
    None
}

fn insert_sentence(text: &str, sentence: &str, rng: &mut Rng) -> (String, usize) {
    // After a random sentence end, or at the end.
    let ends: Vec<usize> = text.match_indices(". ").map(|(i, _)| i + 2).collect();
    let at_byte = if ends.is_empty() || rng.below(3) == 0 {
        text.trim_end().len()
    } else {
        ends[rng.below(ends.len())]
    };
    let (before, after) = text.split_at(at_byte);
    let sep = if before.ends_with(' ') || before.is_empty() {
        ""
    } else {
        " "
    };
    let trail = if after.is_empty() { "" } else { " " };
    let new_text = format!("{before}{sep}{sentence}{trail}{}", after.trim_start());
    (new_text, char_index(text, at_byte) + sep.chars().count())
}

fn invented_drug(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let drug = foreign_drug(ep, text, rng)?;
    let doses = [
        "500 mg", "1 g", "40 mg", "100 mg", "20 mg", "2 g", "10 mg", "250 mg",
    ];
    let freqs = [
        "cada 8 horas",
        "cada 12 horas",
        "cada 24 horas",
        "cada 6 horas",
    ];
    let dose = doses[rng.below(doses.len())];
    let freq = freqs[rng.below(freqs.len())];
    let templates = [
        format!("Recibió además {drug} {dose} EV {freq}."),
        format!("Se agregó {drug} al tratamiento."),
        format!("Se indicó {drug} {dose} VO {freq} al alta."),
        format!("Durante la hospitalización se administró {drug}."),
    ];
    let sentence = templates[rng.below(templates.len())].clone();
    let offset = sentence
        .find(&drug)
        .map(|b| sentence[..b].chars().count())?;
    let (new_text, at) = insert_sentence(text, &sentence, rng);
    let start = at + offset;
    Some(Planted {
        kind: PlantKind::InventedDrug,
        text: new_text,
        span: Some([start, start + drug.chars().count()]),
        mention: drug,
    })
}

fn changed_dose(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let lx = lexicon();
    let chars: Vec<char> = text.chars().collect();
    let toks = tokenize_chars(&chars);
    let ct = content_tokens(&chars, &toks);
    let mut candidates = Vec::new();
    for m in lx.find_terms(&ct, false) {
        if !m
            .concepts
            .iter()
            .any(|c| lx.concept(*c).kind == ConceptKind::Drug)
        {
            continue;
        }
        let mut i = toks
            .iter()
            .position(|t| t.start == toks[ct[m.end - 1].token].start)?
            + 1;
        // Skip "/ácido clavulánico" in combinations.
        while i < toks.len() && toks[i].is_punct("/") {
            i += 2;
        }
        if let Some(p) = piece_at(&toks, i)
            && let Piece::Dose(_) = p.piece
        {
            candidates.push(i);
        }
    }
    let i = *rng.pick(&candidates)?;
    let tok = &toks[i];
    let value = *interpretations(&tok.norm).first()?;
    let all_doses: Vec<f64> = ep
        .treatments
        .iter()
        .chain(&ep.discharge.medications)
        .filter(|m| m.kind == ItemKind::Drug)
        .flat_map(|m| m.all_doses())
        .flat_map(|d| d.amounts.clone())
        .collect();
    let factors = [2.0, 0.5, 3.0, 1.5, 4.0, 10.0];
    for _ in 0..20 {
        let f = factors[rng.below(factors.len())];
        let nv = value * f;
        if all_doses.iter().any(|d| (d - nv).abs() < 1e-9) || (nv - value).abs() < 1e-9 {
            continue;
        }
        let new = format_es(nv);
        let new_text = replace_chars(text, tok.start, tok.end, &new);
        return Some(Planted {
            kind: PlantKind::ChangedDose,
            text: new_text,
            span: Some([tok.start, tok.start + new.chars().count()]),
            mention: new,
        });
    }
    None
}

/// A diagnosis the episode does not have, from the Spanish CIE-10 titles.
fn foreign_diagnosis(ep: &Episode, rng: &mut Rng) -> Option<(String, String)> {
    let lx = lexicon();
    let cats: HashSet<String> = ep
        .codes()
        .iter()
        .filter_map(|c| code_key(&c.display).get(..3).map(str::to_string))
        .collect();
    let ep_text: String = ep
        .texts()
        .iter()
        .map(|(_, t)| fold(t))
        .collect::<Vec<_>>()
        .join(" ");
    let pool: Vec<&epicrisis_domain::lexicon::Concept> = lx
        .concepts
        .iter()
        .filter(|c| {
            c.kind == ConceptKind::Diagnosis
                && c.complete
                && !c.codes.is_empty()
                && c.codes.len() <= 3
                && c.canonical.split_whitespace().count() <= 4
        })
        .collect();
    for _ in 0..200 {
        let c = rng.pick(&pool)?;
        if c.codes.iter().any(|x| cats.contains(x)) {
            continue;
        }
        // Real diseases only: not poisonings by a substance (T36–T65), injuries' external
        // causes, factors (Z), symptoms (R) nor organisms (B95–B98).
        if c.codes.iter().any(|x| {
            let b = x.as_bytes();
            matches!(b[0], b'T' | b'V' | b'W' | b'X' | b'Y' | b'Z' | b'R')
                || ("B95".."B99").contains(&x.as_str())
        }) {
            continue;
        }
        let name = c.canonical.trim().to_string();
        let head = fold(name.split_whitespace().next()?);
        if head.len() < 5
            || ep_text.contains(&head)
            || lx.is_common_word(&head) && !epicrisis_domain::lexicon::is_disease_word(&head)
        {
            continue;
        }
        let code = lx
            .icd10_name(&c.codes[0])
            .map(|_| c.codes[0].clone())
            .unwrap_or_default();
        return Some((name, code));
    }
    None
}

fn invented_diagnosis(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let (dx, code) = foreign_diagnosis(ep, rng)?;
    let with_code = rng.below(3) == 0 && !code.is_empty();
    let shown = if with_code {
        format!("{dx} ({code})")
    } else {
        dx.clone()
    };
    let templates = [
        format!("Evoluciona con {shown}."),
        format!("Como antecedente presenta {shown}."),
        format!("Se diagnostica además {shown}."),
        format!("Al alta persiste {shown}."),
    ];
    let sentence = templates[rng.below(templates.len())].clone();
    let offset = sentence.find(&dx).map(|b| sentence[..b].chars().count())?;
    let (new_text, at) = insert_sentence(text, &sentence, rng);
    let start = at + offset;
    Some(Planted {
        kind: PlantKind::InventedDiagnosis,
        text: new_text,
        span: Some([start, start + dx.chars().count()]),
        mention: dx,
    })
}

fn omitted_med(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let meds: Vec<_> = ep
        .discharge
        .medications
        .iter()
        .filter(|m| m.kind == ItemKind::Drug)
        .collect();
    let m = *rng.pick(&meds)?;
    let (new_text, removed) = remove_coded_item(text, &m.name, &m.code.as_ref()?.raw)?;
    Some(Planted {
        kind: PlantKind::OmittedDischargeMedication,
        text: new_text,
        span: None,
        mention: format!("{} {}", m.name, removed.trim()),
    })
}

/// Drops a discharge diagnosis that is not also an admission diagnosis (one stated at
/// admission is stated), where the text names it last.
fn omitted_diagnosis(ep: &Episode, text: &str, rng: &mut Rng) -> Option<Planted> {
    let admission: HashSet<String> = ep
        .admission_diagnoses
        .iter()
        .filter_map(|d| d.code.as_ref().map(|c| code_key(&c.raw)))
        .collect();
    let dxs: Vec<_> = ep
        .discharge_diagnoses
        .iter()
        .filter(|d| {
            d.code
                .as_ref()
                .is_some_and(|c| !admission.contains(&code_key(&c.raw)))
        })
        .collect();
    let d = *rng.pick(&dxs)?;
    let (new_text, removed) = remove_coded_item(text, &d.name, &d.code.as_ref()?.raw)?;
    Some(Planted {
        kind: PlantKind::OmittedDischargeDiagnosis,
        text: new_text,
        span: None,
        mention: format!("{} {}", d.name, removed.trim()),
    })
}

/// Removes the item «name … (code)» where the text writes its code last (discharge
/// lists come last), with one list separator or its bullet line. Returns the new text
/// and the removed words.
fn remove_coded_item(text: &str, name: &str, code: &str) -> Option<(String, String)> {
    let key = code_key(code);
    let chars: Vec<char> = text.chars().collect();
    let spans = scan_codes(&chars);
    let c = spans.iter().rev().find(|c| code_key(&c.text) == key)?;
    // The item runs back to the previous separator (", ", " y ", "indicándose ").
    let before: String = chars[..c.start].iter().collect();
    let fb = fold(&before);
    let name_head = fold(name.split(['/', ' ']).next().unwrap_or(name));
    let name_pos = fb.rfind(&name_head)?;
    // `fb` folds character by character, so character counts agree with `before`.
    let mut start = fb[..name_pos].chars().count();
    let mut end = c.end + 1; // the closing parenthesis
    while end < chars.len() && chars[end - 1] != ')' {
        end += 1;
    }
    let at = |a: usize, b: usize| -> String {
        chars[a.min(chars.len())..b.min(chars.len())]
            .iter()
            .collect()
    };
    let pre = at(start.saturating_sub(2), start);
    let post = at(end, end + 3);
    if pre == "- " && (start == 2 || chars[start - 3] == '\n') {
        // A bullet line: the line goes, with its line break.
        start = start.saturating_sub(3);
        while end < chars.len() && chars[end] != '\n' {
            end += 1;
        }
    } else if post.starts_with(", ") {
        end += 2;
    } else if post.starts_with(" y ") {
        end += 3;
    } else if pre == ", " {
        start -= 2;
    } else if at(start.saturating_sub(3), start) == " y " {
        start -= 3;
    }
    let removed: String = chars[start..end].iter().collect();
    Some((replace_chars(text, start, end, ""), removed))
}

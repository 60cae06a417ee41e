//! BM25 Okapi over short Spanish clinical texts.
//!
//! The lexical half of retrieval: it works with no model at all (so retrieval and evidence
//! never depend on an embeddings model being installed), and it catches what sentence
//! embeddings blur — drug names, codes (`J18.9`), doses (`12,5`), frequencies (`c/8h`).
//! The tokeniser therefore folds case and accents like the rest of the program but keeps
//! those codes and numbers whole.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// Term-frequency saturation (the usual Okapi value).
pub const K1: f32 = 1.2;
/// Length normalisation (the usual Okapi value).
pub const B: f32 = 0.75;

/// Function words that carry no meaning for retrieval. Deliberately small: negations
/// (`no`, `sin`) and clinical prepositions of place stay, because "sin fiebre" and
/// "fiebre" must not look alike.
pub const STOPWORDS: &[&str] = &[
    "a", "al", "como", "con", "de", "del", "e", "el", "en", "es", "esta", "este", "ha", "la",
    "las", "le", "les", "lo", "los", "o", "para", "por", "que", "se", "su", "sus", "u", "un",
    "una", "unas", "unos", "y",
];

/// Lower-cases a character and strips its diacritics (`Á` → `a`, `ñ` → `n`).
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    lower
        .to_string()
        .nfd()
        .find(|d| !('\u{0300}'..='\u{036f}').contains(d))
        .unwrap_or(lower)
}

/// The terms of a text: folded (lower case, no accents), split on anything that is not a
/// letter or digit, stop words dropped.
///
/// Kept whole, because splitting them would turn a precise mention into noise:
/// - a `.` or `,` between two digits (`12,5`, `0.5`) and a `.` between a letter-digit
///   code and a digit (`J18.9` → `j18.9`);
/// - a `/` after a word of one or two characters followed by a letter or digit (`c/8h`,
///   `mg/dl`, `s/n`), while `amoxicilina/clavulanico` still gives two terms.
pub fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().map(fold_char).collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            cur.push(c);
            cur_len += 1;
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let joins = match c {
            '.' | ',' => {
                prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit())
            }
            '/' => {
                (1..=2).contains(&cur_len)
                    && cur.chars().all(|x| x.is_alphanumeric())
                    && next.is_some_and(|n| n.is_alphanumeric())
            }
            _ => false,
        };
        if joins && !cur.is_empty() {
            cur.push(c);
            cur_len += 1;
            continue;
        }
        flush(&mut cur, &mut out);
        cur_len = 0;
    }
    flush(&mut cur, &mut out);
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() && !STOPWORDS.contains(&cur.as_str()) {
        out.push(std::mem::take(cur));
    }
    cur.clear();
}

/// A BM25 index over a fixed list of documents.
#[derive(Debug, Clone)]
pub struct Bm25 {
    /// Per document: term → count.
    docs: Vec<HashMap<String, u32>>,
    lengths: Vec<f32>,
    avg_len: f32,
    /// Term → number of documents containing it.
    df: HashMap<String, u32>,
}

impl Bm25 {
    /// Indexes `docs` with [`tokenize`].
    pub fn new(docs: &[&str]) -> Bm25 {
        let tokenized: Vec<Vec<String>> = docs.iter().map(|d| tokenize(d)).collect();
        Bm25::from_terms(tokenized)
    }

    /// Indexes documents already split into terms (callers with their own tokeniser).
    pub fn from_terms(docs: Vec<Vec<String>>) -> Bm25 {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut tf = Vec::with_capacity(docs.len());
        let mut lengths = Vec::with_capacity(docs.len());
        for terms in docs {
            lengths.push(terms.len() as f32);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for t in terms {
                *counts.entry(t).or_insert(0) += 1;
            }
            for t in counts.keys() {
                *df.entry(t.clone()).or_insert(0) += 1;
            }
            tf.push(counts);
        }
        let avg_len = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<f32>() / lengths.len() as f32
        };
        Bm25 {
            docs: tf,
            lengths,
            avg_len,
            df,
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Number of documents that contain `term`.
    pub fn df(&self, term: &str) -> usize {
        self.df.get(term).copied().unwrap_or(0) as usize
    }

    /// Inverse document frequency of a term, in the always-positive form
    /// `ln(1 + (N − df + 0.5) / (df + 0.5))` so that a term present in most documents
    /// still counts a little instead of subtracting (short notes repeat words a lot).
    pub fn idf(&self, term: &str) -> f32 {
        self.idf_of_df(self.df(term))
    }

    /// The idf a term would have if `df` documents contained it.
    pub fn idf_of_df(&self, df: usize) -> f32 {
        let n = self.docs.len() as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The score of every document for `query` (same order as the documents; 0 when no
    /// term matches). Repeated query terms count once.
    pub fn scores(&self, query: &str) -> Vec<f32> {
        self.scores_terms(&tokenize(query))
    }

    /// [`Bm25::scores`] for a query already split into terms.
    pub fn scores_terms(&self, query: &[String]) -> Vec<f32> {
        let mut terms: Vec<&str> = query.iter().map(String::as_str).collect();
        terms.sort_unstable();
        terms.dedup();
        let idfs: Vec<(&str, f32)> = terms
            .into_iter()
            .filter(|t| self.df.contains_key(*t))
            .map(|t| (t, self.idf(t)))
            .collect();
        self.docs
            .iter()
            .zip(&self.lengths)
            .map(|(doc, &len)| {
                let norm = if self.avg_len > 0.0 {
                    1.0 - B + B * len / self.avg_len
                } else {
                    1.0
                };
                idfs.iter()
                    .map(|(t, idf)| match doc.get(*t) {
                        Some(&f) => {
                            let f = f as f32;
                            idf * f * (K1 + 1.0) / (f + K1 * norm)
                        }
                        None => 0.0,
                    })
                    .sum()
            })
            .collect()
    }

    /// The `k` best documents for `query` as `(index, score)`, best first, only those with
    /// a positive score; ties keep document order.
    pub fn top_k(&self, query: &str, k: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self
            .scores(query)
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }

    /// The distinct terms of document `doc` (empty when out of range).
    pub fn doc_terms(&self, doc: usize) -> impl Iterator<Item = &str> {
        self.docs
            .get(doc)
            .into_iter()
            .flat_map(|d| d.keys().map(String::as_str))
    }

    /// True when document `doc` contains `term`.
    pub fn contains(&self, doc: usize, term: &str) -> bool {
        self.docs.get(doc).is_some_and(|d| d.contains_key(term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Neumonía del LÓBULO inferior",
                &["neumonia", "lobulo", "inferior"],
            ),
            ("Dx: J18.9 al ingreso.", &["dx", "j18.9", "ingreso"]),
            ("Hb 12,5 g/dL", &["hb", "12,5", "g/dl"]),
            ("PCR 0.5; luego 1,2.", &["pcr", "0.5", "luego", "1,2"]),
            (
                "ceftriaxona 2 g c/24h EV",
                &["ceftriaxona", "2", "g", "c/24h", "ev"],
            ),
            (
                "Amoxicilina/Ac.clavulánico",
                &["amoxicilina", "ac", "clavulanico"],
            ),
            ("sin fiebre, no tose", &["sin", "fiebre", "no", "tose"]),
            ("Ñandú, pingüino", &["nandu", "pinguino"]),
            ("fin. 12. Otra", &["fin", "12", "otra"]),
            ("", &[]),
            ("... ,,, //", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&tokenize(text), want, "tokenize({text:?})");
        }
    }

    #[test]
    fn scores_rank_the_relevant_document_first() {
        let docs = [
            "Paciente afebril, buena respuesta a ceftriaxona.",
            "Se realiza colecistectomía laparoscópica sin incidentes.",
            "Persiste febril, se ajusta antibiótico. Ceftriaxona día 3.",
            "",
        ];
        let bm = Bm25::new(&docs);
        assert_eq!(bm.len(), 4);
        let s = bm.scores("colecistectomia");
        assert!(s[1] > 0.0 && s[0] == 0.0 && s[2] == 0.0 && s[3] == 0.0);
        let top = bm.top_k("ceftriaxona febril", 10);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![2, 0]);
        assert!(bm.top_k("nada que ver", 3).is_empty());
        assert!(bm.contains(1, "colecistectomia"));
        assert_eq!(bm.df("ceftriaxona"), 2);
        assert_eq!(bm.df("nada"), 0);
        assert!(!bm.contains(9, "colecistectomia"));
    }

    #[test]
    fn known_values() {
        // Two documents, one term in one of them: idf = ln(1 + 1.5/1.5) = ln 2; with the
        // document at average length the term weight is f(k1+1)/(f+k1) = 2.2/2.2 = 1.
        let bm = Bm25::new(&["alfa beta", "gamma delta"]);
        let s = bm.scores("alfa");
        assert!((s[0] - 2f32.ln()).abs() < 1e-5, "{s:?}");
        assert_eq!(s[1], 0.0);
        // Repeated query terms count once.
        assert_eq!(bm.scores("alfa alfa"), s);
    }

    #[test]
    fn empty_index_and_query() {
        let bm = Bm25::new(&[]);
        assert!(bm.is_empty());
        assert!(bm.scores("algo").is_empty());
        let bm = Bm25::new(&["", ""]);
        assert_eq!(bm.scores(""), vec![0.0, 0.0]);
        assert_eq!(bm.scores("algo"), vec![0.0, 0.0]);
    }
}

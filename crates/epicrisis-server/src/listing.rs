//! The episode list's side of an import: the id given to a record that has none, and
//! the columns the list shows and searches (patient, main diagnosis, treating physician,
//! a folded search text with the lexicon's names of the diagnoses, so that «IAMSEST»
//! finds «Infarto agudo al miocardio sin elevación del ST»). Episodes imported before the
//! store kept these columns get them when the server starts ([`fill_list_columns`]).
//! «Mis altas de hoy» matches the account's name against the treating physician the data
//! names ([`is_treating_physician`]): the data links an episode to a physician by name
//! only.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use epicrisis_domain::Episode;
use epicrisis_store::ListColumns;

/// The id of an episode whose data has none (compact records carry no number): `registro-`
/// and ten hex digits of the SHA-256 of its parsed data, so that importing the same record
/// again opens the same episode instead of a copy.
pub(crate) fn assigned_id(ep: &Episode) -> ApiResult<String> {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(ep).map_err(ApiError::internal)?;
    let d = Sha256::digest(&json);
    let hex: String = d.iter().take(5).map(|b| format!("{b:02x}")).collect();
    Ok(format!("registro-{hex}"))
}

/// The diagnosis the episode list shows and searches: the first discharge diagnosis (with
/// its code), else the first admission diagnosis, else the reason for admission.
pub(crate) fn main_diagnosis(ep: &Episode) -> Option<String> {
    let named = |d: &epicrisis_domain::Diagnosis| match &d.code {
        Some(c) => format!("{} ({})", d.name, c.display()),
        None => d.name.clone(),
    };
    ep.discharge_diagnoses
        .first()
        .or(ep.admission_diagnoses.first())
        .map(named)
        .or_else(|| ep.reason.clone())
        .filter(|s| !s.trim().is_empty())
}

/// What the episode list's search matches, folded (lower case, no accents): the id,
/// service, patient (name and identifier), every diagnosis with its code, and the
/// lexicon's name of each diagnosis («Infarto agudo al miocardio» for «IAMSEST»).
pub(crate) fn search_text(id: &str, ep: &Episode) -> String {
    use epicrisis_domain::text::fold;
    let lx = epicrisis_domain::lexicon::lexicon();
    let mut parts: Vec<String> = vec![id.to_string()];
    parts.extend(ep.service.clone());
    parts.extend(ep.patient.name.clone());
    parts.extend(ep.patient.identifier.clone());
    parts.extend(ep.physician.clone());
    parts.extend(ep.reason.clone());
    for d in ep.admission_diagnoses.iter().chain(&ep.discharge_diagnoses) {
        parts.push(d.name.clone());
        parts.extend(d.code.as_ref().map(|c| c.display()));
        for id in lx.concepts_in(&d.name, false) {
            parts.push(lx.concept(id).canonical.clone());
        }
    }
    fold(&parts.join(" · "))
}

/// The folded forms a list search looks for: what was typed, and the lexicon's name of
/// what it names («iamsest» also finds «infarto agudo al miocardio»).
pub(crate) fn search_terms(q: &str) -> Vec<String> {
    use epicrisis_domain::text::fold;
    let lx = epicrisis_domain::lexicon::lexicon();
    let mut out = vec![fold(q.trim())];
    // Typed in any case, an abbreviation is one («iamsest» is IAMSEST).
    for id in lx.concepts_in(q, true) {
        let name = fold(&lx.concept(id).canonical);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Fills the list columns (patient, diagnosis, physician, search text) of episodes
/// imported before the store kept them, reading each one's JSON; runs once at start, in
/// the background. An episode that cannot be read gets empty columns (the page shows «—»).
pub async fn fill_list_columns(state: &AppState) {
    loop {
        let rows = match state.store.unlisted_episodes(200).await {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => return,
            Err(e) => {
                return crate::api::warn("the episode list's patient and diagnosis columns", &e);
            }
        };
        for r in rows {
            let ep: Option<Episode> = serde_json::from_str(&r.episode_json).ok();
            let name = ep.as_ref().and_then(|e| e.patient.name.clone());
            let dx = ep.as_ref().and_then(main_diagnosis);
            let physician = ep.as_ref().and_then(|e| e.physician.clone());
            let text = ep
                .as_ref()
                .map(|e| search_text(&r.episode_id, e))
                .unwrap_or_default();
            let columns = ListColumns {
                patient_name: name.as_deref(),
                diagnosis: dx.as_deref(),
                physician: physician.as_deref().filter(|p| !p.trim().is_empty()),
                search_text: &text,
            };
            if let Err(e) = state.store.set_list_columns(&r.episode_id, &columns).await {
                return crate::api::warn("the episode list's patient and diagnosis columns", &e);
            }
        }
    }
}

/// Words of a person's name, folded, without titles and punctuation: «Dra. María-José
/// Pérez S.» → maria, jose, perez, s.
fn name_words(name: &str) -> Vec<String> {
    const TITLES: [&str; 6] = ["dr", "dra", "doctor", "doctora", "de", "del"];
    epicrisis_domain::text::fold(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !TITLES.contains(w))
        .map(str::to_string)
        .collect()
}

/// Whether the treating physician the data names (`physician`, as written: «Dra. M.
/// Pérez Soto», «PEREZ SOTO MARIA») is the account named `account` («María Pérez Soto»):
/// every word the data gives matches a word of the account's name, whole or as its
/// initial, and at least two do, one of them whole. A surname alone («Dr. Pérez») matches
/// nobody: it would give one physician another's patients.
pub(crate) fn is_treating_physician(account: &str, physician: &str) -> bool {
    let mine = name_words(account);
    let theirs = name_words(physician);
    if theirs.len() < 2 {
        return false;
    }
    let mut whole = 0;
    let mut used = vec![false; mine.len()];
    for w in &theirs {
        let exact = (0..mine.len()).find(|&i| !used[i] && mine[i] == *w);
        let initial = || {
            (w.chars().count() == 1)
                .then(|| (0..mine.len()).find(|&i| !used[i] && mine[i].starts_with(w.as_str())))
                .flatten()
        };
        match exact
            .map(|i| (i, true))
            .or_else(|| initial().map(|i| (i, false)))
        {
            Some((i, is_whole)) => {
                used[i] = true;
                whole += usize::from(is_whole);
            }
            None => return false,
        }
    }
    whole >= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_treating_physician_is_matched_by_name_not_by_a_surname_alone() {
        let me = "María José Pérez Soto";
        for written in [
            "Dra. María Pérez",
            "PEREZ SOTO MARIA JOSE",
            "Dra. M. Pérez S.",
            "maria jose perez soto",
            "Pérez Soto, María José",
        ] {
            assert!(is_treating_physician(me, written), "{written}");
        }
        for written in [
            "Dr. Pérez",
            "Pérez",
            "Dra. Ana Pérez",
            "M. P.",
            "María Pérez Rojas",
            "",
            "Dra.",
        ] {
            assert!(!is_treating_physician(me, written), "{written}");
        }
        assert!(!is_treating_physician("admin", "Dr. Admin Admin"));
    }

    #[test]
    fn shorthand_finds_the_diagnosis_it_names() {
        let terms = search_terms("IAMSEST");
        assert!(terms.contains(&"iamsest".to_string()), "{terms:?}");
        assert!(
            terms.iter().any(|t| t.starts_with("infarto agudo")),
            "{terms:?}"
        );
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Compact);
        ep.patient.name = Some("María Ñúñez".into());
        ep.discharge_diagnoses.push(epicrisis_domain::Diagnosis {
            name: "IAMSEST".into(),
            code: None,
        });
        let text = search_text("E-1", &ep);
        assert!(text.contains("maria nunez"), "{text}");
        // The record says «IAMSEST»; a search for the words finds it too.
        let words = search_terms("infarto agudo al miocardio");
        assert!(
            words.iter().any(|w| text.contains(w.as_str())),
            "{text} {words:?}"
        );
        assert_eq!(main_diagnosis(&ep).as_deref(), Some("IAMSEST"));
    }

    #[test]
    fn a_record_without_a_number_gets_one_from_its_contents() {
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Compact);
        ep.reason = Some("dolor torácico".into());
        let a = assigned_id(&ep).unwrap();
        assert!(
            a.starts_with("registro-") && a.len() == "registro-".len() + 10,
            "{a}"
        );
        assert_eq!(assigned_id(&ep).unwrap(), a, "the same record, the same id");
        ep.reason = Some("disnea".into());
        assert_ne!(assigned_id(&ep).unwrap(), a);
    }
}

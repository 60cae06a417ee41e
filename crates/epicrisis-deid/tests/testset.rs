//! The de-identification test set (`testdata/deid/cases.jsonl`, written by
//! `epicrisis-dev eval-deid --write`): no planted RUT or name survives, and clinical words do.

use epicrisis_deid::testset::{Case, evaluate};

#[test]
fn planted_identifiers_are_removed_and_clinical_words_kept() {
    let path = epicrisis_testkit::fixtures::testdata("deid/cases.jsonl");
    let text = std::fs::read_to_string(&path).expect("test set present");
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid case"))
        .collect();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let score = evaluate(&cases);
    for kind in ["rut", "name"] {
        let s = &score.by_kind[kind];
        assert!(s.planted > 100, "{kind}: {} planted", s.planted);
        assert_eq!(s.removed, s.planted, "{kind} missed: {:?}", score.missed);
    }
    for (kind, s) in &score.by_kind {
        assert!(
            s.recall() >= 0.99,
            "{kind} recall {:.3}: {:?}",
            s.recall(),
            score.missed
        );
        assert!(
            s.precision() >= 0.95,
            "{kind} precision {:.3}",
            s.precision()
        );
    }
    assert!(
        score.clinical_precision() >= 0.95,
        "clinical words kept {:.3}",
        score.clinical_precision()
    );
}

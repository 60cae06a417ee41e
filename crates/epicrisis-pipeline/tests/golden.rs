//! Golden files for the deterministic writer (reviewed by eye; `cargo insta review` or
//! `INSTA_UPDATE=always` to accept a deliberate change), and its contract on every dev
//! record: zero validator errors and every code of the episode in the text.

use epicrisis_pipeline::metrics::code_recall;
use epicrisis_pipeline::{Layout, TextFormat, writer};
use epicrisis_testkit::fixtures::testdata;

fn episode(file: &str) -> epicrisis_domain::Episode {
    let path = testdata("episodes").join(file);
    let bytes = std::fs::read(&path).expect("example episode");
    epicrisis_ingest::read_episode(&bytes, file).expect("example reads")
}

fn render(file: &str, layout: Layout, format: TextFormat) -> String {
    let ep = episode(file);
    let text = writer::write(&ep, layout).render(format);
    let report = epicrisis_validate::validate(&ep, &text);
    assert!(
        report.ok,
        "{file} {layout:?}: the writer's own text has errors:\n{}",
        report.to_text()
    );
    let recall = code_recall(&ep, &text);
    assert_eq!(
        recall.found, recall.total,
        "{file} {layout:?}: every code must be in the text"
    );
    text
}

#[test]
fn rich_episode_sections() {
    insta::assert_snapshot!(render(
        "episodio_1416169.json",
        Layout::Sections,
        TextFormat::Plain
    ));
}

#[test]
fn rich_episode_sections_markdown() {
    insta::assert_snapshot!(render(
        "episodio_1416169.json",
        Layout::Sections,
        TextFormat::Markdown
    ));
}

#[test]
fn rich_episode_paragraph() {
    insta::assert_snapshot!(render(
        "episodio_1416169.json",
        Layout::Paragraph,
        TextFormat::Plain
    ));
}

#[test]
fn compact_record_paragraph() {
    insta::assert_snapshot!(render(
        "compact_hernia.json",
        Layout::Paragraph,
        TextFormat::Plain
    ));
}

#[test]
fn compact_record_sections() {
    insta::assert_snapshot!(render(
        "compact_hernia.json",
        Layout::Sections,
        TextFormat::Plain
    ));
}

#[test]
fn predecessor_episode_sections() {
    insta::assert_snapshot!(render(
        "predecessor_neumonia.json",
        Layout::Sections,
        TextFormat::Plain
    ));
}

#[test]
fn writer_passes_its_own_validator_on_every_dev_record() {
    let bytes = std::fs::read(testdata("dev/train.jsonl")).expect("train.jsonl");
    let records = epicrisis_ingest::read_dataset(&bytes, "train.jsonl").expect("dataset");
    let mut failures = Vec::new();
    for r in &records {
        for layout in [Layout::Paragraph, Layout::Sections] {
            let text = writer::write(&r.episode, layout).render(TextFormat::Plain);
            let report = epicrisis_validate::validate(&r.episode, &text);
            let recall = code_recall(&r.episode, &text);
            if !report.ok || recall.found != recall.total {
                failures.push(format!(
                    "line {} {layout:?}: {} errors, codes {}/{}\n{}",
                    r.line,
                    report.error_count(),
                    recall.found,
                    recall.total,
                    report.to_text()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

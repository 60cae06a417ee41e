//! The immutable signed record end to end, over real HTTP against the real binary: a
//! signed version's documents do not change when the episode is imported again with other
//! data, later versions do not hide it, and `verify` (the API route and
//! `epicrisis versions verify`) finds a text changed directly in the database.

use serde_json::{Value, json};
use std::path::Path;

mod common;
use common::server::{Session, add_user, bin, draft, login, serve};
use common::testdata;

const EPISODE: &str = "1416169";

fn download(s: &Session, path: &str) -> Vec<u8> {
    let r = s.get(path);
    assert_eq!(r.status(), 200, "{path}");
    r.bytes().unwrap().to_vec()
}

/// Every form of a version's document, by the version's own route and by the episode's.
fn documents(s: &Session, version: &Value) -> Vec<(String, Vec<u8>)> {
    let id = version["id"].as_i64().unwrap();
    let mut docs = Vec::new();
    for format in ["text", "markdown", "fhir", "pdf", "docx"] {
        let by_id = download(s, &format!("/api/v1/versions/{id}/export?format={format}"));
        let by_episode = download(
            s,
            &format!("/api/v1/episodes/{EPISODE}/export?format={format}&version={id}"),
        );
        // A draft's FHIR Bundle carries the time of the export; a signed one the
        // signature's.
        if format != "fhir" || version["status"] == "signed" {
            assert!(
                by_id == by_episode,
                "{format}: both routes give one document"
            );
        }
        docs.push((format.to_string(), by_id));
    }
    docs
}

fn text_of(docs: &[(String, Vec<u8>)]) -> String {
    String::from_utf8(docs[0].1.clone()).unwrap()
}

fn verify_cli(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = bin(dir)
        .args(["versions", "verify"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_signed_document_survives_a_reimport_and_verify_finds_tampering() {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    add_user(dir.path(), "caja", "administrativo", "Caja Uno");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");

    // Import, draft, edit, sign.
    let original = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let r = s.post_bytes("/api/v1/episodes", original.clone());
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["revision"], 1);
    let v1 = draft(&s, EPISODE);
    assert_eq!(v1["episodeRevision"], 1);
    let text = v1["text"].as_str().unwrap();
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{text}\nPaciente se va de alta en buenas condiciones.\n"),
                "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    let r = s.post(
        &format!("/api/v1/versions/{}/sign", v2["id"]),
        &json!({"acknowledgeFindings": true}),
    );
    assert_eq!(r.status(), 201);
    let signed: Value = r.json().unwrap();
    assert_eq!(
        (&signed["status"], &signed["episodeRevision"]),
        (&json!("signed"), &json!(1))
    );
    let before = documents(&s, &signed);
    let signed_text = text_of(&before);
    assert!(
        signed_text.contains("68 años") && signed_text.contains("1 g"),
        "{signed_text}"
    );

    // The same data again is no new revision; other doses and age are revision 2.
    let r = s.post_bytes("/api/v1/episodes", original.clone());
    assert_eq!(r.json::<Value>().unwrap()["revision"], 1);
    let mut changed: Value = serde_json::from_slice(&original).unwrap();
    changed["paciente"]["edad"] = json!(69);
    changed["indicaciones_alta"]["medicamentos"][0]["dosis"] = json!("2g");
    let r = s.post_bytes("/api/v1/episodes", serde_json::to_vec(&changed).unwrap());
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["revision"], 2);
    let ep: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}"))
        .json()
        .unwrap();
    assert_eq!(ep["revision"], 2);

    // An amendment written from the new data comes after the signature.
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{text}\nEnmienda: control en 7 días.\n"),
                "parentId": signed["id"], "amend": true}),
    );
    assert_eq!(r.status(), 201);
    let amendment: Value = r.json().unwrap();
    assert_eq!(amendment["episodeRevision"], 2);
    let amended_text = text_of(&documents(&s, &amendment));
    assert!(
        amended_text.contains("69 años") && amended_text.contains("2 g"),
        "the amendment's document shows the current data: {amended_text}"
    );

    // The signed version, exported again by its id: the same documents, byte for byte,
    // for anyone who may export.
    let after = documents(&s, &signed);
    for ((format, a), (_, b)) in before.iter().zip(&after) {
        assert!(a == b, "the signed {format} changed after the re-import");
    }
    let caja = login(&srv.url, "caja");
    let pdf = download(
        &caja,
        &format!("/api/v1/versions/{}/export?format=pdf", signed["id"]),
    );
    assert!(pdf == before[3].1);
    assert!(!text_of(&after).contains("69 años"));

    // The API says which data each version was written from.
    let v: Value = s
        .get(&format!("/api/v1/versions/{}", signed["id"]))
        .json()
        .unwrap();
    assert_eq!(
        (&v["episodeRevision"], &v["currentEpisodeRevision"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(v["writtenFromOlderRevision"], true);
    let page = s.get(&format!("/episodios/{EPISODE}")).text().unwrap();
    assert!(
        page.contains("datos de la revisión 1"),
        "the history marks it"
    );

    // Verify: the hash recomputed from what is stored matches.
    let check: Value = caja
        .get(&format!("/api/v1/versions/{}/verify", signed["id"]))
        .json()
        .unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["hashScheme"], 2);
    assert_eq!(check["storedHash"], signed["contentHash"]);
    let (ok, out) = verify_cli(dir.path(), &[]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("id {}", signed["id"])), "{out}");
    let r = s.get("/api/v1/versions/999999/verify");
    assert_eq!(r.status(), 404);

    // The signed text changed directly in the database: the database refuses it (exit 0
    // only if the trigger stopped the UPDATE); someone who drops the trigger first gets
    // through, and verify says so, naming the version.
    let db = dir.path().join("db/epicrisis.db");
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], timeout=30)\n\
             u = \"UPDATE versions SET text = replace(text, '1 g', '2 g') WHERE id = ?\"\n\
             try:\n\
             \x20   c.execute(u, (int(sys.argv[2]),))\n\
             \x20   sys.exit('the UPDATE of a version was not refused')\n\
             except sqlite3.DatabaseError as e:\n\
             \x20   assert 'cannot be changed' in str(e), str(e)\n\
             c.execute('DROP TRIGGER versions_are_append_only_update')\n\
             c.execute(u, (int(sys.argv[2]),))\n\
             c.commit()",
        ])
        .arg(&db)
        .arg(signed["id"].to_string())
        .status()
        .expect("python3 runs (scripts/test.sh needs it too)");
    assert!(status.success());
    let check: Value = s
        .get(&format!("/api/v1/versions/{}/verify", signed["id"]))
        .json()
        .unwrap();
    assert_eq!(check["ok"], false, "{check}");
    let message = check["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("id {}", signed["id"])) && message.contains("NO coincide"),
        "{message}"
    );
    let (ok, out) = verify_cli(dir.path(), &[&signed["id"].to_string()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("ALTERADA") && out.contains(&format!("id {}", signed["id"])),
        "{out}"
    );
    // Verifications are audited, with the verdict only.
    let audit: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}/audit"))
        .json()
        .unwrap();
    let verify_rows: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "verify")
        .collect();
    assert_eq!(verify_rows.len(), 2, "{audit}");
    assert_eq!(verify_rows[0]["detail"]["matches"], false);
}

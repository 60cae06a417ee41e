//! `epicrisis backup` and `epicrisis restore` with the real binary: a site with users, an
//! episode imported twice, drafts, a signature, an amendment and its audit trail is
//! backed up while `serve` runs; the backup restores into a new SQLite file (once the
//! audit key is where the new site looks for it) and into a new PostgreSQL database (the
//! SQLite → PostgreSQL move); on both, `audit verify` and `versions verify` pass and the
//! signed version's documents are byte for byte the ones exported before. A non-empty
//! target and a backup with one byte changed are refused, and nothing printed names a
//! patient or quotes the record.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::time::Instant;

mod common;
use common::server::{Session, add_user, bin, draft, login, postgres_site, serve};
use common::testdata;

const EPISODE: &str = "1416169";
const ENV: &str = "EMBEDDINGS_TYPE=none\nEPICRISIS_AUDIT_ANCHOR_SECONDS=1\n";

fn out_text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary in `dir`; exit code, standard output, standard error.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin(dir).args(args).output().unwrap();
    let (o, e) = out_text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

/// The signed version's documents, as the API exports them.
fn documents(s: &Session, id: i64) -> Vec<(String, Vec<u8>)> {
    ["text", "fhir", "pdf"]
        .iter()
        .map(|f| {
            let r = s.get(&format!("/api/v1/versions/{id}/export?format={f}"));
            assert_eq!(r.status(), 200, "{f}");
            (f.to_string(), r.bytes().unwrap().to_vec())
        })
        .collect()
}

/// Imports the episode, drafts, edits and signs it, imports other data and amends; returns
/// the signed version.
fn signed_record(s: &Session) -> Value {
    let original = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    assert_eq!(
        s.post_bytes("/api/v1/episodes", original.clone()).status(),
        201
    );
    let v1 = draft(s, EPISODE);
    let text = v1["text"].as_str().unwrap();
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{text}\nControl en policlínico en 7 días.\n"), "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    let r = s.post(
        &format!("/api/v1/versions/{}/sign", v2["id"]),
        &json!({"acknowledgeFindings": true}),
    );
    assert_eq!(r.status(), 201);
    let signed: Value = r.json().unwrap();
    let mut changed: Value = serde_json::from_slice(&original).unwrap();
    changed["paciente"]["edad"] = json!(69);
    let r = s.post_bytes("/api/v1/episodes", serde_json::to_vec(&changed).unwrap());
    assert_eq!(r.json::<Value>().unwrap()["revision"], 2);
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{text}\nEnmienda: control en 10 días.\n"),
                "parentId": signed["id"], "amend": true}),
    );
    assert_eq!(r.status(), 201);
    signed
}

/// The number before " fila(s)" on the line that starts with `prefix`.
fn rows_on(text: &str, prefix: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {text}"));
    let before = line.split(" fila(s)").next().unwrap();
    before
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Nothing of the record in what the commands print.
fn no_patient_data(text: &str) {
    for clinical in ["68 años", "69 años", "Control en policlínico", "Enmienda"] {
        assert!(!text.contains(clinical), "{clinical:?} printed: {text}");
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// After a restore: both verifications pass with the binary, and the signed documents
/// served by the restored site are the ones exported before.
fn check_restored(dir: &Path, signed: i64, before: &[(String, Vec<u8>)]) {
    let (code, out, err) = run(dir, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(dir, &["versions", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("id {signed}")), "{out}");
    let srv = serve(dir, &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    for ((format, a), (_, b)) in before.iter().zip(&documents(&s, signed)) {
        assert!(a == b, "the signed {format} differs after the restore");
    }
    let check: Value = s
        .get(&format!("/api/v1/versions/{signed}/verify"))
        .json()
        .unwrap();
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn a_site_backed_up_while_serving_restores_into_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), ENV).unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    add_user(dir.path(), "caja", "administrativo", "Caja Uno");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    let signed = signed_record(&s);
    let signed_id = signed["id"].as_i64().unwrap();
    let before = documents(&s, signed_id);

    // Backed up while the server runs (and someone reads the episode).
    let file = dir.path().join("respaldos").join("respaldo.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let file_arg = file.to_str().unwrap();
    assert_eq!(s.get(&format!("/api/v1/episodes/{EPISODE}")).status(), 200);
    let t = Instant::now();
    let (code, out, err) = run(dir.path(), &["backup", file_arg]);
    eprintln!("backup: {:.2} s\n{out}{err}", t.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("respaldo completo") && err.contains("fila(s) respaldada(s)"));
    assert!(
        out.contains("NO está en el respaldo") && out.contains("db/epicrisis.db.audit-key"),
        "the key's place is said: {out}"
    );
    no_patient_data(&format!("{out}{err}"));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let key = dir.path().join("db/epicrisis.db.audit-key");
    let secret = std::fs::read_to_string(&key).unwrap();
    let backup_text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !backup_text.contains(secret.trim()),
        "the key is not in the backup"
    );
    let backed_up = rows_on(&out, "respaldo completo");
    let (code, _, err) = run(dir.path(), &["backup", file_arg]);
    assert!(
        code == 2 && err.contains("ya existe") && err.contains("--force"),
        "{err}"
    );
    drop(srv);

    let (code, out, err) = run(dir.path(), &["restore", "--check", file_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("respaldo íntegro"), "{out}");

    into_sqlite(&file, &key, signed_id, &before, backed_up);
    tampered(&file, &key);
    into_postgres(&file, &key, signed_id, &before);
}

/// A new SQLite site: refused until the key is where it looks; restored; checked; a second
/// restore into it is refused.
fn into_sqlite(file: &Path, key: &Path, signed: i64, before: &[(String, Vec<u8>)], rows: u64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), ENV).unwrap();
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = run(dir.path(), &["restore", file_arg]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("clave de auditoría") && err.contains("db/epicrisis.db.audit-key"),
        "{err}"
    );
    assert!(
        !dir.path().join("db/epicrisis.db").exists(),
        "nothing was created"
    );
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::copy(key, dir.path().join("db/epicrisis.db.audit-key")).unwrap();

    let t = Instant::now();
    let (code, out, err) = run(dir.path(), &["restore", file_arg]);
    eprintln!(
        "restore into SQLite: {:.2} s\n{out}{err}",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(rows_on(&out, "restauradas"), rows, "{out}");
    assert!(
        out.contains("como dice el manifiesto")
            && out.contains("bitácora íntegra")
            && out.contains("todas coinciden con su huella")
            && out.contains("archivo de anclas"),
        "{out}"
    );
    no_patient_data(&format!("{out}{err}"));
    check_restored(dir.path(), signed, before);

    let (code, out, err) = run(dir.path(), &["restore", file_arg]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("no está vacía") && err.contains("DATABASE_URL"),
        "{err}"
    );
}

/// One byte of a version's text changed: refused by its checksum, by `--check` and by a
/// restore, which leaves the new database empty.
fn tampered(file: &Path, key: &Path) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), ENV).unwrap();
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::copy(key, dir.path().join("db/epicrisis.db.audit-key")).unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let changed = text.replacen("policlínico en 7 días", "policlínico en 8 días", 1);
    assert_ne!(changed, text);
    let bad = dir.path().join("cambiado.jsonl");
    std::fs::write(&bad, changed).unwrap();
    for args in [&["restore", "--check"][..], &["restore"][..]] {
        let mut args = args.to_vec();
        args.push(bad.to_str().unwrap());
        let (code, out, err) = run(dir.path(), &args);
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains("versions") && err.contains("SHA-256") && err.contains("nada se restauró"),
            "{err}"
        );
        no_patient_data(&format!("{out}{err}"));
    }
    assert!(!dir.path().join("db/epicrisis.db").exists());
}

/// The SQLite backup into a new PostgreSQL database, with the key named by the setting.
fn into_postgres(file: &Path, key: &Path, signed: i64, before: &[(String, Vec<u8>)]) {
    let Some((dir, _db)) = postgres_site("backup_restore") else {
        return;
    };
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "{ENV}EPICRISIS_AUDIT_KEY_FILE={}\nEPICRISIS_AUDIT_ANCHOR_FILE={}\n",
            key.display(),
            dir.path().join("anclas").display()
        ),
    )
    .unwrap();
    let t = Instant::now();
    let (code, out, err) = run(dir.path(), &["restore", file.to_str().unwrap()]);
    eprintln!(
        "restore into PostgreSQL: {:.2} s\n{out}{err}",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("bitácora íntegra") && out.contains("todas coinciden con su huella"),
        "{out}"
    );
    check_restored(dir.path(), signed, before);
    let (code, _, err) = run(dir.path(), &["restore", file.to_str().unwrap()]);
    assert!(code == 2 && err.contains("no está vacía"), "{err}");
}

//! Episodes pulled from the hospital's database with the real binary: a PostgreSQL
//! database (on the test server) plays the hospital's, with the predecessor's stored
//! function; the site's own store is SQLite. `sources check` says what it found in
//! counts only; `pull` imports and drafts; a second pull imports and drafts nothing; a
//! changed source episode becomes a new revision with a new draft.

use std::path::Path;
use std::process::Command;

mod common;
use common::server::{add_user, bin, postgres_site};
use common::testdata;

const EPISODES: [(&str, &str); 2] = [
    ("sint-01-neumonia-adulto-mayor.json", "2026-03-02"),
    ("sint-02-pielonefritis-aguda.json", "2026-03-05"),
];

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql (postgresql-client) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hospital's database: a table of discharges and the stored function.
fn hospital(url: &str) -> Vec<String> {
    psql(
        url,
        "CREATE TABLE altas (id_atencion text PRIMARY KEY, fecha_alta date, documento jsonb);
         CREATE FUNCTION get_discharge_summary_json(p text) RETURNS json LANGUAGE sql STABLE
           AS $$ SELECT documento::json FROM altas WHERE id_atencion = p $$;",
    );
    let mut ids = Vec::new();
    for (file, date) in EPISODES {
        let text = std::fs::read_to_string(testdata(&format!("rich/{file}"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = ["id_atencion", "episodeId", "id"]
            .iter()
            .find_map(|k| v.get(*k))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .expect("the fixture has an episode number");
        assert!(!text.contains("$doc$"));
        psql(
            url,
            &format!("INSERT INTO altas VALUES ('{id}', '{date}', $doc${text}$doc$::jsonb)"),
        );
        ids.push(id);
    }
    ids
}

fn with_source(mut c: Command, url: &str) -> Command {
    c.env("EPICRISIS_SOURCE", "sql")
        .env("EPICRISIS_SOURCE_SQL_URL", url)
        .env(
            "EPICRISIS_SOURCE_SQL_EPISODE",
            "SELECT get_discharge_summary_json($1)",
        )
        .env(
            "EPICRISIS_SOURCE_SQL_DISCHARGES",
            "SELECT id_atencion FROM altas WHERE fecha_alta >= $1::date ORDER BY fecha_alta",
        );
    c
}

fn run(dir: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut c = with_source(bin(dir), url);
    let out = c.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn counts(dir: &Path, ids: &[String]) -> Vec<(usize, usize)> {
    let url = format!("sqlite:{}/db/epicrisis.db", dir.display());
    let store = epicrisis_store::Store::open(&url).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        let revisions = store.episode_revisions(id).await.unwrap().len();
        let versions = store.versions(id).await.unwrap().len();
        out.push((revisions, versions));
    }
    out
}

#[test]
fn pulled_from_the_hospital_database_once_and_again_when_it_changes() {
    let Some((dir, db)) = postgres_site("pull_hospital") else {
        return;
    };
    let d = dir.path();
    // The site's store is SQLite; the PostgreSQL database is the hospital's.
    let url = std::fs::read_to_string(d.join("database_url")).unwrap();
    std::fs::remove_file(d.join("database_url")).unwrap();
    std::fs::create_dir_all(d.join("db")).unwrap();
    let ids = hospital(&url);
    add_user(d, "ana", "medico", "Dra. Ana Pérez");

    let (code, out, err) = run(d, &url, &["sources", "check", "--since", "2026-03-01"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("fuente: PostgreSQL postgres://"), "{out}");
    assert!(out.contains("altas desde 2026-03-01: 2"), "{out}");
    assert!(
        out.contains("✓ episodio de muestra leído") && out.contains("forma rich"),
        "{out}"
    );
    for id in &ids {
        assert!(
            !out.contains(id.as_str()),
            "an episode number was printed: {out}"
        );
    }

    let pull = [
        "pull",
        "--since",
        "2026-03-01",
        "--as",
        "ana",
        "--engine",
        "deterministic",
    ];
    let (code, _, err) = run(d, &url, &pull);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("altas desde 2026-03-01: 2"), "{err}");
    assert!(err.contains("2 borradores listos"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(counts(d, &ids)), [(1, 1), (1, 1)]);

    // Again: nothing new is imported or drafted.
    let (code, _, err) = run(d, &url, &pull);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rt.block_on(counts(d, &ids)), [(1, 1), (1, 1)]);

    // The hospital corrects the first episode: a new revision, and a draft of it.
    psql(
        &url,
        &format!(
            "UPDATE altas SET documento = jsonb_set(documento, '{{motivo_ingreso}}', '\"Tos productiva y fiebre de 5 dias\"') \
             WHERE id_atencion = '{}'",
            ids[0]
        ),
    );
    let (code, _, err) = run(d, &url, &pull);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rt.block_on(counts(d, &ids)), [(2, 2), (1, 1)]);

    // One episode by number, import only; an unknown number is named as not found.
    let (code, _, err) = run(
        d,
        &url,
        &[
            "pull",
            "--episode",
            "no-existe",
            "--no-draft",
            "--as",
            "ana",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no-existe") && err.contains("no tiene el episodio"),
        "{err}"
    );
    drop(db);
}

#[test]
fn pull_without_a_source_or_account_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("db")).unwrap();
    let out = bin(d)
        .args(["pull", "--since", "2026-03-01", "--as", "ana"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("EPICRISIS_SOURCE"), "{err}");
    let out = bin(d).args(["pull", "--since", "ayer"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--since") && err.contains("AAAA-MM-DD"),
        "{err}"
    );
    let out = bin(d)
        .env("EPICRISIS_SOURCE", "sql")
        .env(
            "EPICRISIS_SOURCE_SQL_URL",
            "postgres://lector:muy-secreta@127.0.0.1:1/his",
        )
        .env("EPICRISIS_SOURCE_SQL_EPISODE", "SELECT 1")
        .env("EPICRISIS_SOURCE_RETRIES", "0")
        .env("EPICRISIS_SOURCE_TIMEOUT_SECONDS", "2")
        .args(["sources", "check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("EPICRISIS_SOURCE_SQL_URL") && !err.contains("muy-secreta"),
        "{err}"
    );
}

/// Sends an ADT^A03 per visit number with the Python `hl7` package's MLLP client (an
/// independent implementation) and returns each ACK's MSA-1.
fn send_discharges(python: &Path, port: u16, visits: &[&str]) -> Vec<String> {
    const SCRIPT: &str = r#"
import sys, hl7
from hl7.client import MLLPClient
port = int(sys.argv[1])
with MLLPClient("127.0.0.1", port) as client:
    for n, visit in enumerate(sys.argv[2:]):
        pv1 = "|".join(["PV1", "1", "I", "MED^101^1"] + [""] * 15 + [visit])
        msg = "\r".join([
            "MSH|^~\\&|HIS|HOSP|EPICRISIS|HOSP|20260305120000||ADT^A03^ADT_A03|M%d|P|2.5" % n,
            "EVN|A03|20260305120000",
            "PID|1||11111111^^^RUN^NI||PRUEBA^PACIENTE",
            pv1,
        ])
        ack = client.send_message(msg)
        if isinstance(ack, bytes):
            ack = ack.decode("utf-8")
        print(str(hl7.parse(ack).segment("MSA")[1]))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(port.to_string())
        .args(visits)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn serve_pulls_on_schedule_and_drafts_hl7_discharges() {
    let Some(python) = epicrisis_testkit::fixtures::python(
        "EPICRISIS_HL7_PYTHON",
        "fhir-venv",
        "hl7.client",
        "scripts/test.sh installs the hl7 package into ~/.cache/epicrisis/fhir-venv",
    ) else {
        return;
    };
    let Some((dir, db)) = postgres_site("pull_serve") else {
        return;
    };
    let d = dir.path();
    let url = std::fs::read_to_string(d.join("database_url")).unwrap();
    std::fs::remove_file(d.join("database_url")).unwrap();
    std::fs::create_dir_all(d.join("db")).unwrap();
    let ids = hospital(&url);
    // The first episode is discharged today: the schedule finds it. The second only
    // arrives by its HL7 message.
    psql(
        &url,
        &format!(
            "UPDATE altas SET fecha_alta = current_date WHERE id_atencion = '{}'",
            ids[0]
        ),
    );
    add_user(d, "ana", "medico", "Dra. Ana Pérez");
    let port = epicrisis_testkit::free_port().unwrap();
    let mut cmd = with_source(bin(d), &url);
    cmd.env("EPICRISIS_MLLP_LISTEN", format!("127.0.0.1:{port}"))
        .env("EPICRISIS_PULL_EVERY_MINUTES", "5")
        .env("EPICRISIS_PULL_AS", "ana")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "deterministic",
        ]);
    let served = common::server::serve_command(cmd);
    let acks = send_discharges(&python, port, &[&ids[1], "no-existe", &ids[1]]);
    assert_eq!(acks, ["AA", "AE", "AA"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let c = rt.block_on(counts(d, &ids));
        if c == [(1, 1), (1, 1)] {
            break;
        }
        let log = served.log.lock().unwrap().clone();
        assert!(std::time::Instant::now() < deadline, "{c:?}\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let log = served.log.lock().unwrap().clone();
    assert!(
        log.contains("HL7 v2: escuchando MLLP en 127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains(": 1 altas, 1 importadas, 1 por redactar, 0 con problemas"),
        "{log}"
    );
    for id in &ids {
        assert!(
            !log.contains(id.as_str()),
            "an episode number in the log: {log}"
        );
    }
    drop(served);
    drop(db);
}

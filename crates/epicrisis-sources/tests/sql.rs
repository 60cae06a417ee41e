//! The SQL source against real servers: the test PostgreSQL (`scripts/test.sh` starts it)
//! and a private MariaDB server that this test starts on 127.0.0.1 (Debian's
//! `mariadb-server`). Each holds the predecessor's shape: a table of discharges, a
//! function that returns an episode as JSON, and a view.

use epicrisis_sources::sql::{EpisodeQuery, Mapping, SqlConfig, SqlSource};
use epicrisis_sources::{Retry, Secret, Since, SourceError};
use epicrisis_testkit::fixtures::testdata;
use epicrisis_testkit::postgres;
use sqlx::Executor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two synthetic rich episodes (testdata/rich) and their keys.
fn episodes() -> Vec<(String, String)> {
    [
        "sint-01-neumonia-adulto-mayor.json",
        "sint-02-pielonefritis-aguda.json",
    ]
    .iter()
    .map(|f| {
        let text = std::fs::read_to_string(testdata(&format!("rich/{f}"))).unwrap();
        let ep = epicrisis_ingest::read_episode(text.as_bytes(), f).unwrap();
        (ep.id.clone().expect("the fixture has an episode id"), text)
    })
    .collect()
}

fn config(url: &str, episode: &str, discharges: &str) -> SqlConfig {
    SqlConfig {
        url: Secret::new(url),
        episode: EpisodeQuery::Json(episode.into()),
        discharges_query: Some(discharges.into()),
        timeout: Duration::from_secs(10),
        retry: Retry {
            retries: 1,
            first_wait: Duration::from_millis(50),
            max_wait: Duration::from_millis(50),
        },
    }
}

/// What both databases must do: list the discharges since a date (not the older one),
/// read each episode into the same episode the file gives, say «not found», and refuse
/// to write.
async fn check_source(source: &SqlSource, eps: &[(String, String)], write_query: SqlConfig) {
    let since = Since::parse("2026-03-01").unwrap();
    let listed = source.discharged_since(since).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [eps[0].0.as_str(), eps[1].0.as_str()], "{ids:?}");
    for (id, text) in eps {
        let fetched = source.episode(id).await.unwrap();
        let read = epicrisis_ingest::read_episode(&fetched.document, "fuente").unwrap();
        let file = epicrisis_ingest::read_episode(text.as_bytes(), "archivo").unwrap();
        assert_eq!(read, file, "the source gives the file's episode");
        assert!(!read.evolution.is_empty() && !read.discharge_diagnoses.is_empty());
        assert!(!fetched.summary.contains(id));
    }
    match source.episode("no-existe").await {
        Err(SourceError::NotFound { .. }) => {}
        other => panic!("{:?}", other.map(|f| f.summary)),
    }
    let writer = SqlSource::connect(write_query).await.unwrap();
    let err = writer.episode("x").await.expect_err("a write must fail");
    let text = err.to_string();
    assert!(
        text.contains("25006") && text.contains("solo lectura"),
        "{text}"
    );
    assert!(text.starts_with("EPICRISIS_SOURCE_SQL_EPISODE"), "{text}");
}

/// A database of its own on the test PostgreSQL, playing the hospital's.
struct Hospital {
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl Hospital {
    /// `None` (skip or fail) without a test PostgreSQL.
    async fn create(prefix: &str) -> Option<Hospital> {
        let admin_url = postgres::admin_url()?;
        let name = postgres::database_name(prefix);
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let url = postgres::database_url(&admin_url, &name);
        Some(Hospital { admin, name, url })
    }

    async fn drop(self) {
        self.admin
            .execute(format!("DROP DATABASE {} WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_function_and_view() {
    let Some(hospital) = Hospital::create("fuente_sql").await else {
        return;
    };
    let url = hospital.url.clone();
    let eps = episodes();
    {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        pool.execute(
            "CREATE TABLE altas (id_atencion text PRIMARY KEY, fecha_alta date, documento jsonb);
             CREATE FUNCTION get_discharge_summary_json(p text) RETURNS json
               LANGUAGE sql STABLE AS $$ SELECT documento::json FROM altas WHERE id_atencion = p $$;",
        )
        .await
        .unwrap();
        let dates = ["2026-03-02", "2026-03-05"];
        for ((id, text), date) in eps.iter().zip(dates) {
            sqlx::query("INSERT INTO altas VALUES ($1, $2::date, $3::jsonb)")
                .bind(id)
                .bind(date)
                .bind(text)
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO altas VALUES ('antiguo', '2026-01-10', '{}'::jsonb)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let discharges =
        "SELECT id_atencion FROM altas WHERE fecha_alta >= $1::date ORDER BY fecha_alta";
    // The predecessor's stored function (json), and a plain select of jsonb as text.
    for episode in [
        "SELECT get_discharge_summary_json($1)",
        "SELECT documento::text FROM altas WHERE id_atencion = $1",
    ] {
        let source = SqlSource::connect(config(&url, episode, discharges))
            .await
            .unwrap();
        assert!(source.describe().starts_with("PostgreSQL"));
        let write = config(
            &url,
            "INSERT INTO altas VALUES ($1, now(), '{}') RETURNING documento",
            discharges,
        );
        check_source(&source, &eps, write).await;
    }
    // A wrong query names its setting and the database's message about the query.
    let source = SqlSource::connect(config(
        &url,
        "SELECT x FROM no_hay WHERE y = $1",
        discharges,
    ))
    .await
    .unwrap();
    let text = source.episode("1").await.err().unwrap().to_string();
    assert!(
        text.contains("EPICRISIS_SOURCE_SQL_EPISODE") && text.contains("42P01"),
        "{text}"
    );
    hospital.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_names_the_setting() {
    let port = epicrisis_testkit::free_port().unwrap();
    let url = format!("postgres://lector:clave-secreta@127.0.0.1:{port}/his");
    let started = Instant::now();
    let mut quick = config(&url, "SELECT 1", "SELECT 1");
    quick.timeout = Duration::from_secs(2);
    let err = SqlSource::connect(quick)
        .await
        .err()
        .expect("nothing listens there");
    let text = err.to_string();
    assert!(matches!(err, SourceError::Unreachable { .. }), "{text}");
    assert!(text.starts_with("EPICRISIS_SOURCE_SQL_URL"), "{text}");
    assert!(
        !text.contains("clave-secreta") && text.contains("lector:***"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = SqlSource::connect(config("oracle://x@y/z", "SELECT 1", "SELECT 1"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
}

/// A private MariaDB server in a temporary folder, stopped on drop.
struct MariaDb {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sbin(name: &str) -> Option<PathBuf> {
    epicrisis_testkit::fixtures::on_path(name)
        .or_else(|| Some(Path::new("/usr/sbin").join(name)).filter(|p| p.is_file()))
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()))
}

fn start_mariadb() -> Option<MariaDb> {
    let fix = "apt-get install mariadb-server (scripts/test.sh does)";
    let server = epicrisis_testkit::require(sbin("mariadbd"), "mariadbd is missing", fix)?;
    let install = epicrisis_testkit::require(
        sbin("mariadb-install-db"),
        "mariadb-install-db is missing",
        fix,
    )?;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut init = Command::new(install);
    init.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if is_root() {
        init.arg("--user=root");
    }
    let out = init.output().unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = epicrisis_testkit::free_port().unwrap();
    let mut cmd = Command::new(server);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.path().join("sock").display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .arg("--skip-log-bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if is_root() {
        cmd.arg("--user=root");
    }
    let child = cmd.spawn().unwrap();
    let db = MariaDb {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "MariaDB did not start in 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(db)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_function_and_view() {
    let Some(db) = tokio::task::spawn_blocking(start_mariadb).await.unwrap() else {
        return;
    };
    let root = format!("mysql://root@127.0.0.1:{}/mysql", db.port);
    let admin = sqlx::MySqlPool::connect(&root).await.unwrap();
    for stmt in [
        "CREATE DATABASE his",
        "CREATE TABLE his.altas (id_atencion VARCHAR(40) PRIMARY KEY, fecha_alta DATE, documento LONGTEXT)",
        "CREATE FUNCTION his.get_discharge_summary_json(p VARCHAR(40)) RETURNS LONGTEXT READS SQL DATA \
         RETURN (SELECT documento FROM his.altas WHERE id_atencion = p)",
        "CREATE USER 'lector'@'127.0.0.1' IDENTIFIED BY 'clave-lectura'",
        "GRANT SELECT, INSERT, EXECUTE ON his.* TO 'lector'@'127.0.0.1'",
    ] {
        admin.execute(stmt).await.unwrap();
    }
    let eps = episodes();
    for ((id, text), date) in eps.iter().zip(["2026-03-02", "2026-03-05"]) {
        sqlx::query("INSERT INTO his.altas VALUES (?, ?, ?)")
            .bind(id)
            .bind(date)
            .bind(text)
            .execute(&admin)
            .await
            .unwrap();
    }
    admin
        .execute("INSERT INTO his.altas VALUES ('antiguo', '2026-01-10', '{}')")
        .await
        .unwrap();
    let url = format!("mysql://lector:clave-lectura@127.0.0.1:{}/his", db.port);
    let discharges = "SELECT id_atencion FROM altas WHERE fecha_alta >= ? ORDER BY fecha_alta";
    let source = SqlSource::connect(config(
        &url,
        "SELECT get_discharge_summary_json(?)",
        discharges,
    ))
    .await
    .unwrap();
    assert_eq!(
        source.describe(),
        format!("MySQL/MariaDB mysql://lector:***@127.0.0.1:{}/his", db.port)
    );
    // The account may INSERT; the connection still refuses to.
    let write = config(
        &url,
        "INSERT INTO altas VALUES (?, NOW(), '{}')",
        discharges,
    );
    check_source(&source, &eps, write).await;
    // A wrong password is refused, named as the URL's setting, and not printed.
    let wrong = format!("mysql://lector:otra-clave@127.0.0.1:{}/his", db.port);
    let err = SqlSource::connect(config(&wrong, "SELECT 1", discharges))
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(matches!(err, SourceError::Refused { .. }), "{text}");
    assert!(
        text.starts_with("EPICRISIS_SOURCE_SQL_URL") && !text.contains("otra-clave"),
        "{text}"
    );
    admin.close().await;
    drop(db);
}

/// A schema of plain tables, read through a declared column mapping.
const MAPPED_SCHEMA: &str = "
CREATE TABLE pacientes (id_paciente int PRIMARY KEY, rut text, nombre text, sexo text, edad int);
CREATE TABLE atenciones (id_atencion bigint PRIMARY KEY, id_paciente int, ingreso date, alta date,
                         motivo text, servicio text);
CREATE TABLE diagnosticos (id_atencion bigint, tipo char(1), codigo text, nombre text);
CREATE TABLE evoluciones (id_atencion bigint, dia int, texto text);
CREATE TABLE recetas (id_atencion bigint, nombre text, dosis text, via text, frecuencia text,
                      duracion text);
CREATE TABLE controles (id_atencion bigint, texto text);
INSERT INTO pacientes VALUES (1, '11111111-1', 'Marisol Fuenzalida Rojas', 'F', 67);
INSERT INTO atenciones VALUES (7700123, 1, '2026-03-02', '2026-03-06',
  'Fiebre y disuria de 3 días', 'Medicina Interna');
INSERT INTO diagnosticos VALUES (7700123, 'I', 'N39.0', 'Infección del tracto urinario'),
                                (7700123, 'E', 'N10', 'Pielonefritis aguda');
INSERT INTO evoluciones VALUES (7700123, 1, 'Ingresa febril, con dolor lumbar derecho.'),
                               (7700123, 3, 'Afebril hace 48 horas, tolera vía oral.');
INSERT INTO recetas VALUES (7700123, 'Cefuroxima', '500 mg', 'oral', 'cada 12 horas', '7 días');
INSERT INTO controles VALUES (7700123, 'Control en policlínico en 7 días');
";

const MAPPING: &str = r#"
[episodio]
consulta = """
SELECT a.id_atencion, p.rut AS "paciente.rut", p.nombre AS "paciente.nombre",
       p.sexo AS "paciente.sexo", p.edad AS "paciente.edad",
       a.ingreso::text AS "atencion.fecha_ingreso", a.alta::text AS "atencion.fecha_alta",
       a.motivo AS motivo_ingreso, a.servicio AS "atencion.servicio"
FROM atenciones a JOIN pacientes p USING (id_paciente)
WHERE a.id_atencion = $1::bigint"""

[[lista]]
campo = "diagnostico_ingreso"
consulta = "SELECT codigo, nombre FROM diagnosticos WHERE id_atencion = $1::bigint AND tipo = 'I'"

[[lista]]
campo = "diagnostico_egreso"
consulta = "SELECT codigo, nombre FROM diagnosticos WHERE id_atencion = $1::bigint AND tipo = 'E'"

[[lista]]
campo = "evolucion_resumen"
consulta = "SELECT dia, texto FROM evoluciones WHERE id_atencion = $1::bigint ORDER BY dia"

[[lista]]
campo = "indicaciones_alta.medicamentos"
consulta = """SELECT nombre, dosis, via, frecuencia, duracion FROM recetas
              WHERE id_atencion = $1::bigint"""

[[lista]]
campo = "indicaciones_alta.controles"
consulta = "SELECT texto AS valor FROM controles WHERE id_atencion = $1::bigint"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_tables_through_a_column_mapping() {
    let Some(hospital) = Hospital::create("fuente_mapeo").await else {
        return;
    };
    let url = hospital.url.clone();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    pool.execute(MAPPED_SCHEMA).await.unwrap();
    pool.close().await;
    let mut c = config(
        &url,
        "",
        "SELECT id_atencion FROM atenciones WHERE alta >= $1::date",
    );
    c.episode = EpisodeQuery::Mapped(Mapping::parse(MAPPING).unwrap());
    let source = SqlSource::connect(c).await.unwrap();
    let listed = source
        .discharged_since(Since::parse("2026-03-01").unwrap())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "7700123");
    let fetched = source.episode("7700123").await.unwrap();
    let ep = epicrisis_ingest::read_episode(&fetched.document, "mapeo").unwrap();
    assert_eq!(ep.id.as_deref(), Some("7700123"));
    assert_eq!(ep.patient.name.as_deref(), Some("Marisol Fuenzalida Rojas"));
    assert_eq!(ep.patient.age, Some(67));
    let codes = |d: &[epicrisis_domain::Diagnosis]| -> Vec<String> {
        d.iter()
            .filter_map(|d| d.code.as_ref().map(|c| c.raw.clone()))
            .collect()
    };
    assert_eq!(codes(&ep.admission_diagnoses), ["N39.0"]);
    assert_eq!(codes(&ep.discharge_diagnoses), ["N10"]);
    assert_eq!(ep.evolution.len(), 2);
    assert_eq!(ep.discharge.medications.len(), 1);
    assert_eq!(ep.discharge.controls, ["Control en policlínico en 7 días"]);
    assert!(ep.admission_date.is_some() && ep.discharge_date.is_some());
    // An unknown episode: the episode query has no row.
    assert!(matches!(
        source.episode("1").await,
        Err(SourceError::NotFound { .. })
    ));
    hospital.drop().await;
}

//! The FHIR test server: Medplum's FHIR router over its in-memory repository
//! (`tools/fhir-test-server`, Node), started on a free port of 127.0.0.1 with a bearer
//! token (and an OAuth2 client for the client-credentials tests). It ends when dropped,
//! or when the test process ends (its stdin closes).
//!
//! `npm ci --prefix tools/fhir-test-server` installs it (scripts/test.sh does); without it
//! [`FhirServer::start`] skips or fails by the one rule ([`crate::require`]).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The OAuth2 client the server accepts.
pub const CLIENT_ID: &str = "epicrisis-pruebas";
pub const CLIENT_SECRET: &str = "secreto-de-prueba-8c1f";

/// A running FHIR test server.
pub struct FhirServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub root: String,
    /// The bearer token every FHIR request needs.
    pub token: String,
}

impl Drop for FhirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FhirServer {
    /// The FHIR base, `http://127.0.0.1:PORT/fhir/R4`.
    pub fn base(&self) -> String {
        format!("{}/fhir/R4", self.root)
    }

    /// Starts a server; `None` (skip or fail) when Node or the packages are missing.
    #[track_caller]
    pub fn start() -> Option<FhirServer> {
        let fix = "run `npm ci --prefix tools/fhir-test-server` (Node.js ^20.19 or >=22.12)";
        let node = crate::fixtures::tool("node", fix)?;
        let dir = crate::fixtures::workspace_root().join("tools/fhir-test-server");
        let installed = dir.join("node_modules/@medplum/fhir-router/package.json");
        crate::require(
            installed.is_file().then_some(()),
            "the FHIR test server's packages are not installed",
            fix,
        )?;
        let token = format!("token-de-prueba-{}", crate::unique());
        let mut child = Command::new(node)
            .arg("server.js")
            .args(["--port", "0", "--token", &token, "--token-ttl", "300"])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .arg("--exit-with-stdin")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node tools/fhir-test-server/server.js");
        let stdout = child.stdout.take().expect("the server's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the FHIR test server did not say `listening <port>` within 60 s");
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the FHIR test server: {line:?}"));
        Some(FhirServer {
            child,
            root: format!("http://127.0.0.1:{port}"),
            token,
        })
    }
}

//! The Debian package, for real, as root: `scripts/package-deb.sh` packages this test
//! build's binary (no release build), `dpkg -i` installs it, and the test checks what the
//! maintainer scripts did, verifies the systemd units (`systemd-analyze`, offline), starts
//! the server and the worker the way their units say, reinstalls (the upgrade path),
//! removes and purges.
//!
//! No systemd runs here (nor in CI), so the test applies the units' settings itself:
//! `ExecStart=` with `User=`, `Group=`, `EnvironmentFile=`, `WorkingDirectory=`, `UMask=`,
//! `NoNewPrivileges=` and `CapabilityBoundingSet=` (through `setpriv`), and
//! `MemoryDenyWriteExecute=` (the kernel's PR_SET_MDWE, where it has it). The file-system
//! and system-call sandbox (`ProtectSystem=`, `SystemCallFilter=`…) needs systemd itself:
//! `systemd-analyze` checks those lines and the unit's exposure score.
//!
//! The machine is left as it was: a guard purges the package and deletes the service's
//! user, `/var/lib/epicrisis` and `/etc/epicrisis` whatever happens, and the test refuses
//! to start on a machine with an epicrisis installation of its own.

use epicrisis_testkit::{fixtures, skip_or_fail};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

const DATA: &str = "/var/lib/epicrisis";
const ETC: &str = "/etc/epicrisis";
const ENV_FILE: &str = "/etc/epicrisis/epicrisis.env";
const AUDIT_KEY: &str = "/etc/epicrisis/audit.key";
const UNITS: &str = "/lib/systemd/system";
const ENABLED: &str = "/etc/systemd/system/multi-user.target.wants/epicrisis.service";
/// Written before the package is installed, deleted after the clean-up: state found with
/// it is what an interrupted run of this test left; state found without it is someone's
/// installation, which the test never touches.
const MARKER: &str = "/var/tmp/epicrisis-package-test";

#[test]
fn debian_package_installs_runs_as_its_units_say_and_purges() {
    if !tools_present() {
        return;
    }
    let Some(_guard) = Installation::arm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    dpkg(&["-i", deb.to_str().unwrap()]);
    check_installed();
    verify_units();

    let port = epicrisis_testkit::free_port().unwrap();
    set_listen(port);
    let server = Running::start("epicrisis.service", "escuchando en ");
    let url = format!("http://127.0.0.1:{port}");
    check_answers(&url);
    check_migrated();
    add_admin();
    check_signed_in(&url);
    server.stop();
    check_database_files();
    Running::start("epicrisis-worker.service", "redactando los trabajos").stop();

    let key = std::fs::read_to_string(AUDIT_KEY).unwrap();
    dpkg(&["-i", deb.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(AUDIT_KEY).unwrap(),
        key,
        "a reinstallation kept the audit key"
    );
    assert!(
        std::fs::read_to_string(ENV_FILE)
            .unwrap()
            .contains(&format!("127.0.0.1:{port}")),
        "a reinstallation kept the administrator's settings (a conffile)"
    );
    remove_and_purge();
}

/// Root, dpkg-deb and setpriv (util-linux), python3 (reads the database).
fn tools_present() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip_or_fail(
            "not root: the package test installs a .deb with dpkg -i",
            "run it as root (scripts/test.sh in CI does)",
        );
        return false;
    }
    for (tool, package) in [
        ("dpkg-deb", "dpkg"),
        ("setpriv", "util-linux"),
        ("python3", "python3"),
    ] {
        if fixtures::tool(tool, &format!("apt-get install {package}")).is_none() {
            return false;
        }
    }
    true
}

/// While it lives, the package may be installed; dropped, nothing of it is left.
struct Installation;

impl Installation {
    fn arm() -> Option<Installation> {
        let leftovers = package_installed()
            || [DATA, ETC, "/usr/bin/epicrisis"]
                .iter()
                .any(|p| Path::new(p).exists())
            || getent("passwd", "epicrisis").is_some();
        if leftovers {
            if !Path::new(MARKER).exists() {
                skip_or_fail(
                    "this machine has an epicrisis installation of its own (the package, /usr/bin/epicrisis, \
                     /var/lib/epicrisis, /etc/epicrisis or the epicrisis user)",
                    "run the package test on a machine without one: it installs and purges the package \
                     and deletes that user and those folders",
                );
                return None;
            }
            clean_up();
        }
        std::fs::write(MARKER, "epicrisis package test: state to clean up\n").unwrap();
        Some(Installation)
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        clean_up();
        let _ = std::fs::remove_file(MARKER);
    }
}

/// Purges the package and deletes what the purge keeps on purpose (the data, the audit key,
/// the service's user).
fn clean_up() {
    if package_installed() {
        let _ = run_dpkg(&["--purge", "epicrisis"]);
    }
    let _ = std::fs::remove_dir_all(DATA);
    let _ = std::fs::remove_dir_all(ETC);
    if getent("passwd", "epicrisis").is_some() {
        let _ = Command::new("userdel").arg("epicrisis").output();
    }
    if getent("group", "epicrisis").is_some() {
        let _ = Command::new("groupdel").arg("epicrisis").output();
    }
}

fn package_installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "epicrisis"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("installed"))
}

/// `getent DATABASE NAME`'s fields.
fn getent(database: &str, name: &str) -> Option<Vec<String>> {
    let out = Command::new("getent")
        .args([database, name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !line.is_empty()).then(|| line.split(':').map(String::from).collect())
}

/// dpkg, waiting while another dpkg or apt holds its lock (other work on the machine).
fn run_dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let out = Command::new("dpkg")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap();
        let locked = String::from_utf8_lossy(&out.stderr).contains("lock");
        if out.status.success() || !locked || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn dpkg(args: &[&str]) -> Output {
    let out = run_dpkg(args);
    assert!(
        out.status.success(),
        "dpkg {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The package of this test build's binary, by the script that makes the release one.
fn build_deb(out: &Path) -> PathBuf {
    let script = fixtures::workspace_root().join("scripts/package-deb.sh");
    let o = Command::new("bash")
        .arg(script)
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_epicrisis"),
            "--compression",
            "none",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "package-deb.sh: {}", text(&o.stderr));
    let deb = PathBuf::from(text(&o.stdout).lines().last().unwrap_or("").trim());
    assert!(deb.is_file(), "package-deb.sh printed {deb:?}");
    let info = Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .args(["Package", "Depends"])
        .output()
        .unwrap();
    let info = text(&info.stdout);
    assert!(
        info.contains("Package: epicrisis") && info.contains("libgomp1"),
        "{info}"
    );
    deb
}

/// What the package's files and its postinst left.
fn check_installed() {
    let user = getent("passwd", "epicrisis").expect("the postinst made the epicrisis user");
    let uid: u32 = user[2].parse().unwrap();
    assert!(uid < 1000, "a system user: {user:?}");
    assert_eq!(user[5], DATA, "its home");
    assert!(user[6].ends_with("nologin"), "no login shell: {user:?}");
    let gid: u32 = getent("group", "epicrisis").expect("its group")[2]
        .parse()
        .unwrap();

    let owned = |path: &str, uid: u32, gid: u32, mode: u32| {
        let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            (m.uid(), m.gid(), m.permissions().mode() & 0o7777),
            (uid, gid, mode),
            "{path}: owner, group, mode"
        );
    };
    owned(DATA, uid, gid, 0o750);
    owned(&format!("{DATA}/models"), uid, gid, 0o750);
    owned(ENV_FILE, 0, gid, 0o640);
    owned(AUDIT_KEY, 0, gid, 0o640);
    let key = std::fs::read_to_string(AUDIT_KEY).unwrap();
    assert!(
        key.trim().len() == 64 && key.trim().chars().all(|c| c.is_ascii_hexdigit()),
        "a 64-hex-digit key"
    );
    owned("/usr/bin/epicrisis", 0, 0, 0o755);
    for unit in ["epicrisis.service", "epicrisis-worker.service"] {
        owned(&format!("{UNITS}/{unit}"), 0, 0, 0o644);
    }
    let conffiles = Command::new("dpkg-query")
        .args(["-W", "-f=${Conffiles}", "epicrisis"])
        .output()
        .unwrap();
    assert!(
        text(&conffiles.stdout).contains(ENV_FILE),
        "the settings file is a conffile"
    );
    if fixtures::on_path("deb-systemd-helper").is_some() {
        assert!(
            Path::new(ENABLED).is_symlink(),
            "the server is enabled (multi-user.target)"
        );
    }
    let version = Command::new("/usr/bin/epicrisis")
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success() && text(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// `systemd-analyze verify` (works without a running systemd: it loads the files) and the
/// exposure score of the sandbox, offline.
fn verify_units() {
    let Some(analyze) = fixtures::tool("systemd-analyze", "apt-get install systemd") else {
        return;
    };
    for unit in ["epicrisis.service", "epicrisis-worker.service"] {
        let path = format!("{UNITS}/{unit}");
        let out = Command::new(&analyze)
            .args(["verify", &path])
            .output()
            .unwrap();
        let warnings: Vec<String> = text(&out.stderr)
            .lines()
            .filter(|l| l.contains("epicrisis"))
            .map(String::from)
            .collect();
        assert!(
            out.status.success() && warnings.is_empty(),
            "systemd-analyze verify {unit}: {warnings:#?}"
        );
        // 2.0 at most on systemd's scale of 10 ("OK"); the units score 1.5.
        let out = Command::new(&analyze)
            .args([
                "security",
                "--offline=yes",
                "--threshold=20",
                "--no-pager",
                &path,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "systemd-analyze security {unit}: {}",
            text(&out.stdout)
        );
    }
}

/// What an administrator does to move the server: edit the settings file.
fn set_listen(port: u16) {
    let env = std::fs::read_to_string(ENV_FILE).unwrap();
    assert!(
        env.contains("\nEPICRISIS_LISTEN=127.0.0.1:3000\n"),
        "the default is loopback"
    );
    let edited = env.replace(
        "\nEPICRISIS_LISTEN=127.0.0.1:3000\n",
        &format!("\nEPICRISIS_LISTEN=127.0.0.1:{port}\n"),
    );
    std::fs::write(ENV_FILE, edited).unwrap();
}

/// A `[Service]` section: its lines in order (a key may repeat).
struct Service(Vec<(String, String)>);

impl Service {
    fn read(unit: &str) -> Service {
        let text = std::fs::read_to_string(format!("{UNITS}/{unit}")).unwrap();
        let mut section = "";
        let mut lines = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line;
            } else if section == "[Service]"
                && !line.starts_with('#')
                && let Some((k, v)) = line.split_once('=')
            {
                lines.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Service(lines)
    }

    fn one(&self, key: &str) -> &str {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        let v = values
            .next()
            .unwrap_or_else(|| panic!("the unit has no {key}="));
        assert!(values.next().is_none(), "one {key}= only");
        v
    }
}

/// An `EnvironmentFile=` as systemd reads it: `KEY=VALUE` lines, `#` and `;` comments, one
/// pair of surrounding quotes taken off.
fn environment_file(path: &str) -> Vec<(String, String)> {
    let path = path.strip_prefix('-').unwrap_or(path);
    let text = std::fs::read_to_string(path).unwrap();
    let mut pairs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}: {line:?} is not KEY=VALUE"));
        let v = v.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
            .unwrap_or(v);
        pairs.push((k.trim().to_string(), unquoted.to_string()));
    }
    pairs
}

/// A service started the way its unit says, its standard error kept.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
    stop_timeout: Duration,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(unit: &str, ready: &'static str) -> Running {
        let svc = Service::read(unit);
        let mut cmd = unit_command(&svc);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (stderr, l) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(ready) {
                    let _ = tx.send(());
                }
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let started = rx.recv_timeout(Duration::from_secs(120));
        let running = Running {
            child,
            log,
            stop_timeout: seconds(svc.one("TimeoutStopSec")),
        };
        assert!(started.is_ok(), "{unit} did not start: {}", running.log());
        running
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, as `systemctl stop` sends: a clean stop is exit code 0 within the unit's
    /// `TimeoutStopSec=`.
    fn stop(mut self) {
        self.wait_for_sigterm_handler();
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + self.stop_timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "no stop within TimeoutStopSec: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(status.code(), Some(0), "SIGTERM: {}", self.log());
        // Its last line, once the reader has it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log().contains("epicrisis detenido") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(self.log().contains("epicrisis detenido"), "{}", self.log());
    }
}

impl Running {
    /// Until the program handles SIGTERM (`SigCgt` in /proc): its ready line comes a
    /// moment before the handler is installed, and a SIGTERM in between ends it with the
    /// default action (no clean stop, nothing under way yet).
    fn wait_for_sigterm_handler(&self) {
        let status = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let caught = std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    let mask = s
                        .lines()
                        .find_map(|l| l.strip_prefix("SigCgt:"))?
                        .trim()
                        .to_string();
                    u64::from_str_radix(&mask, 16).ok()
                })
                .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0);
            if caught {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "it never handled SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn seconds(value: &str) -> Duration {
    Duration::from_secs(value.trim_end_matches('s').parse().unwrap())
}

/// `ExecStart=` with the unit's user, group, environment, folder, umask, capabilities and
/// W^X, as systemd would run it (the sandbox of name spaces and filters aside).
fn unit_command(svc: &Service) -> Command {
    let (user, group) = (svc.one("User"), svc.one("Group"));
    assert_eq!(svc.one("NoNewPrivileges"), "yes");
    assert_eq!(svc.one("CapabilityBoundingSet"), "", "no capabilities");
    let umask = u32::from_str_radix(svc.one("UMask"), 8).unwrap();
    let mdwe = svc.one("MemoryDenyWriteExecute") == "yes";
    let argv: Vec<&str> = svc.one("ExecStart").split_whitespace().collect();
    let passwd = getent("passwd", user).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={user}"))
        .arg(format!("--regid={group}"))
        .args([
            "--init-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .args(&argv)
        .current_dir(svc.one("WorkingDirectory"))
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin")
        .env("HOME", &passwd[5])
        .env("USER", user)
        .env("LOGNAME", user)
        .env("SHELL", &passwd[6])
        .envs(environment_file(svc.one("EnvironmentFile")));
    // SAFETY: umask and prctl are async-signal-safe and touch only this process.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            if mdwe {
                // PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3+; older kernels: not applied).
                libc::prctl(
                    65,
                    1 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                );
            }
            Ok(())
        });
    }
    cmd
}

/// The health probe and the sign-in page, to anyone.
fn check_answers(url: &str) {
    let health: Value = reqwest::blocking::get(format!("{url}/api/health"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let login = reqwest::blocking::get(format!("{url}/login")).unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login.text().unwrap().contains("name=\"csrf\""),
        "the sign-in form"
    );
}

/// Every migration built into the program was applied at start, in the data folder.
fn check_migrated() {
    let dir = fixtures::crate_path("epicrisis-store", "migrations/sqlite");
    let mut expected: Vec<i64> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .split('_')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    expected.sort();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); \
             print(' '.join(str(v) for (v,) in c.execute('SELECT version FROM _sqlx_migrations WHERE success ORDER BY version')))",
            &format!("{DATA}/epicrisis.db"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let applied: Vec<i64> = text(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(applied, expected, "migrations applied at start");
}

/// The first account, as the documentation says to make it: the command line as the
/// service's user with the service's settings file.
fn add_admin() {
    let mut c = Command::new("runuser")
        .args([
            "-u",
            "epicrisis",
            "--",
            "/usr/bin/epicrisis",
            "--env-file",
            ENV_FILE,
        ])
        .args(["users", "add", "admin", "--role", "admin"])
        .current_dir(DATA)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{}", common::server::PASSWORD).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "users add: {}", text(&out.stderr));
}

fn check_signed_in(url: &str) {
    let s = common::server::login(url, "admin");
    let health: Value = s.get("/api/health").json().unwrap();
    assert_eq!(health["database"], "sqlite", "{health}");
}

/// The files the service made: its user's, readable by it alone.
fn check_database_files() {
    let uid: u32 = getent("passwd", "epicrisis").unwrap()[2].parse().unwrap();
    for name in ["epicrisis.db", "audit-anchor"] {
        let m = std::fs::metadata(format!("{DATA}/{name}"))
            .unwrap_or_else(|e| panic!("{DATA}/{name}: {e}"));
        assert_eq!(
            (m.uid(), m.permissions().mode() & 0o077),
            (uid, 0),
            "{name}: the service's, private"
        );
    }
}

/// Remove keeps the settings and the data; purge deletes the settings and the units and
/// keeps the clinical record (the data folder, the audit key, the user), as documented.
fn remove_and_purge() {
    dpkg(&["--remove", "epicrisis"]);
    assert!(
        !Path::new("/usr/bin/epicrisis").exists(),
        "the program is gone"
    );
    assert!(Path::new(ENV_FILE).is_file(), "remove keeps the settings");
    assert!(
        Path::new(&format!("{DATA}/epicrisis.db")).is_file(),
        "remove keeps the data"
    );
    let out = dpkg(&["--purge", "epicrisis"]);
    assert!(
        text(&out.stderr).contains("kept /var/lib/epicrisis"),
        "the purge says what it kept"
    );
    assert!(!package_installed());
    assert!(!Path::new(ENV_FILE).exists(), "purge deletes the settings");
    assert!(!Path::new(&format!("{UNITS}/epicrisis.service")).exists());
    assert!(
        !Path::new(ENABLED).exists() && !Path::new(ENABLED).is_symlink(),
        "nor the enablement link"
    );
    assert!(
        Path::new(&format!("{DATA}/epicrisis.db")).is_file(),
        "purge keeps the clinical record"
    );
    assert!(
        Path::new(AUDIT_KEY).is_file(),
        "and the key that checks its audit trail"
    );
    assert!(
        getent("passwd", "epicrisis").is_some(),
        "and the user owning them"
    );
}

//! A private OpenLDAP server (slapd) for the directory-login tests: a `slapd.conf` of its
//! own in a temporary folder (the mdb backend, the memberof overlay, two AD attributes in
//! a small schema, access only to bound users), on free loopback ports, with a test
//! certificate authority when TLS is asked for. Loaded through the protocol (`ldapadd`),
//! so that the overlay fills in `memberOf`.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=hospital,dc=cl";
pub const ROOT_DN: &str = "cn=admin,dc=hospital,dc=cl";
const ROOT_PASSWORD: &str = "raiz-de-prueba-123";
pub const SERVICE_DN: &str = "cn=epicrisis,ou=servicios,dc=hospital,dc=cl";
pub const SERVICE_PASSWORD: &str = "servicio-de-prueba-123";

/// Active Directory's attributes, as far as a login reads them (the OIDs are under the
/// example enterprise arc of RFC 5612).
const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.32473.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.2 NAME 'userAccountControl' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.2.1 NAME 'adAccount' SUP top AUXILIARY
  MAY ( sAMAccountName $ userAccountControl ) )
";

pub struct Slapd {
    child: Option<Child>,
    pub port: u16,
    /// The `ldaps://` port, with TLS.
    pub tls_port: Option<u16>,
    /// The test CA's certificate, with TLS.
    pub ca: Option<PathBuf>,
    ldapadd: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The program `name` on `PATH` or in the system folders (`/usr/sbin` is not on a
/// non-root user's `PATH`); `None` (skip or fail) when it is not installed.
fn program(name: &str) -> Option<PathBuf> {
    let found = epicrisis_testkit::fixtures::on_path(name).or_else(|| {
        [
            "/usr/sbin",
            "/usr/local/sbin",
            "/usr/libexec",
            "/usr/local/libexec",
        ]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
    });
    epicrisis_testkit::require(
        found,
        &format!("{name} is not installed"),
        "apt-get install slapd ldap-utils (scripts/test.sh does)",
    )
}

/// The first of `dirs` that exists.
fn first_dir(dirs: &[&str]) -> Option<PathBuf> {
    dirs.iter().map(PathBuf::from).find(|p| p.is_dir())
}

impl Slapd {
    /// Starts slapd and loads `ldif` (the suffix and the service account come first);
    /// with `tls`, a CA and a certificate for 127.0.0.1, StartTLS and `ldaps://`.
    /// `None` when slapd, ldapadd or (with `tls`) openssl is missing (skip or fail).
    pub fn start(ldif: &str, tls: bool) -> Option<Slapd> {
        let slapd = program("slapd")?;
        let ldapadd = program("ldapadd")?;
        // A port picked free can be taken before slapd binds it (by a test running beside
        // this one): slapd then exits, or the port answers for someone else. Such a start
        // is tried again on other ports.
        for attempt in 1..=3 {
            let s = Slapd::spawn(&slapd, &ldapadd, tls)?;
            let out = s.ldap_tool(&s.ldapadd, &format!("{}\n{ldif}", base_entries()));
            if out.status.success() {
                return Some(s);
            }
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                attempt < 3 && why.contains("Can't contact"),
                "ldapadd: {why}"
            );
        }
        unreachable!("the last attempt returns or fails")
    }

    /// slapd on fresh ports, listening, with an empty database.
    fn spawn(slapd: &Path, ldapadd: &Path, tls: bool) -> Option<Slapd> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let ca = match tls {
            true => Some(make_certificates(dir.path())?),
            false => None,
        };
        let conf = dir.path().join("slapd.conf");
        std::fs::write(dir.path().join("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::write(&conf, config(dir.path(), tls)).unwrap();
        let port = epicrisis_testkit::free_port().unwrap();
        let tls_port = tls.then(|| epicrisis_testkit::free_port().unwrap());
        let mut urls = format!("ldap://127.0.0.1:{port}/");
        if let Some(p) = tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
        }
        // `-d 0`: in the foreground (no fork), so that the test owns the process.
        let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
        let child = Command::new(slapd)
            .args(["-f", conf.to_str().unwrap(), "-h", &urls, "-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        let mut s = Slapd {
            child: Some(child),
            port,
            tls_port,
            ca,
            ldapadd: ldapadd.to_path_buf(),
            dir,
        };
        s.wait_listening();
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// Adds entries (`ldapadd`) or, with `changetype: modify` records, changes them.
    pub fn load(&self, ldif: &str) {
        let out = self.ldap_tool(&self.ldapadd, ldif);
        assert!(
            out.status.success(),
            "ldapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ldap_tool(&self, program: &Path, ldif: &str) -> Output {
        let mut c = Command::new(program)
            .args(["-x", "-H", &self.url(), "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    }

    /// Stops the server (the directory is then unreachable).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait_listening(&mut self) {
        let t = Instant::now();
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.tls_port).collect();
        while !ports
            .iter()
            .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let log = std::fs::read_to_string(self.dir.path().join("slapd.log"));
                panic!("slapd stopped ({status}): {}", log.unwrap_or_default());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "slapd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `slapd.conf`: schemas, modules where the system keeps them, TLS, one mdb database
/// with the memberof overlay, and access for bound users only (a service account is
/// needed to search, as in Active Directory).
fn config(dir: &Path, tls: bool) -> String {
    let schema =
        first_dir(&["/etc/ldap/schema", "/etc/openldap/schema"]).expect("slapd's schema folder");
    let mut c = String::new();
    for s in ["core", "cosine", "inetorgperson"] {
        c.push_str(&format!("include {}/{s}.schema\n", schema.display()));
    }
    c.push_str(&format!("include {}/ad.schema\n", dir.display()));
    if let Some(modules) = first_dir(&["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"])
        && modules.join("back_mdb.so").exists()
    {
        c.push_str(&format!(
            "modulepath {}\nmoduleload back_mdb\nmoduleload memberof\n",
            modules.display()
        ));
    }
    if tls {
        let d = dir.display();
        c.push_str(&format!(
            "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n"
        ));
    }
    let d = dir.display();
    c.push_str(&format!(
        "pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
         database mdb\nmaxsize 67108864\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\n\
         rootpw {ROOT_PASSWORD}\ndirectory {d}/data\noverlay memberof\n\
         access to attrs=userPassword by self write by anonymous auth by * none\n\
         access to * by users read by * none\n"
    ));
    c
}

fn base_entries() -> String {
    format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Hospital\n\
         dc: hospital\n\n\
         dn: ou=personas,{SUFFIX}\nobjectClass: organizationalUnit\nou: personas\n\n\
         dn: ou=grupos,{SUFFIX}\nobjectClass: organizationalUnit\nou: grupos\n\n\
         dn: ou=servicios,{SUFFIX}\nobjectClass: organizationalUnit\nou: servicios\n\n\
         dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n\
         cn: epicrisis\nuserPassword: {SERVICE_PASSWORD}\n"
    )
}

/// A CA and a certificate for 127.0.0.1 signed by it; the CA's file.
fn make_certificates(dir: &Path) -> Option<PathBuf> {
    let openssl = epicrisis_testkit::fixtures::tool("openssl", "apt-get install openssl")?;
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=CA de prueba",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    Some(dir.join("ca.pem"))
}

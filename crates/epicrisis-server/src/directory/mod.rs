//! Directory login: the hospital's LDAP or Active Directory checks the password of the
//! people it knows, and their groups give their role.
//!
//! A login is *search, then bind*: with the service account (or anonymously) the server
//! finds the one entry whose attributes match the name typed
//! ([`DirectoryConfig::user_filter`], the name escaped as RFC 4515 says, so that `*` or
//! `)(` are letters, not filter syntax), reads its name, its groups and (Active Directory)
//! whether it is disabled, and only then binds as that entry with the password typed. An
//! empty password is refused before anything is sent: a simple bind with a DN and no
//! password is an "unauthenticated bind", which many servers answer with success.
//!
//! The password is held only for the bind: never logged, stored or put in an error.
//! Everything runs under one timeout ([`DirectoryConfig::timeout`]), on a connection of its
//! own (`ldaps://`, or `ldap://` with StartTLS, trusting the system's CAs or the CA file
//! of the settings); at most [`MAX_AT_ONCE`] logins talk to the directory at a time.
//!
//! What the login page does with the answer (the store's account, the audit trail, the
//! messages) is in [`login`]; the order in which a name is tried, in [`crate::login`].

mod ldap;
pub(crate) mod login;

use epicrisis_store::Role;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Directory logins that may talk to the directory at the same time.
pub const MAX_AT_ONCE: usize = 8;

/// The filter that finds a person by the name typed, when the settings name none:
/// OpenLDAP's `uid` or Active Directory's `sAMAccountName`.
pub const DEFAULT_USER_FILTER: &str = "(|(uid={u})(sAMAccountName={u}))";

/// How group membership is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// The person's `memberOf` attribute (Active Directory; OpenLDAP's memberof overlay).
    MemberOf,
    /// Each mapped group's `member` or `uniqueMember` attribute (groupOfNames,
    /// groupOfUniqueNames), read with the group's DN as the search base.
    Member,
}

/// The service account's password: usable, never displayed.
#[derive(Clone)]
pub struct BindPassword(String);

impl BindPassword {
    pub fn new(s: impl Into<String>) -> BindPassword {
        BindPassword(s.into())
    }
}

impl fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BindPassword(hidden)")
    }
}

/// A group of the directory and the role its members get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRole {
    /// The group's DN as written in the settings.
    pub dn: String,
    pub role: Role,
}

/// The directory settings (`EPICRISIS_LDAP_*`, read by the binary's configuration).
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// StartTLS on an `ldap://` URL.
    pub starttls: bool,
    /// PEM certificates of the CAs to trust instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// The service account that searches, with its password; `None`: anonymous search.
    pub bind: Option<(String, BindPassword)>,
    /// Where people are searched (subtree).
    pub base_dn: String,
    /// The search filter, with `{u}` where the escaped name goes.
    pub user_filter: String,
    /// The groups that let people in, in the order their roles are tried.
    pub groups: Vec<GroupRole>,
    pub membership: Membership,
    /// For the whole check: connection, TLS, searches and binds.
    pub timeout: Duration,
}

/// A person the directory let in.
#[derive(Debug, Clone)]
pub struct Person {
    pub dn: String,
    /// `displayName`, else `cn`, else the name typed.
    pub display_name: String,
    /// From the first mapped group the person is in; `None`: in none of them.
    pub role: Option<Role>,
}

/// The directory's answer about a name and a password.
#[derive(Debug)]
pub enum Outcome {
    /// The password is right: who it is and the role of their groups.
    Authenticated(Person),
    /// The password is wrong (or empty), or the directory refused the bind.
    BadPassword,
    /// No entry matches the name.
    UnknownUser,
    /// The entry is disabled in the directory (Active Directory's `userAccountControl`);
    /// the password was not tried.
    Disabled,
    /// Several entries match the name: the filter is too broad for a login.
    Ambiguous(usize),
}

/// Why the directory could not answer. The text is for the server's log (no password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    /// No connection, no TLS, or no answer in time.
    Unreachable(String),
    /// The directory answered but refused what the settings ask (the service account's
    /// bind, the base DN, the filter).
    Refused(String),
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryError::Unreachable(m) => write!(f, "the directory is unreachable: {m}"),
            DirectoryError::Refused(m) => write!(f, "the directory refused the query: {m}"),
        }
    }
}

/// The directory a server logs people in with.
pub struct Directory {
    pub config: DirectoryConfig,
    /// The TLS settings when the settings name a CA file; `None`: the system's CAs.
    tls: Option<Arc<rustls::ClientConfig>>,
    busy: tokio::sync::Semaphore,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.config.url)
            .field("base_dn", &self.config.base_dn)
            .field("groups", &self.config.groups.len())
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Checks the settings that can be checked without the server; the error says what
    /// is wrong (in Spanish, for the administrator).
    pub fn new(config: DirectoryConfig) -> Result<Directory, String> {
        check_url(&config.url, config.starttls)?;
        check_filter(&config.user_filter)?;
        if config.groups.is_empty() {
            return Err("no hay grupos: nadie podría entrar".into());
        }
        let tls = match &config.ca_pem {
            Some(pem) => Some(Arc::new(tls_config(pem)?)),
            None => None,
        };
        Ok(Directory {
            config,
            tls,
            busy: tokio::sync::Semaphore::new(MAX_AT_ONCE),
        })
    }

    /// Checks `password` for `username` (as typed, trimmed). An empty password is
    /// [`Outcome::BadPassword`] without a word to the directory.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Outcome, DirectoryError> {
        if password.is_empty() || username.is_empty() {
            return Ok(Outcome::BadPassword);
        }
        // The wait for a turn counts: a login never waits longer than the timeout.
        let check = async {
            let _turn = self.busy.acquire().await;
            ldap::check(self, username, password).await
        };
        match tokio::time::timeout(self.config.timeout, check).await {
            Ok(r) => r,
            Err(_) => Err(DirectoryError::Unreachable(format!(
                "no answer within {} s (EPICRISIS_LDAP_TIMEOUT_SECONDS)",
                self.config.timeout.as_secs()
            ))),
        }
    }

    /// The role of the first mapped group among `groups` (DNs, any case or spacing).
    pub fn role_of(&self, groups: &[String]) -> Option<Role> {
        let theirs: Vec<String> = groups.iter().map(|g| normalize_dn(g)).collect();
        self.config
            .groups
            .iter()
            .find(|g| theirs.contains(&normalize_dn(&g.dn)))
            .map(|g| g.role)
    }
}

/// The user filter with the name in it, escaped (RFC 4515: `*`, `(`, `)`, `\` and NUL
/// become `\2a`, `\28`, `\29`, `\5c`, `\00`).
pub fn user_filter(template: &str, username: &str) -> String {
    template.replace("{u}", &ldap3::ldap_escape(username))
}

/// A DN as compared: lower case, no spaces around `,` and `=`.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// `DN=role;DN=role…`: the role is what follows the last `=` of each entry (`medico`,
/// `administrativo` or `admin`). The error says which entry is wrong.
pub fn parse_groups(s: &str) -> Result<Vec<GroupRole>, String> {
    let mut out = Vec::new();
    for entry in s.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((dn, role)) = entry.rsplit_once('=') else {
            return Err(format!("{entry:?} no tiene la forma DN=rol"));
        };
        let (dn, role) = (dn.trim(), role.trim());
        let role = Role::parse(&role.to_lowercase()).ok_or_else(|| {
            format!("{entry:?}: el rol {role:?} no existe (medico, administrativo o admin)")
        })?;
        if !dn.contains('=') {
            return Err(format!("{entry:?}: {dn:?} no es un DN (cn=…,ou=…,dc=…)"));
        }
        if out
            .iter()
            .any(|g: &GroupRole| normalize_dn(&g.dn) == normalize_dn(dn))
        {
            return Err(format!("el grupo {dn:?} aparece dos veces"));
        }
        out.push(GroupRole {
            dn: dn.to_string(),
            role,
        });
    }
    if out.is_empty() {
        return Err("no hay grupos: se espera DN=rol;DN=rol…".into());
    }
    Ok(out)
}

/// A user filter must hold `{u}` and parse as an LDAP filter.
pub fn check_filter(template: &str) -> Result<(), String> {
    if !template.contains("{u}") {
        return Err("el filtro no contiene {u}, donde va el nombre de usuario".into());
    }
    ldap3::parse_filter(user_filter(template, "x"))
        .map(|_| ())
        .map_err(|_| "no es un filtro LDAP válido (RFC 4515), p. ej. (uid={u})".into())
}

/// `ldap://` or `ldaps://` with a host; StartTLS only on `ldap://`; plain `ldap://` only
/// to this machine (a TLS tunnel's end): elsewhere passwords would cross the network
/// unencrypted.
pub fn check_url(url: &str, starttls: bool) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("ldaps://") {
        if starttls {
            return Err("StartTLS es para ldap://; ldaps:// ya cifra la conexión".into());
        }
        r
    } else if let Some(r) = url.strip_prefix("ldap://") {
        r
    } else {
        return Err("se espera ldap://servidor:389 o ldaps://servidor:636".into());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.starts_with(':') {
        return Err("falta el servidor, p. ej. ldaps://dc1.hospital.cl:636".into());
    }
    if url.starts_with("ldap://") && !starttls && !is_loopback(authority) {
        return Err(
            "con ldap:// sin StartTLS las contraseñas viajarían sin cifrar: use \
                    ldaps://servidor:636 o EPICRISIS_LDAP_STARTTLS=true"
                .into(),
        );
    }
    Ok(())
}

/// Whether `host[:port]` is this machine.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// TLS that trusts exactly the CAs of a PEM file.
fn tls_config(pem: &[u8]) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("certificado ilegible: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("certificado no válido: {e}"))?;
    }
    if roots.is_empty() {
        return Err("el archivo no tiene certificados PEM (-----BEGIN CERTIFICATE-----)".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(groups: &str) -> DirectoryConfig {
        DirectoryConfig {
            url: "ldap://127.0.0.1:1".into(),
            starttls: false,
            ca_pem: None,
            bind: None,
            base_dn: "dc=hospital,dc=cl".into(),
            user_filter: DEFAULT_USER_FILTER.into(),
            groups: parse_groups(groups).unwrap(),
            membership: Membership::MemberOf,
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn names_are_escaped_in_the_filter() {
        assert_eq!(
            user_filter(DEFAULT_USER_FILTER, "ana"),
            "(|(uid=ana)(sAMAccountName=ana))"
        );
        assert_eq!(user_filter("(uid={u})", "*"), "(uid=\\2a)");
        assert_eq!(
            user_filter("(uid={u})", "x)(uid=*"),
            "(uid=x\\29\\28uid=\\2a)"
        );
        assert_eq!(user_filter("(uid={u})", "a\\b\0"), "(uid=a\\5cb\\00)");
        assert_eq!(user_filter("(uid={u})", "josé"), "(uid=josé)");
        // An escaped name is always one value: the filter still parses.
        assert!(check_filter(DEFAULT_USER_FILTER).is_ok());
        for name in ["*", "x)(uid=*", "((", "\\", "a*b)(|(cn=*"] {
            assert!(
                ldap3::parse_filter(user_filter(DEFAULT_USER_FILTER, name)).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn groups_map_to_roles_in_order() {
        let g = parse_groups(
            "cn=medicos,ou=grupos,dc=hospital,dc=cl=medico; CN=TI, OU=Grupos,DC=hospital,DC=cl=admin;",
        )
        .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].dn, "CN=TI, OU=Grupos,DC=hospital,DC=cl");
        assert_eq!(g[1].role, Role::Admin);
        let d = Directory::new(config(
            "cn=medicos,ou=grupos,dc=hospital,dc=cl=medico;cn=ti,ou=grupos,dc=hospital,dc=cl=admin",
        ))
        .unwrap();
        let of = |gs: &[&str]| d.role_of(&gs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            of(&["CN=Medicos, OU=Grupos,DC=hospital,DC=cl"]),
            Some(Role::Medico)
        );
        assert_eq!(
            of(&[
                "cn=ti,ou=grupos,dc=hospital,dc=cl",
                "cn=medicos,ou=grupos,dc=hospital,dc=cl"
            ]),
            Some(Role::Medico),
            "the first mapped group wins"
        );
        assert_eq!(of(&["cn=otros,ou=grupos,dc=hospital,dc=cl"]), None);
        assert_eq!(of(&[]), None);
    }

    #[test]
    fn bad_settings_are_explained() {
        assert!(parse_groups("").unwrap_err().contains("no hay grupos"));
        assert!(
            parse_groups("cn=x,dc=cl=jefe")
                .unwrap_err()
                .contains("jefe")
        );
        assert!(parse_groups("cn=medicos=medico").is_ok(), "a one-RDN DN");
        assert!(
            parse_groups("medicos=medico")
                .unwrap_err()
                .contains("no es un DN")
        );
        assert!(parse_groups("medico").unwrap_err().contains("DN=rol"));
        assert!(
            parse_groups("cn=a=medico;CN=A=admin")
                .unwrap_err()
                .contains("dos veces")
        );
        assert!(check_filter("(uid=x)").unwrap_err().contains("{u}"));
        assert!(check_filter("(uid={u}").unwrap_err().contains("RFC 4515"));
        assert!(check_url("ldaps://dc1:636", false).is_ok());
        assert!(check_url("ldap://dc1", true).is_ok());
        assert!(
            check_url("ldaps://dc1", true)
                .unwrap_err()
                .contains("StartTLS")
        );
        assert!(check_url("http://dc1", false).is_err());
        assert!(
            check_url("ldap://", false)
                .unwrap_err()
                .contains("servidor")
        );
        // Plain LDAP only to this machine.
        assert!(
            check_url("ldap://dc1.hospital.cl", false)
                .unwrap_err()
                .contains("sin cifrar")
        );
        for local in [
            "ldap://127.0.0.1:3890",
            "ldap://localhost",
            "ldap://[::1]:389/",
        ] {
            assert!(check_url(local, false).is_ok(), "{local}");
        }
        let mut c = config("cn=a,dc=cl=medico");
        c.ca_pem = Some(b"not a certificate".to_vec());
        assert!(Directory::new(c).unwrap_err().contains("PEM"));
    }

    #[test]
    fn secrets_stay_hidden() {
        let mut c = config("cn=a,dc=cl=medico");
        c.bind = Some(("cn=svc".into(), BindPassword::new("s3cr3t-de-servicio")));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let d = Directory::new(c).unwrap();
        assert!(!format!("{d:?}").contains("s3cr3t"));
    }

    #[tokio::test]
    async fn an_empty_password_never_reaches_the_directory() {
        // The address has no server: any attempt to talk would be Unreachable.
        let d = Directory::new(config("cn=a,dc=cl=medico")).unwrap();
        assert!(matches!(
            d.authenticate("ana", "").await,
            Ok(Outcome::BadPassword)
        ));
        assert!(matches!(
            d.authenticate("ana", "x").await,
            Err(DirectoryError::Unreachable(_))
        ));
    }

    #[tokio::test]
    async fn a_directory_that_never_answers_times_out() {
        // Connections are accepted (the kernel's backlog) but nothing is ever answered.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = config("cn=a,dc=cl=medico");
        c.url = format!("ldap://{}", silent.local_addr().unwrap());
        c.timeout = Duration::from_millis(500);
        let d = Directory::new(c).unwrap();
        let t = std::time::Instant::now();
        let r = d.authenticate("ana", "clave").await;
        assert!(
            matches!(&r, Err(DirectoryError::Unreachable(m)) if m.contains("TIMEOUT_SECONDS")),
            "{r:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}

//! Logins checked by the hospital's directory, LDAP or Active Directory (see
//! `epicrisis_server::directory` and docs/operations.md, "Directory login"):
//!
//! - `EPICRISIS_LDAP_URL`: `ldaps://servidor:636`, or `ldap://servidor:389` with
//!   `EPICRISIS_LDAP_STARTTLS=true` (plain `ldap://` only to this machine). Unset: local
//!   accounts only, and every other `EPICRISIS_LDAP_*` setting is an error.
//! - `EPICRISIS_LDAP_CA_FILE`: PEM certificates of the CAs to trust instead of the
//!   system's (the hospital's own CA).
//! - `EPICRISIS_LDAP_BIND_DN` and `EPICRISIS_LDAP_BIND_PASSWORD_FILE`: the service
//!   account that searches (both or neither; neither: anonymous search).
//! - `EPICRISIS_LDAP_BASE_DN`: where people are searched.
//! - `EPICRISIS_LDAP_USER_FILTER`: `(|(uid={u})(sAMAccountName={u}))` unless set.
//! - `EPICRISIS_LDAP_GROUPS`: `DN=rol;DN=rol…`, the groups that let people in and their
//!   roles (`medico`, `administrativo`, `admin`), the first that holds a person counting.
//! - `EPICRISIS_LDAP_MEMBERSHIP`: `memberof` (the person's `memberOf`, the default) or
//!   `member` (the groups' `member`/`uniqueMember`).
//! - `EPICRISIS_LDAP_TIMEOUT_SECONDS`: for a whole check (10).
//!
//! The password is read from a file (an environment variable ends up in process listings
//! and crash reports); a file that cannot be read is an error naming its setting.

use super::{Failure, Raw};
use epicrisis_server::directory::{self as dir, BindPassword, DirectoryConfig, Membership};
use std::time::Duration;

const URL: &str = "EPICRISIS_LDAP_URL";
const STARTTLS: &str = "EPICRISIS_LDAP_STARTTLS";
const CA_FILE: &str = "EPICRISIS_LDAP_CA_FILE";
const BIND_DN: &str = "EPICRISIS_LDAP_BIND_DN";
const BIND_PASSWORD_FILE: &str = "EPICRISIS_LDAP_BIND_PASSWORD_FILE";
const BASE_DN: &str = "EPICRISIS_LDAP_BASE_DN";
const USER_FILTER: &str = "EPICRISIS_LDAP_USER_FILTER";
const GROUPS: &str = "EPICRISIS_LDAP_GROUPS";
const MEMBERSHIP: &str = "EPICRISIS_LDAP_MEMBERSHIP";
const TIMEOUT: &str = "EPICRISIS_LDAP_TIMEOUT_SECONDS";

/// Every setting of this group (each is in `KNOWN` too).
pub(super) const NAMES: [&str; 10] = [
    URL,
    STARTTLS,
    CA_FILE,
    BIND_DN,
    BIND_PASSWORD_FILE,
    BASE_DN,
    USER_FILTER,
    GROUPS,
    MEMBERSHIP,
    TIMEOUT,
];

/// The directory settings, or `None` without `EPICRISIS_LDAP_URL`.
pub(super) fn from_raw(raw: &Raw) -> Result<Option<DirectoryConfig>, Failure> {
    let Some(url) = raw.string(URL) else {
        if let Some(key) = NAMES.iter().find(|k| raw.string(k).is_some()) {
            return Err(Failure::Input(format!(
                "{}: falta {URL}, el directorio (ldaps://servidor:636)",
                raw.name_of(key)
            )));
        }
        return Ok(None);
    };
    let starttls = super::settings::bool_value(raw, STARTTLS)?;
    dir::check_url(&url, starttls).map_err(|e| invalid(raw, URL, &url, &e))?;
    let user_filter = raw
        .string(USER_FILTER)
        .unwrap_or_else(|| dir::DEFAULT_USER_FILTER.to_string());
    dir::check_filter(&user_filter).map_err(|e| invalid(raw, USER_FILTER, &user_filter, &e))?;
    let groups = required(
        raw,
        GROUPS,
        "los grupos y sus roles, p. ej. cn=medicos,ou=grupos,dc=hospital,dc=cl=medico;\
         cn=ti,ou=grupos,dc=hospital,dc=cl=admin",
    )?;
    let groups = dir::parse_groups(&groups).map_err(|e| {
        invalid(
            raw,
            GROUPS,
            &groups,
            &format!("{e} (se espera DN=rol;DN=rol…)"),
        )
    })?;
    let membership = match raw.string(MEMBERSHIP).map(|v| v.to_ascii_lowercase()) {
        None => Membership::MemberOf,
        Some(v) if v == "memberof" => Membership::MemberOf,
        Some(v) if v == "member" => Membership::Member,
        Some(_) => return Err(raw.bad(MEMBERSHIP, "memberof o member")),
    };
    let seconds = raw
        .parse::<u64>(TIMEOUT, "un número de segundos entre 1 y 120", |v| {
            (1..=120).contains(v)
        })?
        .unwrap_or(10);
    let config = DirectoryConfig {
        url,
        starttls,
        ca_pem: ca_file(raw)?,
        bind: bind(raw)?,
        base_dn: required(
            raw,
            BASE_DN,
            "el DN bajo el que se busca a las personas, p. ej. ou=personas,dc=hospital,dc=cl",
        )?,
        user_filter,
        groups,
        membership,
        timeout: Duration::from_secs(seconds),
    };
    // What is left to check is the CA file's certificates.
    dir::Directory::new(config.clone())
        .map_err(|e| Failure::Input(format!("{}: {e}", raw.name_of(CA_FILE))))?;
    Ok(Some(config))
}

/// A value that is not what the setting needs, and why.
fn invalid(raw: &Raw, key: &str, value: &str, why: &str) -> Failure {
    Failure::Input(format!("{}={value:?}: {why}", raw.name_of(key)))
}

fn required(raw: &Raw, key: &str, what: &str) -> Result<String, Failure> {
    raw.string(key)
        .ok_or_else(|| Failure::Input(format!("{}: falta {key}, {what}", raw.name_of(URL))))
}

/// The service account: both settings or neither.
fn bind(raw: &Raw) -> Result<Option<(String, BindPassword)>, Failure> {
    match (raw.string(BIND_DN), raw.string(BIND_PASSWORD_FILE)) {
        (None, None) => Ok(None),
        (Some(dn), Some(path)) => {
            let text = read(raw, BIND_PASSWORD_FILE, &path)?;
            // One line; a final newline is not part of the password.
            let password = text.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err(Failure::Input(format!(
                    "{}: el archivo {path} está vacío",
                    raw.name_of(BIND_PASSWORD_FILE)
                )));
            }
            Ok(Some((dn, BindPassword::new(password))))
        }
        (Some(_), None) => Err(Failure::Input(format!(
            "{}: falta {BIND_PASSWORD_FILE}, el archivo con la contraseña de la cuenta de \
             servicio",
            raw.name_of(BIND_DN)
        ))),
        (None, Some(_)) => Err(Failure::Input(format!(
            "{}: falta {BIND_DN}, el DN de la cuenta de servicio",
            raw.name_of(BIND_PASSWORD_FILE)
        ))),
    }
}

/// `EPICRISIS_LDAP_CA_FILE`, read (its certificates are checked when the server starts).
fn ca_file(raw: &Raw) -> Result<Option<Vec<u8>>, Failure> {
    match raw.string(CA_FILE) {
        None => Ok(None),
        Some(path) => Ok(Some(read(raw, CA_FILE, &path)?.into_bytes())),
    }
}

fn read(raw: &Raw, key: &str, path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::Input(format!(
            "{}: no se pudo leer el archivo {path}: {e} (debe existir y ser legible por el \
             usuario del servicio)",
            raw.name_of(key)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(pairs: &[(&str, &str)]) -> String {
        match from_raw(&Raw::from_pairs(pairs)) {
            Err(Failure::Input(m)) => m,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    const BASE: [(&str, &str); 3] = [
        (URL, "ldaps://dc1.hospital.cl:636"),
        (BASE_DN, "dc=hospital,dc=cl"),
        (GROUPS, "cn=medicos,ou=grupos,dc=hospital,dc=cl=medico"),
    ];

    #[test]
    fn every_setting_is_known() {
        for name in NAMES {
            assert!(
                super::super::KNOWN.iter().any(|(k, _)| *k == name),
                "{name}"
            );
        }
    }

    #[test]
    fn none_without_a_url_and_nothing_else_alone() {
        assert!(from_raw(&Raw::from_pairs(&[])).unwrap().is_none());
        let m = message(&[(BASE_DN, "dc=hospital,dc=cl")]);
        assert!(m.contains(BASE_DN) && m.contains(URL), "{m}");
    }

    #[test]
    fn a_full_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("bind");
        std::fs::write(&pw, "clave de servicio\n").unwrap();
        let mut pairs = BASE.to_vec();
        pairs.push((BIND_DN, "cn=epicrisis,ou=servicios,dc=hospital,dc=cl"));
        pairs.push((BIND_PASSWORD_FILE, pw.to_str().unwrap()));
        pairs.push((MEMBERSHIP, "member"));
        pairs.push((TIMEOUT, "3"));
        let c = from_raw(&Raw::from_pairs(&pairs)).unwrap().unwrap();
        assert_eq!(c.user_filter, dir::DEFAULT_USER_FILTER);
        assert_eq!(c.membership, Membership::Member);
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert!(!format!("{c:?}").contains("clave de servicio"));
        assert!(epicrisis_server::directory::Directory::new(c).is_ok());
    }

    #[test]
    fn wrong_settings_name_themselves() {
        let with = |k: &'static str, v: &'static str| {
            let mut p = BASE.to_vec();
            p.retain(|(key, _)| *key != k);
            p.push((k, v));
            message(&p)
        };
        let m = with(URL, "ldap://dc1.hospital.cl");
        assert!(m.contains(URL) && m.contains("sin cifrar"), "{m}");
        let m = with(GROUPS, "cn=medicos,dc=cl=jefe");
        assert!(m.contains(GROUPS) && m.contains("jefe"), "{m}");
        let m = with(USER_FILTER, "(uid=x)");
        assert!(m.contains(USER_FILTER) && m.contains("{u}"), "{m}");
        let m = with(MEMBERSHIP, "groups");
        assert!(m.contains(MEMBERSHIP), "{m}");
        let m = with(TIMEOUT, "0");
        assert!(m.contains(TIMEOUT), "{m}");
        let m = with(BIND_DN, "cn=svc,dc=cl");
        assert!(m.contains(BIND_PASSWORD_FILE), "{m}");
        let m = with(BIND_PASSWORD_FILE, "/no/existe");
        assert!(m.contains(BIND_DN), "{m}");
        let m = with(CA_FILE, "/no/existe/ca.pem");
        assert!(
            m.contains(CA_FILE) && m.contains("/no/existe/ca.pem"),
            "{m}"
        );
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "no es un certificado").unwrap();
        let mut p = BASE.to_vec();
        p.push((CA_FILE, ca.to_str().unwrap()));
        let m = message(&p);
        assert!(m.contains(CA_FILE) && m.contains("PEM"), "{m}");
        let m = message(&BASE[..2]);
        assert!(m.contains(GROUPS), "{m}");
    }
}

//! Directory login end to end: a real OpenLDAP server (slapd, started here), the real
//! `epicrisis serve` with the `EPICRISIS_LDAP_*` settings, and the login form over HTTP.
//!
//! A directory médico gets the médico role, a member of the IT group admin; a wrong,
//! empty or unknown password or name is refused alike; a person in no mapped group is
//! told so and their account disabled, and let in again with the group back; names with
//! filter syntax are escaped, not injected; a local account's name never goes to the
//! directory; with slapd stopped, the local emergency account still signs in and
//! directory people read that the directory is unreachable. Then the trail: logins and
//! refusals audited, never a password. Last, StartTLS and `ldaps://` with the hospital's
//! CA, and group membership read from the groups (`member`, `uniqueMember`).

#[path = "../common/mod.rs"]
mod common;
mod slapd;

use common::server::{self, PASSWORD, Served, Session};
use serde_json::Value;
use slapd::{SERVICE_DN, SERVICE_PASSWORD, SUFFIX, Slapd};
use std::path::Path;

const GROUPS: &str = "cn=medicos,ou=grupos,dc=hospital,dc=cl=medico;\
    cn=administrativos,ou=grupos,dc=hospital,dc=cl=administrativo;\
    cn=ti,ou=grupos,dc=hospital,dc=cl=admin";

const WRONG: &str = "Usuario o contraseña incorrectos.";

/// People and groups. Carlos Rojas and «baja» are Active Directory style: no `uid`, a
/// `sAMAccountName`, and «baja» disabled (`userAccountControl` 514). «secretaria» is in a
/// groupOfUniqueNames, which the memberof overlay does not follow.
fn people() -> String {
    let person = |rdn: &str, extra: &str, password: &str| {
        format!(
            "dn: {rdn},ou=personas,{SUFFIX}\nobjectClass: inetOrgPerson\n{extra}\
             userPassword: {password}\n\n"
        )
    };
    let mut l = String::new();
    // displayName «Dra. Ana Pérez», base64 (not ASCII).
    l += &person(
        "uid=medico1",
        "uid: medico1\ncn: Ana Perez\nsn: Perez\ndisplayName:: RHJhLiBBbmEgUMOpcmV6\n",
        "clave-medico-1",
    );
    l += &person(
        "uid=jefa",
        "uid: jefa\ncn: Beatriz Soto\nsn: Soto\n",
        "clave-jefa-1",
    );
    l += &person(
        "uid=multi",
        "uid: multi\ncn: Mara Diaz\nsn: Diaz\n",
        "clave-multi-1",
    );
    l += &person(
        "uid=sinrol",
        "uid: sinrol\ncn: Pedro Sin\nsn: Sin\n",
        "clave-sinrol-1",
    );
    l += &person(
        "uid=colision",
        "uid: colision\ncn: Otra Persona\nsn: Persona\n",
        "clave-colision-dir",
    );
    l += &person(
        "uid=secretaria",
        "uid: secretaria\ncn: Rosa Vera\nsn: Vera\n",
        "clave-secretaria-1",
    );
    for (cn, sam, uac) in [("Carlos Rojas", "crojas", 512), ("Baja Total", "baja", 514)] {
        l += &person(
            &format!("cn={cn}"),
            &format!(
                "objectClass: adAccount\ncn: {cn}\nsn: {cn}\nsAMAccountName: {sam}\n\
                 userAccountControl: {uac}\n"
            ),
            &format!("clave-{sam}-1"),
        );
    }
    let dn = |rdn: &str| format!("{rdn},ou=personas,{SUFFIX}");
    let group = |cn: &str, class: &str, attr: &str, members: &[&str]| {
        let mut g = format!("dn: cn={cn},ou=grupos,{SUFFIX}\nobjectClass: {class}\ncn: {cn}\n");
        for m in members {
            g += &format!("{attr}: {}\n", dn(m));
        }
        g + "\n"
    };
    let medicos = [
        "uid=medico1",
        "cn=Carlos Rojas",
        "cn=Baja Total",
        "uid=multi",
        "uid=colision",
    ];
    l += &group("medicos", "groupOfNames", "member", &medicos);
    l += &group("ti", "groupOfNames", "member", &["uid=jefa", "uid=multi"]);
    l += &group("otros", "groupOfNames", "member", &["uid=sinrol"]);
    l += &group(
        "administrativos",
        "groupOfUniqueNames",
        "uniqueMember",
        &["uid=secretaria"],
    );
    l
}

/// `epicrisis serve` for the site with the directory settings and `extra` ones.
fn serve(dir: &Path, url: &str, extra: &[(&str, &str)]) -> Served {
    let password_file = dir.join("ldap-bind-password");
    std::fs::write(&password_file, format!("{SERVICE_PASSWORD}\n")).unwrap();
    let mut cmd = server::bin(dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("EPICRISIS_LDAP_URL", url)
        .env("EPICRISIS_LDAP_BIND_DN", SERVICE_DN)
        .env("EPICRISIS_LDAP_BIND_PASSWORD_FILE", &password_file)
        .env("EPICRISIS_LDAP_BASE_DN", format!("ou=personas,{SUFFIX}"))
        .env("EPICRISIS_LDAP_GROUPS", GROUPS)
        .env("EPICRISIS_LDAP_TIMEOUT_SECONDS", "5")
        // Each attempt comes from an address of its own (X-Forwarded-For), so that the
        // address lock does not mix the cases.
        .env("EPICRISIS_TRUSTED_PROXIES", "127.0.0.1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    server::serve_command(cmd)
}

/// A login through the form from `ip`: the session, or the status and the page.
fn sign_in(base: &str, user: &str, password: &str, ip: &str) -> Result<Session, (u16, String)> {
    let (client, csrf) = server::login_form(base);
    let r = client
        .post(format!("{base}/login"))
        .header("X-Forwarded-For", ip)
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .unwrap();
    let status = r.status().as_u16();
    if status != 200 || !r.url().path().starts_with("/episodios") {
        return Err((status, r.text().unwrap()));
    }
    let me: Value = client
        .get(format!("{base}/api/v1/me"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Ok(Session {
        client,
        base: base.into(),
        csrf: me["csrf"].as_str().unwrap().into(),
    })
}

fn me(s: &Session) -> Value {
    s.get("/api/v1/me").json().unwrap()
}

/// A refused login's status and page.
#[track_caller]
fn refused(base: &str, user: &str, password: &str, ip: &str) -> (u16, String) {
    match sign_in(base, user, password, ip) {
        Ok(_) => panic!("{user:?} signed in"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_refused(base: &str, user: &str, password: &str, ip: &str, status: u16, says: &str) {
    let (got, page) = refused(base, user, password, ip);
    assert_eq!(got, status, "{user:?}: {page}");
    assert!(page.contains(says), "{user:?}: {says:?} not in the page");
}

/// The accounts, by name: (role, disabled).
fn accounts(admin: &Session) -> Vec<(String, String, bool)> {
    let v: Value = admin.get("/api/v1/users").json().unwrap();
    v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_string(),
                u["role"].as_str().unwrap().to_string(),
                u["disabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn directory_people_sign_in_with_their_groups_roles() {
    let Some(mut ldap) = Slapd::start(&people(), false) else {
        return;
    };
    let site = tempfile::tempdir().unwrap();
    server::add_user(site.path(), "urgencia", "admin", "Cuenta de emergencia");
    server::add_user(site.path(), "colision", "administrativo", "Cuenta local");
    let served = serve(site.path(), &ldap.url(), &[]);
    let base = served.url.clone();

    let ana = sign_in(&base, "medico1", "clave-medico-1", "10.0.0.1").expect("a médico");
    let m = me(&ana);
    assert_eq!(
        (m["role"].as_str(), m["displayName"].as_str()),
        (Some("medico"), Some("Dra. Ana Pérez"))
    );
    // Names are not case-sensitive; the role of the IT group; cn without displayName.
    let jefa = sign_in(&base, "JEFA", "clave-jefa-1", "10.0.0.2").expect("the IT group");
    let m = me(&jefa);
    assert_eq!(
        (m["role"].as_str(), m["displayName"].as_str()),
        (Some("admin"), Some("Beatriz Soto"))
    );
    // Active Directory style (sAMAccountName), and the first mapped group in order.
    let crojas = sign_in(&base, "crojas", "clave-crojas-1", "10.0.0.3").expect("sAMAccountName");
    assert_eq!(me(&crojas)["role"], "medico");
    let multi = sign_in(&base, "multi", "clave-multi-1", "10.0.0.4").expect("two groups");
    assert_eq!(
        me(&multi)["role"],
        "medico",
        "the first group of EPICRISIS_LDAP_GROUPS"
    );

    refusals(&base, &ana);
    group_comes_and_goes(&base, &ldap, &ana);
    let admin = sign_in(&base, "urgencia", PASSWORD, "10.0.1.1").expect("the local admin");
    let before = accounts(&admin);
    for (name, role) in [
        ("medico1", "medico"),
        ("jefa", "admin"),
        ("crojas", "medico"),
    ] {
        assert!(
            before
                .iter()
                .any(|(n, r, off)| n == name && r == role && !off),
            "{name}: {before:?}"
        );
    }
    assert!(
        before
            .iter()
            .all(|(n, _, _)| !n.contains('*') && !n.contains('('))
    );

    // What people read of all this, in a browser at a desktop's and a phone's width.
    let browser = common::browser::Driver::start();
    if let Some(d) = &browser {
        let backup = site.path().join("respaldo.jsonl");
        let out = server::bin(site.path())
            .args(["backup", &backup.display().to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        for width in [1366, 390] {
            d.resize(width, 900);
            seen_by_people(d, &base, width);
        }
    }

    // The directory stops: the local emergency account still signs in; directory people
    // read why they cannot, and retrying during the outage locks no one.
    ldap.stop();
    if let Some(d) = &browser {
        for width in [1366, 390] {
            d.resize(width, 900);
            login_refused_reads(
                d,
                &base,
                ("medico1", "clave-medico-1"),
                "No se pudo contactar el directorio",
                &format!("directorio-caido-{width}"),
            );
        }
    }
    sign_in(&base, "urgencia", PASSWORD, "10.0.1.2").expect("local accounts work");
    for _ in 0..7 {
        assert_refused(
            &base,
            "medico1",
            "clave-medico-1",
            "10.0.2.1",
            503,
            "No se pudo contactar el directorio",
        );
    }
    assert!(
        served.log.lock().unwrap().contains("directory"),
        "the server's log says why"
    );
    audit_trail(&admin);
}

/// Signs in through the login form as `who` (name, password), expecting a refusal that
/// says `says`; checks the page (width, Spanish) and keeps its screenshot as `shot`.
fn login_refused_reads(
    d: &common::browser::Driver,
    base: &str,
    who: (&str, &str),
    says: &str,
    shot: &str,
) {
    d.go(&format!("{base}/login"));
    d.type_into("#username", who.0);
    d.type_into("#password", who.1);
    d.click("form button[type=submit]");
    d.wait_for(
        says,
        &format!(
            "return (document.querySelector('.alert')||{{}}).textContent?.includes({}) === true",
            serde_json::to_string(says).unwrap()
        ),
    );
    d.page_ok(shot);
}

/// In the browser: a person in no mapped group is told so; the local admin's
/// «Administración» marks the directory's accounts and names the directory's audit
/// entries (logins, refusals, a backup) in Spanish.
fn seen_by_people(d: &common::browser::Driver, base: &str, width: u32) {
    login_refused_reads(
        d,
        base,
        ("sinrol", "clave-sinrol-1"),
        "no pertenece a ningún grupo",
        &format!("directorio-sin-grupo-{width}"),
    );
    d.sign_in(base, "urgencia", PASSWORD);
    d.go(&format!("{base}/administracion"));
    d.wait_for(
        "the accounts",
        "return document.querySelectorAll('#users tbody tr').length > 3",
    );
    let marked = d.script(
        "return [...document.querySelectorAll('#users tbody tr')].filter(r => r.querySelector('.badge.muted')?.textContent === 'directorio').map(r => r.dataset.username)",
    );
    let marked: Vec<String> = serde_json::from_value(marked).unwrap();
    for name in ["medico1", "jefa", "crojas"] {
        assert!(marked.iter().any(|m| m == name), "{name}: {marked:?}");
    }
    assert!(!marked.iter().any(|m| m == "urgencia" || m == "colision"));
    d.page_ok(&format!("directorio-administracion-{width}"));
    let actions = d
        .script("return [...document.querySelectorAll('#audit tbody tr')].map(r => r.textContent)");
    let actions = serde_json::to_string(&actions).unwrap();
    for label in [
        "línea de comandos",
        "respaldo de la base de datos",
        "inicio de sesión fallido: sin grupo habilitado en el directorio",
        "cuenta deshabilitada: cuenta medico1, sin grupo habilitado en el directorio",
        "inicio de sesión (directorio)",
    ] {
        assert!(actions.contains(label), "{label}: {actions}");
    }
    d.script("document.getElementById('bitacora').scrollIntoView({block: 'start', behavior: 'instant'});");
    d.page_ok(&format!("directorio-bitacora-{width}"));
    d.click("header form button[type=submit]");
    d.wait_for("the login page", "return location.pathname === '/login'");
}

/// Wrong, empty and unknown passwords and names, filter syntax, a disabled entry, a
/// person in no mapped group, a local name, and no password set for a directory account.
fn refusals(base: &str, ana: &Session) {
    assert_refused(base, "medico1", "clave-equivocada", "10.0.0.10", 401, WRONG);
    assert_refused(
        base,
        "medico1",
        "",
        "10.0.0.11",
        400,
        "Escriba su contraseña.",
    );
    assert_refused(base, "nadie", "clave-medico-1", "10.0.0.12", 401, WRONG);
    // Unescaped, each of these would find medico1 and the bind with their password pass.
    for (i, name) in ["med*", "*", "x)(uid=medico1", "medico1)(|(uid=*"]
        .iter()
        .enumerate()
    {
        assert_refused(
            base,
            name,
            "clave-medico-1",
            &format!("10.0.0.{}", 20 + i),
            401,
            WRONG,
        );
    }
    // Disabled in the directory: refused like a wrong password, whatever was typed.
    assert_refused(base, "baja", "clave-baja-1", "10.0.0.30", 401, WRONG);
    // The password is right but no mapped group holds the person: told so.
    assert_refused(
        base,
        "sinrol",
        "clave-sinrol-1",
        "10.0.0.31",
        403,
        "no pertenece a ningún grupo",
    );
    assert_refused(base, "sinrol", "clave-equivocada", "10.0.0.32", 401, WRONG);
    // A local account's name is checked here only: the directory's password is no key.
    assert_refused(
        base,
        "colision",
        "clave-colision-dir",
        "10.0.0.33",
        401,
        WRONG,
    );
    let local = sign_in(base, "colision", PASSWORD, "10.0.0.34").expect("the local account");
    assert_eq!(me(&local)["role"], "administrativo");
    // The directory's password is changed in the directory.
    let r = ana.post(
        "/api/v1/users/medico1/password",
        &serde_json::json!({"password": "otra-clave-larga-123", "currentPassword": "clave-medico-1"}),
    );
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("directorio"));
}

/// Out of the group: refused, the account disabled and its sessions ended; back in the
/// group: let in again.
fn group_comes_and_goes(base: &str, ldap: &Slapd, ana: &Session) {
    let change = |op: &str| {
        format!(
            "dn: cn=medicos,ou=grupos,{SUFFIX}\nchangetype: modify\n{op}: member\n\
             member: uid=medico1,ou=personas,{SUFFIX}\n"
        )
    };
    ldap.load(&change("delete"));
    assert_refused(
        base,
        "medico1",
        "clave-medico-1",
        "10.0.0.40",
        403,
        "no pertenece a ningún grupo",
    );
    assert_eq!(ana.get("/api/v1/me").status(), 401, "the session ended");
    let admin = sign_in(base, "urgencia", PASSWORD, "10.0.0.41").unwrap();
    assert!(accounts(&admin).contains(&("medico1".into(), "medico".into(), true)));
    ldap.load(&change("add"));
    let again = sign_in(base, "medico1", "clave-medico-1", "10.0.0.42").expect("back in the group");
    assert_eq!(me(&again)["role"], "medico");
    assert!(accounts(&admin).contains(&("medico1".into(), "medico".into(), false)));
}

/// Directory logins and refusals are in the trail, with why; no password is.
fn audit_trail(admin: &Session) {
    let trail: Value = admin.get("/api/v1/audit?limit=1000").json().unwrap();
    let rows = trail["audit"].as_array().unwrap();
    let has = |action: &str, user: Option<&str>, check: &dyn Fn(&Value) -> bool| {
        rows.iter().any(|r| {
            r["action"] == action
                && user.is_none_or(|u| r["user"] == u || r["detail"]["username"] == u)
                && check(&r["detail"])
        })
    };
    let reason = |why: &'static str| move |d: &Value| d["via"] == "directory" && d["reason"] == why;
    assert!(has("login", Some("medico1"), &|d| d["via"] == "directory"
        && d["created"] == true));
    assert!(has("login", Some("jefa"), &|d| d["role"] == "admin"));
    assert!(has(
        "login_failed",
        Some("medico1"),
        &reason("bad_password")
    ));
    assert!(has("login_failed", None, &|d| reason("unknown_user")(d)
        && d["unknown_user"] == true));
    assert!(has("login_failed", Some("sinrol"), &reason("no_group")));
    assert!(has(
        "login_failed",
        Some("baja"),
        &reason("disabled_in_directory")
    ));
    assert!(has("login_failed", Some("medico1"), &reason("unreachable")));
    assert!(has("user_disable", None, &|d| d["user"] == "medico1"
        && d["via"] == "directory"));
    let all = trail.to_string();
    for secret in [
        "clave-medico-1",
        "clave-equivocada",
        SERVICE_PASSWORD,
        "clave-sinrol-1",
    ] {
        assert!(!all.contains(secret), "a password in the audit trail");
    }
    // A name that is no one's is not kept (it may be a password typed in the wrong box).
    assert!(!all.contains("nadie"));
}

#[test]
fn tls_and_group_members() {
    let Some(ldap) = Slapd::start(&people(), true) else {
        return;
    };
    let ca = ldap.ca.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let site = tempfile::tempdir().unwrap();
    // StartTLS, the hospital's CA, and membership read from the groups themselves.
    let starttls = serve(
        site.path(),
        &ldap.url(),
        &[
            ("EPICRISIS_LDAP_STARTTLS", "true"),
            ("EPICRISIS_LDAP_CA_FILE", ca),
            ("EPICRISIS_LDAP_MEMBERSHIP", "member"),
        ],
    );
    let base = &starttls.url;
    let rosa = sign_in(base, "secretaria", "clave-secretaria-1", "10.1.0.1").expect("uniqueMember");
    assert_eq!(me(&rosa)["role"], "administrativo");
    let ana = sign_in(base, "medico1", "clave-medico-1", "10.1.0.2").expect("member");
    assert_eq!(me(&ana)["role"], "medico");
    assert_refused(
        base,
        "sinrol",
        "clave-sinrol-1",
        "10.1.0.3",
        403,
        "no pertenece a ningún grupo",
    );
    drop(starttls);
    // ldaps://, with the CA file and then without it: the certificate is checked.
    let ldaps = format!("ldaps://127.0.0.1:{}", ldap.tls_port.unwrap());
    let with_ca = serve(site.path(), &ldaps, &[("EPICRISIS_LDAP_CA_FILE", ca)]);
    sign_in(&with_ca.url, "jefa", "clave-jefa-1", "10.1.0.4").expect("ldaps");
    drop(with_ca);
    let untrusted = serve(site.path(), &ldaps, &[]);
    assert_refused(
        &untrusted.url,
        "jefa",
        "clave-jefa-1",
        "10.1.0.5",
        503,
        "No se pudo contactar el directorio",
    );
}

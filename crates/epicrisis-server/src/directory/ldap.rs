//! The LDAP conversation of one login: connect (TLS as the settings say), bind as the
//! service account, find the person, read their groups, and last bind as them with the
//! password typed. Everything is read with the service account's rights, so the person's
//! own rights in the directory do not matter.

use super::{Directory, DirectoryError, Membership, Outcome, Person, user_filter};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, SearchOptions};

/// Result codes (RFC 4511, appendix A).
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const REFERRAL: u32 = 10;
const NO_SUCH_OBJECT: u32 = 32;
const INVALID_CREDENTIALS: u32 = 49;

/// Active Directory's `userAccountControl` flag of a disabled account.
const ACCOUNTDISABLE: u64 = 0x2;

/// What is read of the person's entry.
const ATTRS: [&str; 4] = ["displayName", "cn", "memberOf", "userAccountControl"];

/// The whole check on a connection of its own, closed at the end.
pub(super) async fn check(
    dir: &Directory,
    username: &str,
    password: &str,
) -> Result<Outcome, DirectoryError> {
    let mut ldap = connect(dir).await?;
    let outcome = converse(dir, &mut ldap, username, password).await;
    let _ = ldap.unbind().await;
    outcome
}

async fn converse(
    dir: &Directory,
    ldap: &mut Ldap,
    username: &str,
    password: &str,
) -> Result<Outcome, DirectoryError> {
    let entry = match find(dir, ldap, username).await? {
        Ok(entry) => entry,
        Err(outcome) => return Ok(outcome),
    };
    let disabled = attr(&entry, "userAccountControl")
        .first()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|flags| flags & ACCOUNTDISABLE != 0);
    if disabled {
        return Ok(Outcome::Disabled);
    }
    let groups = groups(dir, ldap, &entry).await?;
    // Last, with the password typed: nothing about the person is told before it passed.
    let bind = ldap
        .simple_bind(&entry.dn, password)
        .await
        .map_err(unreachable)?;
    match bind.rc {
        SUCCESS => {}
        INVALID_CREDENTIALS => return Ok(Outcome::BadPassword),
        rc => {
            // Locked, expired or otherwise refused: a refusal all the same.
            crate::api::warn(
                "directory login",
                &format!(
                    "the directory refused a user's bind: {}",
                    describe(rc, &bind.text)
                ),
            );
            return Ok(Outcome::BadPassword);
        }
    }
    let display_name = ["displayName", "cn"]
        .iter()
        .find_map(|a| {
            attr(&entry, a)
                .iter()
                .find(|v| !v.trim().is_empty())
                .cloned()
        })
        .unwrap_or_else(|| username.to_string());
    Ok(Outcome::Authenticated(Person {
        role: dir.role_of(&groups),
        dn: entry.dn,
        display_name: display_name.trim().to_string(),
    }))
}

/// A connection, with TLS and the service account's bind as the settings say.
async fn connect(dir: &Directory) -> Result<Ldap, DirectoryError> {
    let c = &dir.config;
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(c.timeout)
        .set_starttls(c.starttls);
    if let Some(tls) = &dir.tls {
        settings = settings.set_config(tls.clone());
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
        .await
        .map_err(unreachable)?;
    ldap3::drive!(conn);
    if let Some((dn, password)) = &c.bind {
        let r = ldap
            .simple_bind(dn, &password.0)
            .await
            .map_err(unreachable)?;
        if r.rc != SUCCESS {
            return Err(DirectoryError::Refused(format!(
                "the bind of the service account (EPICRISIS_LDAP_BIND_DN) was refused: {}",
                describe(r.rc, &r.text)
            )));
        }
    }
    Ok(ldap)
}

/// The one entry the name matches, or the outcome when there is none or several.
async fn find(
    dir: &Directory,
    ldap: &mut Ldap,
    username: &str,
) -> Result<Result<SearchEntry, Outcome>, DirectoryError> {
    let c = &dir.config;
    let filter = user_filter(&c.user_filter, username);
    // Two are enough to know the name is ambiguous.
    let ldap3::SearchResult(found, result) = ldap
        .with_search_options(SearchOptions::new().sizelimit(2))
        .search(&c.base_dn, Scope::Subtree, &filter, ATTRS.to_vec())
        .await
        .map_err(unreachable)?;
    // Active Directory adds references to other partitions: not entries.
    let mut entries: Vec<SearchEntry> = found
        .into_iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
        .map(SearchEntry::construct)
        .collect();
    match result.rc {
        SUCCESS => {}
        SIZE_LIMIT_EXCEEDED => return Ok(Err(ambiguous(entries.len().max(2)))),
        NO_SUCH_OBJECT | REFERRAL => {
            return Err(DirectoryError::Refused(format!(
                "the search base (EPICRISIS_LDAP_BASE_DN) is not on this server: {}",
                describe(result.rc, &result.text)
            )));
        }
        rc => {
            return Err(DirectoryError::Refused(format!(
                "the search (EPICRISIS_LDAP_USER_FILTER, EPICRISIS_LDAP_BASE_DN) was refused: {}",
                describe(rc, &result.text)
            )));
        }
    }
    Ok(match entries.len() {
        0 => Err(Outcome::UnknownUser),
        1 => Ok(entries.remove(0)),
        n => Err(ambiguous(n)),
    })
}

fn ambiguous(n: usize) -> Outcome {
    crate::api::warn(
        "directory login",
        &format!(
            "{n} or more entries match a name; make EPICRISIS_LDAP_USER_FILTER or \
             EPICRISIS_LDAP_BASE_DN narrower"
        ),
    );
    Outcome::Ambiguous(n)
}

/// The DNs of the person's groups: their `memberOf`, or the mapped groups that list them
/// as `member` or `uniqueMember`.
async fn groups(
    dir: &Directory,
    ldap: &mut Ldap,
    entry: &SearchEntry,
) -> Result<Vec<String>, DirectoryError> {
    if dir.config.membership == Membership::MemberOf {
        return Ok(attr(entry, "memberOf").to_vec());
    }
    let dn = ldap3::ldap_escape(entry.dn.as_str());
    let filter = format!("(|(member={dn})(uniqueMember={dn}))");
    let mut theirs = Vec::new();
    for g in &dir.config.groups {
        let ldap3::SearchResult(found, result) = ldap
            .search(&g.dn, Scope::Base, &filter, vec!["1.1"])
            .await
            .map_err(unreachable)?;
        match result.rc {
            SUCCESS if found.iter().any(|e| !e.is_ref()) => theirs.push(g.dn.clone()),
            SUCCESS => {}
            NO_SUCH_OBJECT => crate::api::warn(
                "directory login",
                &format!(
                    "the group {:?} of EPICRISIS_LDAP_GROUPS does not exist",
                    g.dn
                ),
            ),
            rc => {
                return Err(DirectoryError::Refused(format!(
                    "reading the group {:?} was refused: {}",
                    g.dn,
                    describe(rc, &result.text)
                )));
            }
        }
    }
    Ok(theirs)
}

/// An attribute's values, whatever the case of its name in the answer.
fn attr<'a>(entry: &'a SearchEntry, name: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or(&[], |(_, v)| v.as_slice())
}

fn unreachable(e: LdapError) -> DirectoryError {
    DirectoryError::Unreachable(e.to_string())
}

/// A result code in words, for the server's log.
fn describe(rc: u32, text: &str) -> String {
    let name = match rc {
        1 => "operationsError",
        8 => "strongerAuthRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        53 => "unwillingToPerform",
        _ => "",
    };
    match text.trim() {
        "" => format!("code {rc} {name}"),
        t => format!("code {rc} {name}: {t}"),
    }
}

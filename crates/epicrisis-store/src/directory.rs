//! Accounts of the hospital's directory (LDAP / Active Directory) as the store keeps them.
//!
//! The directory checks the password at each login and says who the person is (name,
//! role from their groups); the store keeps an account of the same name so that sessions,
//! authorship and the audit trail have a user id. Such an account is marked
//! [`UserSource::Directory`]: its `password_hash` is [`NO_PASSWORD`], which no password
//! matches, and no password can be set for it ([`Store::set_password`] refuses).
//!
//! `users.disabled` says who disabled an account: [`DISABLED_BY_ADMIN`] (the command
//! line, the administration page) or [`DISABLED_BY_DIRECTORY`] (a login found the person
//! in no mapped group, disabled or gone there). A later directory login lifts only the
//! directory's own disabling; an administrator's stays until an administrator lifts it.

use sqlx::Row;

use crate::users::{UserSource, end_access, user_id_in};
use crate::{Result, Role, Store, StoreError, User, is_unique_violation, now_ms};

/// `users.disabled` of an account an administrator disabled.
pub const DISABLED_BY_ADMIN: i64 = 1;
/// `users.disabled` of a directory account a login found without a mapped group,
/// disabled or gone in the directory.
pub const DISABLED_BY_DIRECTORY: i64 = 2;
/// The `password_hash` of a directory account: not a PHC string, so no password matches.
pub const NO_PASSWORD: &str = "!directory";

/// What a directory login found about a person.
#[derive(Debug, Clone)]
pub struct DirectoryAccount<'a> {
    /// The name typed at login, as stored (lower case).
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    /// The entry's distinguished name.
    pub dn: &'a str,
}

/// The account after a directory login.
#[derive(Debug, Clone)]
pub struct DirectorySync {
    /// As stored now; `disabled` when an administrator disabled it.
    pub user: User,
    /// The account did not exist before this login.
    pub created: bool,
    /// The role it had, when the directory changed it.
    pub previous_role: Option<Role>,
}

/// The refusal to set a password on a directory account.
pub(crate) fn no_local_password(username: &str) -> StoreError {
    StoreError::Conflict(format!(
        "la cuenta {username:?} es del directorio del hospital: su contraseña se cambia en el \
         directorio, no en epicrisis"
    ))
}

impl Store {
    /// Creates or updates the directory account of a login: name, role and distinguished
    /// name as the directory says now; the directory's own disabling is lifted.
    /// `Conflict` when the name is a local account's (the directory never takes one over).
    pub async fn sync_directory_user(&self, a: &DirectoryAccount<'_>) -> Result<DirectorySync> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT id, role, source, disabled FROM users WHERE username = $1")
            .bind(a.username)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, created, previous_role) = match row {
            None => {
                let r = sqlx::query(
                    "INSERT INTO users (username, display_name, role, password_hash, disabled, \
                     created_at, source, directory_dn) VALUES ($1, $2, $3, $4, 0, $5, $6, $7) \
                     RETURNING id",
                )
                .bind(a.username)
                .bind(a.display_name)
                .bind(a.role.as_str())
                .bind(NO_PASSWORD)
                .bind(now_ms())
                .bind(UserSource::Directory.as_str())
                .bind(a.dn)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match is_unique_violation(&e) {
                    // Another login of the same person created it a moment ago.
                    true => StoreError::Conflict(format!("the user {:?} exists", a.username)),
                    false => e.into(),
                })?;
                (r.try_get::<i64, _>("id")?, true, None)
            }
            Some(r) => {
                let source: String = r.try_get("source")?;
                if UserSource::parse(&source) != Some(UserSource::Directory) {
                    return Err(StoreError::Conflict(format!(
                        "el nombre {:?} es de una cuenta local de epicrisis, no del directorio",
                        a.username
                    )));
                }
                let id: i64 = r.try_get("id")?;
                let role: String = r.try_get("role")?;
                let before = Role::parse(&role).filter(|r| *r != a.role);
                update_directory_user(&mut tx, id, a).await?;
                (id, false, before)
            }
        };
        tx.commit().await?;
        let user = self
            .user(id)
            .await?
            .ok_or_else(|| StoreError::Db(format!("user {id} vanished after saving")))?;
        Ok(DirectorySync {
            user,
            created,
            previous_role,
        })
    }

    /// Disables a directory account because the directory no longer lets the person in
    /// (no mapped group, disabled or gone there): its sessions end and its API tokens are
    /// revoked. Whether it was enabled until now (false for an unknown name, a local
    /// account or one already disabled).
    pub async fn disable_directory_user(&self, username: &str) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE users SET disabled = $1 WHERE username = $2 AND source = $3 AND disabled = 0",
        )
        .bind(DISABLED_BY_DIRECTORY)
        .bind(username)
        .bind(UserSource::Directory.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let id = user_id_in(&mut tx, username).await?;
        end_access(&mut tx, id, None).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The directory's view of an existing directory account.
async fn update_directory_user(
    tx: &mut sqlx::Transaction<'static, sqlx::any::Any>,
    id: i64,
    a: &DirectoryAccount<'_>,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET display_name = $1, role = $2, directory_dn = $3, \
         disabled = CASE WHEN disabled = $4 THEN 0 ELSE disabled END WHERE id = $5",
    )
    .bind(a.display_name)
    .bind(a.role.as_str())
    .bind(a.dn)
    .bind(DISABLED_BY_DIRECTORY)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

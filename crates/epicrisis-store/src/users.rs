//! Users, their roles and their browser sessions (only hashes of the session secrets are
//! stored; API tokens are in [`tokens`](crate::tokens)).

use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyRow};
use sqlx::{Row, Transaction};

use crate::{Result, Store, StoreError, is_foreign_key_violation, is_unique_violation, now_ms};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Generates, edits, approves and signs.
    Medico,
    /// Views and exports.
    Administrativo,
    /// Manages users and settings.
    Admin,
}

impl Role {
    /// The role as a person reads it: «médico», «administrativo», «administrador».
    pub fn label_es(self) -> &'static str {
        match self {
            Role::Medico => "médico",
            Role::Administrativo => "administrativo",
            Role::Admin => "administrador",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Medico => "medico",
            Role::Administrativo => "administrativo",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "medico" | "médico" => Some(Role::Medico),
            "administrativo" => Some(Role::Administrativo),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Where an account's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// Here: an argon2id hash (`epicrisis users add`, the administration page).
    Local,
    /// The hospital's directory (LDAP / Active Directory), at each login; no password is
    /// kept or can be set here ([`crate::DirectoryAccount`]).
    Directory,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Local => "local",
            UserSource::Directory => "directory",
        }
    }

    pub fn parse(s: &str) -> Option<UserSource> {
        match s {
            "local" => Some(UserSource::Local),
            "directory" => Some(UserSource::Directory),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    /// Where the password is checked.
    pub source: UserSource,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub user_id: i64,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// `Conflict` when the user name exists.
    pub async fn add_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<User> {
        let exists = StoreError::Conflict(format!(
            "el usuario {username:?} ya existe / the user {username:?} exists"
        ));
        let result = sqlx::query(
            "INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) RETURNING id",
        )
        .bind(username)
        .bind(display_name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await;
        let id: i64 = match result {
            Ok(r) => r.try_get("id")?,
            Err(e) if is_unique_violation(&e) => return Err(exists),
            Err(e) => return Err(e.into()),
        };
        self.user(id)
            .await?
            .ok_or_else(|| StoreError::Db(format!("user {id} vanished after saving")))
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// By user name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("{USER_SELECT} ORDER BY u.username"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// Sets a password, ends the user's sessions but `keep_session` (the hash of the
    /// session that asked, when a person changed their own password) and revokes their
    /// API tokens: whoever knew the old password must not keep a way in. `NotFound` for
    /// an unknown user, `Conflict` for a directory account (its password is the
    /// directory's).
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = user_id_in(&mut tx, username).await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND source = $3")
            .bind(password_hash)
            .bind(id)
            .bind(UserSource::Local.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::directory::no_local_password(username));
        }
        end_access(&mut tx, id, keep_session).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disabling also ends the user's sessions and revokes their API tokens (enabling
    /// again does not bring them back). `NotFound` for an unknown user.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = user_id_in(&mut tx, username).await?;
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            end_access(&mut tx, id, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // --- sessions and tokens (only hashes of the secrets are stored)
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("the session token exists".to_string()))
            }
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::NotFound(format!("no user {user_id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the sessions that expired before `now`; returns how many.
    pub async fn prune_sessions(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The unexpired session and its (enabled) user.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(&format!(
            "SELECT s.user_id AS s_user_id, s.csrf, s.created_at AS s_created_at, s.expires_at, \
             {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let session = Session {
            user_id: r.try_get("s_user_id")?,
            csrf: r.try_get("csrf")?,
            created_at: r.try_get("s_created_at")?,
            expires_at: r.try_get("expires_at")?,
        };
        Ok(Some((session, user_row(&r)?)))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A user's id by name, inside a transaction; `NotFound` for an unknown user.
pub(crate) async fn user_id_in(tx: &mut Transaction<'static, Any>, username: &str) -> Result<i64> {
    let row = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => Ok(r.try_get("id")?),
        None => Err(no_user(username)),
    }
}

/// Ends every session of a user but `keep_session` and revokes their API tokens.
pub(crate) async fn end_access(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    keep_session: Option<&str>,
) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn no_user(username: &str) -> StoreError {
    StoreError::NotFound(format!("no user {username:?}"))
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, \
     u.password_hash, u.disabled, u.created_at, u.source";
const USER_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.role, u.password_hash, \
     u.disabled, u.created_at, u.source FROM users u";

pub(crate) fn user_row(r: &AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    let source: String = r.try_get("source")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Db(format!("unknown role {role:?} in the database")))?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
        source: UserSource::parse(&source).ok_or_else(|| {
            StoreError::Db(format!("unknown account source {source:?} in the database"))
        })?,
    })
}

//! API tokens for integrations: only their SHA-256 is stored; each has an owner, a name
//! that says what it is for, a creation time, an expiry and, once revoked, the time of
//! revocation. A token works while it is unrevoked, unexpired and its owner enabled.
//!
//! Tokens made before expiry existed got 90 days from the migration that added it
//! (`migrations/*/0004_token_expiry.sql`). Changing a user's password or disabling the
//! account revokes every token of theirs ([`Store::set_password`],
//! [`Store::set_disabled`]); revoked and expired rows stay, so the list and the audit
//! trail keep their history.

use crate::{
    Result, Store, StoreError, USER_COLUMNS, User, is_foreign_key_violation, is_unique_violation,
    now_ms, user_row,
};
use serde::Serialize;
use sqlx::Row;

/// The default lifetime of a new token, in days.
pub const TOKEN_DAYS: i64 = 90;

/// One API token as listed (never the secret, which is not stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    /// Whether the token would be accepted at `now` (its owner's account aside).
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

impl Store {
    /// Stores a token's hash for a user, valid until `expires_at` (Unix ms); returns the
    /// token's id. `Conflict` when the hash exists, `NotFound` for an unknown user.
    pub async fn add_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<i64> {
        let result = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(r) => Ok(r.try_get("id")?),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("the API token exists".to_string()))
            }
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::NotFound(format!("no user {user_id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The enabled user owning a token that is unrevoked and unexpired at `now`.
    pub async fn api_token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// Every token of one user (`Some(id)`) or of everybody, newest first.
    pub async fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT t.id, u.username, t.name, t.created_at, t.expires_at, t.revoked_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE $1 < 0 OR t.user_id = $1 ORDER BY t.id DESC",
        )
        .bind(user_id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes a token (of `owner` only, when given). Revoking a revoked token changes
    /// nothing; `NotFound` when there is no such token (or it is someone else's).
    pub async fn revoke_api_token(&self, id: i64, owner: Option<i64>) -> Result<ApiToken> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT user_id FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let user: Option<i64> = row.map(|r| r.try_get("user_id")).transpose()?;
        if user.is_none() || owner.is_some_and(|o| Some(o) != user) {
            return Err(StoreError::NotFound(format!("no API token {id}")));
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.api_tokens(user)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no API token {id}")))
    }
}

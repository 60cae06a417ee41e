//! Batches: a day's discharges drafted together (`migrations/*/0006_draft_jobs.sql`). A
//! batch is a name and a list of episodes in order, each with the draft job that drafts
//! it — or none, when the episode was signed already or already had a draft of its
//! current data. The state of each episode is read from its job and its versions by the
//! caller; the store keeps only the links.

use crate::{Result, Store, StoreError, now_ms};
use serde::Serialize;
use sqlx::Row;

/// A batch as stored.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRow {
    pub id: String,
    pub name: String,
    pub created_by: i64,
    pub created_at: i64,
}

/// One episode of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchItem {
    pub episode_id: String,
    pub job_id: Option<String>,
}

impl Store {
    /// A new, empty batch; its id is 16 hex digits.
    pub async fn create_batch(&self, name: &str, created_by: i64) -> Result<BatchRow> {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| StoreError::Db(format!("no randomness for a batch id: {e}")))?;
        let row = BatchRow {
            id: hex::encode(bytes),
            name: name.to_string(),
            created_by,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO draft_batches (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.created_by)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(row)
    }

    /// Adds an episode at the end of a batch, or changes its job when it is in it already
    /// (a batch run again drafts again what failed).
    pub async fn put_batch_item(
        &self,
        batch_id: &str,
        episode_id: &str,
        job_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query(
            "SELECT episode_id FROM draft_batch_items WHERE batch_id = $1 AND episode_id = $2",
        )
        .bind(batch_id)
        .bind(episode_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if exists {
            sqlx::query(
                "UPDATE draft_batch_items SET job_id = $3 WHERE batch_id = $1 AND episode_id = $2",
            )
            .bind(batch_id)
            .bind(episode_id)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO draft_batch_items (batch_id, position, episode_id, job_id) \
                 VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM draft_batch_items \
                 WHERE batch_id = $1), $2, $3)",
            )
            .bind(batch_id)
            .bind(episode_id)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn batch(&self, id: &str) -> Result<Option<BatchRow>> {
        let row =
            sqlx::query("SELECT id, name, created_by, created_at FROM draft_batches WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| batch_row(&r)).transpose()
    }

    /// The newest batches first.
    pub async fn batches(&self, limit: i64) -> Result<Vec<BatchRow>> {
        let rows = sqlx::query(
            "SELECT id, name, created_by, created_at FROM draft_batches \
             ORDER BY created_at DESC, id LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(batch_row).collect()
    }

    /// A batch's episodes, in the order they were added.
    pub async fn batch_items(&self, batch_id: &str) -> Result<Vec<BatchItem>> {
        let rows = sqlx::query(
            "SELECT episode_id, job_id FROM draft_batch_items WHERE batch_id = $1 \
             ORDER BY position",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BatchItem {
                    episode_id: r.try_get("episode_id")?,
                    job_id: r.try_get("job_id")?,
                })
            })
            .collect()
    }
}

fn batch_row(r: &sqlx::any::AnyRow) -> Result<BatchRow> {
    Ok(BatchRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

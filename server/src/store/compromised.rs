//! The compromised-password list: one row describing it and its filter's bytes in chunks
//! (a few MiB each, well under any database's limit for one value).

use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionTrait as _,
};
use uuid::Uuid;

use super::entities::{compromised_list, compromised_list_chunk};
use super::{Store, StoreResult};

/// The description of a stored list.
pub type CompromisedListRow = compromised_list::Model;

/// Bytes of filter per chunk row.
const CHUNK_BYTES: usize = 4 << 20;

impl Store {
    /// Stores a list and its filter bytes, and removes every older list, in one transaction:
    /// replicas see the old list or the new one, never a part.
    pub async fn replace_compromised_list(
        &self,
        mut row: CompromisedListRow,
        filter: &[u8],
    ) -> StoreResult<()> {
        let chunks: Vec<&[u8]> = filter.chunks(CHUNK_BYTES).collect();
        row.chunks = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
        let id = row.id;
        let tx = self.conn().begin().await?;
        compromised_list_chunk::Entity::delete_many()
            .exec(&tx)
            .await?;
        compromised_list::Entity::delete_many().exec(&tx).await?;
        compromised_list::Entity::insert(compromised_list::ActiveModel::from(row))
            .exec_without_returning(&tx)
            .await?;
        for (idx, bytes) in chunks.into_iter().enumerate() {
            compromised_list_chunk::Entity::insert(compromised_list_chunk::ActiveModel {
                list_id: Set(id),
                idx: Set(i32::try_from(idx).unwrap_or(i32::MAX)),
                bytes: Set(bytes.to_vec()),
            })
            .exec_without_returning(&tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The id of the newest stored list, if any.
    pub async fn newest_compromised_list(&self) -> StoreResult<Option<Uuid>> {
        Ok(compromised_list::Entity::find()
            .select_only()
            .column(compromised_list::Column::Id)
            .order_by_desc(compromised_list::Column::CreatedAt)
            .into_tuple()
            .one(self.conn())
            .await?)
    }

    /// The stored list's description.
    pub async fn compromised_list(&self, id: Uuid) -> StoreResult<Option<CompromisedListRow>> {
        Ok(compromised_list::Entity::find_by_id(id)
            .one(self.conn())
            .await?)
    }

    /// A list's filter bytes, its chunks joined in order.
    pub async fn compromised_list_bytes(&self, id: Uuid) -> StoreResult<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut idx = 0;
        // One chunk at a time, so a large filter is never held twice over in rows.
        while let Some(chunk) = compromised_list_chunk::Entity::find()
            .filter(compromised_list_chunk::Column::ListId.eq(id))
            .filter(compromised_list_chunk::Column::Idx.eq(idx))
            .one(self.conn())
            .await?
        {
            bytes.extend_from_slice(&chunk.bytes);
            idx += 1;
        }
        Ok(bytes)
    }
}

//! The writes of the API (create, patch, clear, restore) over any [`ChatStore`]: the access
//! rule first ([`crate::access`]), lost races retried, and the rules of docs/api.md that do not
//! depend on the database. Reading the history is in [`crate::reads`].

use chrono::Utc;
use serde::Serialize;
use tracing::instrument;

use crate::access::open_chat;
use crate::auth::Caller;
use crate::deps::Deps;
use crate::error::ApiError;
use crate::fingerprint::fingerprint;
use crate::ids::{JobId, MessageId};
use crate::limits::MAX_METADATA_BYTES;
use crate::model::{IfMatch, Message, MessagePatch, NewMessage};
use crate::store::retry::{contended, Attempt};
use crate::store::{
    Change, ChatStore, ClearOutcome, CreateOutcome, MessageRef, PatchOutcome, RestoreOutcome,
};
use crate::timestamps::{format_timestamp, next_timestamp};

#[derive(Debug, Serialize)]
pub struct Created {
    pub message_id: MessageId,
    pub timestamp: String,
    #[serde(skip)]
    pub replayed: bool,
}

#[derive(Debug, Serialize)]
pub struct Cleared {
    pub deleted_count: u64,
}

#[derive(Debug, Serialize)]
pub struct Restored {
    pub restored_count: u64,
}

/// A restore needs this much retention left, so the sweep can take the expiry off the
/// restored items well before DynamoDB TTL would purge them.
const RESTORE_MARGIN_SECONDS: i64 = 3600;

/// A unique id for one request's write, so a retry whose answer was lost can recognise it.
fn write_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[instrument(skip_all, fields(job_id = %job_id, message_id = %new.message_id))]
pub async fn create<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    new: NewMessage,
) -> Result<Created, ApiError> {
    let fingerprint = fingerprint(&new);
    let template = Message {
        message_id: new.message_id,
        role: new.role,
        content: new.content,
        timestamp: String::new(),
        metadata: new.metadata,
        version: 1,
        status: new.status,
        updated_at: String::new(),
    };
    let fingerprint = &fingerprint;
    let created = contended::<_, ApiError, _>(|| {
        let mut message = template.clone();
        async move {
            let (chat, _) = open_chat(deps, caller, job_id, None).await?;
            message.timestamp = next_timestamp(chat.head.last_timestamp.as_deref(), Utc::now());
            message.updated_at.clone_from(&message.timestamp);
            Ok(
                match deps.store.create(&chat, &message, fingerprint).await? {
                    CreateOutcome::Created => Attempt::Done(Created {
                        message_id: message.message_id,
                        timestamp: message.timestamp,
                        replayed: false,
                    }),
                    CreateOutcome::Existing {
                        timestamp,
                        same: true,
                    } => Attempt::Done(Created {
                        message_id: message.message_id,
                        timestamp,
                        replayed: true,
                    }),
                    CreateOutcome::Existing { same: false, .. } => {
                        return Err(ApiError::MessageIdConflict)
                    }
                    CreateOutcome::ChatMoved => Attempt::Lost,
                },
            )
        }
    })
    .await?;
    created.ok_or_else(|| gave_up("create"))
}

#[instrument(skip_all, fields(job_id = %job_id))]
pub async fn clear<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
) -> Result<Cleared, ApiError> {
    let clear_id = write_id();
    let clear_id = clear_id.as_str();
    let cleared = contended::<_, ApiError, _>(|| async move {
        let (chat, _) = open_chat(deps, caller, job_id, None).await?;
        let retention = i64::from(deps.settings.retention_days) * 86_400;
        let expires_at = Utc::now().timestamp() + retention;
        Ok(match deps.store.clear(&chat, expires_at, clear_id).await? {
            ClearOutcome::Cleared(deleted_count) => Attempt::Done(deleted_count),
            ClearOutcome::ChatMoved => Attempt::Lost,
        })
    })
    .await?;
    let deleted_count = cleared.ok_or_else(|| gave_up("clear"))?;
    crate::metrics::record("ClearedMessages", deleted_count as f64);
    Ok(Cleared { deleted_count })
}

#[instrument(skip_all, fields(job_id = %job_id))]
pub async fn restore<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
) -> Result<Restored, ApiError> {
    let restore_id = write_id();
    let restore_id = restore_id.as_str();
    let restored = contended::<_, ApiError, _>(|| async move {
        let (chat, _) = open_chat(deps, caller, job_id, None).await?;
        let clear = chat
            .head
            .last_clear
            .as_ref()
            .filter(|clear| clear.counts.total > 0)
            .filter(|clear| Utc::now().timestamp() + RESTORE_MARGIN_SECONDS < clear.expires_at)
            .ok_or(ApiError::NothingToRestore)?;
        if clear.id_reused {
            return Err(ApiError::MessageIdConflict);
        }
        Ok(match deps.store.restore(&chat, restore_id).await? {
            RestoreOutcome::Restored(restored_count) => Attempt::Done(restored_count),
            RestoreOutcome::ChatMoved => Attempt::Lost,
        })
    })
    .await?;
    let restored_count = restored.ok_or_else(|| gave_up("restore"))?;
    Ok(Restored { restored_count })
}

/// Read-only fields a PATCH body repeats must equal the stored ones.
fn check_echoed(target: &MessageRef, patch: &MessagePatch) -> Result<(), ApiError> {
    let echoed = &patch.echoed;
    let mut changed = serde_json::Map::new();
    if echoed
        .message_id
        .as_ref()
        .is_some_and(|id| id.as_str() != target.message_id.as_str())
    {
        changed.insert(
            "message_id".into(),
            "is read-only and cannot be changed".into(),
        );
    }
    if echoed.role.is_some_and(|role| role != target.role) {
        changed.insert("role".into(), "is read-only and cannot be changed".into());
    }
    if echoed
        .timestamp
        .as_ref()
        .is_some_and(|t| *t != target.timestamp)
    {
        changed.insert(
            "timestamp".into(),
            "is read-only and cannot be changed".into(),
        );
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation { details: changed })
    }
}

#[instrument(skip_all, fields(job_id = %job_id, message_id = %message_id, if_match = ?if_match))]
pub async fn patch<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    message_id: &MessageId,
    patch: &MessagePatch,
    if_match: IfMatch,
) -> Result<Message, ApiError> {
    let write_id = write_id();
    let (write_id, if_match) = (write_id.as_str(), &if_match);
    let patched = contended::<_, ApiError, _>(|| async move {
        let (chat, target) = open_chat(deps, caller, job_id, Some(message_id)).await?;
        let target = target
            .filter(|t| chat.head.is_visible(t.generation))
            .ok_or(ApiError::MessageNotFound)?;
        check_echoed(&target, patch)?;
        let change = Change {
            patch,
            if_match: if_match.clone(),
            now: format_timestamp(Utc::now()),
            write_id: write_id.to_owned(),
        };
        match deps.store.patch(&chat, &target, &change).await? {
            PatchOutcome::Patched(message) => Ok(Attempt::Done(message)),
            PatchOutcome::NotFound => Err(ApiError::MessageNotFound),
            PatchOutcome::VersionMismatch(current_version) => {
                Err(ApiError::PreconditionFailed { current_version })
            }
            PatchOutcome::MetadataTooLarge => Err(ApiError::PayloadTooLarge {
                field: "metadata",
                limit: MAX_METADATA_BYTES,
            }),
            PatchOutcome::Contended => Ok(Attempt::Lost),
        }
    })
    .await?;
    patched.ok_or_else(|| gave_up("patch"))
}

/// Every attempt lost its race with other writers of the chat: the client may try later.
fn gave_up(operation: &'static str) -> ApiError {
    tracing::warn!(operation, "kept losing races with other writers; giving up");
    ApiError::ServiceUnavailable
}

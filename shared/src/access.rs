//! The access rule: who may use a job's chat. Every read and write of the domain opens the chat
//! here first; the store's own [`ChatStore::read_chat`] reads without checking anything.

use crate::auth::Caller;
use crate::deps::Deps;
use crate::error::ApiError;
use crate::ids::{JobId, MessageId};
use crate::store::{Chat, ChatStore, MessageRef};

/// The chat of a job the caller may use (and where `message_id` lives, if asked), in one
/// round trip. Others get the very answer an unknown job gets, and nothing of the chat that
/// was read with the job reaches them.
pub(crate) async fn open_chat<S: ChatStore>(
    deps: &Deps<S>,
    caller: &Caller,
    job_id: &JobId,
    message_id: Option<&MessageId>,
) -> Result<(Chat, Option<MessageRef>), ApiError> {
    let opened = deps.store.read_chat(job_id, message_id).await?;
    let job = opened.job.ok_or(ApiError::JobNotFound)?;
    if !caller.may_use(&job, &deps.settings.staff_group) {
        tracing::info!("caller may not use this job");
        return Err(ApiError::JobNotFound);
    }
    let chat = Chat {
        job,
        head: opened.head?,
    };
    Ok((chat, opened.target?))
}

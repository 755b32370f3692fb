//! PATCH: one conditional `UpdateItem` on the message, found through the id lookup that
//! `reads::chat` read with the job; `If-Match` becomes a condition on its version. A lost race
//! is reported, not retried here (`retry::contended`). Metadata merges key by key
//! (`SET`/`REMOVE`), so concurrent PATCHes never overwrite each other's keys and need no read;
//! only a PATCH that may push metadata past its limit (or names very many keys) reads the
//! message and writes it whole.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::errors::{update_failed, UpdateFailed};
use super::items::{
    from_item, metadata_attribute_name, metadata_entry_bytes, n, s, Item, MessageItem,
};
use super::DynamoStore;
use crate::error::StoreError;
use crate::limits::MAX_METADATA_BYTES;
use crate::model::{metadata_to_string, IfMatch, MessagePatch, Metadata};
use crate::store::{Change, Chat, MessageRef, PatchOutcome};

/// Most metadata keys one key-by-key update names (DynamoDB caps an expression at 4 KB).
const MAX_KEYS_PER_UPDATE: usize = 64;

/// How the metadata part of a PATCH is written.
enum MetadataWrite {
    /// Key by key, provided the stored size bound leaves room for what the PATCH adds.
    Keyed,
    /// The whole merged object, provided the message still has the version it was merged from.
    Whole { merged: Metadata, seen_version: u64 },
}

/// An `UpdateItem` expression under construction.
#[derive(Default)]
struct Expression {
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Expression {
    fn name(&mut self, placeholder: &str, attribute: &str) -> String {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
        placeholder.to_owned()
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }

    fn update(&self) -> String {
        let mut text = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            text.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        text
    }
}

fn plan(patch: &MessagePatch, change: &Change<'_>, write: &MetadataWrite) -> Expression {
    let mut e = Expression::default();
    let wid = e.value(":write_id", s(&change.write_id));
    let write_id = e.name("#write_id", "write_id");
    let version = e.name("#version", "version");
    let one = e.value(":one", n(1));
    e.set.push(format!("{write_id} = {wid}"));
    e.set.push(format!("{version} = {version} + {one}"));
    let updated_at = e.name("#updated_at", "updated_at");
    let now = e.value(":now", s(&change.now));
    e.set.push(format!("{updated_at} = {now}"));
    if let Some(content) = &patch.content {
        let name = e.name("#content", "content");
        let value = e.value(":content", s(content));
        e.set.push(format!("{name} = {value}"));
    }
    if let Some(status) = patch.status {
        let name = e.name("#status", "status");
        let value = e.value(":status", s(status.as_str()));
        e.set.push(format!("{name} = {value}"));
    }
    e.conditions.push("attribute_exists(sk)".to_owned());
    e.conditions.push(format!("{write_id} <> {wid}"));
    match write {
        MetadataWrite::Keyed => {
            let mut added = 0u64;
            for (i, (key, value)) in patch.metadata.iter().flatten().enumerate() {
                let metadata = e.name("#metadata", "metadata");
                let key_name = e.name(&format!("#m{i}"), &metadata_attribute_name(key));
                match value {
                    Some(value) => {
                        added += metadata_entry_bytes(key, value);
                        let v = e.value(&format!(":m{i}"), s(value.get()));
                        e.set.push(format!("{metadata}.{key_name} = {v}"));
                    }
                    None => e.remove.push(format!("{metadata}.{key_name}")),
                }
            }
            if added > 0 {
                let bytes = e.name("#metadata_bytes", "metadata_bytes");
                let added_value = e.value(":added", n(added));
                e.set.push(format!("{bytes} = {bytes} + {added_value}"));
                let budget = (MAX_METADATA_BYTES as u64).saturating_sub(added);
                let budget = e.value(":budget", n(budget));
                e.conditions.push(format!("{bytes} <= {budget}"));
            }
            // What each `If-Match` asks of the stored version.
            let expected: &[u64] = match &change.if_match {
                // No condition on the version.
                IfMatch::Any => &[],
                // One of them.
                IfMatch::Versions(versions) => versions,
                // None: versions start at 1, so only 0 is asked for, which no message has.
                IfMatch::Never => &[0],
            };
            if !expected.is_empty() {
                let listed: Vec<String> = expected
                    .iter()
                    .enumerate()
                    .map(|(i, v)| e.value(&format!(":expected{i}"), n(*v)))
                    .collect();
                e.conditions
                    .push(format!("{version} IN ({})", listed.join(", ")));
            }
        }
        MetadataWrite::Whole {
            merged,
            seen_version,
        } => {
            let metadata = e.name("#metadata", "metadata");
            let bytes = e.name("#metadata_bytes", "metadata_bytes");
            let map = merged
                .iter()
                .map(|(k, v)| (metadata_attribute_name(k), s(v.get())))
                .collect();
            let whole = e.value(":metadata", AttributeValue::M(map));
            e.set.push(format!("{metadata} = {whole}"));
            let exact = e.value(":exact", n(metadata_to_string(merged).len()));
            e.set.push(format!("{bytes} = {exact}"));
            let seen = e.value(":seen", n(*seen_version));
            e.conditions.push(format!("{version} = {seen}"));
        }
    }
    e
}

enum Attempt {
    Done(PatchOutcome),
    /// The condition failed; the message as it is now.
    Seen(Option<Item>),
    Conflict,
}

pub(super) async fn apply(
    store: &DynamoStore,
    chat: &Chat,
    target: &MessageRef,
    change: &Change<'_>,
) -> Result<PatchOutcome, StoreError> {
    let keyed = change
        .patch
        .metadata
        .as_ref()
        .is_none_or(|m| m.len() <= MAX_KEYS_PER_UPDATE);
    let seen = if keyed {
        match try_update(store, chat, target, change, &MetadataWrite::Keyed).await? {
            Attempt::Done(outcome) => return Ok(outcome),
            Attempt::Seen(item) => item,
            Attempt::Conflict => return Ok(PatchOutcome::Contended),
        }
    } else {
        super::reads::message_item(store, chat, target).await?
    };
    let Some(item) = seen else {
        return Ok(PatchOutcome::NotFound);
    };
    let stored: MessageItem = from_item(item)?;
    if stored.write_id == change.write_id {
        // Our own write, whose answer was lost and whose retry met it.
        return Ok(PatchOutcome::Patched(stored.into_stored()?.message));
    }
    if !change.if_match.allows(stored.version) {
        return Ok(PatchOutcome::VersionMismatch(stored.version));
    }
    let seen_version = stored.version;
    let merged = change
        .patch
        .merge_metadata(stored.into_stored()?.message.metadata);
    if metadata_to_string(&merged).len() > MAX_METADATA_BYTES {
        return Ok(PatchOutcome::MetadataTooLarge);
    }
    let whole = MetadataWrite::Whole {
        merged,
        seen_version,
    };
    // One write of the merged whole; if another writer changed the message meanwhile, the
    // domain's one retry loop (`retry::contended`) reads again and starts over.
    match try_update(store, chat, target, change, &whole).await? {
        Attempt::Done(outcome) => Ok(outcome),
        Attempt::Seen(_) | Attempt::Conflict => Ok(PatchOutcome::Contended),
    }
}

async fn try_update(
    store: &DynamoStore,
    chat: &Chat,
    target: &MessageRef,
    change: &Change<'_>,
    metadata: &MetadataWrite,
) -> Result<Attempt, StoreError> {
    let e = plan(change.patch, change, metadata);
    let result = store
        .client
        .update_item()
        .table_name(&store.messages_table)
        .set_key(Some(store.key(chat.job.job_id.as_str(), &target.sort_key)))
        .update_expression(e.update())
        .condition_expression(e.conditions.join(" AND "))
        .set_expression_attribute_names(Some(e.names))
        .set_expression_attribute_values(Some(e.values))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(out) => {
            let item: MessageItem = from_item(out.attributes.unwrap_or_default())?;
            Ok(Attempt::Done(PatchOutcome::Patched(
                item.into_stored()?.message,
            )))
        }
        Err(err) => match update_failed(err) {
            UpdateFailed::Condition(item) => Ok(Attempt::Seen(item)),
            UpdateFailed::Conflict => Ok(Attempt::Conflict),
            UpdateFailed::Other(err) => Err(err),
        },
    }
}

//! The bare twin of each operation: the minimum requests our schema needs (docs/schema.md),
//! sent with a plain SDK client (default retries; no interceptor, but the meter when counted)
//! and nothing else — no validation, access rule, fingerprint, cursor, metrics or lost-race
//! handling. The twins write
//! chats of their own (same item shapes and sizes, fewer attributes) and read ours.
//!
//! Each answer's consumed capacity is kept by kind, because the meter only sums it: the read
//! units of a twin are the read units of our operation (same reads of same-sized items), which
//! splits our total into reads and writes for the cost model.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValue,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use shared::store::dynamo::DynamoStore;
use shared::store::keys::HEAD;

type Item = HashMap<String, AttributeValue>;

/// Capacity units by what DynamoDB charges them as.
#[derive(Clone, Copy, Debug, Default)]
pub struct Units {
    pub read: f64,
    pub write: f64,
    /// Writes inside `TransactWriteItems`: AWS charges them twice, DynamoDB Local once.
    pub transactional: f64,
}

/// A head of the twin's own inside one of our cleared chats (a copy of ours): the twin clears
/// and restores a chat of the same partition size as ours (DynamoDB Local's writes slow down as
/// a partition grows) without touching our head, and no chat of its own is seeded.
pub const TWIN_HEAD: &str = "#TWIN";

pub struct Bare {
    client: Client,
    messages: String,
    jobs: String,
    units: Mutex<Units>,
}

/// The head attributes the twins need.
struct Head {
    generation: u64,
    visible_from: u64,
    last_timestamp: Option<String>,
    message_count: u64,
    clear_id: Option<String>,
    cleared_from: u64,
    cleared_count: u64,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
        _ => 0,
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

fn units(consumed: Option<&[ConsumedCapacity]>) -> f64 {
    consumed
        .unwrap_or_default()
        .iter()
        .filter_map(ConsumedCapacity::capacity_units)
        .sum()
}

impl Bare {
    /// A plain client on `ours`'s tables; `metered`, it carries the meter our client carries,
    /// to count what the twin asks of DynamoDB (it changes nothing the twin sends).
    pub async fn new(endpoint: &str, ours: &DynamoStore, metered: bool) -> Bare {
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::v2026_01_12())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"));
        if metered {
            config = config.interceptor(shared::metrics::DynamoMeter);
        }
        Bare {
            client: Client::from_conf(config.build()),
            messages: ours.messages_table().to_owned(),
            jobs: ours.jobs_table().to_owned(),
            units: Mutex::new(Units::default()),
        }
    }

    /// Units consumed since the last call, by kind.
    pub fn take_units(&self) -> Units {
        std::mem::take(&mut *self.units.lock().expect("units lock"))
    }

    fn add(&self, kind: fn(&mut Units) -> &mut f64, amount: f64) {
        *kind(&mut self.units.lock().expect("units lock")) += amount;
    }

    fn key(&self, job: &str, sk: &str) -> Item {
        HashMap::from([("job_id".to_owned(), s(job)), ("sk".to_owned(), s(sk))])
    }

    /// One `BatchGetItem` of the job, the head (`head`: its sort key) and a lookup.
    async fn open(&self, job: &str, head_sk: &str, lookup: Option<&str>) -> (Head, Option<Item>) {
        let mut keys = vec![self.key(job, head_sk)];
        if let Some(id) = lookup {
            keys.push(self.key(job, &format!("I#{id}")));
        }
        let read = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .expect("keys given");
        let read_job = KeysAndAttributes::builder()
            .keys(HashMap::from([("job_id".to_owned(), s(job))]))
            .projection_expression("job_id, owner_id, member_ids")
            .consistent_read(true)
            .build()
            .expect("key given");
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.messages, read)
            .request_items(&self.jobs, read_job)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare BatchGetItem");
        self.add(|u| &mut u.read, units(out.consumed_capacity.as_deref()));
        let items = out
            .responses
            .unwrap_or_default()
            .remove(&self.messages)
            .unwrap_or_default();
        let mut head = Item::new();
        let mut found = None;
        for item in items {
            if text(&item, "sk").as_deref() == Some(head_sk) {
                head = item;
            } else {
                found = Some(item);
            }
        }
        let head = Head {
            generation: number(&head, "generation"),
            visible_from: number(&head, "visible_from"),
            last_timestamp: text(&head, "last_timestamp"),
            message_count: number(&head, "message_count"),
            clear_id: text(&head, "clear_id"),
            cleared_from: number(&head, "cleared_from"),
            cleared_count: number(&head, "cleared_count"),
        };
        (head, found)
    }

    /// The visible messages, one `Query` per 1 MB page (or `limit` of them, newest first).
    async fn query(&self, job: &str, head: &Head, limit: Option<i32>) -> usize {
        let mut start = None;
        let mut count = 0;
        loop {
            let out = self.query_page(job, head, limit, start).await;
            count += out.items.map_or(0, |items| items.len());
            start = out.last_evaluated_key;
            if start.is_none() || limit.is_some() {
                return count;
            }
        }
    }

    /// One `Query` page of the visible messages from `start`.
    async fn query_page(
        &self,
        job: &str,
        head: &Head,
        limit: Option<i32>,
        start: Option<Item>,
    ) -> QueryOutput {
        let out = self
            .client
            .query()
            .table_name(&self.messages)
            .key_condition_expression("job_id = :job AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":job", s(job))
            .expression_attribute_values(":low", s(&format!("M#{:010}#", head.visible_from)))
            .expression_attribute_values(":high", s(&format!("M#{:010}#~", head.generation)))
            .consistent_read(true)
            .set_limit(limit)
            .scan_index_forward(limit.is_none())
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare Query");
        self.add(
            |u| &mut u.read,
            units(out.consumed_capacity.as_ref().map(std::slice::from_ref)),
        );
        out
    }

    /// The whole visible history in the responses an export must give (the API caps one at
    /// 5 MB): each of `responses` messages (ours' split, so both do the same work) reads the
    /// job and the head again, then pages on after the last message the previous one sent.
    pub async fn export(&self, job: &str, responses: &[usize]) -> usize {
        let mut after: Option<Item> = None;
        let mut count = 0;
        for &wanted in responses {
            let (head, _) = self.open(job, HEAD, None).await;
            let mut sent = 0;
            let mut start = after.take();
            while sent < wanted {
                let out = self.query_page(job, &head, None, start).await;
                start = out.last_evaluated_key;
                let items = out.items.unwrap_or_default();
                let taken = items.len().min(wanted - sent);
                sent += taken;
                if let Some(last) = taken.checked_sub(1).and_then(|i| text(&items[i], "sk")) {
                    after = Some(self.key(job, &last));
                }
                if start.is_none() {
                    break;
                }
            }
            count += sent;
        }
        count
    }

    /// The whole visible history (list and export read the same pages).
    pub async fn list(&self, job: &str) -> usize {
        let (head, _) = self.open(job, HEAD, None).await;
        self.query(job, &head, None).await
    }

    /// A follower's poll when nothing is new: the job, the head and the newest message's
    /// lookup in one `BatchGetItem` (the head tells whether anything changed).
    pub async fn poll_idle(&self, job: &str, newest: &str) {
        self.open(job, HEAD, Some(newest)).await;
    }

    /// A follower's poll while `id` streams: the message through its lookup (its version),
    /// then the idle poll.
    pub async fn poll_streaming(&self, job: &str, id: &str) -> u64 {
        let (_, lookup) = self.open(job, HEAD, Some(id)).await;
        let sk = lookup
            .and_then(|item| text(&item, "message_sk"))
            .expect("the lookup names its message");
        let out = self
            .client
            .get_item()
            .table_name(&self.messages)
            .set_key(Some(self.key(job, &sk)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare GetItem");
        self.add(
            |u| &mut u.read,
            units(out.consumed_capacity.as_ref().map(std::slice::from_ref)),
        );
        let version = number(&out.item.unwrap_or_default(), "version");
        self.poll_idle(job, id).await;
        version
    }

    /// The counters are on the head; the preview is the newest message.
    pub async fn summary(&self, job: &str) -> u64 {
        let (head, _) = self.open(job, HEAD, None).await;
        self.query(job, &head, Some(1)).await;
        head.message_count
    }

    /// One `TransactWriteItems`: the head (timestamp, counter), the id lookup, the message.
    pub async fn create(&self, job: &str, id: &str, content: &str) {
        let (head, _) = self.open(job, HEAD, None).await;
        let timestamp =
            shared::timestamps::next_timestamp(head.last_timestamp.as_deref(), Utc::now());
        let message_sk = format!("M#{:010}#{timestamp}#{id}", head.generation);
        let head_update = Update::builder()
            .table_name(&self.messages)
            .set_key(Some(self.key(job, HEAD)))
            .update_expression(
                "SET last_timestamp = :ts, generation = if_not_exists(generation, :zero), \
                 visible_from = if_not_exists(visible_from, :zero) ADD message_count :one",
            )
            .condition_expression("attribute_not_exists(last_timestamp) OR last_timestamp < :ts")
            .expression_attribute_values(":ts", s(&timestamp))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("head update");
        let lookup = HashMap::from([
            ("job_id".to_owned(), s(job)),
            ("sk".to_owned(), s(&format!("I#{id}"))),
            ("message_sk".to_owned(), s(&message_sk)),
            ("generation".to_owned(), n(head.generation)),
            ("timestamp".to_owned(), s(&timestamp)),
        ]);
        let message = HashMap::from([
            ("job_id".to_owned(), s(job)),
            ("sk".to_owned(), s(&message_sk)),
            ("message_id".to_owned(), s(id)),
            ("role".to_owned(), s("assistant")),
            ("content".to_owned(), s(content)),
            ("timestamp".to_owned(), s(&timestamp)),
            ("version".to_owned(), n(1)),
        ]);
        let put = |item| {
            Put::builder()
                .table_name(&self.messages)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(sk)")
                .build()
                .expect("put")
        };
        let out = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(head_update).build())
            .transact_items(TransactWriteItem::builder().put(put(lookup)).build())
            .transact_items(TransactWriteItem::builder().put(put(message)).build())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare TransactWriteItems");
        self.add(
            |u| &mut u.transactional,
            units(out.consumed_capacity.as_deref()),
        );
    }

    /// The lookup says where the message is; one conditional `UpdateItem` returns it whole.
    /// Returns the new version.
    pub async fn patch(&self, job: &str, id: &str, content: &str, version: Option<u64>) -> u64 {
        let (_, lookup) = self.open(job, HEAD, Some(id)).await;
        let lookup = lookup.expect("the twin's message exists");
        let message_sk = text(&lookup, "message_sk").expect("lookup names its message");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.messages)
            .set_key(Some(self.key(job, &message_sk)))
            .update_expression(
                "SET content = :content, updated_at = :now, version = version + :one",
            )
            .expression_attribute_values(":content", s(content))
            .expression_attribute_values(
                ":now",
                s(&shared::timestamps::format_timestamp(Utc::now())),
            )
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        update = match version {
            Some(version) => update
                .condition_expression("version = :version")
                .expression_attribute_values(":version", n(version)),
            None => update.condition_expression("attribute_exists(sk)"),
        };
        let out = update.send().await.expect("bare UpdateItem");
        self.add(
            |u| &mut u.write,
            units(out.consumed_capacity.as_ref().map(std::slice::from_ref)),
        );
        out.attributes
            .as_ref()
            .map_or(0, |item| number(item, "version"))
    }

    /// One conditional `UpdateItem` of the head moves the visible generations past the chat.
    /// Clears the chat whose head is the item `head_sk` of `job` (see [`TWIN_HEAD`]).
    pub async fn clear(&self, job: &str, head_sk: &str) {
        let (head, _) = self.open(job, head_sk, None).await;
        let out = self
            .client
            .update_item()
            .table_name(&self.messages)
            .set_key(Some(self.key(job, head_sk)))
            .update_expression(
                "SET generation = :next, visible_from = :next, cleared_from = :from, \
                 cleared_to = :generation, cleared_count = :count, message_count = :zero, \
                 clear_id = :id, sweep_due = :due",
            )
            .condition_expression("attribute_not_exists(generation) OR generation = :generation")
            .expression_attribute_values(":next", n(head.generation + 1))
            .expression_attribute_values(":generation", n(head.generation))
            .expression_attribute_values(":from", n(head.visible_from))
            .expression_attribute_values(":count", n(head.message_count))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":id", s(&uuid::Uuid::new_v4().simple().to_string()))
            // Not the sweep's value: what the twins clear must stay out of the sweep's work.
            .expression_attribute_values(":due", s("bare"))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare clear");
        self.add(
            |u| &mut u.write,
            units(out.consumed_capacity.as_ref().map(std::slice::from_ref)),
        );
    }

    /// One conditional `UpdateItem` of the head shows the cleared generations again.
    pub async fn restore(&self, job: &str, head_sk: &str) {
        let (head, _) = self.open(job, head_sk, None).await;
        let out = self
            .client
            .update_item()
            .table_name(&self.messages)
            .set_key(Some(self.key(job, head_sk)))
            .update_expression(
                "SET visible_from = :from, message_count = :count, restored_clear = :id",
            )
            .condition_expression("generation = :generation AND clear_id = :id")
            .expression_attribute_values(":from", n(head.cleared_from))
            .expression_attribute_values(":count", n(head.cleared_count))
            .expression_attribute_values(":generation", n(head.generation))
            .expression_attribute_values(":id", s(head.clear_id.as_deref().unwrap_or_default()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("bare restore");
        self.add(
            |u| &mut u.write,
            units(out.consumed_capacity.as_ref().map(std::slice::from_ref)),
        );
    }
}

//! The chats the rows run on. Small ones are written through our own create. Big ones would
//! take minutes that way (one chat's creates are sequential by nature), so their first message
//! is created by our code and the rest are copies of its message and id-lookup items (new ids,
//! later timestamps, roles in turn) written with `BatchWriteItem`, then counted on the head
//! as our creates would have: the items are exactly what the API stores.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use shared::model::{Role, Status};
use shared::store::dynamo::DynamoStore;
use shared::store::keys::HEAD;
use shared::Deps;

use crate::bare::TWIN_HEAD;
use crate::harness::{Harness, Via};
use crate::ops;

type Item = HashMap<String, AttributeValue>;

/// `BatchWriteItem`s in flight while seeding: DynamoDB Local serves a few at once faster than
/// one after another (27 s instead of 37 for all of them), but not many more (16 in flight
/// took over 4 s each).
const SEEDING_BATCHES: usize = 4;

pub const LISTED_BYTES: usize = 1000;
/// Messages of the cleared chats: their size does not matter to a clear.
pub const CLEARED_BYTES: usize = 200;
/// The exported chat: 1,220 messages of 4 KiB, 5 MB of content.
pub const EXPORTED: (usize, usize) = (1220, 4096);

pub struct Chats {
    pub list_40: String,
    pub list_1000: String,
    pub clear_100: String,
    pub clear_10k: String,
    pub export_5mb: String,
    /// Where our creates, PATCHes and streams write.
    pub writes: String,
    /// The bare twins' own chat to write messages to (they clear and restore a head of their
    /// own in ours: `bare::TWIN_HEAD`).
    pub twin_writes: String,
}

/// User and assistant messages in turn, `m00000`, `m00001`, …, each created by our code.
pub async fn fill(deps: &Deps<DynamoStore>, job: &str, count: usize, bytes: usize) {
    let content = "q".repeat(bytes);
    for i in 0..count {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        let message = ops::new_message(&format!("m{i:05}"), role, &content, Status::Complete);
        ops::create(deps, job, message).await;
    }
}

fn string(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        _ => panic!("seeded item lacks {name}: {item:?}"),
    }
}

/// `count` messages of `bytes`, the first created by our code, the rest copied from it.
pub async fn bulk(deps: &Deps<DynamoStore>, job: &str, count: usize, bytes: usize) {
    fill(deps, job, 1, bytes).await;
    let store = &deps.store;
    let client = store.client();
    let key = |sk: &str| {
        HashMap::from([
            ("job_id".to_owned(), AttributeValue::S(job.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    };
    let get = async |sk: &str| -> Item {
        client
            .get_item()
            .table_name(store.messages_table())
            .set_key(Some(key(sk)))
            .consistent_read(true)
            .send()
            .await
            .expect("seeded item read")
            .item
            .unwrap_or_else(|| panic!("no seeded item {sk}"))
    };
    let lookup = get("I#m00000").await;
    let message = get(&string(&lookup, "message_sk")).await;
    let first: DateTime<Utc> = string(&message, "timestamp").parse().expect("timestamp");
    let prefix = string(&lookup, "message_sk")
        .split('#')
        .take(2)
        .collect::<Vec<_>>()
        .join("#");
    let (mut items, mut users, mut last) = (Vec::new(), 0u64, String::new());
    for i in 1..count {
        let id = format!("m{i:05}");
        let at = shared::timestamps::format_timestamp(first + Duration::microseconds(i as i64));
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        users += u64::from(i % 2 == 0);
        let sk = format!("{prefix}#{at}#{id}");
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let mut copy = message.clone();
        for (name, value) in [
            ("sk", &sk),
            ("message_id", &id),
            ("timestamp", &at),
            ("updated_at", &at),
            ("role", &role.to_owned()),
        ] {
            copy.insert(name.to_owned(), s(value));
        }
        let mut id_lookup = lookup.clone();
        for (name, value) in [
            ("sk", &format!("I#{id}")),
            ("message_sk", &sk),
            ("timestamp", &at),
            ("role", &role.to_owned()),
        ] {
            id_lookup.insert(name.to_owned(), s(value));
        }
        items.push(copy);
        items.push(id_lookup);
        last = at;
    }
    stream::iter(items.chunks(25))
        .for_each_concurrent(SEEDING_BATCHES, |batch| {
            write(client, store.messages_table(), batch)
        })
        .await;
    let n = |v: u64| AttributeValue::N(v.to_string());
    let added = count as u64 - 1;
    client
        .update_item()
        .table_name(store.messages_table())
        .set_key(Some(key("#CHAT")))
        .update_expression(
            "SET last_timestamp = :last ADD message_count :all, user_count :users, \
             assistant_count :assistants",
        )
        .expression_attribute_values(":last", AttributeValue::S(last))
        .expression_attribute_values(":all", n(added))
        .expression_attribute_values(":users", n(users))
        .expression_attribute_values(":assistants", n(added - users))
        .send()
        .await
        .expect("seeded head counted");
}

/// A copy of the chat's head as [`TWIN_HEAD`], for the twin to clear and restore.
async fn twin_head(deps: &Deps<DynamoStore>, job: &str) {
    let (client, table) = (deps.store.client(), deps.store.messages_table());
    let mut head = client
        .get_item()
        .table_name(table)
        .key("job_id", AttributeValue::S(job.to_owned()))
        .key("sk", AttributeValue::S(HEAD.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("seeded head read")
        .item
        .expect("seeded chat has a head");
    head.insert("sk".to_owned(), AttributeValue::S(TWIN_HEAD.to_owned()));
    write(client, table, &[head]).await;
}

async fn write(client: &Client, table: &str, items: &[Item]) {
    let mut requests: Vec<WriteRequest> = items
        .iter()
        .map(|item| {
            let put = PutRequest::builder()
                .set_item(Some(item.clone()))
                .build()
                .expect("put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    while !requests.is_empty() {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .expect("seeding BatchWriteItem");
        requests = out
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
    }
}

pub async fn chats(harness: &Harness) -> Chats {
    let deps = harness.ours();
    let job = || harness.new_job();
    let chats = Chats {
        list_40: job().await,
        list_1000: job().await,
        clear_100: job().await,
        clear_10k: job().await,
        export_5mb: job().await,
        writes: job().await,
        twin_writes: job().await,
    };
    let started = std::time::Instant::now();
    eprintln!("seeding 12,360 messages…");
    fill(deps, &chats.list_40, 40, LISTED_BYTES).await;
    fill(deps, &chats.clear_100, 100, CLEARED_BYTES).await;
    bulk(deps, &chats.list_1000, 1000, LISTED_BYTES).await;
    bulk(deps, &chats.clear_10k, 10_000, CLEARED_BYTES).await;
    bulk(deps, &chats.export_5mb, EXPORTED.0, EXPORTED.1).await;
    for job in [&chats.clear_100, &chats.clear_10k] {
        twin_head(deps, job).await;
    }
    // The twin writes to a chat whose head it wrote itself.
    harness
        .bare(Via::Direct)
        .create(&chats.twin_writes, "p", "hello")
        .await;
    ops::create(
        deps,
        &chats.writes,
        ops::new_message("p", Role::Assistant, "hello", Status::Complete),
    )
    .await;
    eprintln!("seeded in {:.0?}", started.elapsed());
    chats
}

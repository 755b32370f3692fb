//! Every cleared item expires, always: the clear only hides the chat and marks it; the sweep
//! stamps `expires_at` on every hidden message and id lookup, and a sweep cut off (throttling,
//! its deadline) leaves the chat marked for the next run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::keys;
use testkit::proxy::{Fault, Proxy};
use testkit::TestApi;

/// Every item of the chat by sort key, with its expiry.
async fn expiries(api: &TestApi) -> HashMap<String, Option<i64>> {
    let out = api
        .store()
        .client()
        .query()
        .table_name(api.store().messages_table())
        .key_condition_expression("job_id = :j")
        .expression_attribute_values(":j", AttributeValue::S(api.job.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(out.last_evaluated_key.is_none(), "one page in these tests");
    out.items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let sk = item["sk"].as_s().unwrap().clone();
            let at = item
                .get("expires_at")
                .map(|v| v.as_n().unwrap().parse().unwrap());
            (sk, at)
        })
        .collect()
}

fn stamped(items: &HashMap<String, Option<i64>>) -> usize {
    items.values().filter(|at| at.is_some()).count()
}

fn in_a_minute() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn the_sweep_stamps_every_item_a_clear_hid_and_nothing_else() {
    let api = TestApi::on_own_tables("sweep-stamps", None).await;
    api.fill(60, "x").await;
    let before = chrono::Utc::now().timestamp();
    assert_eq!(api.clear().await.deleted_count(), 60);
    api.fill(2, "after").await;
    let items = expiries(&api).await;
    assert_eq!(stamped(&items), 0, "the clear answers before any stamping");

    let report = api.store().sweep(in_a_minute()).await.unwrap();
    assert!(
        report.chats_finished >= 1 && report.items_stamped >= 60,
        "{report:?}"
    );
    let items = expiries(&api).await;
    let retention = 30 * 86_400;
    for (sk, at) in &items {
        let hidden = keys::parse_message(sk).is_some_and(|(generation, _)| generation == 0);
        match at {
            Some(at) => {
                assert!(hidden || sk.starts_with("I#m"), "{sk} must not expire");
                assert!(
                    (before + retention..before + retention + 60).contains(at),
                    "{sk}: {at}"
                );
            }
            None => assert!(!hidden, "{sk} was cleared and must expire"),
        }
    }
    // 60 hidden messages and their lookups; the two new messages reuse ids m00000 and m00001,
    // whose lookups now belong to the live messages.
    assert_eq!(stamped(&items), 60 + 58);
    let again = api.store().sweep(in_a_minute()).await.unwrap();
    assert_eq!(again.items_stamped, 0, "nothing left once done: {again:?}");
}

#[tokio::test]
async fn a_sweep_cut_off_by_throttling_or_its_deadline_is_finished_by_the_next_run() {
    let proxy = Proxy::start(&testkit::endpoint()).await;
    let api = TestApi::on_own_tables("sweep-cut-off", Some(&proxy)).await;
    api.fill(30, "x").await;
    assert_eq!(api.clear().await.deleted_count(), 30);

    let nothing = api.store().sweep(Instant::now()).await.unwrap();
    assert_eq!((nothing.items_stamped, nothing.chats_finished), (0, 0));
    assert!(nothing.chats_left >= 1);

    // Throttling that outlasts the SDK's retries on every write of this run.
    proxy.inject("UpdateItem", Fault::Throttle, 1_000);
    let failed = api.store().sweep(in_a_minute()).await.unwrap();
    assert!(failed.failures >= 1, "{failed:?}");
    assert!(stamped(&expiries(&api).await) < 60);

    let direct = TestApi::on_own_tables("sweep-cut-off", None).await;
    let done = direct.store().sweep(in_a_minute()).await.unwrap();
    assert!(done.chats_finished >= 1, "{done:?}");
    assert_eq!(
        stamped(&expiries(&api).await),
        60,
        "30 messages, 30 lookups"
    );
}

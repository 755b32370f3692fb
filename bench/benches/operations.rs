//! What a request costs: parsing and paging in memory, and each operation end to end on
//! DynamoDB Local (`make bench` starts one). DynamoDB Local is slower than DynamoDB, so read
//! the second group as request counts made visible, not as production latency.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use shared::chat;
use shared::model::{NewMessage, Role};
use shared::testing::{fill, owner};
use shared::validate::{self, ListQuery};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

fn new_message(id: String, content: &str) -> NewMessage {
    NewMessage {
        message_id: id,
        role: Role::Assistant,
        content: content.to_owned(),
        metadata: serde_json::from_str(r#"{"processing_time":2.5,"model":"m-1"}"#).unwrap(),
        status: Default::default(),
    }
}

fn in_memory(c: &mut Criterion) {
    let body = serde_json::json!({
        "message_id": "assistant-1705314601",
        "role": "assistant",
        "content": "I understand you need 3 stainless steel boxes. ".repeat(40),
        "metadata": {"processing_time": 2.5, "tokens": [1, 2, 3], "nested": {"final": true}}
    })
    .to_string();
    c.bench_function("validate POST body (2 KiB)", |b| {
        b.iter(|| validate::new_message(&body).unwrap())
    });

    let rt = Runtime::new().unwrap();
    let (deps, job) = shared::testing::memory_deps();
    rt.block_on(fill(&deps, &job, 1000, &"x".repeat(500)));
    c.bench_function("list 1000 messages (memory store)", |b| {
        b.to_async(&rt).iter(|| async {
            let page = shared::history::list(&deps, &owner(), &job, ListQuery::default())
                .await
                .unwrap();
            assert_eq!(page.messages.len(), 1000);
            serde_json::to_string(&page).unwrap().len()
        })
    });
}

fn on_dynamodb_local(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let deps = rt.block_on(testkit::dynamo_deps());
    let job = rt.block_on(testkit::new_job(&[]));
    let listed = rt.block_on(testkit::new_job(&[]));
    rt.block_on(fill(&deps, &listed, 100, &"y".repeat(1000)));

    let mut group = c.benchmark_group("DynamoDB Local");
    group.sample_size(30);
    group.bench_function("create", |b| {
        b.to_async(&rt).iter_batched(
            || new_message(uuid::Uuid::new_v4().to_string(), "hello"),
            |message| async { chat::create(&deps, &owner(), &job, message).await.unwrap() },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("list 100 messages of 1 KB", |b| {
        b.to_async(&rt).iter(|| async {
            shared::history::list(&deps, &owner(), &listed, ListQuery::default())
                .await
                .unwrap()
        })
    });
    rt.block_on(async {
        chat::create(&deps, &owner(), &job, new_message("streamed".into(), ""))
            .await
            .unwrap();
    });
    let patch =
        validate::message_patch(r#"{"content":"a streamed chunk","metadata":{"final":false}}"#)
            .unwrap();
    group.bench_function("patch", |b| {
        b.to_async(&rt).iter(|| async {
            chat::patch(&deps, &owner(), &job, "streamed", &patch, None)
                .await
                .unwrap()
        })
    });
    // The setup (100 creates) is not timed, and cannot run inside the timed future.
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("clear 100 messages", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let job = rt.block_on(testkit::new_job(&[]));
                rt.block_on(fill(&deps, &job, 100, "z"));
                let started = Instant::now();
                let cleared = rt.block_on(chat::clear(&deps, &owner(), &job)).unwrap();
                timed += started.elapsed();
                assert_eq!(cleared.deleted_count, 100);
            }
            timed
        })
    });
    group.finish();
}

criterion_group!(benches, in_memory, on_dynamodb_local);
criterion_main!(benches);

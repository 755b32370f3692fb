//! The operation rows of the table: each of ours next to its bare twin.

use std::cell::Cell;
use std::time::Instant;

use shared::model::{Role, Status};

use crate::bare::TWIN_HEAD;
use crate::harness::{Harness, Row};
use crate::ops;
use crate::seed::{Chats, EXPORTED};

/// PATCHes per streamed reply, as an LLM's tokens batched a few times a second.
pub const PATCHES: usize = 50;

fn fresh_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub async fn reads(h: &Harness, chats: &Chats) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, job, count) in [
        ("list 40 messages", &chats.list_40, 40),
        ("list 1,000 messages (1 MB)", &chats.list_1000, 1000),
    ] {
        rows.push(
            h.compare(
                name,
                async || assert_eq!(h.time(ops::list(h.ours(), job)).await, count),
                async |via| assert_eq!(h.time(h.bare(via).list(job)).await, count),
            )
            .await,
        );
    }
    rows.push(
        h.compare(
            "summary (1,000 messages)",
            async || assert_eq!(h.time(ops::summary(h.ours(), &chats.list_1000)).await, 1000),
            async |via| assert_eq!(h.time(h.bare(via).summary(&chats.list_1000)).await, 1000),
        )
        .await,
    );
    // A page following the 40-message chat: nothing new (idle), or its newest message taken as
    // a reply being streamed (the version it holds is current).
    let follow = &chats.list_40;
    let (newest, tag) = ops::follow_start(h.ours(), follow).await;
    rows.push(
        h.compare(
            "follow: idle poll (304)",
            async || {
                h.time(ops::poll_idle(h.ours(), follow, &newest, &tag))
                    .await
            },
            async |via| h.time(h.bare(via).poll_idle(follow, &newest)).await,
        )
        .await,
    );
    rows.push(
        h.compare(
            "follow: poll while a reply streams (304s)",
            async || {
                h.time(ops::poll_streaming(h.ours(), follow, &newest, 1, &tag))
                    .await
            },
            async |via| assert_eq!(h.time(h.bare(via).poll_streaming(follow, &newest)).await, 1),
        )
        .await,
    );
    let job = &chats.export_5mb;
    // Where the API's 5 MB cap splits the export into responses: the twin answers in the same.
    let responses = ops::export(h.ours(), job).await;
    assert_eq!(responses.iter().sum::<usize>(), EXPORTED.0);
    rows.push(
        h.compare(
            "export 5 MB (1,220 × 4 KiB, JSON)",
            async || {
                let pages = h.time(ops::export(h.ours(), job)).await;
                assert_eq!(pages, responses);
            },
            async |via| {
                let sent = h.time(h.bare(via).export(job, &responses)).await;
                assert_eq!(sent, EXPORTED.0);
            },
        )
        .await,
    );
    rows
}

pub async fn writes(h: &Harness, chats: &Chats) -> Vec<Row> {
    let (ours, twin) = (&chats.writes, &chats.twin_writes);
    let small = "3 stainless steel boxes, 300 x 200 x 150 mm, brushed finish, please.";
    let mut rows = vec![
        h.compare(
            "create",
            async || {
                let message = ops::new_message(&fresh_id(), Role::User, small, Status::Complete);
                h.time(ops::create(h.ours(), ours, message)).await
            },
            async |via| h.time(h.bare(via).create(twin, &fresh_id(), small)).await,
        )
        .await,
        h.compare(
            "PATCH",
            async || {
                h.time(ops::patch(h.ours(), ours, "p", small, None, false))
                    .await;
            },
            async |via| {
                h.time(h.bare(via).patch(twin, "p", small, None)).await;
            },
        )
        .await,
    ];
    rows.push(
        h.compare(
            "4 KiB reply streamed in 50 PATCHes",
            async || {
                let id = fresh_id();
                let deps = h.ours();
                let message = ops::new_message(&id, Role::Assistant, "", Status::Streaming);
                ops::create(deps, ours, message).await;
                h.time(async {
                    for (i, content) in ops::stream_chunks(4096, PATCHES).enumerate() {
                        let version = i as u64 + 1;
                        ops::patch(deps, ours, &id, &content, Some(version), i + 1 == PATCHES)
                            .await;
                    }
                })
                .await
            },
            async |via| {
                let id = fresh_id();
                let bare = h.bare(via);
                bare.create(twin, &id, "").await;
                h.time(async {
                    for (i, content) in ops::stream_chunks(4096, PATCHES).enumerate() {
                        bare.patch(twin, &id, &content, Some(i as u64 + 1)).await;
                    }
                })
                .await
            },
        )
        .await,
    );
    rows
}

/// Clears answer in constant time: the same chat is cleared, restored (untimed) and cleared
/// again, so 10,000 messages are written once.
pub async fn clears(h: &Harness, chats: &Chats) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, job, count) in [
        ("clear 100 messages", &chats.clear_100, 100),
        ("clear 10,000 messages", &chats.clear_10k, 10_000),
    ] {
        let (cleared, twin_cleared) = (Cell::new(false), Cell::new(false));
        rows.push(
            h.compare(
                name,
                async || {
                    let deps = h.ours();
                    if cleared.get() {
                        ops::restore(deps, job).await;
                    }
                    assert_eq!(h.time(ops::clear(deps, job)).await, count);
                    cleared.set(true);
                },
                async |via| {
                    let bare = h.bare(via);
                    if twin_cleared.get() {
                        bare.restore(job, TWIN_HEAD).await;
                    }
                    h.time(bare.clear(job, TWIN_HEAD)).await;
                    twin_cleared.set(true);
                },
            )
            .await,
        );
        if count == 100 {
            // The 100-message chat is cleared now; the restore row starts from there.
            rows.push(restore(h, chats, &cleared, &twin_cleared).await);
        }
    }
    rows
}

async fn restore(
    h: &Harness,
    chats: &Chats,
    cleared: &Cell<bool>,
    twin_cleared: &Cell<bool>,
) -> Row {
    let job = &chats.clear_100;
    h.compare(
        "restore 100 messages",
        async || {
            let deps = h.ours();
            if !cleared.get() {
                ops::clear(deps, job).await;
            }
            assert_eq!(h.time(ops::restore(deps, job)).await, 100);
            cleared.set(false);
        },
        async |via| {
            let bare = h.bare(via);
            if !twin_cleared.get() {
                bare.clear(job, TWIN_HEAD).await;
            }
            h.time(bare.restore(job, TWIN_HEAD)).await;
            twin_cleared.set(false);
        },
    )
    .await
}

/// The background sweep that gives the 10,000 cleared messages (and their id lookups) their
/// expiry; it runs once, after the clears.
pub async fn sweep(h: &Harness) -> Row {
    let mut stamped = 0;
    let mut row = h
        .alone("sweep of the 10,000 cleared (background)", 1, async || {
            let store = &h.ours().store;
            let deadline = Instant::now() + std::time::Duration::from_secs(300);
            let report = h.time(store.sweep(deadline)).await.expect("sweep");
            assert_eq!(report.chats_left, 0, "the sweep finished: {report:?}");
            stamped = report.items_stamped;
        })
        .await;
    row.note = format!("{stamped} items stamped");
    row
}

//! Entity tags of the reads, and `If-None-Match` (RFC 9110 §13.1.2), so a page that follows a
//! chat learns "nothing new" from a 304 without a body:
//! - a message's tag is its version (`"3"`), the value a PATCH's `If-Match` takes;
//! - a list's tag is a hash of its body;
//! - the tag of "what follows message X" comes from the chat's head (the creates, clears and
//!   restores that change which messages follow X), X and the page size, so a poll that finds
//!   nothing new reads no message.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::store::Head;

/// The tag of a message at `version`.
pub fn of_version(version: u64) -> String {
    format!("\"{version}\"")
}

/// The tag of a body: a hash of its bytes.
pub fn of_body(body: &[u8]) -> String {
    hashed(&[body])
}

/// The tag of (at most `limit` of) the messages after `after_id`, as far as the head can tell
/// them apart.
pub fn of_messages_after(head: &Head, after_id: &str, limit: Option<usize>) -> String {
    let state = format!(
        "{}/{}/{}/{}/{}",
        head.generation,
        head.visible_from,
        head.counts.total,
        head.last_timestamp.as_deref().unwrap_or_default(),
        limit.map(|limit| limit.to_string()).unwrap_or_default()
    );
    hashed(&[b"after", after_id.as_bytes(), state.as_bytes()])
}

fn hashed(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    format!("\"{}\"", STANDARD_NO_PAD.encode(&hasher.finalize()[..18]))
}

/// An `If-None-Match` header as sent.
#[derive(Clone, Copy, Debug)]
pub struct IfNoneMatch<'a>(pub &'a str);

impl IfNoneMatch<'_> {
    /// Weak comparison: `W/` is ignored; `*` matches any current representation.
    pub fn names(&self, tag: &str) -> bool {
        self.0.split(',').map(str::trim).any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_star_matches_anything() {
        let tag = of_version(3);
        assert!(IfNoneMatch("\"3\"").names(&tag));
        assert!(IfNoneMatch("\"2\", W/\"3\"").names(&tag));
        assert!(IfNoneMatch("*").names(&tag));
        assert!(!IfNoneMatch("\"4\"").names(&tag));
        assert!(!IfNoneMatch("3").names(&tag));
    }

    #[test]
    fn the_tag_after_a_message_changes_with_every_write_of_the_head() {
        let head = Head {
            generation: 2,
            visible_from: 1,
            last_timestamp: Some("2024-01-01T00:00:00.000001Z".into()),
            ..Head::default()
        };
        let tag = of_messages_after(&head, "m1", None);
        assert_eq!(tag, of_messages_after(&head.clone(), "m1", None));
        assert_ne!(tag, of_messages_after(&head, "m2", None), "another point");
        assert_ne!(
            tag,
            of_messages_after(&head, "m1", Some(1)),
            "another page size"
        );
        let created = Head {
            last_timestamp: Some("2024-01-01T00:00:00.000002Z".into()),
            ..head.clone()
        };
        let cleared = Head {
            generation: 3,
            visible_from: 3,
            ..head.clone()
        };
        let restored = Head {
            visible_from: 0,
            ..head.clone()
        };
        for changed in [created, cleared, restored] {
            assert_ne!(tag, of_messages_after(&changed, "m1", None), "{changed:?}");
        }
    }
}

//! The item layout of the messages table (partition `job_id`, sort `sk`). See
//! docs/schema.md for why each item exists.
//!
//! | sk                                   | item                                  |
//! |--------------------------------------|---------------------------------------|
//! | `#CHAT`                              | chat head: `generation`, `last_timestamp`, `stamped_before` |
//! | `<gen:010>#M#<timestamp>#<message_id>` | a message                            |
//! | `<gen:010>#I#<message_id>`           | id guard: the message's sk, timestamp, fingerprint |

pub const HEAD: &str = "#CHAT";

/// Every item of one generation (messages and guards).
pub fn generation_prefix(generation: u64) -> String {
    format!("{generation:010}#")
}

/// Every message of one generation, in time order.
pub fn messages_prefix(generation: u64) -> String {
    format!("{generation:010}#M#")
}

pub fn message(generation: u64, timestamp: &str, message_id: &str) -> String {
    format!("{generation:010}#M#{timestamp}#{message_id}")
}

pub fn guard(generation: u64, message_id: &str) -> String {
    format!("{generation:010}#I#{message_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_time_then_id_within_a_generation() {
        let a = message(1, "2024-01-15T10:30:00.000001Z", "b");
        let b = message(1, "2024-01-15T10:30:00.000001Z", "c");
        let c = message(1, "2024-01-15T10:30:00.000002Z", "a");
        assert!(a < b && b < c);
        assert!(a.starts_with(&messages_prefix(1)));
        assert!(!a.starts_with(&messages_prefix(11)));
        assert!(guard(1, "b").starts_with(&generation_prefix(1)));
        assert!(!guard(1, "b").starts_with(&messages_prefix(1)));
        assert!(HEAD < generation_prefix(0).as_str());
    }
}

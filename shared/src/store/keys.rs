//! The item layout of the messages table (partition `job_id`, sort `sk`). See
//! docs/schema.md for why each item exists.
//!
//! | sk                                    | item                                           |
//! |---------------------------------------|------------------------------------------------|
//! | `#CHAT`                               | the chat head: generations, counters, last clear, sweep state |
//! | `I#<message_id>`                      | the id lookup: where the message lives, its fingerprint |
//! | `M#<gen:010>#<timestamp>#<message_id>` | a message                                     |
//!
//! Only messages sort between `M#` and `M#~`, in generation then time order; timestamps grow
//! strictly across generations, so any range of generations is one Query in time order.

pub const HEAD: &str = "#CHAT";

/// Value of the head's `sweep_due` while its cleared or restored items await the sweep; the
/// sparse index [`SWEEP_INDEX`] holds exactly the heads that carry it.
pub const SWEEP_DUE: &str = "due";
/// The sparse global secondary index of chats the sweep has to visit.
pub const SWEEP_INDEX: &str = "sweep-due";

pub fn message(generation: u64, timestamp: &str, message_id: &str) -> String {
    format!("M#{generation:010}#{timestamp}#{message_id}")
}

pub fn lookup(message_id: &str) -> String {
    format!("I#{message_id}")
}

/// The generation and message id of a message's sort key.
pub fn parse_message(sk: &str) -> Option<(u64, &str)> {
    let rest = sk.strip_prefix("M#")?;
    let (generation, rest) = rest.split_once('#')?;
    let (_timestamp, message_id) = rest.split_once('#')?;
    Some((generation.parse().ok()?, message_id))
}

/// Inclusive sort-key bounds of every message of the generations `first..=last`.
pub fn messages_of(first: u64, last: u64) -> (String, String) {
    // '~' sorts after every character a timestamp can start with.
    (format!("M#{first:010}#"), format!("M#{last:010}#~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_sort_by_generation_then_time_then_id_and_nothing_else_is_in_range() {
        let a = message(1, "2024-01-15T10:30:00.000001Z", "b");
        let b = message(1, "2024-01-15T10:30:00.000001Z", "c");
        let c = message(1, "2024-01-15T10:30:00.000002Z", "a");
        let d = message(2, "2024-01-15T10:30:00.000003Z", "a");
        assert!(a < b && b < c && c < d);
        assert_eq!(parse_message(&d), Some((2, "a")));
        assert_eq!(parse_message(&message(7, "t", "x#y")), Some((7, "x#y")));
        assert_eq!(parse_message(HEAD), None);
        let (low, high) = messages_of(1, 1);
        assert!(low <= a && c <= high && d > high);
        let (low, high) = messages_of(1, 2);
        assert!(low <= a && d <= high);
        for other in [HEAD.to_owned(), lookup("M"), lookup("zzz")] {
            let (low, high) = messages_of(0, 9_999_999_999);
            assert!(
                other < low || other > high,
                "{other} is in the message range"
            );
        }
    }
}

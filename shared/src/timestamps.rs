//! The server's timestamps: RFC 3339, UTC, microseconds, `Z`, and never going backwards
//! within a chat.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Now, but always after the chat's newest message, so timestamps order a chat even when
/// clocks of two Lambda instances disagree.
pub fn next_timestamp(last: Option<&str>, now: DateTime<Utc>) -> String {
    let floor = last
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc) + Duration::microseconds(1));
    match floor {
        Some(floor) if floor > now => format_timestamp(floor),
        _ => format_timestamp(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_never_go_backwards_within_a_chat() {
        let now = DateTime::parse_from_rfc3339("2024-01-15T10:30:00.000005Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_timestamp(None, now), "2024-01-15T10:30:00.000005Z");
        assert_eq!(
            next_timestamp(Some("2024-01-15T10:30:00.000009Z"), now),
            "2024-01-15T10:30:00.000010Z"
        );
        assert_eq!(
            next_timestamp(Some("2024-01-15T10:29:00.000000Z"), now),
            "2024-01-15T10:30:00.000005Z"
        );
    }
}

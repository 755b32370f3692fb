//! The query of a GET of the list.

use super::Problems;
use crate::error::ApiError;
use crate::ids::MessageId;

/// The validated query of a GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only the messages after this one (ascending, without a cursor).
    pub after: Option<MessageId>,
    /// `None` when the client did not say: ascending, or the order of the cursor.
    pub descending: Option<bool>,
}

pub fn list_query(
    limit: Option<&str>,
    cursor: Option<&str>,
    order: Option<&str>,
    after: Option<&str>,
) -> Result<ListQuery, ApiError> {
    let mut problems = Problems::default();
    let limit = match limit {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n)
                if text.bytes().all(|b| b.is_ascii_digit())
                    && (1..=crate::limits::MAX_PAGE_MESSAGES).contains(&n) =>
            {
                Some(n)
            }
            _ => {
                problems.add("limit", "must be an integer from 1 to 1000");
                None
            }
        },
    };
    let descending = match order {
        None => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(_) => {
            problems.add("order", "must be \"asc\" or \"desc\"");
            None
        }
    };
    let cursor = cursor.filter(|c| !c.is_empty()).map(str::to_owned);
    let after = match after.map(|id| MessageId::parse(id).ok_or(id)) {
        None => None,
        Some(Err(_)) => {
            problems.add("after", MessageId::RULE);
            None
        }
        Some(_) if cursor.is_some() => {
            problems.add(
                "after",
                "cannot be used with cursor (a cursor goes on by itself)",
            );
            None
        }
        Some(_) if descending == Some(true) => {
            problems.add("after", "lists in ascending order only");
            None
        }
        Some(Ok(id)) => Some(id),
    };
    problems.finish()?;
    Ok(ListQuery {
        limit,
        cursor,
        after,
        descending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::details;

    #[test]
    fn list_query_bounds() {
        assert_eq!(
            list_query(Some("1000"), None, Some("desc"), None)
                .unwrap()
                .limit,
            Some(1000)
        );
        assert!(list_query(Some("0"), None, None, None).is_err());
        assert!(list_query(Some("1001"), None, None, None).is_err());
        assert!(list_query(Some("ten"), None, None, None).is_err());
        assert!(list_query(None, None, Some("sideways"), None).is_err());
        assert!(list_query(None, None, None, None).unwrap().limit.is_none());
        assert!(list_query(Some("+5"), None, None, None).is_err());
        assert_eq!(list_query(None, None, None, None).unwrap().descending, None);
    }

    #[test]
    fn after_takes_a_message_id_in_ascending_order_without_a_cursor() {
        let after = |cursor, order, id| list_query(None, cursor, order, Some(id));
        assert_eq!(
            after(None, Some("asc"), "m-1")
                .unwrap()
                .after
                .as_ref()
                .map(MessageId::as_str),
            Some("m-1")
        );
        for (cursor, order, id) in [
            (None, None, "bad id"),
            (Some("c"), None, "m-1"),
            (None, Some("desc"), "m-1"),
        ] {
            let details = details(after(cursor, order, id).unwrap_err());
            assert!(details.contains_key("after"), "{details:?}");
        }
    }
}

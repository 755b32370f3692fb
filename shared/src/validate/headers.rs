//! The request headers the API reads beyond the body's: `If-Match`.

use crate::error::ApiError;
use crate::limits::MAX_IF_MATCH_VERSIONS;
use crate::model::IfMatch;

/// Reads an `If-Match` header (RFC 9110 §13.1.1): [`IfMatch::Any`] when absent or `*` (the
/// message exists, or the PATCH answers 404 anyway), else the versions it names. Comparison is
/// strong: a weak tag (`W/"3"`) never matches, so a header of only weak tags is
/// [`IfMatch::Never`]. Several tags match if any does. A bare number (`3`) is read as `"3"`
/// for clients that forget the quotes.
pub fn if_match(header: Option<&str>) -> Result<IfMatch, ApiError> {
    let Some(raw) = header else {
        return Ok(IfMatch::Any);
    };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(IfMatch::Any);
    }
    let refuse = || ApiError::field("If-Match", "must be message versions such as \"3\"");
    let mut versions = Vec::new();
    for tag in raw.split(',').map(str::trim) {
        if let Some(weak) = tag.strip_prefix("W/") {
            entity_tag(weak).ok_or_else(refuse)?;
            continue;
        }
        let opaque =
            entity_tag(tag).or_else(|| tag.bytes().all(|b| b.is_ascii_digit()).then_some(tag));
        let version = opaque
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(refuse)?;
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.len() > MAX_IF_MATCH_VERSIONS {
        return Err(ApiError::field(
            "If-Match",
            "names too many versions (at most 20 different ones)",
        ));
    }
    if versions.is_empty() {
        Ok(IfMatch::Never)
    } else {
        Ok(IfMatch::Versions(versions))
    }
}

/// The opaque part of `"..."`.
fn entity_tag(tag: &str) -> Option<&str> {
    tag.strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_at_most_twenty_different_versions() {
        let many = |n: u64| {
            (1..=n)
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            if_match(Some(&many(20))).unwrap(),
            IfMatch::Versions((1..=20).collect())
        );
        assert!(matches!(
            if_match(Some(&many(101))),
            Err(ApiError::Validation { .. })
        ));
        let repeated = vec!["\"3\""; 200].join(",");
        assert_eq!(
            if_match(Some(&repeated)).unwrap(),
            IfMatch::Versions(vec![3])
        );
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(None).unwrap(), IfMatch::Any);
        assert_eq!(if_match(Some("\"3\"")).unwrap(), IfMatch::Versions(vec![3]));
        assert_eq!(if_match(Some("5")).unwrap(), IfMatch::Versions(vec![5]));
        assert_eq!(if_match(Some("*")).unwrap(), IfMatch::Any);
        // Strong comparison: a weak tag never matches.
        assert_eq!(if_match(Some("W/\"4\"")).unwrap(), IfMatch::Never);
        assert!(!IfMatch::Never.allows(4));
        assert_eq!(
            if_match(Some("\"3\", W/\"4\" ,\"7\"")).unwrap(),
            IfMatch::Versions(vec![3, 7])
        );
        assert!(if_match(Some("\"abc\"")).is_err());
        assert!(if_match(Some("\"3\",")).is_err());
    }
}

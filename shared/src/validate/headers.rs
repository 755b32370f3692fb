//! The request headers the API reads beyond the body's: `If-Match`.

use crate::error::ApiError;
use crate::limits::MAX_IF_MATCH_VERSIONS;
use crate::model::IfMatch;

/// Reads an `If-Match` header (RFC 9110 §13.1.1): [`IfMatch::Any`] when absent or `*` (the
/// message exists, or the PATCH answers 404 anyway), else the versions it names. Comparison is
/// strong, and a message's only tag is its version, so a weak tag (`W/"3"`) or one that is no
/// version (`"abc"`, a list's tag) never matches: a header of only those is [`IfMatch::Never`],
/// a 412 like any other mismatch. Several tags match if any does; empty list elements are
/// skipped (§5.6.1.2). A bare number (`3`) is read as `"3"` for clients that forget the quotes;
/// anything else that is not an entity tag is refused.
pub fn if_match(header: Option<&str>) -> Result<IfMatch, ApiError> {
    let Some(raw) = header else {
        return Ok(IfMatch::Any);
    };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(IfMatch::Any);
    }
    let refuse = || ApiError::field("If-Match", "must be entity tags such as \"3\"");
    let mut versions = Vec::new();
    let mut tags = 0;
    for tag in raw.split(',').map(str::trim).filter(|tag| !tag.is_empty()) {
        tags += 1;
        let (weak, tag) = match tag.strip_prefix("W/") {
            Some(weak) => (true, weak),
            None => (false, tag),
        };
        let opaque = entity_tag(tag)
            .or_else(|| (!weak && tag.bytes().all(|b| b.is_ascii_digit())).then_some(tag))
            .ok_or_else(refuse)?;
        if weak {
            continue;
        }
        if let Some(version) = version(opaque) {
            if !versions.contains(&version) {
                versions.push(version);
            }
            if versions.len() > MAX_IF_MATCH_VERSIONS {
                return Err(ApiError::field(
                    "If-Match",
                    "names too many versions (at most 20 different ones)",
                ));
            }
        }
    }
    if tags == 0 {
        return Err(refuse());
    }
    if versions.is_empty() {
        Ok(IfMatch::Never)
    } else {
        Ok(IfMatch::Versions(versions))
    }
}

/// The opaque part of `"..."`, if it holds only what an entity tag may (`etagc` without the
/// obsolete non-ASCII bytes: no quote, space or control character).
fn entity_tag(tag: &str) -> Option<&str> {
    let opaque = tag.strip_prefix('"')?.strip_suffix('"')?;
    opaque
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
        .then_some(opaque)
}

/// The version a tag names, written as the server writes it: tags compare as strings, so
/// `"03"` or `"+3"` are other tags than `"3"`.
fn version(opaque: &str) -> Option<u64> {
    let canonical = opaque.bytes().all(|b| b.is_ascii_digit())
        && !(opaque.len() > 1 && opaque.starts_with('0'));
    canonical.then(|| opaque.parse().ok()).flatten()
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
        // A tag that is no version never matches: a 412, as for any other version.
        assert_eq!(if_match(Some("\"abc\"")).unwrap(), IfMatch::Never);
        assert_eq!(
            if_match(Some("\"abc\", \"3\"")).unwrap(),
            IfMatch::Versions(vec![3])
        );
        assert_eq!(
            if_match(Some("\"3\",")).unwrap(),
            IfMatch::Versions(vec![3])
        );
        // Tags compare as strings: only the version as the server writes it names it.
        for other in ["\"03\"", "\"+3\"", "\"99999999999999999999\""] {
            assert_eq!(if_match(Some(other)).unwrap(), IfMatch::Never, "{other}");
        }
        for malformed in ["abc", "\"3", "W/3", ",", "3 4", "\"3\" \"4\""] {
            assert!(if_match(Some(malformed)).is_err(), "{malformed}");
        }
    }
}

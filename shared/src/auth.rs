//! Who is calling, as API Gateway's JWT authorizer tells it, and what they may touch.

use std::collections::HashMap;

use crate::model::Job;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub groups: Vec<String>,
}

impl Caller {
    /// Reads `sub` and the groups from authorizer claims (all strings, as API Gateway passes
    /// them). `None` when there is no usable subject.
    pub fn from_claims(claims: &HashMap<String, String>) -> Option<Self> {
        let sub = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())?;
        let groups = claims
            .get("cognito:groups")
            .or_else(|| claims.get("groups"))
            .map(|raw| parse_groups(raw))
            .unwrap_or_default();
        Some(Self {
            sub: sub.to_owned(),
            groups,
        })
    }

    /// Owner, member or staff may read and write a job's chat; archived jobs included.
    pub fn may_use(&self, job: &Job, staff_group: &str) -> bool {
        job.owner_id == self.sub
            || job
                .member_ids
                .as_ref()
                .is_some_and(|members| members.contains(&self.sub))
            || self.groups.iter().any(|g| g == staff_group)
    }
}

/// Groups arrive as a JSON array (`["staff","admin"]`), as API Gateway's rendering of an array
/// claim (`[staff admin]`), or as a single bare name.
pub fn parse_groups(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    inner
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn groups_in_every_shape_api_gateway_sends() {
        assert_eq!(parse_groups("[staff admin]"), ["staff", "admin"]);
        assert_eq!(parse_groups(r#"["staff","admin"]"#), ["staff", "admin"]);
        assert_eq!(parse_groups("staff"), ["staff"]);
        assert_eq!(parse_groups("[]"), Vec::<String>::new());
        assert_eq!(parse_groups("[staff, admin]"), ["staff", "admin"]);
    }

    #[test]
    fn caller_needs_a_subject_and_prefers_cognito_groups() {
        assert!(Caller::from_claims(&claims(&[])).is_none());
        assert!(Caller::from_claims(&claims(&[("sub", " ")])).is_none());
        let c = Caller::from_claims(&claims(&[
            ("sub", "alice"),
            ("cognito:groups", "[staff]"),
            ("groups", "[other]"),
        ]))
        .unwrap();
        assert_eq!(c.groups, ["staff"]);
        let c = Caller::from_claims(&claims(&[("sub", "bob"), ("groups", "[ops]")])).unwrap();
        assert_eq!(c.groups, ["ops"]);
    }

    #[test]
    fn owner_member_staff_may_use_others_may_not() {
        let job = Job {
            job_id: crate::ids::JobId::parse("0e8c5d3a-1b2c-4d5e-8f90-123456789abc").unwrap(),
            owner_id: "owner".into(),
            member_ids: Some(["member".to_string()].into()),
        };
        let who = |sub: &str, groups: &[&str]| Caller {
            sub: sub.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        assert!(who("owner", &[]).may_use(&job, "staff"));
        assert!(who("member", &[]).may_use(&job, "staff"));
        assert!(who("x", &["staff"]).may_use(&job, "staff"));
        assert!(!who("x", &["staffers"]).may_use(&job, "staff"));
        assert!(!who("x", &[]).may_use(&job, "staff"));
    }
}

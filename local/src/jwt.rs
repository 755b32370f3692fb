//! Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with
//! `LOCAL_JWT_SECRET`, issuer `quote-chat-local`, audience `quote-chat`.

use std::collections::HashMap;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

pub const ISSUER: &str = "quote-chat-local";
pub const AUDIENCE: &str = "quote-chat";
pub const DEFAULT_SECRET: &str = "local-dev-secret";
/// Longer tokens are refused unread (API Gateway caps a header near 10 KB).
const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Clone)]
pub struct LocalJwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl LocalJwt {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 5;
        // API Gateway's authorizer honours `nbf`: a token is not valid before it.
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// A token for `sub` in `groups`, valid for `ttl_seconds` (negative: already expired).
    pub fn token(&self, sub: &str, groups: &[String], ttl_seconds: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), sub.into());
        claims.insert("iss".into(), ISSUER.into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + ttl_seconds).into());
        if !groups.is_empty() {
            claims.insert("cognito:groups".into(), groups.to_vec().into());
        }
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The claims of a valid `Authorization: Bearer` header, rendered as API Gateway renders
    /// them for a Lambda: every value a string, arrays as `[a b]`. `None` when the header is
    /// missing or the token is expired, badly signed or for another audience.
    pub fn claims(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let header = authorization?.trim();
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let data =
            decode::<Map<String, Value>>(token.trim(), &self.decoding, &self.validation).ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(name, value)| (name, render_claim(value)))
                .collect(),
        )
    }
}

fn render_claim(value: Value) -> String {
    match value {
        Value::String(text) => text,
        Value::Array(items) => {
            let parts: Vec<String> = items.into_iter().map(render_claim).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_tokens_become_api_gateway_claims() {
        let jwt = LocalJwt::new("s");
        let token = jwt.token("alice", &["staff".into(), "admin".into()], 60);
        let claims = jwt.claims(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["cognito:groups"], "[staff admin]");
        assert_eq!(claims["aud"], "quote-chat");
    }

    #[test]
    fn missing_expired_forged_and_foreign_tokens_are_refused() {
        let jwt = LocalJwt::new("s");
        assert!(jwt.claims(None).is_none());
        assert!(jwt.claims(Some("Bearer")).is_none());
        let expired = jwt.token("alice", &[], -120);
        assert!(jwt.claims(Some(&format!("Bearer {expired}"))).is_none());
        let forged = LocalJwt::new("other").token("alice", &[], 60);
        assert!(jwt.claims(Some(&format!("Bearer {forged}"))).is_none());
        let good = jwt.token("alice", &[], 60);
        assert!(jwt.claims(Some(&format!("Basic {good}"))).is_none());

        let mut claims = Map::new();
        claims.insert("sub".into(), "alice".into());
        claims.insert("iss".into(), ISSUER.into());
        claims.insert("aud".into(), "someone-else".into());
        claims.insert("exp".into(), (chrono::Utc::now().timestamp() + 60).into());
        let foreign = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(jwt.claims(Some(&format!("Bearer {foreign}"))).is_none());
    }

    fn signed(header: Header, claims: &Map<String, Value>, secret: &[u8]) -> String {
        format!(
            "Bearer {}",
            encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
        )
    }

    fn claims_now(shift: impl Fn(&mut Map<String, Value>)) -> Map<String, Value> {
        let now = chrono::Utc::now().timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), "alice".into());
        claims.insert("iss".into(), ISSUER.into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("exp".into(), (now + 600).into());
        shift(&mut claims);
        claims
    }

    #[test]
    fn hostile_tokens_are_refused() {
        let jwt = LocalJwt::new("s");
        let hs256 = || Header::new(Algorithm::HS256);
        let ok = claims_now(|_| {});
        assert!(jwt.claims(Some(&signed(hs256(), &ok, b"s"))).is_some());

        let later = claims_now(|c| {
            c.insert("nbf".into(), (chrono::Utc::now().timestamp() + 300).into());
        });
        assert!(
            jwt.claims(Some(&signed(hs256(), &later, b"s"))).is_none(),
            "nbf in the future"
        );
        let issuer = claims_now(|c| {
            c.insert("iss".into(), "someone-else".into());
        });
        assert!(
            jwt.claims(Some(&signed(hs256(), &issuer, b"s"))).is_none(),
            "wrong iss"
        );
        let no_sub = claims_now(|c| {
            c.remove("sub");
        });
        assert!(
            jwt.claims(Some(&signed(hs256(), &no_sub, b"s"))).is_none(),
            "no sub"
        );
        // Another HMAC with the same key: only HS256 is accepted.
        let swapped = signed(Header::new(Algorithm::HS512), &ok, b"s");
        assert!(jwt.claims(Some(&swapped)).is_none(), "algorithm swap");

        // `alg: none`, unsigned.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "Bearer {}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_string(&ok).unwrap())
        );
        assert!(jwt.claims(Some(&none)).is_none(), "alg none");
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert!(jwt.claims(Some(&huge)).is_none(), "huge");
        assert!(jwt.claims(Some("Bearer ")).is_none(), "empty");
        assert!(jwt.claims(Some("")).is_none(), "empty header");
        assert!(jwt.claims(Some("Bearer a.b.c")).is_none(), "garbage");
    }
}

//! Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with
//! `LOCAL_JWT_SECRET`, issuer `quote-chat-local`, audience `quote-chat`.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
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
        // The tokens are made on this very machine (`make token`): no clock skew to allow for,
        // so a token is expired from its `exp` on, as the contract says.
        validation.leeway = 0;
        // jsonwebtoken refuses only `exp < now`; RFC 7519 ends a token at its `exp`.
        validation.reject_tokens_expiring_in_less_than = 1;
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
        self.verify(authorization).ok()
    }

    /// As [`LocalJwt::claims`], with the reason a token is refused (for the server's log; the
    /// answer stays the same 401 whatever the reason, as API Gateway's is).
    pub fn verify(&self, authorization: Option<&str>) -> Result<HashMap<String, String>, Refusal> {
        let header = authorization.ok_or(Refusal::Missing)?.trim();
        if header.is_empty() {
            return Err(Refusal::Missing);
        }
        let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::NotBearer);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(Refusal::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong);
        }
        let data = decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
            .map_err(|err| Refusal::of(token, err.kind()))?;
        Ok(data
            .claims
            .into_iter()
            .map(|(name, value)| (name, render_claim(value)))
            .collect())
    }
}

/// Why a token was refused. Its text names the reason, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header, or `Bearer` with nothing after it.
    Missing,
    /// An `Authorization` header of another scheme than `Bearer`.
    NotBearer,
    TooLong,
    /// Not three base64url JSON parts.
    Malformed,
    /// Another algorithm than HS256, `none` included.
    Algorithm,
    Signature,
    Expired,
    /// `nbf` in the future.
    NotYetValid,
    Issuer,
    Audience,
    /// A required claim (`exp`, `sub`, `iss`, `aud`) is absent.
    MissingClaim(String),
    /// A claim of the wrong type, e.g. `exp` as a string.
    ClaimFormat(String),
    Other,
}

impl Refusal {
    fn of(token: &str, kind: &ErrorKind) -> Self {
        match kind {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::Algorithm,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Self::ClaimFormat(claim.clone()),
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => Self::Malformed,
            // A header whose `alg` is no algorithm the crate knows (`none`) fails to parse.
            ErrorKind::Json(_) => match decode_header(token).map_err(|e| e.into_kind()) {
                Err(ErrorKind::Json(err)) if err.to_string().starts_with("unknown variant") => {
                    Self::Algorithm
                }
                _ => Self::Malformed,
            },
            _ => Self::Other,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => write!(f, "missing: no `Authorization: Bearer <token>` header"),
            Self::NotBearer => write!(
                f,
                "not a bearer token: the Authorization header's scheme is not `Bearer`"
            ),
            Self::TooLong => write!(f, "too long: the token exceeds {MAX_TOKEN_BYTES} bytes"),
            Self::Malformed => write!(f, "malformed: not a JWT (three base64url JSON parts)"),
            Self::Algorithm => write!(f, "algorithm: the token is not signed with HS256"),
            Self::Signature => write!(
                f,
                "signature: signed with another secret than this server's LOCAL_JWT_SECRET"
            ),
            Self::Expired => write!(f, "expired: `exp` is past (make token prints a fresh one)"),
            Self::NotYetValid => write!(f, "not yet valid: `nbf` is in the future"),
            Self::Issuer => write!(f, "issuer: `iss` is not {ISSUER}"),
            Self::Audience => write!(f, "audience: `aud` is not {AUDIENCE}"),
            Self::MissingClaim(claim) => write!(f, "missing claim: `{claim}`"),
            Self::ClaimFormat(claim) => write!(f, "claim format: `{claim}` has the wrong type"),
            Self::Other => write!(f, "invalid token"),
        }
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
        let just_expired = jwt.token("alice", &[], 0);
        assert!(jwt
            .claims(Some(&format!("Bearer {just_expired}")))
            .is_none());
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
    fn refusals_name_their_reason_and_never_the_token() {
        let jwt = LocalJwt::new("s");
        let hs256 = || Header::new(Algorithm::HS256);
        let reason = |header: &str| jwt.verify(Some(header)).unwrap_err();
        assert_eq!(jwt.verify(None).unwrap_err(), Refusal::Missing);
        assert_eq!(reason("Bearer "), Refusal::Missing);
        assert_eq!(reason("Basic abc"), Refusal::NotBearer);
        assert_eq!(reason("Bearer a.b.c"), Refusal::Malformed);
        assert_eq!(reason("Bearer nodots"), Refusal::Malformed);
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(reason(&huge), Refusal::TooLong);

        let expired = format!("Bearer {}", jwt.token("alice", &[], -120));
        assert_eq!(reason(&expired), Refusal::Expired);
        let forged = format!("Bearer {}", LocalJwt::new("other").token("alice", &[], 60));
        assert_eq!(reason(&forged), Refusal::Signature);
        let later = claims_now(|c| {
            c.insert("nbf".into(), (chrono::Utc::now().timestamp() + 300).into());
        });
        assert_eq!(reason(&signed(hs256(), &later, b"s")), Refusal::NotYetValid);
        let issuer = claims_now(|c| {
            c.insert("iss".into(), "someone-else".into());
        });
        assert_eq!(reason(&signed(hs256(), &issuer, b"s")), Refusal::Issuer);
        let audience = claims_now(|c| {
            c.insert("aud".into(), "someone-else".into());
        });
        assert_eq!(reason(&signed(hs256(), &audience, b"s")), Refusal::Audience);
        let no_sub = claims_now(|c| {
            c.remove("sub");
        });
        assert_eq!(
            reason(&signed(hs256(), &no_sub, b"s")),
            Refusal::MissingClaim("sub".into())
        );
        let ok = claims_now(|_| {});
        let swapped = signed(Header::new(Algorithm::HS512), &ok, b"s");
        assert_eq!(reason(&swapped), Refusal::Algorithm);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "Bearer {}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_string(&ok).unwrap())
        );
        assert_eq!(reason(&none), Refusal::Algorithm);

        // What the server logs: the reason, not a piece of the token.
        for header in [expired, forged, none, swapped] {
            let text = reason(&header).to_string();
            for part in header.trim_start_matches("Bearer ").split('.') {
                assert!(part.is_empty() || !text.contains(part), "{text}");
            }
        }
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

//! Opaque, signed pagination cursors. A cursor names the chat (job and generation), the order
//! and the last key returned; the HMAC stops a caller from walking any other key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "j")]
    pub job_id: String,
    #[serde(rename = "g")]
    pub generation: u64,
    #[serde(rename = "d")]
    pub descending: bool,
    /// The sort key of the last message returned.
    #[serde(rename = "k")]
    pub after: String,
}

/// Signs and checks cursors with a secret fixed at cold start.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    pub fn encode(&self, cursor: &Cursor) -> String {
        let payload = serde_json::to_vec(cursor).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Decodes a cursor and checks that it belongs to this job and generation, and to the order
    /// the client asked for, if it asked (the cursor carries its own order).
    pub fn decode(
        &self,
        text: &str,
        job_id: &str,
        generation: u64,
        descending: Option<bool>,
    ) -> Result<Cursor, ApiError> {
        let invalid = |reason| ApiError::InvalidCursor { reason };
        let (payload, tag) = text.split_once('.').ok_or(invalid("malformed"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid("malformed"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| invalid("malformed"))?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| invalid("signature"))?;
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid("malformed"))?;
        if cursor.job_id != job_id {
            return Err(invalid("belongs to another job"));
        }
        if cursor.generation != generation {
            return Err(invalid("the chat was cleared since"));
        }
        if descending.is_some_and(|d| d != cursor.descending) {
            return Err(invalid("was issued for the other order"));
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            job_id: "job-a".into(),
            generation: 2,
            descending: false,
            after: "0000000002#M#2024-01-01T00:00:00.000000Z#m1".into(),
        }
    }

    #[test]
    fn round_trip() {
        let codec = CursorCodec::new(b"secret");
        let text = codec.encode(&sample());
        assert_eq!(
            codec.decode(&text, "job-a", 2, Some(false)).unwrap(),
            sample()
        );
        assert_eq!(codec.decode(&text, "job-a", 2, None).unwrap(), sample());
    }

    #[test]
    fn foreign_stale_tampered_and_wrongly_signed_cursors_are_refused() {
        let codec = CursorCodec::new(b"secret");
        let text = codec.encode(&sample());
        assert!(codec.decode(&text, "job-b", 2, None).is_err());
        assert!(codec.decode(&text, "job-a", 3, None).is_err());
        assert!(codec.decode(&text, "job-a", 2, Some(true)).is_err());
        assert!(CursorCodec::new(b"other")
            .decode(&text, "job-a", 2, None)
            .is_err());

        let (payload, tag) = text.split_once('.').unwrap();
        let mut forged = sample();
        forged.after = "0000000002#M#9999".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(codec
            .decode(&format!("{forged_payload}.{tag}"), "job-a", 2, None)
            .is_err());
        assert!(codec.decode(payload, "job-a", 2, None).is_err());
        assert!(codec.decode("%%%.###", "job-a", 2, None).is_err());
    }
}

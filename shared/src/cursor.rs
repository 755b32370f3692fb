//! Opaque, signed pagination cursors. A cursor names the chat (job and generation), the order
//! and the last key returned; the HMAC stops a caller from walking any other key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;
use crate::ids::JobId;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "j")]
    pub job_id: JobId,
    #[serde(rename = "g")]
    pub generation: u64,
    #[serde(rename = "d")]
    pub descending: bool,
    /// The sort key of the last message returned.
    #[serde(rename = "k")]
    pub after: String,
}

/// Signs and checks cursors with a secret fixed at cold start.
///
/// During a key rotation it also holds the key before it (`CURSOR_SECRET_PREVIOUS`): cursors are
/// always signed with the current key, and one signed with either key is accepted, so the cursors
/// clients hold when the key changes keep working until the previous key is dropped.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
    previous: Option<Vec<u8>>,
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
            previous: None,
        }
    }

    /// Also accepts cursors signed with `previous` (the key a rotation replaces); never signs
    /// with it.
    pub fn with_previous(mut self, previous: &[u8]) -> Self {
        self.previous = Some(previous.to_vec());
        self
    }

    fn mac(key: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// Whether `tag` is the payload's HMAC under the current key or, during a rotation, the
    /// previous one (each compared in constant time).
    fn verifies(&self, payload: &[u8], tag: &[u8]) -> bool {
        std::iter::once(&self.key)
            .chain(self.previous.as_ref())
            .any(|key| {
                let mut mac = Self::mac(key);
                mac.update(payload);
                mac.verify_slice(tag).is_ok()
            })
    }

    pub fn encode(&self, cursor: &Cursor) -> String {
        let payload = serde_json::to_vec(cursor).unwrap_or_default();
        let mut mac = Self::mac(&self.key);
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
        job_id: &JobId,
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
        if !self.verifies(&payload, &tag) {
            return Err(invalid("signature"));
        }
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid("malformed"))?;
        if cursor.job_id != *job_id {
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

    fn job_a() -> JobId {
        JobId::parse("0e8c5d3a-1b2c-4d5e-8f90-123456789abc").unwrap()
    }

    fn job_b() -> JobId {
        JobId::parse("0b7e3c6a-2f4d-4a51-9a8e-5d1c7f3e2a10").unwrap()
    }

    fn sample() -> Cursor {
        Cursor {
            job_id: job_a(),
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
            codec.decode(&text, &job_a(), 2, Some(false)).unwrap(),
            sample()
        );
        assert_eq!(codec.decode(&text, &job_a(), 2, None).unwrap(), sample());
    }

    #[test]
    fn cursors_issued_while_the_job_id_was_a_plain_string_still_decode() {
        // Encoded and signed with "secret" before `Cursor::job_id` became a `JobId`.
        let issued_before = "eyJqIjoiMGU4YzVkM2EtMWIyYy00ZDVlLThmOTAtMTIzNDU2Nzg5YWJjIiwiZyI6MiwiZCI6ZmFsc2UsImsiOiIwMDAwMDAwMDAyI00jMjAyNC0wMS0wMVQwMDowMDowMC4wMDAwMDBaI20xIn0.ez_MdxoA7S1i2kIc9wzqxryy2Kx2UYrof-3ucTev5bY";
        let codec = CursorCodec::new(b"secret");
        assert_eq!(
            codec.decode(issued_before, &job_a(), 2, None).unwrap(),
            sample()
        );
        assert_eq!(
            codec.encode(&sample()),
            issued_before,
            "the same text as before"
        );
    }

    #[test]
    fn a_signed_cursor_whose_job_is_not_a_job_id_is_malformed() {
        let codec = CursorCodec::new(b"secret");
        let payload = br#"{"j":"job-a","g":2,"d":false,"k":"k"}"#;
        let mut mac = CursorCodec::mac(b"secret");
        mac.update(payload);
        let text = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert!(matches!(
            codec.decode(&text, &job_a(), 2, None),
            Err(ApiError::InvalidCursor {
                reason: "malformed"
            })
        ));
    }

    #[test]
    fn foreign_stale_tampered_and_wrongly_signed_cursors_are_refused() {
        let codec = CursorCodec::new(b"secret");
        let text = codec.encode(&sample());
        assert!(codec.decode(&text, &job_b(), 2, None).is_err());
        assert!(codec.decode(&text, &job_a(), 3, None).is_err());
        assert!(codec.decode(&text, &job_a(), 2, Some(true)).is_err());
        assert!(CursorCodec::new(b"other")
            .decode(&text, &job_a(), 2, None)
            .is_err());

        let (payload, tag) = text.split_once('.').unwrap();
        let mut forged = sample();
        forged.after = "0000000002#M#9999".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(codec
            .decode(&format!("{forged_payload}.{tag}"), &job_a(), 2, None)
            .is_err());
        assert!(codec.decode(payload, &job_a(), 2, None).is_err());
        assert!(codec.decode("%%%.###", &job_a(), 2, None).is_err());
    }

    #[test]
    fn a_rotation_signs_with_the_new_key_and_accepts_the_old_one_until_it_is_dropped() {
        let old = CursorCodec::new(b"old-key-0123456789");
        let issued_before = old.encode(&sample());

        // During the rotation: CURSOR_SECRET = new, CURSOR_SECRET_PREVIOUS = old.
        let rotating = CursorCodec::new(b"new-key-0123456789").with_previous(b"old-key-0123456789");
        assert_eq!(
            rotating.decode(&issued_before, &job_a(), 2, None).unwrap(),
            sample(),
            "a cursor signed with the old key still works"
        );
        let issued_during = rotating.encode(&sample());
        assert_ne!(
            issued_during, issued_before,
            "new cursors are not signed with the old key"
        );
        assert!(old.decode(&issued_during, &job_a(), 2, None).is_err());
        assert_eq!(
            CursorCodec::new(b"new-key-0123456789")
                .decode(&issued_during, &job_a(), 2, None)
                .unwrap(),
            sample(),
            "new cursors are signed with the new key"
        );
        // The previous key only vouches for the signature: job, generation and order still count.
        assert!(rotating.decode(&issued_before, &job_b(), 2, None).is_err());
        assert!(rotating.decode(&issued_before, &job_a(), 3, None).is_err());

        // After it: the old key is dropped.
        let rotated = CursorCodec::new(b"new-key-0123456789");
        assert!(matches!(
            rotated.decode(&issued_before, &job_a(), 2, None),
            Err(ApiError::InvalidCursor {
                reason: "signature"
            })
        ));
        assert_eq!(
            rotated.decode(&issued_during, &job_a(), 2, None).unwrap(),
            sample()
        );

        // A key that is neither is refused, rotation or not.
        let stranger = CursorCodec::new(b"another-key-012345").encode(&sample());
        assert!(rotating.decode(&stranger, &job_a(), 2, None).is_err());
    }

    #[test]
    fn the_keys_are_never_printed() {
        let codec = CursorCodec::new(b"new-key-0123456789").with_previous(b"old-key-0123456789");
        let text = format!("{codec:?}");
        assert!(
            !text.contains("new-key") && !text.contains("old-key"),
            "{text}"
        );
    }
}

//! Configuration, read from the environment once per cold start.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use thiserror::Error;

use crate::cursor::CursorCodec;
use crate::deps::{Deps, Settings};
use crate::store::dynamo::DynamoStore;
use crate::store::retry;

/// Used only off Lambda (local server, tests), where cursors need no secrecy.
const DEVELOPMENT_CURSOR_SECRET: &str = "quote-chat-development-cursor-secret";
const MIN_SECRET_BYTES: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub messages_table: String,
    pub jobs_table: String,
    pub staff_group: String,
    pub retention_days: u32,
    /// Signs list cursors; only the list function needs it.
    pub cursor_secret: Option<String>,
    /// During a key rotation, the key `cursor_secret` replaces: cursors signed with it are still
    /// accepted, none is signed with it (`CURSOR_SECRET_PREVIOUS`).
    pub cursor_secret_previous: Option<String>,
    /// Running as a Lambda function (not the local server or a test).
    pub on_lambda: bool,
    /// Set for DynamoDB Local; unset on AWS.
    pub dynamodb_endpoint: Option<String>,
    pub operation_timeout: Duration,
    pub attempt_timeout: Duration,
}

/// Never prints the cursor secret.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("messages_table", &self.messages_table)
            .field("jobs_table", &self.jobs_table)
            .field("staff_group", &self.staff_group)
            .field("retention_days", &self.retention_days)
            .field(
                "cursor_secret",
                &self.cursor_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "cursor_secret_previous",
                &self.cursor_secret_previous.as_ref().map(|_| "<redacted>"),
            )
            .field("on_lambda", &self.on_lambda)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("operation_timeout", &self.operation_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish()
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is invalid: {problem}")]
    Invalid {
        name: &'static str,
        problem: &'static str,
    },
    #[error("{0} must be set when running on Lambda")]
    Missing(&'static str),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the configuration from any source of variables (the environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let on_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let number = |name: &'static str, default: u64, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    name,
                    problem: "not a whole number in range",
                }),
            },
        };
        let secret = |name: &'static str| match get(name) {
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => Ok(Some(secret)),
            Some(_) => Err(ConfigError::Invalid {
                name,
                problem: "shorter than 16 bytes",
            }),
            None => Ok(None),
        };
        let cursor_secret = secret("CURSOR_SECRET")?;
        let cursor_secret_previous = secret("CURSOR_SECRET_PREVIOUS")?;
        if cursor_secret_previous.is_some() && cursor_secret.is_none() {
            // A rotation replaces a key with another: the previous key alone would mean signing
            // with the development key while accepting the production one.
            return Err(ConfigError::Invalid {
                name: "CURSOR_SECRET_PREVIOUS",
                problem: "set without CURSOR_SECRET",
            });
        }
        Ok(Self {
            messages_table: get("MESSAGES_TABLE").unwrap_or_else(|| "quote-chat-messages".into()),
            jobs_table: get("JOBS_TABLE").unwrap_or_else(|| "jobs".into()),
            staff_group: get("STAFF_GROUP").unwrap_or_else(|| "staff".into()),
            retention_days: u32::try_from(number("RETENTION_DAYS", 30, 1, 3650)?).unwrap_or(30),
            cursor_secret,
            cursor_secret_previous,
            on_lambda,
            dynamodb_endpoint: get("DYNAMODB_ENDPOINT"),
            operation_timeout: Duration::from_millis(number(
                "DYNAMODB_OPERATION_TIMEOUT_MS",
                4000,
                100,
                60_000,
            )?),
            attempt_timeout: Duration::from_millis(number(
                "DYNAMODB_ATTEMPT_TIMEOUT_MS",
                1500,
                50,
                60_000,
            )?),
        })
    }

    /// The DynamoDB client: explicit timeouts below the Lambda timeout, the SDK's part of the
    /// retry policy (`store::retry`), and for DynamoDB Local a fixed endpoint and dummy
    /// credentials.
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(self.operation_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .connect_timeout(Duration::from_secs(1))
            .build();
        // Pinned, not `latest()`: a newer SDK release must not change retry, timeout or
        // connection defaults under us. Move it on deliberately, after reading the release notes.
        let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .timeout_config(timeouts)
            .retry_config(retry::sdk_retry_config());
        if let Some(endpoint) = &self.dynamodb_endpoint {
            loader = loader.endpoint_url(endpoint);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader
                    .credentials_provider(Credentials::new("local", "local", None, None, "static"));
            }
            if std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            {
                loader = loader.region(Region::new("us-east-1"));
            }
        }
        let config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await)
            .retry_classifier(retry::ThrottledCancellation)
            .interceptor(crate::metrics::DynamoMeter)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The list function signs cursors that other instances must accept, so on Lambda it
    /// refuses to start with a made-up key.
    pub fn require_cursor_secret(&self) -> Result<(), ConfigError> {
        if self.on_lambda && self.cursor_secret.is_none() {
            return Err(ConfigError::Missing("CURSOR_SECRET"));
        }
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        let secret = self
            .cursor_secret
            .as_deref()
            .unwrap_or(DEVELOPMENT_CURSOR_SECRET);
        let mut cursors = CursorCodec::new(secret.as_bytes());
        if let Some(previous) = &self.cursor_secret_previous {
            cursors = cursors.with_previous(previous.as_bytes());
        }
        Settings {
            staff_group: self.staff_group.clone(),
            retention_days: self.retention_days,
            cursors,
        }
    }

    /// Everything a handler needs, on DynamoDB.
    pub async fn deps(&self) -> Deps<DynamoStore> {
        let store = DynamoStore::new(
            self.dynamodb_client().await,
            self.messages_table.clone(),
            self.jobs_table.clone(),
        );
        Deps {
            store,
            settings: self.settings(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_off_lambda() {
        let config = from(&[]).unwrap();
        assert_eq!(config.messages_table, "quote-chat-messages");
        assert_eq!(config.jobs_table, "jobs");
        assert_eq!(config.staff_group, "staff");
        assert_eq!(config.retention_days, 30);
    }

    #[test]
    fn on_lambda_the_cursor_secret_must_be_real_and_is_never_printed() {
        let without = from(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).unwrap();
        assert_eq!(
            without.require_cursor_secret(),
            Err(ConfigError::Missing("CURSOR_SECRET"))
        );
        assert!(
            from(&[]).unwrap().require_cursor_secret().is_ok(),
            "off Lambda a dev key serves"
        );
        assert!(from(&[("CURSOR_SECRET", "short")]).is_err());
        let with = from(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("CURSOR_SECRET", "0123456789abcdef"),
        ])
        .unwrap();
        assert!(with.require_cursor_secret().is_ok());
        assert!(!format!("{with:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn during_a_rotation_cursors_signed_with_either_key_are_accepted() {
        use crate::cursor::Cursor;
        let job = crate::ids::JobId::parse("0e8c5d3a-1b2c-4d5e-8f90-123456789abc").unwrap();
        let cursor = Cursor {
            job_id: job.clone(),
            generation: 1,
            descending: false,
            after: "k".into(),
        };
        let before = from(&[("CURSOR_SECRET", "old-key-0123456789")]).unwrap();
        let issued_before = before.settings().cursors.encode(&cursor);

        let rotating = from(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("CURSOR_SECRET", "new-key-0123456789"),
            ("CURSOR_SECRET_PREVIOUS", "old-key-0123456789"),
        ])
        .unwrap();
        assert!(rotating.require_cursor_secret().is_ok());
        let cursors = rotating.settings().cursors;
        assert!(cursors.decode(&issued_before, &job, 1, None).is_ok());
        let issued_during = cursors.encode(&cursor);
        assert!(before
            .settings()
            .cursors
            .decode(&issued_during, &job, 1, None)
            .is_err());

        let after = from(&[("CURSOR_SECRET", "new-key-0123456789")]).unwrap();
        assert!(after
            .settings()
            .cursors
            .decode(&issued_before, &job, 1, None)
            .is_err());
        assert!(after
            .settings()
            .cursors
            .decode(&issued_during, &job, 1, None)
            .is_ok());

        let text = format!("{rotating:?}");
        assert!(!text.contains("-key-"), "{text}");
    }

    #[test]
    fn the_previous_cursor_secret_needs_a_current_one_and_16_bytes() {
        assert_eq!(
            from(&[("CURSOR_SECRET_PREVIOUS", "old-key-0123456789")]),
            Err(ConfigError::Invalid {
                name: "CURSOR_SECRET_PREVIOUS",
                problem: "set without CURSOR_SECRET",
            })
        );
        assert_eq!(
            from(&[
                ("CURSOR_SECRET", "new-key-0123456789"),
                ("CURSOR_SECRET_PREVIOUS", "short"),
            ]),
            Err(ConfigError::Invalid {
                name: "CURSOR_SECRET_PREVIOUS",
                problem: "shorter than 16 bytes",
            })
        );
        assert_eq!(
            from(&[]).unwrap().cursor_secret_previous,
            None,
            "no rotation unless asked for"
        );
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert!(from(&[("RETENTION_DAYS", "0")]).is_err());
        assert!(from(&[("RETENTION_DAYS", "x")]).is_err());
        assert_eq!(from(&[("RETENTION_DAYS", "7")]).unwrap().retention_days, 7);
    }
}

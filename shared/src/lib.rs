//! The quote-chat library: everything the six Lambda functions (list, create, clear, patch, the
//! fallback, the sweep) and the local server share.
//!
//! - Domain: [`model`] (the message and the validated requests), [`chat`] (the writes over any
//!   [`store::ChatStore`], with the access rule), [`history`] (the reads), [`export`] (its
//!   formats), [`fingerprint`] (retry or conflict), [`cursor`] (signed paging), [`limits`].
//! - Input: [`validate`] (untrusted text into domain values), [`auth`] (the caller).
//! - Storage: [`store`], the port with its DynamoDB and in-memory adapters and its one retry
//!   policy.
//! - HTTP: [`routes`] (the one route table), [`http`] (requests in, the envelope out),
//!   [`etag`] (tags and `If-None-Match`), [`error`] (the one error type), [`apigw`] and
//!   [`lambda`] (API Gateway events and the Lambda runtime).
//! - Running: [`config`], [`telemetry`] (logs), [`metrics`] (cost and EMF).
//! - `testing` (feature `testing`): the in-memory store and the builders of handler tests.

pub mod apigw;
pub mod auth;
pub mod chat;
pub mod config;
pub mod cursor;
pub mod error;
pub mod etag;
pub mod export;
pub mod fingerprint;
pub mod history;
pub mod http;
pub mod lambda;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod routes;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

pub use chat::{Deps, Settings};
pub use config::Config;
pub use error::{ApiError, StoreError};

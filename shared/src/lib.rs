//! The quote-chat library: everything the six Lambda functions (list, create, clear, patch, the
//! fallback, the sweep) and the local server share.
//!
//! - Domain: [`model`] (the message and the validated requests), [`access`] (who may use a
//!   job's chat: every read and write opens it there), [`writes`] (create, patch, clear,
//!   restore over any [`store::ChatStore`]), [`reads`] (the list, one message, the summary),
//!   [`export`] (the export: its formats, its pages and its download), [`deps`] (what a handler
//!   needs), [`fingerprint`] (retry or conflict), [`cursor`] (signed paging), [`timestamps`],
//!   [`limits`].
//! - Input: [`ids`] (`JobId`, `MessageId`: made only by parsing), [`validate`] (untrusted
//!   text into domain values), [`auth`] (the caller).
//! - Storage: [`store`], the port with its DynamoDB and in-memory adapters and its one retry
//!   policy.
//! - HTTP: [`routes`] (the one route table), [`http`] (requests in, the envelope out,
//!   conditional reads, the deadline, the request log), [`etag`] (the tags and
//!   `If-None-Match`), [`error`] (the one error type), [`apigw`] and [`lambda`] (API Gateway
//!   events and the Lambda runtime).
//! - Running: [`config`], [`telemetry`] (logs), [`metrics`] (cost and EMF).
//! - `testing` (feature `testing`): the in-memory store and the builders of handler tests.

pub mod access;
pub mod apigw;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod deps;
pub mod error;
pub mod etag;
pub mod export;
pub mod fingerprint;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod reads;
pub mod routes;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timestamps;
pub mod validate;
pub mod writes;

pub use config::Config;
pub use deps::{Deps, Settings};
pub use error::{ApiError, StoreError};

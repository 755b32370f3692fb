//! The quote-chat library: everything the four Lambda functions and the local server share.
//!
//! - [`model`]: the message and the validated requests; [`validate`]: parsing untrusted input.
//! - [`chat`]: the four operations over any [`store::ChatStore`].
//! - [`store`]: the storage port with its DynamoDB and in-memory adapters.
//! - [`http`]: reading API Gateway requests, writing the envelope of API.md.
//! - [`auth`], [`cursor`], [`config`], [`error`], [`limits`], [`telemetry`].
//! - `testing` (feature `testing`): the in-memory store and the builders of handler tests.

pub mod apigw;
pub mod auth;
pub mod chat;
pub mod config;
pub mod cursor;
pub mod error;
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

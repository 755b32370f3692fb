//! The quote-chat library: everything the four Lambda functions and the local server share.
//!
//! - [`model`]: the message and the validated requests; [`validate`]: parsing untrusted input.
//! - [`chat`]: the four operations over any [`store::ChatStore`].
//! - [`store`]: the storage port with its DynamoDB and in-memory adapters.
//! - [`http`]: reading API Gateway requests, writing the envelope of API.md.
//! - [`auth`], [`cursor`], [`config`], [`error`], [`limits`], [`telemetry`].
//! - `setup` (feature `setup`): the tables as template.yaml makes them, on DynamoDB Local, and
//!   jobs to use them with; `testing` (feature `testing`): the in-memory store, test builders.

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
#[cfg(any(test, feature = "setup"))]
pub mod setup;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

pub use chat::{Deps, Settings};
pub use config::Config;
pub use error::{ApiError, StoreError};

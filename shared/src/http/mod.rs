//! HTTP plumbing shared by the handlers, one file per job:
//! - [`request`]: reading a request as API Gateway delivers it (caller, ids, headers, query,
//!   body);
//! - [`envelope`]: writing every answer in the envelope of docs/api.md;
//! - [`conditional`]: `ETag`s and `304 Not Modified`;
//! - [`deadline`]: answering before the Lambda deadline;
//! - [`serve`](mod@serve): a handler's whole answer, with its request log line and metrics.
//!
//! The export's downloads are written in [`crate::export`].

pub mod conditional;
pub mod deadline;
pub mod envelope;
pub mod request;
pub mod serve;

pub use conditional::{conditional_get, read, with_etag};
pub use deadline::before_deadline;
pub use envelope::{failure, respond, success, REQUEST_ID};
pub use request::{
    caller, header, if_none_match, job_id, json_body, list_query, message_id, query, request_id,
};
pub use serve::serve;

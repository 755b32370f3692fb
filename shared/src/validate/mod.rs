//! Turns untrusted request text into validated domain values, naming every bad field:
//! - [`ids`]: the job and message ids of the path (the types are [`crate::ids`]);
//! - [`json`]: a body's top-level fields, each held to what every JSON client can read back;
//! - [`body`]: the POST and PATCH bodies;
//! - [`headers`]: the `If-Match` header;
//! - [`query`]: the query of a GET.

use serde_json::{Map, Value};

use crate::error::ApiError;

pub mod body;
pub mod headers;
pub mod ids;
pub mod json;
pub mod query;

pub use body::{check_metadata_size, message_patch, new_message};
pub use headers::if_match;
pub use ids::{job_id, path_message_id};
pub use query::{list_query, ListQuery};

/// Collects the problems of one request so the client hears about all of them at once.
#[derive(Default)]
pub(crate) struct Problems(Map<String, Value>);

impl Problems {
    pub(crate) fn add(&mut self, field: &str, problem: &str) {
        self.0.insert(field.to_owned(), Value::from(problem));
    }

    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation { details: self.0 })
        }
    }
}

/// The field problems of a refusal, for tests.
#[cfg(test)]
pub(crate) fn details(err: ApiError) -> Map<String, Value> {
    match err {
        ApiError::Validation { details } => details,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

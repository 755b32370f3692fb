//! End-to-end tests of docs/api.md against DynamoDB Local: through the handlers the Lambdas run,
//! and through real HTTP on the local server. One binary, so the build links once.

mod auth;
mod clear;
mod create;
mod events;
mod faults;
mod http_faults;
mod list;
mod local_server;
mod openapi;
mod overview;
mod patch;
mod proxy;
mod routes;
mod runtime;
mod store;
mod sweep;

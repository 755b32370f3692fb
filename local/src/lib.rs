//! The local development server: the handlers of the functions that serve routes (one per
//! `shared::routes::Function`, dispatched by an exhaustive match in server.rs) behind one port,
//! with the local JWT scheme standing in for API Gateway's authorizer; it answers unknown paths
//! itself, as the fallback function does, and runs the sweep in the background. Never deployed.

pub mod cors;
pub mod jwt;
pub mod server;

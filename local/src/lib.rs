//! The local development server: the four Lambda handlers behind one port, with the local JWT
//! scheme standing in for API Gateway's authorizer. Never deployed.

pub mod cors;
pub mod jwt;
pub mod server;

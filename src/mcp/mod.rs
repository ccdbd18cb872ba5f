//! The MCP server (official `rmcp` crate) over stdio and streamable HTTP.

mod app;
mod body;
mod elicit;
mod gate;
mod owners;
mod schema;
mod server;
mod sessions;
mod tools;
mod transport;

pub use server::ArmatureServer;
pub use sessions::Sessions;
pub use tools::Catalog;
pub use transport::{serve_http, serve_stdio, MAX_REQUEST_BYTES};

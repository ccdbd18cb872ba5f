//! The MCP server (official `rmcp` crate) over stdio and streamable HTTP.

mod server;
mod transport;

pub use server::ArmatureServer;
pub use transport::{serve_http, serve_stdio, MAX_REQUEST_BYTES};

#![warn(missing_docs)]
//! `ablo-mcp`: an MCP server over stdio for coding and chat agents. It
//! connects to an Ablo server with an API key or a capability token, reads
//! the pushed schema and offers tools made from it: list and describe
//! models, per-model `get`, `list`, `create`, `update` and `delete`, claims
//! (`claim`, `release`), `list_intents` and `wait_until_free`.
//!
//! Every tool answers JSON. A refused call is a tool error (`isError: true`)
//! whose JSON is `{"error": {"code", "message", "status", "details"}}` with
//! the server's error code; a `stale_context` error carries the current row
//! and its stamp in `details`, so the model can re-read and retry.
//!
//! ```no_run
//! # async fn run() -> Result<(), ablo_mcp::ToolError> {
//! let tools = ablo_mcp::Tools::connect("http://127.0.0.1:7700", "sk_test_...").await?;
//! for tool in tools.definitions() {
//!     println!("{}: {}", tool.name, tool.description);
//! }
//! let row = tools.call("tasks_get", serde_json::json!({"id": "t1"})).await?;
//! # let _ = row; Ok(()) }
//! ```

mod api;
mod handler;
mod tools;

pub use api::Api;
pub use handler::McpServer;
pub use tools::{ToolDefinition, ToolError, Tools};

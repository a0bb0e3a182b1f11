//! `ablo-mcp`: the Ablo MCP server over stdio.
//!
//! ```text
//! ABLO_URL=http://127.0.0.1:7700 ABLO_API_KEY=sk_test_... ablo-mcp
//! ```
//!
//! `ABLO_API_KEY` may hold an API key or a capability token (`ABLO_TOKEN` is
//! read when it is unset). Logs go to stderr; stdout carries MCP only.

use std::process::ExitCode;

use rmcp::ServiceExt;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("ABLO_URL").unwrap_or_else(|_| "http://127.0.0.1:7700".to_owned());
    let token = std::env::var("ABLO_API_KEY")
        .or_else(|_| std::env::var("ABLO_TOKEN"))
        .unwrap_or_default();
    let tools = match ablo_mcp::Tools::connect(&url, &token).await {
        Ok(tools) => tools,
        Err(err) => {
            eprintln!("ablo-mcp: cannot read the schema of {url}: {err}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "ablo-mcp: schema `{}` of {url}, {} models",
        tools.schema().name,
        tools.schema().models.len()
    );
    let running = match ablo_mcp::McpServer::new(tools)
        .serve(rmcp::transport::stdio())
        .await
    {
        Ok(running) => running,
        Err(err) => {
            eprintln!("ablo-mcp: MCP start failed: {err}");
            return ExitCode::from(1);
        }
    };
    match running.waiting().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ablo-mcp: {err}");
            ExitCode::from(1)
        }
    }
}

//! [`McpServer`]: the rmcp server handler over [`Tools`].

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};

use crate::tools::Tools;

/// The MCP server: lists [`Tools::definitions`] and runs [`Tools::call`].
/// A refused call answers a tool error (`isError: true`) whose text and
/// structured content are the [`crate::ToolError`] JSON.
///
/// ```no_run
/// use rmcp::ServiceExt;
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tools = ablo_mcp::Tools::connect("http://127.0.0.1:7700", "sk_test_...").await?;
/// let running = ablo_mcp::McpServer::new(tools).serve(rmcp::transport::stdio()).await?;
/// running.waiting().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct McpServer {
    tools: Arc<Tools>,
    definitions: Arc<Vec<Tool>>,
}

impl McpServer {
    /// A server over `tools`.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let api = ablo_mcp::Api::new("http://127.0.0.1:7700", "sk_test_1").unwrap();
    /// let tools = ablo_mcp::Tools::new(api, SchemaDescriptor::build("App", vec![], TypeRegistry::default()));
    /// let _server = ablo_mcp::McpServer::new(tools);
    /// ```
    pub fn new(tools: Tools) -> Self {
        let definitions = tools
            .definitions()
            .into_iter()
            .map(|d| {
                let schema = match d.input_schema {
                    serde_json::Value::Object(map) => map,
                    _ => Default::default(),
                };
                Tool::new(d.name, d.description, Arc::new(schema))
            })
            .collect();
        McpServer {
            tools: Arc::new(tools),
            definitions: Arc::new(definitions),
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let schema = self.tools.schema();
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("ablo-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Tools over the Ablo schema `{}` (models: {}). Read a row before writing it and \
                 pass its stamp as readAt; on stale_context, re-read from the error's \
                 details.current and retry. Claim a row before a long edit and release it after.",
                schema.name,
                schema
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items((*self.definitions).clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request
            .arguments
            .map(serde_json::Value::Object)
            .unwrap_or(serde_json::Value::Null);
        let result = match self.tools.call(&request.name, args).await {
            Ok(value) => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(value);
                result
            }
            Err(err) => {
                let value = err.to_json();
                let mut result = CallToolResult::error(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(value);
                result
            }
        };
        Ok(result.into())
    }
}

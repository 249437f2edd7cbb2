//! The MCP gateway (DESIGN.md §5): `/mcp/{slug}` forwards a signed-in client's MCP traffic to
//! the user's upstream with the user's upstream credential injected.

pub mod audit;
pub mod errors;
pub mod forward;
pub mod headers;
pub mod inspect;
pub mod route;
pub mod streams;

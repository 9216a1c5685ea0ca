//! An MCP server for tests (to be written).

"""Real servers and fixtures the tests start (model server, MCP server)."""

"""warmer for coding agents over the Model Context Protocol (`warmer mcp`).

server.py     the MCP server on the official SDK: stdio and streamable HTTP (bearer token)
tools.py      the tools agents call, each a recorded lookup through warmer.cache.agent_api
resources.py  every artifact as a resource (warmer://{repo}/{artifact_type}[/{path}])
answers.py    the part of an entry each question needs, as text and data
repo_map.py   the repository map at the budget the agent asks for
budget.py     token budgets, and the line that says what was left out
"""

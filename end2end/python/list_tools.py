"""Lists the tools of an MCP server with the official Python SDK (PyPI `mcp`), authorized
by a bearer credential; prints their names as a JSON array."""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, credential: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {credential}"})
    async with http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            names, cursor = [], None
            while True:
                page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
                names.extend(tool.name for tool in page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            print(json.dumps(names))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

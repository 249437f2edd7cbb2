// DESIGN.md §2 journey 5 in a real browser: an API key is created on /keys and shown once
// with ready-to-paste configuration; every snippet is parsed and checked; the official MCP
// TypeScript SDK client uses the key in a header to call a tool on an upstream that only
// accepts the static credential Gatehouse holds.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { startStaticUpstream, UpstreamServer } from '../fixtures/upstream';

const PASSWORD = 'correct horse battery';
const SECRET = 'notes-upstream-secret';
let gh: Gatehouse;
let upstream: UpstreamServer;

test.beforeEach(async () => {
  upstream = await startStaticUpstream(SECRET);
  gh = await startGatehouse({ GATEHOUSE_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' });
  expect(gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n').status).toBe(0);
  const added = gh.cli(['server', 'add', 'admin', 'notes', upstream.url, '--bearer-stdin'], SECRET + '\n');
  expect(added.status, added.stderr).toBe(0);
});
test.afterEach(async () => {
  await gh.stop();
  await upstream.stop();
});

/** Splits a shell command line the way a POSIX shell would for plain and "double-quoted" words. */
function argv(line: string): string[] {
  const words = line.match(/"[^"]*"|\S+/g) ?? [];
  return words.map((w) => (w.startsWith('"') ? w.slice(1, -1) : w));
}

test('create a key, read it once, paste its configuration, call a tool with it', async ({ page }) => {
  await page.goto(gh.url + '/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.goto(gh.url + '/keys');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel(/^Name/).fill('laptop');
  await page.getByLabel('Expires').selectOption('30d');
  await page.getByRole('button', { name: 'Create key' }).click();

  const shown = page.locator('#new-key');
  await expect(shown).toHaveText(/^gh_sk_[A-Za-z0-9_-]{43}$/);
  const key = (await shown.textContent())!;
  await expect(page.locator('#keys tr[data-key="laptop"]')).toContainText('gh_sk_');
  const url = `${gh.url}/mcp/notes`;

  const snippet = async (client: string) => (await page.locator(`pre[data-client="${client}"]`).textContent())!;
  // Claude Desktop: a stdio server running mcp-remote, the header from the env.
  const desktop = JSON.parse(await snippet('Claude Desktop'));
  const entry = desktop.mcpServers['gatehouse-notes'];
  expect(entry.command).toBe('npx');
  expect(entry.args).toEqual(['mcp-remote', url, '--header', 'Authorization:${AUTH_HEADER}']);
  expect(entry.env.AUTH_HEADER).toBe(`Bearer ${key}`);
  // Claude Code: a command line that parses into the right words.
  expect(argv(await snippet('Claude Code'))).toEqual([
    'claude', 'mcp', 'add', '--transport', 'http', 'gatehouse-notes', url, '--header', `Authorization: Bearer ${key}`,
  ]);
  // Cursor and VS Code: valid JSON with the URL and the header (VS Code asks for the key).
  const cursor = JSON.parse(await snippet('Cursor'));
  expect(cursor.mcpServers['gatehouse-notes']).toEqual({ url, headers: { Authorization: `Bearer ${key}` } });
  const vscode = JSON.parse(await snippet('VS Code'));
  expect(vscode.servers['gatehouse-notes']).toEqual({ type: 'http', url, headers: { Authorization: 'Bearer ${input:gatehouse-key}' } });
  expect(vscode.inputs[0]).toMatchObject({ id: 'gatehouse-key', password: true });
  expect(await snippet('Another client')).toContain(`Authorization: Bearer ${key}`);

  // Shown once: a reload lists the key by its prefix only.
  await page.reload();
  await expect(page.locator('#keys tr[data-key="laptop"]')).toBeVisible();
  expect(await page.content()).not.toContain(key);

  // The official SDK client with the key in a header.
  const client = new Client({ name: 'key-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  const result = await client.callTool({ name: 'echo', arguments: {} });
  expect(result.content).toEqual([{ type: 'text', text: 'echoed' }]);
  await client.close();
  expect(upstream.authorizations.length).toBeGreaterThan(0);
  for (const a of upstream.authorizations) expect(a).toBe(`Bearer ${SECRET}`);

  // Revoked on the page: the client is refused.
  await page.locator('#keys tr[data-key="laptop"]').getByRole('button', { name: 'Revoke laptop' }).click();
  await expect(page.getByRole('status')).toContainText("Revoked key 'laptop'");
  const refused = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
  expect(refused.status).toBe(401);
});

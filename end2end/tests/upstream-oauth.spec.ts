// DESIGN.md §2 journey 3 in a real browser: an upstream MCP server with its own authorization
// server (both the official MCP TypeScript SDK: mcpAuthRouter with DCR + PKCE and a consent
// click). Add server → the page shows the discovered authorization server → Authenticate →
// consent at the upstream → Connected → the official SDK client, authorized by Gatehouse, calls
// a tool through /mcp/notes, and the upstream sees only its own server's token.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { authorizeSdkClient, createAdmin } from '../fixtures/journeys';
import { startOAuthUpstream, OAuthUpstream } from '../fixtures/oauth-upstream';

let gh: Gatehouse;
let upstream: OAuthUpstream;

test.beforeEach(async () => {
  upstream = await startOAuthUpstream();
  gh = await startGatehouse({ GATEHOUSE_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' });
});
test.afterEach(async () => {
  await gh.stop();
  await upstream.stop();
});

test('Add server discovers its own sign-in, Authenticate consents upstream, an SDK client calls through', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(gh.url + '/setup');
  await createAdmin(page, gh);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  // Add server: the probe finds the 401, the RFC 9728 and RFC 8414 documents, and registers.
  await page.getByLabel('Upstream MCP URL').fill(upstream.url);
  await page.getByLabel(/^Slug/).fill('notes');
  await page.getByRole('button', { name: 'Add server' }).click();
  await expect(page.getByRole('status')).toHaveText(
    `Added server 'notes'. Found its sign-in at ${upstream.issuer}: click Authenticate to connect.`,
  );
  const row = page.locator('tr[data-slug="notes"]');
  await expect(row.locator('code.issuer')).toHaveText(upstream.issuer);
  await expect(row.locator('dd.registration')).toHaveText('dynamic client registration');
  await expect(row.locator('dd.offered')).toHaveText('notes:read');
  await expect(row).toHaveAttribute('data-state', 'Not connected');
  expect(upstream.registrations()).toBe(1);

  // Authenticate: on to the upstream's own consent page, then back, connected.
  await row.getByRole('button', { name: 'Authenticate notes' }).click();
  await expect(page.getByRole('heading', { name: 'Allow Gatehouse to use the Notes server?' })).toBeVisible();
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page).toHaveURL(`${gh.url}/servers`);
  await expect(page.getByRole('status')).toHaveText("Connected 'notes'.");
  await expect(row).toHaveAttribute('data-state', 'Connected');
  await expect(row.locator('.scopes')).toHaveText('Scopes: notes:read');
  expect(upstream.issuedTokens).toHaveLength(1);

  // The AI client: the official SDK, authorized by Gatehouse in the same browser.
  const serverUrl = new URL(`${gh.url}/mcp/notes`);
  const provider = await authorizeSdkClient(page, serverUrl, async () => {
    await expect(page.getByRole('checkbox', { name: /notes/ })).toBeChecked();
  });
  const gatehouseToken = provider.saved!.access_token;

  const connected = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  await connected.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  const result = await connected.callTool({ name: 'whoami', arguments: {} });
  expect(result.content).toEqual([{ type: 'text', text: 'authorized by notes-upstream' }]);
  await connected.close();

  // The upstream saw its own server's token on every call, never Gatehouse's.
  const own = `Bearer ${upstream.issuedTokens[0]}`;
  const sent = upstream.authorizations.filter((a) => a !== '');
  expect(sent.length).toBeGreaterThan(0);
  for (const a of sent) {
    expect(a).toBe(own);
    expect(a).not.toContain(gatehouseToken);
  }
  expect(errors).toEqual([]);
});

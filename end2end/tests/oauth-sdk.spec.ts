// Issue 3 end to end: the official MCP TypeScript SDK client discovers Gatehouse from the
// 401, registers by DCR, and its authorization URL is completed in chromium (sign-in +
// consent); it exchanges the code, refreshes, and its token works only for its own server.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { MemoryProvider, REDIRECT } from '../fixtures/oauth-provider';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';

const PASSWORD = 'correct horse battery';

let gh: Gatehouse;
test.beforeEach(async () => {
  gh = await startGatehouse();
  const made = gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n');
  expect(made.status, made.stderr).toBe(0);
  for (const slug of ['gmail', 'drive']) {
    const added = gh.cli(['server', 'add', 'admin', slug, `https://${slug}-mcp.example.com/mcp`]);
    expect(added.status, added.stderr).toBe(0);
  }
});
test.afterEach(async () => {
  await gh.stop();
});

async function mcpPost(slug: string, token: string) {
  return fetch(`${gh.url}/mcp/${slug}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
}

test('the MCP SDK client completes OAuth through sign-in and consent, then refreshes', async ({ page }) => {
  const provider = new MemoryProvider();
  const serverUrl = `${gh.url}/mcp/gmail`;
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
  const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });

  // 1. The 401 sends the SDK through discovery and DCR to an authorization URL.
  await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const authUrl = provider.authorizationUrl!;
  expect(authUrl.origin + authUrl.pathname).toBe(`${gh.url}/authorize`);
  expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authUrl.searchParams.get('resource')).toBe(serverUrl);
  expect(provider.client?.client_id).toMatch(/^gh_client_/);

  // 2. The user signs in and approves in a real browser.
  let callback: URL | undefined;
  await page.route(`${REDIRECT}**`, async (route) => {
    callback = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' });
  });
  await page.goto(authUrl.toString());
  await expect(page.getByRole('heading', { name: 'Sign in to continue' })).toBeVisible();
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Allow access?' })).toBeVisible();
  await expect(page.locator('#client-name')).toHaveText('E2E SDK client');
  await expect(page.getByText('unverified')).toBeVisible();
  await expect(page.locator('#redirect-host')).toHaveText('127.0.0.1');
  await expect(page.getByRole('checkbox', { name: /gmail/ })).toBeChecked();
  await expect(page.getByRole('checkbox', { name: /drive/ })).not.toBeChecked();
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/consent.png`, fullPage: true });
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect.poll(() => callback?.searchParams.get('code')).toMatch(/^gh_ac_/);
  expect(callback!.searchParams.get('iss')).toBe(gh.url);

  // 3. The SDK exchanges the code (PKCE verifier, resource) for tokens.
  await transport.finishAuth(callback!.searchParams.get('code')!);
  const first = provider.saved!;
  expect(first.access_token).toMatch(/^gh_at_/);
  expect(first.refresh_token).toMatch(/^gh_rt_/);

  // 4. The token is accepted at its own server (the gateway answers that the upstream account
  // is not connected yet) and refused at another.
  const own = await mcpPost('gmail', first.access_token);
  expect(own.status).toBe(200);
  expect((await own.json()).error.data.server).toBe('gmail');
  const other = await mcpPost('drive', first.access_token);
  expect(other.status).toBe(401);
  expect(other.headers.get('www-authenticate')).toContain('error="invalid_token"');

  // 5. The SDK refreshes with its refresh token; the rotated token works, the old pair is spent.
  expect(await auth(provider, { serverUrl })).toBe('AUTHORIZED');
  const second = provider.saved!;
  expect(second.access_token).not.toBe(first.access_token);
  expect(second.refresh_token).not.toBe(first.refresh_token);
  expect((await mcpPost('gmail', second.access_token)).status).toBe(200);
});

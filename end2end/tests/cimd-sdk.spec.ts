// Issue 4 end to end: the official MCP TypeScript SDK client identifies itself with a Client ID
// Metadata Document (served over https on loopback, trusted through a local CA), completes
// sign-in + consent in chromium, and loses access at once when its grant is revoked on the
// AI clients page.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { MemoryProvider, REDIRECT } from '../fixtures/oauth-provider';
import { serveMetadataDocument, HttpsDoc } from '../fixtures/tls';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';

const PASSWORD = 'correct horse battery';
let gh: Gatehouse;
let doc: HttpsDoc;

test.beforeEach(async () => {
  // The shape Claude Code and VS Code publish: a public client with loopback redirects.
  doc = await serveMetadataDocument((url) => ({
    client_id: url,
    client_name: 'Doc-identified SDK client',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }));
  gh = await startGatehouse({ GATEHOUSE_EXTRA_CA_FILE: doc.caFile, GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' });
  expect(gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n').status).toBe(0);
  expect(gh.cli(['server', 'add', 'admin', 'gmail', 'https://gmail-mcp.example.com/mcp']).status).toBe(0);
});
test.afterEach(async () => {
  await gh.stop();
  await doc.close();
});

test('SDK client with a metadata-document client_id; revoking its grant stops its token', async ({ page }) => {
  const provider = new MemoryProvider(doc.url);
  const serverUrl = `${gh.url}/mcp/gmail`;
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
  await expect(new Client({ name: 'gatehouse-e2e', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl!.searchParams.get('client_id')).toBe(doc.url);

  let callback: URL | undefined;
  await page.route(`${REDIRECT}**`, async (route) => {
    callback = new URL(route.request().url());
    await route.fulfill({ status: 200, body: 'done' });
  });
  await page.goto(provider.authorizationUrl!.toString());
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Allow access?' })).toBeVisible();
  await expect(page.locator('#identity-host')).toHaveText('localhost');
  await expect(page.getByText('unverified')).toHaveCount(0);
  expect(doc.hits()).toBe(1);
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect.poll(() => callback?.searchParams.get('code')).toMatch(/^gh_ac_/);
  await transport.finishAuth(callback!.searchParams.get('code')!);
  const token = provider.saved!.access_token;
  const call = () =>
    fetch(serverUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    }).then((r) => r.status);
  expect(await call()).toBe(200);

  await page.goto(`${gh.url}/clients`);
  const row = page.locator('#grants tr', { hasText: 'Doc-identified SDK client' });
  await expect(row).toContainText('gmail');
  await row.getByRole('button', { name: /^Revoke/ }).click();
  await expect(page.getByRole('status')).toContainText('Access revoked');
  await expect.poll(call, { timeout: 2000 }).toBe(401);
});

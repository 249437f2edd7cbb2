// DESIGN.md §2 journeys 2 + 4 end to end: Gatehouse connects the user's Google account (the
// oidc-provider stand-in) in chromium; then the official MCP TypeScript SDK client completes
// OAuth against Gatehouse and calls a tool on an upstream (official SDK server) that only
// accepts the stand-in's tokens — which Gatehouse injected.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { authorizeSdkClient, connectGmail } from '../fixtures/journeys';
import { startStandIn, StandIn } from '../fixtures/oidc';
import { startUpstream, UpstreamServer } from '../fixtures/upstream';

const PASSWORD = 'correct horse battery';
let gh: Gatehouse;
let google: StandIn;
let upstream: UpstreamServer;

test.beforeEach(async () => {
  google = await startStandIn();
  gh = await startGatehouse(google.gatehouseEnv);
  google.attach(gh.url);
  upstream = await startUpstream(`${google.issuer}/me`);
  const made = gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n');
  expect(made.status, made.stderr).toBe(0);
  const added = gh.cli(['server', 'add', 'admin', 'gmail', upstream.url]);
  expect(added.status, added.stderr).toBe(0);
});
test.afterEach(async () => {
  await gh.stop();
  await upstream.stop();
  await google.stop();
});

test('an SDK client calls a tool through Gatehouse with the Google credential Gatehouse holds', async ({ page }) => {
  // The user connects the upstream account through the stand-in's own pages.
  await connectGmail(page, gh, PASSWORD);

  // The AI client: 401 → discovery → DCR → consent in the same browser → tokens.
  const serverUrl = new URL(`${gh.url}/mcp/gmail`);
  const provider = await authorizeSdkClient(page, serverUrl, async () => {
    await expect(page.getByRole('checkbox', { name: /gmail/ })).toBeChecked();
  });

  // The call goes through: the upstream saw the stand-in's token for alice, never Gatehouse's.
  const connected = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  await connected.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  const tools = await connected.listTools();
  expect(tools.tools.map((t) => t.name)).toEqual(['whoami']);
  const result = await connected.callTool({ name: 'whoami', arguments: {} });
  expect(result.content).toEqual([{ type: 'text', text: 'alice@example.com' }]);
  expect(upstream.authorizations.length).toBeGreaterThan(0);
  for (const a of upstream.authorizations) {
    expect(a).toMatch(/^Bearer /);
    expect(a).not.toContain('gh_at_');
  }
  await connected.close();

  // The call shows in the activity log with method and tool (written in batches, so the page
  // is reloaded until the batch is in).
  await expect(async () => {
    await page.goto(gh.url + '/activity');
    await expect(page.locator('tr[data-kind="mcp.call"]', { hasText: 'tools/call whoami' }).first()).toBeVisible({ timeout: 1000 });
  }).toPass();
});

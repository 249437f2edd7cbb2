// deploy/nginx.conf in front of Gatehouse, for real (issue: from a laptop to a public URL):
// the official MCP TypeScript SDK client completes OAuth through the proxy, and the issuer,
// every document and every redirect the browser follows are on the public https URL.
import { test, expect } from '@playwright/test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { authorizeSdkClient, ADMIN_PASSWORD } from '../fixtures/journeys';
import { freePort, startNginx, Nginx } from '../fixtures/nginx';
import { REDIRECT } from '../fixtures/oauth-provider';

// The browser reaches the proxy's certificate from the test CA, which chromium does not know.
test.use({ ignoreHTTPSErrors: true });

let gh: Gatehouse;
let nginx: Nginx;

test.beforeEach(async () => {
  const [httpsPort, gatehousePort] = [await freePort(), await freePort()];
  gh = await startGatehouse({
    GATEHOUSE_BIND: `127.0.0.1:${gatehousePort}`,
    GATEHOUSE_PUBLIC_URL: `https://localhost:${httpsPort}`,
    GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1/32',
    // `gatehouse doctor` checks through the proxy: it must trust the test CA.
    GATEHOUSE_EXTRA_CA_FILE: `${process.env.GATEHOUSE_E2E_TLS_DIR}/ca.pem`,
  });
  nginx = await startNginx(httpsPort, gatehousePort);
  expect(gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], ADMIN_PASSWORD + '\n').status).toBe(0);
  expect(gh.cli(['server', 'add', 'admin', 'gmail', 'https://gmail-mcp.example.com/mcp']).status).toBe(0);
});
test.afterEach(async () => {
  await nginx.stop();
  await gh.stop();
});

test('the SDK client completes OAuth through nginx with every URL on the public origin', async ({ page }) => {
  const publicUrl = nginx.publicUrl;
  expect(gh.url).toBe(publicUrl);
  const visited: string[] = [];
  page.on('framenavigated', (frame) => visited.push(frame.url()));

  // The issuer and the resource documents, fetched through the proxy, name the public URL.
  const metadata = await (await fetch(`${publicUrl}/.well-known/oauth-authorization-server`)).json();
  expect(metadata.issuer).toBe(publicUrl);
  const serverUrl = new URL(`${publicUrl}/mcp/gmail`);
  const challenge = await fetch(serverUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(challenge.status).toBe(401);
  expect(challenge.headers.get('www-authenticate')).toContain(`resource_metadata="${publicUrl}/.well-known/oauth-protected-resource/mcp/gmail"`);

  // Sign in, then the SDK's authorization request is approved in the same browser.
  await page.goto(`${publicUrl}/login`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${publicUrl}/servers`);
  const provider = await authorizeSdkClient(page, serverUrl, async () => {
    expect(page.url().startsWith(`${publicUrl}/consent/`)).toBe(true);
  });
  expect(provider.authorizationUrl!.origin).toBe(publicUrl);
  expect(visited).toContain(`${publicUrl}/servers`);
  // (Chromium shows its own interstitial while an https form's answer redirects to the
  // client's plain-http loopback address; the code still arrives, as asserted above.)
  for (const url of visited.filter((u) => u !== 'about:blank' && !u.startsWith('chrome-error:'))) {
    expect(url.startsWith(publicUrl) || url.startsWith(REDIRECT), url).toBe(true);
  }

  // The token works at /mcp through the proxy (the gateway answers that Gmail is not
  // connected yet: a JSON-RPC error naming the server and the public Servers page).
  const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  const connecting = client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  await expect(connecting).rejects.toThrow(/gmail.*needs you to sign in again.*\/servers/s);
  expect((await fetch(`${publicUrl}/mcp/gmail`, {
    method: 'POST',
    headers: { authorization: `Bearer ${provider.saved!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  })).status).toBe(200);

  // The doctor, run against this deployment, passes every check of the public URL (the
  // upstream's name does not resolve here, so that one line fails).
  const doctor = await gh.cliAsync(['doctor']);
  expect(doctor.stdout).toContain(`PASS public URL: ${publicUrl} answers over https`);
  for (const check of ['issuer', 'protected resource', '401 challenge', 'CORS', 'registration', 'sign-in page']) {
    expect(doctor.stdout).toContain(`PASS ${check}: `);
  }
  expect(doctor.stdout).toContain('FAIL upstream admin/gmail: ');
});

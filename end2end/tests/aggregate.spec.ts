// Issue 16 end to end: one connector for everything. The official MCP TypeScript SDK client
// completes one OAuth consent at Gatehouse's aggregated `/mcp` and calls tools on two
// upstreams through it: one signed in with the Google stand-in (the credential Gatehouse
// holds for the user), one with a static credential.
import { test, expect } from '@playwright/test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { authorizeSdkClient, connectGmail } from '../fixtures/journeys';
import { startStandIn, StandIn } from '../fixtures/oidc';
import { startStaticUpstream, startUpstream, UpstreamServer } from '../fixtures/upstream';

const PASSWORD = 'correct horse battery';
let gh: Gatehouse;
let google: StandIn;
let gmail: UpstreamServer;
let notes: UpstreamServer;

test.beforeEach(async () => {
  google = await startStandIn();
  gh = await startGatehouse(google.gatehouseEnv);
  google.attach(gh.url);
  gmail = await startUpstream(`${google.issuer}/me`);
  notes = await startStaticUpstream('notes-secret');
  const made = gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n');
  expect(made.status, made.stderr).toBe(0);
  expect(gh.cli(['server', 'add', 'admin', 'gmail', gmail.url]).status).toBe(0);
  expect(gh.cli(['server', 'add', 'admin', 'notes', notes.url, '--bearer-stdin'], 'notes-secret\n').status).toBe(0);
});
test.afterEach(async () => {
  await gh.stop();
  await gmail.stop();
  await notes.stop();
  await google.stop();
});

const execFileAsync = promisify(execFile);
const PYTHON = join(process.env.GATEHOUSE_PYTHON_ENV ?? join(homedir(), '.cache', 'gatehouse', 'python'), 'bin', 'python');

test('one consent at /mcp gives an SDK client the tools of both servers, each with its own credential', async ({ page }) => {
  await connectGmail(page, gh, PASSWORD);

  // One connector: the consent page offers every server, all ticked.
  const serverUrl = new URL(`${gh.url}/mcp`);
  const provider = await authorizeSdkClient(page, serverUrl, async () => {
    await expect(page.locator('#aggregate-note')).toBeVisible();
    await expect(page.getByRole('checkbox', { name: /gmail/ })).toBeChecked();
    await expect(page.getByRole('checkbox', { name: /notes/ })).toBeChecked();
  });

  const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  expect(client.getServerVersion()?.name).toBe('gatehouse');
  const tools = await client.listTools();
  expect(tools.tools.map((t) => t.name).sort()).toEqual(['gmail__whoami', 'notes__echo']);
  const whoami = await client.callTool({ name: 'gmail__whoami', arguments: {} });
  expect(whoami.content).toEqual([{ type: 'text', text: 'alice@example.com' }]);
  const echo = await client.callTool({ name: 'notes__echo', arguments: {} });
  expect(echo.content).toEqual([{ type: 'text', text: 'echoed' }]);
  // Each upstream saw its own credential; neither ever saw Gatehouse's token.
  expect(notes.authorizations).toContain('Bearer notes-secret');
  for (const a of [...gmail.authorizations, ...notes.authorizations]) expect(a).not.toContain('gh_at_');
  await client.close();

  // The activity log names the real server and tool.
  await expect(async () => {
    await page.goto(gh.url + '/activity');
    await expect(page.locator('tr[data-kind="mcp.call"]', { hasText: 'notes: tools/call echo' }).first()).toBeVisible({ timeout: 1000 });
  }).toPass();
});

test('the Python SDK client lists the merged tools with an API key', async ({ page }) => {
  await connectGmail(page, gh, PASSWORD);
  const made = gh.cli(['key', 'create', 'admin', 'python']);
  expect(made.status, made.stderr).toBe(0);
  // Asynchronously: the upstreams live in this Node process and must keep answering.
  const run = await execFileAsync(PYTHON, [join(__dirname, '..', 'python', 'list_tools.py'), `${gh.url}/mcp`, made.stdout.trim()], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(JSON.parse(run.stdout).sort()).toEqual(['gmail__whoami', 'notes__echo']);
});

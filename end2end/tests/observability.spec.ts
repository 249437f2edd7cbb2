// The Activity page shows a consent, a connect and a revoke made in this test, filtered and
// exportable; the Stats page's numbers match what the test did.
import { test, expect } from '@playwright/test';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { startStandIn, StandIn } from '../fixtures/oidc';
import { authorizeSdkClient, createAdmin } from '../fixtures/journeys';

let gh: Gatehouse;
let google: StandIn;

test.beforeEach(async () => {
  google = await startStandIn();
  gh = await startGatehouse(google.gatehouseEnv);
  google.attach(gh.url);
});
test.afterEach(async () => {
  await gh.stop();
  await google.stop();
});

test('Activity shows the consent, the connect and the revoke; Stats counts them', async ({ page }) => {
  await page.goto(gh.url + '/setup');
  await createAdmin(page, gh);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Upstream MCP URL').fill('https://gmail-mcp.example.com/mcp');
  await page.getByLabel(/^Slug/).fill('gmail');
  await page.getByRole('button', { name: 'Add server' }).click();
  const row = page.locator('tr[data-slug="gmail"]');

  // Connect the upstream account through the Google stand-in.
  await row.getByRole('button', { name: 'Authenticate gmail' }).click();
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('status')).toHaveText("Connected 'gmail' as alice@example.com.");

  // An AI client is granted access (consent).
  await authorizeSdkClient(page, new URL(`${gh.url}/mcp/gmail`));

  // Revoke the upstream account.
  await page.goto(`${gh.url}/servers`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await row.getByRole('button', { name: 'Revoke gmail' }).click();
  await expect(page.getByRole('status')).toContainText("Disconnected 'gmail'");

  await page.goto(`${gh.url}/activity`);
  for (const [kind, words] of [
    ['consent.granted', 'Access approved'],
    ['vault.connected', 'Upstream account connected'],
    ['vault.disconnected', 'Upstream account disconnected'],
  ]) {
    await expect(page.locator(`tr[data-kind="${kind}"]`)).toHaveCount(1);
    await expect(page.locator(`tr[data-kind="${kind}"]`)).toContainText(words);
  }
  // Filtered to the server: the connect and the revoke, not the consent.
  await page.getByLabel('Server', { exact: true }).fill('gmail');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/[?&]server=gmail/);
  await expect(page.locator('tr[data-kind="vault.connected"]')).toHaveCount(1);
  await expect(page.locator('tr[data-kind="consent.granted"]')).toHaveCount(0);
  const exported = await (await page.request.get(`${gh.url}/activity.json?server=gmail&kind=vault.disconnected`)).json();
  expect(exported).toHaveLength(1);
  expect(exported[0].server).toBe('gmail');

  await page.goto(`${gh.url}/admin/stats`);
  const count = (label: string) => page.locator(`td.count[data-label="${label}"]`);
  await expect(count('Users')).toHaveText('1');
  await expect(count('AI clients registered (DCR)')).toHaveText('1');
  await expect(count('Active grants')).toHaveText('1');
  await expect(count('Live access tokens')).toHaveText('1');
  await expect(count('Live refresh tokens')).toHaveText('1');
  await expect(count('Upstream connections: connected')).toHaveText('0');
  await expect(page.locator('svg.chart')).toBeVisible();
});

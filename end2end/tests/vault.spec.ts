// DESIGN.md §2 journeys 2 and 6 in a real browser: a Google-backed server is authenticated
// through the stand-in's own sign-in and consent pages, refreshed, then revoked.
import { test, expect } from '@playwright/test';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';
import { startStandIn, StandIn } from '../fixtures/oidc';
import { createAdmin } from '../fixtures/journeys';

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

test('Authenticate through the provider, see Connected with the account, refresh, Revoke', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(gh.url + '/setup');
  await createAdmin(page, gh);
  // The actions below run as server functions from the hydrated page (JavaScript on).
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  await page.getByLabel('Upstream MCP URL').fill('https://gmail-mcp.example.com/mcp');
  await page.getByLabel(/^Slug/).fill('gmail');
  await page.getByRole('button', { name: 'Add server' }).click();
  const row = page.locator('tr[data-slug="gmail"]');
  await expect(row).toContainText('Google (Gmail)');
  await expect(row).toHaveAttribute('data-state', 'Not connected');

  // Authenticate's server function sends the browser on to the stand-in's own pages:
  // sign-in, then consent.
  await row.getByRole('button', { name: 'Authenticate gmail' }).click();
  await expect(page).toHaveURL(new RegExp(`^${google.issuer}/`));
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();

  await expect(page).toHaveURL(`${gh.url}/servers`);
  await expect(page.getByRole('status')).toHaveText("Connected 'gmail' as alice@example.com.");
  await expect(row).toHaveAttribute('data-state', 'Connected');
  await expect(row).toContainText('alice@example.com');
  await expect(row).toContainText(/Access token expires in \d+ min/);
  await expect(row.locator('.scopes')).toContainText('gmail.modify');
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/vault-connected.png`, fullPage: true });

  // The operator CLI refreshes through the real provider (refresh_token grant).
  const refreshed = await gh.cliAsync(['refresh', 'admin', 'gmail']);
  expect(refreshed.stderr).toBe('');
  expect(refreshed.stdout).toMatch(/^Refreshed 'gmail' for 'admin': expires in \d+ min\.$/m);
  // One grant for the code exchange, one for the refresh_token grant.
  expect(google.events.filter((e) => e === 'grant.success')).toHaveLength(2);
  const status = await gh.cliAsync(['status', 'admin']);
  expect(status.stdout).toMatch(/admin\s+gmail\s+Connected\s+Google \(Gmail\)\s+alice@example\.com/);

  await page.reload();
  await expect(row).toContainText(/Last refresh (just now|\d+ s ago)/);
  await row.getByRole('button', { name: 'Revoke gmail' }).click();
  await expect(page.getByRole('status')).toContainText("Disconnected 'gmail': the provider revoked the access");
  await expect(row).toHaveAttribute('data-state', 'Not connected');
  await expect(row.getByRole('button', { name: 'Authenticate gmail' })).toBeVisible();
  expect(google.events).toContain('grant.revoked');
  expect(errors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('Authenticate and Revoke work as plain HTML forms', async ({ page }) => {
    await page.goto(gh.url + '/');
    // A real redirect to a page with a form, not a blank page.
    await expect(page).toHaveURL(/\/setup$/);
    await createAdmin(page, gh);
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');

    await page.getByLabel('Upstream MCP URL').fill('https://gmail-mcp.example.com/mcp');
    await page.getByLabel(/^Slug/).fill('gmail');
    await page.getByRole('button', { name: 'Add server' }).click();
    await expect(page.getByRole('status')).toHaveText("Added server 'gmail'.");
    const row = page.locator('tr[data-slug="gmail"]');

    await row.getByRole('button', { name: 'Authenticate gmail' }).click();
    await expect(page).toHaveURL(new RegExp(`^${google.issuer}/`));
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page).toHaveURL(`${gh.url}/servers`);
    await expect(page.getByRole('status')).toHaveText("Connected 'gmail' as alice@example.com.");
    await expect(row).toHaveAttribute('data-state', 'Connected');

    await row.getByRole('button', { name: 'Revoke gmail' }).click();
    await expect(page.getByRole('status')).toContainText("Disconnected 'gmail'");
    await expect(row).toHaveAttribute('data-state', 'Not connected');
  });
});

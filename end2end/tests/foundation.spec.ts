// DESIGN.md §2 journey 1 (first run) and the account basics, in a real browser.
import { test, expect, Page } from '@playwright/test';
import { startGatehouse, Gatehouse } from '../fixtures/gatehouse';

const PASSWORD = 'correct horse battery';
let gh: Gatehouse;

test.beforeEach(async () => {
  gh = await startGatehouse();
});
test.afterEach(async () => {
  await gh.stop();
});

/** Collects CSP violations and page errors: hydration must run cleanly under the CSP. */
function watchForErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function signIn(page: Page, user: string, password: string) {
  await page.goto(gh.url + '/login');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('first run: admin from the setup code, add and delete a server, sign out and in, activity', async ({ page }) => {
  const errors = watchForErrors(page);
  await page.goto(gh.url + '/');
  await expect(page).toHaveURL(/\/setup$/);
  await page.getByLabel('Setup code').fill(gh.setupCode!);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page).toHaveURL(/\/servers/);
  await expect(page.getByRole('status')).toContainText('You are the administrator');

  // Hydration ran: the wasm bundle loaded and executed under the nonce CSP.
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  // The dashboard's actions are server functions: with JavaScript they update the page in
  // place (no navigation: the marker survives), without it they are plain form posts.
  await page.evaluate(() => ((window as any).stillHere = true));
  await page.getByLabel('Upstream MCP URL').fill('https://gmail-mcp.example.com/mcp');
  await page.getByLabel(/^Slug/).fill('gmail');
  await page.getByLabel(/^Name/).fill('Gmail');
  await page.getByRole('button', { name: 'Add server' }).click();
  await expect(page.getByRole('status')).toHaveText("Added server 'gmail'.");
  expect(await page.evaluate(() => (window as any).stillHere)).toBe(true);
  const row = page.locator('tr[data-slug="gmail"]');
  await expect(row).toContainText('https://gmail-mcp.example.com/mcp');
  await expect(row).toContainText(`${gh.url}/mcp/gmail`);
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/servers.png`, fullPage: true });

  await row.getByRole('button', { name: 'Delete gmail' }).click();
  await expect(page.getByRole('status')).toHaveText("Deleted server 'gmail'.");
  await expect(page.locator('tr[data-slug="gmail"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).stillHere)).toBe(true);

  await page.locator('details.account summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, 'admin', 'wrong password');
  await expect(page.getByRole('alert')).toHaveText('Wrong username or password');
  await signIn(page, 'admin', PASSWORD);
  await expect(page).toHaveURL(/\/servers/);

  // A client-side navigation through the hydrated router (the page data comes from a server function).
  await page.getByRole('link', { name: 'Activity' }).click();
  await expect(page).toHaveURL(/\/activity$/);
  for (const kind of ['user.created', 'server.added', 'server.deleted', 'auth.sign_out', 'auth.sign_in_failed', 'auth.sign_in']) {
    await expect(page.locator(`tr[data-kind="${kind}"]`).first()).toBeVisible();
  }
  expect(errors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in and adding a server work as plain HTML forms', async ({ page }) => {
    const made = gh.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], PASSWORD + '\n');
    expect(made.status, made.stderr).toBe(0);
    await signIn(page, 'admin', PASSWORD);
    await expect(page).toHaveURL(/\/servers/);
    await expect(page.getByRole('heading', { name: 'Servers' })).toBeVisible();
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');

    await page.getByLabel('Upstream MCP URL').fill('https://drive-mcp.example.com/mcp');
    await page.getByLabel(/^Slug/).fill('drive');
    await page.getByRole('button', { name: 'Add server' }).click();
    // (then what the probe found: this host does not resolve here)
    await expect(page.getByRole('status')).toHaveText(/^Added server 'drive'\. Its sign-in could not be used: the server could not be reached/);
    await expect(page.locator('tr[data-slug="drive"]')).toBeVisible();

    await page.goto(gh.url + '/activity');
    await expect(page.locator('tr[data-kind="server.added"]')).toBeVisible();
  });
});

test('the setup page refuses a wrong code and keeps the form usable', async ({ page }) => {
  await page.goto(gh.url + '/setup');
  await page.getByLabel('Setup code').fill('AAAAA-BBBBB-CCCCC-DDDDD');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('alert')).toContainText('setup code is not right');
  await expect(page.getByLabel('Setup code')).toBeVisible();
});

// authz.mjs - the web UI shows each user only the repositories the
// per-repository rules let them pull (tests/e2e/180-authz-tokens.sh sets up
// the server: bob owns bob/app with run ca1, alice owns alice/app with run
// ca2, pub/app with run ca3 is readable by anonymous; bob has access tokens).
//
// Environment: SLIPWAY_URL, PLAYWRIGHT (the playwright-core module path),
// CHROMIUM (default /usr/bin/chromium). Prints "ok - ..." / "not ok - ..."
// and exits non-zero when a check failed.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT || 'playwright-core');
const base = process.env.SLIPWAY_URL;

let failed = 0;
function check(what, cond, detail) {
  if (cond) console.log('ok - ' + what);
  else { failed++; console.log('not ok - ' + what + (detail ? ': ' + detail : '')); }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});

// A page logged in as user (null: anonymous), the way the UI keeps a login.
async function pageAs(user, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (user) {
    const value = Buffer.from(user + ':' + password).toString('base64');
    await context.addInitScript((v) => sessionStorage.setItem('slipway-auth', v), value);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (err) => check('no page error', false, err.message));
  return page;
}

async function dashboardRepos(page) {
  await page.goto(base + '/');
  await page.locator('[data-page="dashboard"]').waitFor();
  await page.locator('[data-repo]').first().waitFor();
  const repos = await page.locator('[data-repo]').evaluateAll((els) => els.map((e) => e.dataset.repo));
  const runs = await page.locator('[data-page="dashboard"] table').last().textContent();
  return { repos: repos.sort().join(' '), runs };
}

async function pageKind(page, path) {
  await page.goto(base + path);
  const el = page.locator('[data-page]').first();
  await el.waitFor();
  return el.getAttribute('data-page');
}

try {
  const bob = await pageAs('bob', 'bob-pw');
  let d = await dashboardRepos(bob);
  check('bob\'s dashboard shows bob/app and pub/app', d.repos === 'bob/app pub/app', d.repos);
  check('bob\'s recent runs hold ca1, not ca2', d.runs.includes('ca1') && !d.runs.includes('ca2'), d.runs);
  check('bob opens /repos/bob/app', (await pageKind(bob, '/repos/bob/app')) === 'repo');
  check('bob opens /runs/ca1', (await pageKind(bob, '/runs/ca1')) === 'run');
  const log = bob.locator('[data-log]');
  await log.waitFor();
  await bob.waitForFunction(() => document.querySelector('[data-log]').textContent.includes('log line of bob/app'));
  check('bob sees ca1\'s log', (await log.textContent()).includes('log line of bob/app'));
  check('bob opens /images/bob/app', (await pageKind(bob, '/images/bob/app')) === 'image-repo');
  check('bob\'s tokens page lists his tokens, no secret',
        (await pageKind(bob, '/tokens')) === 'tokens' &&
        (await bob.locator('[data-token]').count()) >= 1 &&
        !(await bob.locator('[data-page="tokens"]').textContent()).includes('swp_'));

  const alice = await pageAs('alice', 'alice-pw');
  d = await dashboardRepos(alice);
  check('alice\'s dashboard has no bob/app', d.repos === 'alice/app pub/app', d.repos);
  check('alice\'s recent runs hold no ca1', !d.runs.includes('ca1') && d.runs.includes('ca2'), d.runs);
  for (const path of ['/repos/bob/app', '/runs/ca1', '/images/bob/app', '/images/bob/app:1']) {
    const kind = await pageKind(alice, path);
    const text = await alice.locator('[data-page]').first().textContent();
    check(`alice gets "not found" at ${path}`, kind === 'notfound' && !text.includes('log line of bob'), kind);
  }

  const anon = await pageAs(null);
  d = await dashboardRepos(anon);
  check('anonymous sees only pub/app', d.repos === 'pub/app', d.repos);
  check('anonymous gets "not found" at /runs/ca1', (await pageKind(anon, '/runs/ca1')) === 'notfound');
} catch (e) {
  check('the browser checks ran to the end', false, e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

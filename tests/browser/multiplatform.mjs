// multiplatform.mjs - the web UI of a multi-platform image
// (tests/e2e/190-build-multiplatform.sh sets up the server: demo/multi:latest
// is an index of linux/amd64 and linux/arm64 built by run ca1): the image
// page says it is an index and lists each platform's image with its size and
// layers, a platform's row leads to that image's own page, the run page shows
// each step's platform and the dashboard's worker list the emulated platform.
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

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (err) => check('no page error', false, err.message));

  await page.goto(base + '/images/demo/multi:latest');
  await page.locator('[data-platforms]').waitFor();
  const facts = await page.locator('[data-page="image"] dl.facts').first().textContent();
  check('the image page says it is an index of 2 platforms', facts.includes('index of 2 platforms'), facts);
  const rows = await page.locator('[data-platform]').evaluateAll((els) => els.map((e) => e.dataset.platform));
  check('it lists linux/amd64 and linux/arm64/v8', rows.join(' ') === 'linux/amd64 linux/arm64/v8', rows.join(' '));
  const arm = await page.locator('[data-platform="linux/arm64/v8"]').textContent();
  check('the arm64 row shows its size and 3 layers', /\d+(\.\d+)? ?(B|KB|KiB|MB|MiB)/.test(arm) && /3$/.test(arm.trim()), arm);
  check('the pull commands are there', (await page.locator('[data-page="image"]').textContent()).includes('demo/multi:latest'));

  await page.locator('[data-platform="linux/arm64/v8"] a').click();
  await page.locator('[data-layers]').waitFor();
  const armFacts = await page.locator('[data-page="image"] dl.facts').first().textContent();
  check('the arm64 row leads to the arm64 image page', armFacts.includes('linux/arm64'), armFacts);
  check('... with its 3 layers', (await page.locator('[data-layer]').count()) === 3);

  await page.goto(base + '/runs/ca1');
  await page.locator('[data-step-platform]').first().waitFor();
  const platforms = await page.locator('[data-step-platform]').evaluateAll((els) => [...new Set(els.map((e) => e.dataset.stepPlatform))]);
  check('the run page shows each step\'s platform', platforms.sort().join(' ') === 'linux/amd64 linux/arm64', platforms.join(' '));

  await page.goto(base + '/');
  await page.locator('[data-worker-platforms]').first().waitFor();
  const workers = await page.locator('[data-worker-platforms]').first().textContent();
  check('the dashboard\'s worker list shows linux/arm64', workers.includes('linux/arm64'), workers);
} catch (e) {
  check('the browser checks ran', false, e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

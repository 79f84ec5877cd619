// ui.mjs - browser tests of the Slipway web UI, driven by playwright-core
// in Debian's headless Chromium against a running `slipway serve` with a
// real Git repository configured (tests/e2e/200-web-ui.sh sets it up).
//
// Environment: SLIPWAY_URL (the server), SLIPWAY_REPO (the configured
// repository), SLIPWAY_AUTH_URL (the same repository on a server with
// htpasswd auth, user alice, password SLIPWAY_AUTH_PASSWORD),
// SLIPWAY_EMPTY_URL (a server with no repositories), SCREENSHOTS (a
// directory), PLAYWRIGHT (the playwright-core module path), CHROMIUM
// (default /usr/bin/chromium).
//
// Prints "ok - ..." / "not ok - ..." lines like the shell tests and exits
// non-zero when a check failed or a page logged a console error.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT || 'playwright-core');

const base = process.env.SLIPWAY_URL;
const repo = process.env.SLIPWAY_REPO || 'demo/web';
const shots = process.env.SCREENSHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });

let passed = 0, failed = 0;
function ok(what) { passed++; console.log('ok - ' + what); }
function fail(what) { failed++; console.log('not ok - ' + what); }
function check(what, cond, detail) { cond ? ok(what) : fail(what + (detail ? ': ' + detail : '')); }

// Console errors fail the test, except the one request each 404 page is
// about, and the 401 that makes the UI ask for a login (the browser logs a
// failed resource load for those).
const consoleErrors = [];
let expected404 = null;
let expected401 = null;
function watch(page, label) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location() && msg.location().url;
    if (expected404 && msg.text().includes('404') && url && url.includes(expected404)) return;
    if (expected401 && msg.text().includes('401') && url && url.includes(expected401)) return;
    consoleErrors.push(`${label}: ${msg.text()} (${url || 'no url'})`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${label}: page error: ${err.message}`));
}

async function shot(page, name, size) {
  await page.screenshot({ path: `${shots}/${name}-${size}.png`, fullPage: false });
}

// Opens the server that allows no anonymous reading, takes a shot of its
// login page, logs in; returns what the login page said.
async function throughLoginGate(p, size) {
  expected401 = '/api/v1/';
  await p.goto(process.env.SLIPWAY_EMPTY_URL + '/');
  const gate = p.locator('[data-page="error"]');
  await gate.waitFor();
  const text = await gate.textContent();
  await shot(p, 'login-required', size);
  await gate.locator('button', { hasText: 'Log in' }).click();
  const dialog = p.locator('dialog#login');
  await dialog.locator('input[name="user"]').fill(process.env.SLIPWAY_EMPTY_USER || '');
  await dialog.locator('input[name="password"]').fill(process.env.SLIPWAY_EMPTY_PASSWORD || '');
  await dialog.locator('button[type="submit"]').click();
  await p.locator('[data-page="dashboard"]').waitFor();
  expected401 = null;
  return text;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // the last flags keep Chromium from calling home: the tests talk to
  // nothing but 127.0.0.1
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const pages = {}; // name -> URL, for the phone-width screenshots
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  watch(page, 'desktop');

  // --- dashboard ------------------------------------------------------------
  await page.goto(base + '/');
  const card = page.locator(`[data-repo="${repo}"]`);
  await card.waitFor();
  check('the dashboard shows the repository', await card.isVisible());
  check('the dashboard shows the queue and workers',
        (await page.locator('[data-stat="queued"]').textContent()) === '0' &&
        (await page.locator('[data-stat="workers"]').textContent()) === '1');
  check('the dashboard says the repository was never built',
        (await card.textContent()).includes('Never built'));
  await shot(page, 'dashboard', '1280x800');
  pages.dashboard = '/';

  // --- repository, Run now ------------------------------------------------------
  await card.locator('h3 a').click();
  await page.waitForURL(`**/repos/${repo}`);
  await page.locator('[data-page="repo"]').waitFor();
  const hook = await page.locator('[data-copy="webhook"]').textContent();
  check('the repository page shows the webhook URL', hook === `${base}/hooks/github/${repo}`, hook);
  check('the build rules are listed', (await page.locator('table').first().textContent()).includes('Dockerfile.broken'));
  check('the run history is empty', await page.locator('[data-empty="runs"]').isVisible());
  await shot(page, 'repository-empty', '1280x800');
  const form = page.locator('[data-form="run-now"]');
  await form.locator('select').selectOption('branch');
  await form.locator('input').fill('main');
  await form.locator('button[type="submit"]').click();
  await page.waitForURL('**/runs/*');
  const runUrl = new URL(page.url()).pathname;
  const runId = runUrl.split('/').pop();
  check('Run now opens the new run\'s page', /^ca[0-9a-v]+$/.test(runId), runUrl);
  pages['run-succeeded'] = runUrl;

  // --- the run: the log grows live, then it succeeds --------------------------------
  const log = page.locator('[data-log]');
  const lengths = [];
  let status = '';
  let shotWhileRunning = false;
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    status = await page.locator('h1 [data-status]').getAttribute('data-status');
    lengths.push((await log.textContent()).length);
    if (status === 'running' && !shotWhileRunning && lengths[lengths.length - 1] > 0 &&
        (await log.textContent()).includes('tick 2')) {
      await shot(page, 'run-running', '1280x800');
      shotWhileRunning = true;
    }
    if (status !== 'queued' && status !== 'running') break;
    await sleep(250);
  }
  let grew = 0;
  for (let i = 1; i < lengths.length; i++) if (lengths[i] > lengths[i - 1]) grew++;
  check('the log grew while the build ran, without reloading the page', grew >= 2,
        `grew ${grew} times: ${lengths.join(',')}`);
  await page.locator('h1 [data-status="succeeded"]').waitFor();
  check('the run ends as succeeded', true);
  const logText = await log.textContent();
  check('the log shows the steps and the verdict',
        logText.includes('# Step 1/') && logText.includes(`Run ID: ${runId} was successful`));
  check('a build line imitating the verdict stays plain output; one verdict line, the real one',
        (await page.locator('[data-log] .line.out', { hasText: 'Run ID: ca999 was successful' }).count()) === 1 &&
        (await page.locator('[data-log] .line.good').count()) === 1 &&
        (await page.locator('[data-log] .line.good').textContent()).includes(runId));
  check('ANSI colours are rendered, not shown as escapes',
        (await page.locator('[data-log] .ansi-32').count()) > 0 && !logText.includes('\u001b['));
  check('the steps table lists every step',
        (await page.locator('[data-steps] tbody tr').count()) >= 4);
  const digest = await page.locator('[data-digest]').getAttribute('data-digest');
  check('the run shows its digest', /^sha256:[0-9a-f]{64}$/.test(digest), digest);
  check('the run shows its tags',
        (await page.locator('[data-tags]').textContent()).includes('latest'));
  check('no cancel button on a finished run', (await page.locator('[data-action="cancel"]').count()) === 0);
  const deliveries = page.locator('[data-deliveries]');
  await deliveries.locator('[data-delivery="delivered"]').waitFor({ timeout: 15000 });
  check('the run page shows the notification delivered after the run', true);
  const undelivered = await deliveries.locator('[data-delivery="pending"]').textContent();
  check('and the one whose receiver is down as retrying, with the reason',
        undelivered.includes('retrying') && /connect/i.test(undelivered), undelivered);
  await shot(page, 'run-succeeded', '1280x800');
  await deliveries.scrollIntoViewIfNeeded();
  await shot(page, 'run-notifications', '1280x800');
  await page.evaluate(() => window.scrollTo(0, 0));

  // --- the image: layers with sizes and instructions -----------------------------------
  await page.locator('[data-tags] a', { hasText: 'latest' }).click();
  await page.waitForURL(`**/images/${repo}:latest`);
  await page.locator('[data-layers]').waitFor();
  const layers = await page.locator('[data-layers] tbody tr').allTextContents();
  check('the image page lists the layers', layers.length >= 3, layers.join(' | '));
  check('each layer has its instruction',
        layers.some((l) => l.includes('COPY hello.txt /hello.txt')) &&
        layers.some((l) => l.includes('RUN /bin/sh -c')));
  const sizes = await page.locator('[data-layers] [data-size]').evaluateAll(
    (els) => els.map((e) => Number(e.dataset.size)));
  const layerRows = await page.locator('[data-layers] tbody tr[data-layer]').count();
  check('each layer has its size', sizes.length === layerRows && layerRows >= 2 && sizes.every((s) => s > 0),
        sizes.join(','));
  const noLayer = await page.locator('[data-layers] tbody tr[data-history]').allTextContents();
  check('instructions without a layer are listed too, marked "no layer"',
        noLayer.some((l) => l.includes('ENV GREETING=hello') && l.includes('no layer')) &&
        noLayer.some((l) => l.includes('CMD ["cat","/hello.txt"]') || l.includes('CMD [')),
        noLayer.join(' | '));
  check('the config is shown',
        (await page.locator('[data-page="image"]').textContent()).includes('GREETING=hello'));
  await shot(page, 'image', '1280x800');
  pages.image = `/images/${repo}:latest`;

  // --- the image repository: tags and pull commands -----------------------------------
  await page.goto(`${base}/images/${repo}`);
  await page.locator('[data-tags-table]').waitFor();
  check('the tag is listed with its run',
        (await page.locator('[data-tag="latest"]').textContent()).includes(runId));
  const host = new URL(base).host;
  const pulls = await page.locator('[data-pull] code').allTextContents();
  check('the pull commands name the tag',
        pulls.includes(`docker pull ${host}/${repo}:latest`) &&
        pulls.some((p) => p.startsWith(`skopeo copy --src-tls-verify=false docker://${host}/${repo}:latest `)),
        pulls.join(' | '));
  const tagOrder = await page.locator('[data-tags-table] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
  check('latest is the first tag listed', tagOrder[0] === 'latest', tagOrder.join(','));
  const cut = await page.locator('[data-pull] code').evaluateAll(
    (els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).length);
  check('the pull commands are shown whole (not cut off)', cut === 0, `${cut} cut`);
  await shot(page, 'image-repository', '1280x800');
  pages['image-repository'] = `/images/${repo}`;
  await page.goto(`${base}/images`);
  await page.locator(`[data-image-repo="${repo}"]`).waitFor();
  await shot(page, 'images', '1280x800');
  pages.images = '/images';

  // --- a failing build: the failing step is highlighted --------------------------------
  await page.goto(`${base}/repos/${repo}`);
  await form.locator('input').fill('broken');
  await form.locator('button[type="submit"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/runs/') && url.pathname !== runUrl);
  await page.locator('h1 [data-status="failed"]').waitFor({ timeout: 60000 });
  const failedRow = page.locator('[data-steps] tr.failed-step');
  check('the failing step is highlighted in the steps',
        (await failedRow.count()) === 1 && (await failedRow.textContent()).includes('RUN exit 3'));
  check('its exit code is shown', (await failedRow.textContent()).includes('exit 3'));
  const failLine = page.locator('[data-log] .line.fail[data-failed]');
  check('the failing step is highlighted in the log',
        (await failLine.count()) === 1 && (await failLine.textContent()).includes('exited with code 3'));
  check('the failed step\'s header is marked too',
        (await page.locator('[data-log] .line.step.fail-step').count()) === 1);
  check('the error is shown', (await page.locator('[data-error]').textContent()).includes('exit'));
  await shot(page, 'run-failed', '1280x800');
  pages['run-failed'] = new URL(page.url()).pathname;
  await page.goto(`${base}/repos/${repo}`);
  await page.locator('[data-section="history"] tbody tr').first().waitFor();
  check('the history shows both runs',
        (await page.locator('[data-section="history"] tbody tr').count()) === 2);
  check('the queue/build time chart is drawn', (await page.locator('svg.chart rect').count()) >= 4);
  const badgeImg = page.locator('[data-badge]');
  await badgeImg.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => { const i = document.querySelector('[data-badge]'); return i && i.complete; });
  check('the repository page shows the status badge',
        await badgeImg.evaluate((i) => i.naturalWidth > 0 && i.naturalHeight === 20));
  const md = await page.locator('[data-section="badge"] code[data-copy="markdown"]').textContent();
  check('with the Markdown to paste into a README',
        md.startsWith('[![build](http') && md.includes(`/badge/${repo}.svg)`) && md.includes(`/repos/${repo})`), md);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'repository', '1280x800');
  pages.repository = `/repos/${repo}`;

  // --- 404s ------------------------------------------------------------------------------
  expected404 = '/api/v1/runs/ca999';
  await page.goto(`${base}/runs/ca999`);
  await page.locator('[data-page="notfound"]').waitFor();
  check('a run that does not exist shows a 404 page',
        (await page.locator('[data-page="notfound"]').textContent()).includes('ca999'));
  await shot(page, 'not-found', '1280x800');
  expected404 = '/no/such/page';
  const res = await page.goto(`${base}/no/such/page`);
  await page.locator('[data-page="notfound"]').waitFor();
  check('an unknown page is the UI\'s 404 page, with status 404',
        res.status() === 404 && (await page.locator('[data-page="notfound"]').textContent()).includes('/no/such/page'));
  expected404 = null;

  // --- with auth: Run now asks for a login; cancel ------------------------------------------
  if (process.env.SLIPWAY_AUTH_URL) {
    const auth = process.env.SLIPWAY_AUTH_URL;
    expected401 = '/api/v1/runs';
    await page.goto(`${auth}/repos/${repo}`);
    await form.locator('input').fill('main');
    await form.locator('button[type="submit"]').click();
    const dialog = page.locator('dialog#login');
    await dialog.waitFor();
    check('Run now without a login asks for one', await dialog.isVisible());
    await shot(page, 'login', '1280x800');
    await dialog.locator('input[name="user"]').fill('alice');
    await dialog.locator('input[name="password"]').fill(process.env.SLIPWAY_AUTH_PASSWORD || '');
    await dialog.locator('button[type="submit"]').click();
    await page.waitForURL('**/runs/*');
    check('after the login the run starts', true);
    check('the header says who is logged in', (await page.locator('#who').textContent()).includes('alice'));
    await page.locator('h1 [data-status="running"]').waitFor({ timeout: 30000 });
    await page.locator('[data-log] .line', { hasText: 'tick 1' }).waitFor({ timeout: 30000 });
    await page.locator('[data-action="cancel"]').click();
    await page.locator('h1 [data-status="canceled"]').waitFor({ timeout: 15000 });
    check('the cancel button stops a running build', true);
    check('the log does not reach the end of the build',
          !(await page.locator('[data-log]').textContent()).includes('tick 6'));
    await shot(page, 'run-canceled', '1280x800');
    expected401 = null;

    // sixty older runs and a fork's pull request run (the test put them in
    // the database): a page of 50, then the rest on request
    await page.goto(`${auth}/repos/${repo}`);
    const rows = page.locator('[data-section="history"] tbody tr');
    await rows.first().waitFor();
    const prRow = page.locator('[data-section="history"] tr[data-run="ca1t"]');
    check('a pull request run is listed as "PR #7 into main"',
          (await prRow.textContent()).includes('PR #7 into main'), await prRow.textContent());
    check('the history shows the newest 50 runs', (await rows.count()) === 50, String(await rows.count()));
    await page.locator('[data-action="older"]').click();
    await page.locator('[data-section="history"] tr[data-run="ca1"]').waitFor();
    check('"Older runs" brings the rest, with no run twice', (await rows.count()) === 62,
          String(await rows.count()));
    check('and goes away when there are no more', (await page.locator('[data-action="older"]').count()) === 0);

    await page.goto(`${auth}/runs/ca1t`);
    await page.locator('h1 [data-status="succeeded"]').waitFor();
    const what = await page.locator('.crumbs + h1 + .muted').textContent();
    check('the run page says PR #7 into main from the fork\'s branch, as text',
          what.includes('PR #7 into main from octo/web:<b>fix</b> (fork)'), what);
    check('the head branch name made no element', (await page.locator('.crumbs + h1 + .muted b').count()) === 2,
          String(await page.locator('.crumbs + h1 + .muted b').count()));
  }

  // --- no repositories: the dashboard says how to add one ----------------------------------
  if (process.env.SLIPWAY_EMPTY_URL) {
    // this server allows no anonymous reading: the UI asks for a login first
    const gateText = await throughLoginGate(page, '1280x800');
    check('a server without anonymous reading asks for a login to browse',
          gateText.includes('needs a login'), gateText);
    const empty = page.locator('[data-empty="repos"]');
    await empty.waitFor();
    check('an empty dashboard explains how to add a repository',
          (await empty.textContent()).includes('repos:'));
    await shot(page, 'dashboard-empty', '1280x800');
    await page.goto(process.env.SLIPWAY_EMPTY_URL + '/images');
    await page.locator('[data-empty="images"]').waitFor();
    check('an empty registry says how to push an image', true);
    await shot(page, 'images-empty', '1280x800');
  }

  // --- Rebuild: a finished run queued again, at the same commit -------------------------
  await page.goto(base + pages['run-succeeded']);
  await page.locator('h1 [data-status="succeeded"]').waitFor();
  const firstUrl = page.url();
  const commitText = await page.locator('h1 + .muted code').first().textContent();
  await page.locator('[data-action="rebuild"]').click();
  await page.waitForURL((u) => u.pathname.startsWith('/runs/') && u.href !== firstUrl);
  await page.locator('h1 [data-status="succeeded"]').waitFor({ timeout: 60000 });
  const rebuiltCommit = await page.locator('h1 + .muted code').first().textContent();
  check('Rebuild queues a new run of the same commit, which succeeds', rebuiltCommit === commitText,
        `${commitText} -> ${rebuiltCommit} (${page.url()})`);
  await page.goto(firstUrl);
  await page.locator('[data-tags]').waitFor();

  // --- the same pages at phone width ----------------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  for (const [name, path] of Object.entries(pages)) {
    await mobile.goto(base + path);
    await mobile.locator('[data-page]').waitFor();
    await sleep(300);
    if (name.startsWith('run-'))
      await mobile.locator('h1 [data-status="succeeded"], h1 [data-status="failed"]').waitFor();
    const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${name} fits a phone's width`, overflow <= 1, `overflows by ${overflow}px`);
    // a null or undefined that reached the DOM as text is a bug, wherever it is
    const stray = await mobile.evaluate(() => {
      const found = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode())
        if (/^\s*(null|undefined|NaN|\[object \w+\])\s*$/.test(n.nodeValue)) found.push(n.parentElement.tagName);
      return found;
    });
    check(`${name} has no stray null/undefined text`, stray.length === 0, stray.join(','));
    await shot(mobile, name, '390x844');
  }
  if (process.env.SLIPWAY_EMPTY_URL) {
    await throughLoginGate(mobile, '390x844');
    await mobile.locator('[data-empty="repos"]').waitFor();
    await shot(mobile, 'dashboard-empty', '390x844');
  }
  expected404 = '/api/v1/runs/ca999';
  await mobile.goto(`${base}/runs/ca999`);
  await mobile.locator('[data-page="notfound"]').waitFor();
  await shot(mobile, 'not-found', '390x844');
  expected404 = null;
} catch (e) {
  fail('browser test stopped: ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e));
} finally {
  await browser.close();
}
check('no console errors on any page', consoleErrors.length === 0, consoleErrors.join(' || '));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// The Vue demo (examples/vue-demo) in a real browser, on the local API: what a frontend developer
// sees when wiring the kit (clients/typescript) into a page. The demo is built with its own Vite
// (from `npm ci` in examples/vue-demo: the Makefile's DEMO_STAMP, a prerequisite of `make test`)
// into a temporary folder and served by a tiny static server, so no dev server runs; the page's
// origin is that server's, in ALLOWED_ORIGINS. A second static server, outside ALLOWED_ORIGINS,
// serves the same page to show the browser refusing it.
//
// The server-side writer of wiring (b) is the demo's writer.mjs: driven step by step from this
// process (startReply), so that a reload happens mid-reply by construction, and once as the CLI.
// No sleeps as synchronisation: every wait is on a page condition (waitForFunction / locators).
//
// `make test` runs it with DYNAMODB_ENDPOINT set; alone:
//   cargo build --workspace --bins --locked && scripts/dynamodb-local.sh with node --test tests/browser/

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { BIN, LocalApi, READY_TIMEOUT_MS } from './local-api.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO = `${ROOT}examples/vue-demo/`;
const VITE = `${DEMO}node_modules/.bin/vite`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const JWT_SECRET = `demo-test-secret-${process.pid}`;
const OWNER = `demo-owner-${process.pid}`;

const run = promisify(execFile);

let api; // http://127.0.0.1:<port> of quote-chat-local
const local = new LocalApi('demo', JWT_SECRET);
let outDir; // the built demo
let allowedSite; // origin in ALLOWED_ORIGINS
let blockedSite; // origin outside it
const sites = [];
let launching;
let browser;
let token;
let jobId;
let writer; // examples/vue-demo/writer.mjs: { kit, startReply }
let client; // the kit's client, from this process
const pages = [];
const pageErrors = [];


const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

// The built demo, as any static host serves it: / is index.html, the rest are files of outDir.
async function startStatic() {
  const site = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = join(outDir, path === '/' ? 'index.html' : normalize(path));
    try {
      if (!file.startsWith(outDir + sep)) throw new Error('outside');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  sites.push(site);
  return `http://127.0.0.1:${site.address().port}`;
}

before(async () => {
  assert.ok(process.env.DYNAMODB_ENDPOINT, 'DYNAMODB_ENDPOINT is not set: run through make test');
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build --workspace --bins --locked`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make deps (apt-get install chromium), or set CHROMIUM`);
  assert.ok(existsSync(VITE), `${VITE} is missing: make test installs it (npm ci in examples/vue-demo)`);

  outDir = await mkdtemp(join(tmpdir(), 'quote-chat-demo-'));
  const building = run(VITE, ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: DEMO, timeout: 60_000,
  });
  building.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  launching = chromium.launch({
    executablePath: CHROMIUM,
    timeout: READY_TIMEOUT_MS,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-gpu'],
  });
  launching.then((b) => { browser = b; }, () => {});

  allowedSite = await startStatic();
  blockedSite = await startStatic();
  api = await local.start(allowedSite);
  [browser, token, jobId, writer] = await Promise.all([
    launching, local.cli('token', OWNER), local.cli('job', OWNER), import(`${DEMO}writer.mjs`), building,
  ]);
  assert.match(jobId, /^[0-9a-f-]{36}$/, 'the job subcommand prints a UUID');
  client = writer.kit.createQuoteChatClient({ baseUrl: api, token: () => token });
}, { timeout: 90_000 });

after(async () => {
  await launching?.catch(() => {});
  await browser?.close().catch(() => {});
  await local.stop();
  for (const site of sites) site.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
  if (local.log) console.error(`quote-chat-local logged:\n${local.log}`);
});

afterEach(async () => {
  for (const page of pages.splice(0)) await page.close().catch(() => {});
  const errors = pageErrors.splice(0);
  assert.deepEqual(errors, [], 'uncaught errors in the page');
});

/** Opens the demo from `site` with these query parameters and waits for its first load. */
async function openDemo(site, params = {}) {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  pages.push(page);
  page.on('pageerror', (error) => pageErrors.push(`${site}: ${error.message}`));
  const query = new URLSearchParams({ api, job: jobId, token, pollMs: '150', ...params });
  await page.goto(`${site}/?${query}`);
  await waitLoaded(page);
  return page;
}

async function waitLoaded(page) {
  await page.locator('[data-testid=chat][data-loaded=true]').waitFor();
}

/** The listed messages as the page shows them. */
function listed(page) {
  return page.$$eval('[data-testid=message]', (items) => items.map((li) => ({
    id: li.dataset.id,
    role: li.dataset.role,
    status: li.dataset.status,
    interrupted: li.dataset.interrupted === 'true',
    content: li.querySelector('.content').textContent,
  })));
}

/**
 * Waits until the page lists a message matching `want`: the one with `want.id`, any message
 * when `want.anywhere`, otherwise the last one.
 */
async function waitMessage(page, want) {
  await page.waitForFunction((w) => {
    const items = [...document.querySelectorAll('[data-testid=message]')];
    const matches = (li) => {
      const content = li.querySelector('.content').textContent;
      return (!w.role || li.dataset.role === w.role)
        && (!w.status || li.dataset.status === w.status)
        && (w.content === undefined || content === w.content)
        && (!w.partial || (content.length > 0 && content.length < w.partial))
        && (w.interrupted === undefined || (li.dataset.interrupted === 'true') === w.interrupted);
    };
    if (w.anywhere) return items.some(matches);
    const li = w.id ? items.find((e) => e.dataset.id === w.id) : items[items.length - 1];
    return li !== undefined && matches(li);
  }, want);
}

async function sendFromPage(page, text) {
  await page.getByTestId('draft').fill(text);
  await page.getByTestId('send').click();
  // Anywhere, not last: in page mode the reply's create may already follow it.
  await waitMessage(page, { role: 'user', content: text, anywhere: true });
  // The page shows it at once; the draft empties once the server has stored it. A writer
  // started before that could store its reply first, before the message it answers.
  await page.waitForFunction(() => document.querySelector('[data-testid=draft]').value === '');
}

test('a typed message is listed, and the page streams its own reply to completion', { timeout: 20_000 }, async () => {
  const page = await openDemo(allowedSite, { wordMs: '40' });
  assert.deepEqual(await listed(page), [], 'a new job has no messages');
  await page.getByTestId('empty').waitFor();

  const prompt = '3 stainless steel boxes';
  const reply = writer.kit.cannedReply(prompt);
  await sendFromPage(page, prompt);
  // Wiring (a): the reply appears word by word, `streaming`, then ends `complete`.
  await waitMessage(page, { role: 'assistant', status: 'streaming', partial: reply.length });
  await waitMessage(page, { role: 'assistant', status: 'complete', content: reply });

  const stored = await client.list(jobId);
  assert.deepEqual(stored.map((m) => [m.role, m.status, m.content]),
    [['user', 'complete', prompt], ['assistant', 'complete', reply]]);
  assert.ok(stored[1].version > 2, `the reply was PATCHed as it streamed (version ${stored[1].version})`);
  assert.deepEqual((await listed(page)).map((m) => m.id), stored.map((m) => m.message_id));
  await page.waitForFunction(() => document.querySelector('[data-testid=summary-count]')?.textContent === '2');
});

test('a reply streamed by a server-side writer continues across a reload and completes', { timeout: 20_000 }, async () => {
  // Wiring (b): the page only watches; this process is the backend writer.
  const page = await openDemo(allowedSite, { mode: 'server', staleAfterMs: '20000' });
  const prompt = 'Add delivery to site';
  await sendFromPage(page, prompt);

  const reply = await writer.startReply(client, jobId, { metadata: { model: 'fake-llm' } });
  reply.add('Checking ');
  await reply.save();
  // The watcher notices the new reply and follows it.
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking ' });

  await page.reload();
  await waitLoaded(page);
  // Loaded mid-reply: resume() polls it.
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking ' });
  await page.getByTestId('waiting').waitFor();
  reply.add('the drawings ');
  await reply.save();
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking the drawings ' });
  reply.add('now.');
  await reply.finish();
  await waitMessage(page, { id: reply.id, status: 'complete', content: 'Checking the drawings now.' });
  await page.getByTestId('waiting').waitFor({ state: 'detached' });

  // The CLI form of the writer answers the newest user message; the watching page follows it.
  const { stdout } = await run(process.execPath, [
    `${DEMO}writer.mjs`, '--api', api, '--job', jobId, '--word-ms', '5', '--throttle-ms', '20',
  ], { env: { ...process.env, QUOTE_CHAT_TOKEN: token }, timeout: 15_000 });
  const written = stdout.match(/^streaming (\S+) into job/m)?.[1];
  assert.ok(written, `writer.mjs printed the message id: ${stdout}`);
  await waitMessage(page, { id: written, role: 'assistant', status: 'complete', content: writer.kit.cannedReply(prompt) });
  assert.equal((await listed(page)).length, 5);
});

test('a reply whose writer was the reloaded page is interrupted; a reload shows the same history', { timeout: 20_000 }, async () => {
  // The page writes slowly; it is reloaded as soon as the reply exists on the server (the page
  // lists it only once its create has answered). Nobody writes it any more: after staleAfterMs
  // without an update the reloaded page shows it interrupted.
  const params = { wordMs: '300', staleAfterMs: '1000' };
  const page = await openDemo(allowedSite, params);
  const before = (await listed(page)).length;
  await sendFromPage(page, 'Powder-coat them black');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=message]').length === n + 2, before);
  await waitMessage(page, { role: 'assistant', status: 'streaming' });

  await page.reload();
  await waitLoaded(page);
  await waitMessage(page, { role: 'assistant', status: 'streaming', interrupted: true });
  await page.getByTestId('interrupted').waitFor();
  const history = await listed(page);
  assert.equal(history.length, before + 2);
  assert.equal(history.filter((m) => m.interrupted).length, 1, 'only the last reply is marked');

  await page.reload();
  await waitLoaded(page);
  await waitMessage(page, { role: 'assistant', status: 'streaming', interrupted: true });
  assert.deepEqual(await listed(page), history, 'the same history after another reload');
  const stored = await client.list(jobId);
  assert.deepEqual(history.map((m) => [m.id, m.status, m.content]),
    stored.map((m) => [m.message_id, m.status, m.content]));
});

test('a page from an origin outside ALLOWED_ORIGINS is refused by CORS', { timeout: 20_000 }, async () => {
  const page = await openDemo(blockedSite);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /^NETWORK_ERROR/);
  assert.deepEqual(await listed(page), [], 'nothing of the chat reaches the page');
  assert.ok((await client.list(jobId)).length > 0, 'the chat is there for an allowed origin');
});

test('clear asks first, then empties the chat', { timeout: 20_000 }, async () => {
  const page = await openDemo(allowedSite);
  const count = (await listed(page)).length;
  assert.ok(count > 0);

  // Declined: nothing happens.
  page.once('dialog', (dialog) => dialog.dismiss());
  await page.getByTestId('clear').click();
  assert.equal((await client.list(jobId)).length, count);
  assert.equal((await listed(page)).length, count);

  let question;
  page.once('dialog', (dialog) => { question = dialog.message(); dialog.accept(); });
  await page.getByTestId('clear').click();
  await page.getByTestId('empty').waitFor();
  assert.match(question, new RegExp(`Clear all ${count} messages`));
  await page.getByTestId('restore').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=summary-count]')?.textContent === '0');
  assert.deepEqual(await client.list(jobId), []);
  await page.reload();
  await waitLoaded(page);
  assert.deepEqual(await listed(page), []);
});

// The Vue demo (examples/vue-demo) in headless Chromium against the local API, as the browser
// tests share it: the demo built with its own Vite into a temporary folder and served by tiny
// static servers (one origin in ALLOWED_ORIGINS, one outside it), quote-chat-local on a free
// port over the DynamoDB Local of `make test` (DYNAMODB_ENDPOINT), the demo's writer.mjs as the
// server-side writer, and helpers that read the page. Not a test file itself (node --test only
// runs *.test.mjs). No sleeps as synchronisation: every wait is on a page condition.

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

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEMO = `${ROOT}examples/vue-demo/`;
const VITE = `${DEMO}node_modules/.bin/vite`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const run = promisify(execFile);

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

export class DemoHarness {
  /** `name` names the local API's tables and the JWT secret (parallel files do not meet). */
  constructor(name) {
    this.secret = `${name}-test-secret-${process.pid}`;
    this.owner = `${name}-owner-${process.pid}`;
    this.local = new LocalApi(name, this.secret);
    this.api = undefined; // http://127.0.0.1:<port> of quote-chat-local
    this.allowedSite = undefined; // origin in ALLOWED_ORIGINS
    this.blockedSite = undefined; // origin outside it
    this.browser = undefined;
    this.token = undefined; // the owner's
    this.writer = undefined; // examples/vue-demo/writer.mjs: { kit, startReply, ... }
    this.client = undefined; // the kit's client, from this process (another client)
    this.pages = [];
    this.pageErrors = [];
    this.sites = [];
    this.outDir = undefined;
    this.launching = undefined;
  }

  async start() {
    assert.ok(process.env.DYNAMODB_ENDPOINT, 'DYNAMODB_ENDPOINT is not set: run through make test');
    assert.ok(existsSync(BIN), `${BIN} is missing: cargo build --workspace --bins --locked`);
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make deps (apt-get install chromium), or set CHROMIUM`);
    assert.ok(existsSync(VITE), `${VITE} is missing: make test installs it (npm ci in examples/vue-demo)`);

    this.outDir = await mkdtemp(join(tmpdir(), 'quote-chat-demo-'));
    const building = run(VITE, ['build', '--outDir', this.outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: DEMO, timeout: 60_000,
    });
    building.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    this.launching = chromium.launch({
      executablePath: CHROMIUM,
      timeout: READY_TIMEOUT_MS,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-gpu'],
    });
    this.launching.then((b) => { this.browser = b; }, () => {});

    this.allowedSite = await this.#startStatic();
    this.blockedSite = await this.#startStatic();
    this.api = await this.local.start(this.allowedSite);
    let writer;
    [this.browser, this.token, writer] = await Promise.all([
      this.launching, this.local.cli('token', this.owner), import(`${DEMO}writer.mjs`), building,
    ]);
    this.writer = writer;
    this.client = writer.kit.createQuoteChatClient({ baseUrl: this.api, token: () => this.token });
  }

  async stop() {
    await this.launching?.catch(() => {});
    await this.browser?.close().catch(() => {});
    await this.local.stop();
    for (const site of this.sites) site.close();
    if (this.outDir) await rm(this.outDir, { recursive: true, force: true });
    if (this.local.log) console.error(`quote-chat-local logged:\n${this.local.log}`);
  }

  /** A new job of the owner (a chat of its own for one test). */
  async newJob() {
    const jobId = await this.local.cli('job', this.owner);
    assert.match(jobId, /^[0-9a-f-]{36}$/, 'the job subcommand prints a UUID');
    return jobId;
  }

  /** For afterEach: closes the pages and fails on uncaught errors in them. */
  async closePages() {
    for (const page of this.pages.splice(0)) await page.close().catch(() => {});
    const errors = this.pageErrors.splice(0);
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  }

  /** Opens the demo on `job` from `site` with these query parameters; waits for its first load. */
  async open(job, params = {}, site = this.allowedSite) {
    const page = await this.browser.newPage();
    page.setDefaultTimeout(10_000);
    this.pages.push(page);
    page.on('pageerror', (error) => this.pageErrors.push(`${site}: ${error.message}`));
    const query = new URLSearchParams({ api: this.api, job, token: this.token, pollMs: '150', ...params });
    await page.goto(`${site}/?${query}`);
    await waitLoaded(page);
    return page;
  }

  // The built demo, as any static host serves it: / is index.html, the rest are files of outDir.
  async #startStatic() {
    const outDir = () => this.outDir;
    const site = createServer(async (req, res) => {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const file = join(outDir(), path === '/' ? 'index.html' : normalize(path));
      try {
        if (!file.startsWith(outDir() + sep)) throw new Error('outside');
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
    this.sites.push(site);
    return `http://127.0.0.1:${site.address().port}`;
  }
}

export async function waitLoaded(page) {
  await page.locator('[data-testid=chat][data-loaded=true]').waitFor();
}

/** The listed messages as the page shows them. */
export function listed(page) {
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
export async function waitMessage(page, want) {
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

/** Waits until the page lists exactly these message ids, in this order. */
export async function waitIds(page, ids) {
  await page.waitForFunction((want) => {
    const have = [...document.querySelectorAll('[data-testid=message]')].map((li) => li.dataset.id);
    return have.length === want.length && have.every((id, i) => id === want[i]);
  }, ids);
}

/** Waits until the page's `status` (useQuoteChat's) reads `status`. */
export async function waitStatus(page, status) {
  await page.waitForFunction((s) => document.querySelector('[data-testid=status]')?.textContent === s, status);
}

export async function sendFromPage(page, text) {
  await page.getByTestId('draft').fill(text);
  await page.getByTestId('send').click();
  // Anywhere, not last: in page mode the reply's create may already follow it.
  await waitMessage(page, { role: 'user', content: text, anywhere: true });
  // The page shows it at once; the draft empties once the server has stored it. A writer
  // started before that could store its reply first, before the message it answers.
  await page.waitForFunction(() => document.querySelector('[data-testid=draft]').value === '');
}

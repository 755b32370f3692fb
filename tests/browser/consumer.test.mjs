// The whole path in one test: the consumer fixture (tests/consumer, a create-vite vue-ts
// app that installed the packed kit, built by scripts/consumer-test.sh into tests/consumer/dist)
// is open in Chromium, cross-origin to the local API; a server process — the Python writer,
// on a client generated from openapi.yaml (scripts/python-writer-test.sh generates it into
// target/python-client) — writes a reply; the page shows it complete without a reload.
// Every wait is on a page condition.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { extname, join, normalize, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { LocalApi, READY_TIMEOUT_MS } from './local-api.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = `${ROOT}tests/consumer/dist`;
const PYTHON = `${ROOT}.tools/venv/bin/python`;
const CLIENT = `${ROOT}target/python-client`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
const run = promisify(execFile);

const local = new LocalApi('consumer', `consumer-test-secret-${process.pid}`);
let site;
let api;
let server;
let browser;

before(async () => {
  assert.ok(process.env.DYNAMODB_ENDPOINT, 'DYNAMODB_ENDPOINT is not set: run through make test');
  for (const [path, made] of [[DIST, 'scripts/consumer-test.sh'], [CLIENT, 'scripts/python-writer-test.sh'],
    [PYTHON, 'make tools']]) {
    assert.ok(existsSync(path), `${path} is missing: ${made} makes it`);
  }
  server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
    if (!file.startsWith(DIST + sep)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  site = `http://127.0.0.1:${server.address().port}`;
  [browser, api] = await Promise.all([
    chromium.launch({
      executablePath: CHROMIUM,
      timeout: READY_TIMEOUT_MS,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-gpu'],
    }),
    local.start(site),
  ]);
});

after(async () => {
  await browser?.close();
  await local.stop();
  server?.close();
});

test('a create-vite app with the packed kit shows a reply a Python server process writes, without a reload', async () => {
  const owner = `consumer-owner-${process.pid}`;
  const [token, job] = await Promise.all([local.cli('token', owner), local.cli('job', owner)]);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const query = new URLSearchParams({ api, job, token });
  await page.goto(`${site}/?${query}`);
  // Loaded (the empty chat) and following: the page marks itself to prove no reload happens.
  await page.getByRole('button', { name: 'Pause' }).waitFor();
  await page.evaluate(() => { window.notReloaded = true; });

  const { stdout } = await run(PYTHON, [`${ROOT}clients/python/writer.py`, '--api', api,
    '--job', job.toUpperCase(), '--token', token], {
    env: { ...process.env, PYTHONPATH: CLIENT }, timeout: 60_000,
  });
  const written = JSON.parse(stdout);
  assert.equal(written.status, 'complete');

  const reply = page.locator('li', { hasText: written.content });
  await reply.waitFor({ timeout: 20_000 });
  assert.match(await reply.textContent(), /^assistant \(complete\)/);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'shown without a reload');
  assert.deepEqual(errors, []);
  await page.close();
});

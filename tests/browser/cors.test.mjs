// What only a browser enforces: CORS. A page served from another origin (as the Vue dev server
// is) calls the local API with fetch() in Debian's Chromium, and must be able to read statuses,
// JSON bodies and the exposed headers (ETag for If-Match), errors included; a page from an
// origin outside ALLOWED_ORIGINS must be blocked.
//
// `make test` runs this with DYNAMODB_ENDPOINT set (scripts/test.sh builds the binary first):
//   cargo build --workspace --bins --locked && scripts/dynamodb-local.sh with node --test tests/browser/

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { chromium } from 'playwright-core';
import { BIN, LocalApi, READY_TIMEOUT_MS } from './local-api.mjs';

// Debian's Chromium by default; CHROMIUM names another Chromium-based browser (CI runners ship
// Google Chrome). Never a downloaded browser build.
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const JWT_SECRET = `browser-test-secret-${process.pid}`;
const OWNER = `browser-owner-${process.pid}`;

// The page the browser loads: a stand-in for the Vue app's API client. It reports what a script
// can see of a response (the browser hides what CORS does not allow), or the error fetch threw.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>quote-chat CORS check</title></head><body>
<script>
window.call = async (api, method, path, { token, body, headers = {} } = {}) => {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(api + path, init);
  } catch (err) {
    return { error: err.name, message: String(err.message) };
  }
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return {
    status: response.status,
    type: response.type,
    contentType: response.headers.get('content-type'),
    etag: response.headers.get('etag'),
    requestId: response.headers.get('x-request-id'),
    vary: response.headers.get('vary'),
    json,
    text,
  };
};
</script>
</body></html>`;

let api; // http://127.0.0.1:<port> of quote-chat-local
const local = new LocalApi('browser', JWT_SECRET);
let allowedSite; // the page's origin, in ALLOWED_ORIGINS
let blockedSite; // another origin, not in ALLOWED_ORIGINS
let launching; // chromium.launch(), started early
let browser;
let allowedPage;
let blockedPage;
let ownerToken;
let jobId;

async function startSite() {
  const site = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  return { site, origin: `http://127.0.0.1:${site.address().port}` };
}


const sites = [];

before(async () => {
  assert.ok(process.env.DYNAMODB_ENDPOINT, 'DYNAMODB_ENDPOINT is not set: run through make test');
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build --workspace --bins --locked`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make test installs it (apt-get install chromium), or set CHROMIUM`);

  const allowed = await startSite();
  const blocked = await startSite();
  sites.push(allowed.site, blocked.site);
  allowedSite = allowed.origin;
  blockedSite = blocked.origin;

  // The browser starts while the API creates its tables.
  launching = chromium.launch({
    executablePath: CHROMIUM,
    timeout: READY_TIMEOUT_MS,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-gpu'],
  });
  // Kept as soon as it exists, so after() closes it even if the rest of the start-up fails.
  launching.then((b) => { browser = b; }, () => {});
  api = await local.start(allowedSite);
  [browser, ownerToken, jobId] = await Promise.all([launching, local.cli('token', OWNER), local.cli('job', OWNER)]);
  assert.match(jobId, /^[0-9a-f-]{36}$/, 'the job subcommand prints a UUID');

  allowedPage = await browser.newPage();
  blockedPage = await browser.newPage();
  allowedPage.setDefaultTimeout(10_000);
  blockedPage.setDefaultTimeout(10_000);
  await allowedPage.goto(`${allowedSite}/`);
  await blockedPage.goto(`${blockedSite}/`);
}, { timeout: 60_000 });

after(async () => {
  await launching?.catch(() => {}); // a launch still under way must finish before it can close
  await browser?.close().catch(() => {});
  await local.stop();
  for (const site of sites) site.close();
  if (local.log) console.error(`quote-chat-local logged:\n${local.log}`);
});

/** fetch() from `page`, in the browser, through the page's window.call. */
function call(page, method, path, options = {}) {
  return page.evaluate(([apiUrl, m, p, o]) => window.call(apiUrl, m, p, o), [api, method, path, options]);
}

function expectJson(reply, status, what) {
  assert.equal(reply.error, undefined, `${what}: fetch threw ${reply.error}: ${reply.message}`);
  assert.equal(reply.status, status, `${what}: ${reply.text}`);
  assert.equal(reply.type, 'cors', `${what}: a cross-origin response`);
  assert.equal(reply.contentType, 'application/json', `${what}: JSON content type`);
  assert.ok(reply.json, `${what}: a JSON body readable from the page: ${reply.text}`);
  assert.ok(reply.requestId, `${what}: x-request-id is exposed to the page`);
}

test('the Vue app flow works cross-origin: create, list, patch with If-Match, stale patch, clear', { timeout: 20_000 }, async () => {
  const base = `/api/jobs/${jobId}/quote-chat/`;
  const auth = { token: ownerToken };

  const created = await call(allowedPage, 'POST', base, {
    ...auth, body: { message_id: 'assistant-1', role: 'assistant', content: '', metadata: { model: 'x' } },
  });
  expectJson(created, 201, 'POST');
  assert.equal(created.json.success, true);
  assert.equal(created.json.data.message_id, 'assistant-1');
  assert.match(created.json.data.timestamp, /Z$/);

  const listed = await call(allowedPage, 'GET', base, auth);
  expectJson(listed, 200, 'GET');
  assert.deepEqual(listed.json.data.messages.map((m) => [m.message_id, m.content, m.version]),
    [['assistant-1', '', 1]]);

  // PATCH and a custom header: the browser sends a preflight first, and only then the PATCH.
  const item = `${base}${encodeURIComponent('assistant-1')}/`;
  const patched = await call(allowedPage, 'PATCH', item, {
    ...auth, headers: { 'If-Match': '"1"' }, body: { content: '3 stainless steel boxes' },
  });
  expectJson(patched, 200, 'PATCH If-Match "1"');
  assert.equal(patched.json.data.content, '3 stainless steel boxes');
  assert.equal(patched.json.data.version, 2);
  assert.equal(patched.etag, '"2"', 'ETag is exposed, so the app can send it as the next If-Match');

  const stale = await call(allowedPage, 'PATCH', item, {
    ...auth, headers: { 'If-Match': '"1"' }, body: { content: 'a stale stream chunk' },
  });
  expectJson(stale, 412, 'stale PATCH');
  assert.equal(stale.json.success, false);
  assert.equal(stale.json.code, 'PRECONDITION_FAILED');
  assert.equal(stale.json.details?.current_version, 2);
  assert.equal(stale.etag, '"2"', 'the current version is readable on the 412 as well');

  const unchanged = await call(allowedPage, 'GET', base, auth);
  expectJson(unchanged, 200, 'GET after the stale PATCH');
  assert.equal(unchanged.json.data.messages[0].content, '3 stainless steel boxes');

  const cleared = await call(allowedPage, 'DELETE', base, auth);
  expectJson(cleared, 200, 'DELETE');
  assert.deepEqual(cleared.json, { success: true, data: { deleted_count: 1 } });

  const gone = await call(allowedPage, 'PATCH', item, { ...auth, body: { content: 'late' } });
  expectJson(gone, 404, 'PATCH after DELETE');
  assert.equal(gone.json.code, 'MESSAGE_NOT_FOUND');
});

test('errors carry CORS headers: 401 without a token, 404 for an unknown route, job or message', { timeout: 20_000 }, async () => {
  const base = `/api/jobs/${jobId}/quote-chat/`;

  const anonymousGet = await call(allowedPage, 'GET', base);
  expectJson(anonymousGet, 401, 'GET without a token');
  assert.equal(anonymousGet.json.code, 'UNAUTHENTICATED');
  assert.equal(anonymousGet.json.success, false);

  // Preflighted (JSON body), still no token.
  const anonymousPost = await call(allowedPage, 'POST', base, {
    body: { message_id: 'user-1', role: 'user', content: 'hi' },
  });
  expectJson(anonymousPost, 401, 'POST without a token');
  assert.equal(anonymousPost.json.code, 'UNAUTHENTICATED');

  // Without credentials: a simple request, no preflight.
  const unknownRoute = await call(allowedPage, 'GET', '/api/nothing-here');
  expectJson(unknownRoute, 404, 'unknown route');
  assert.equal(unknownRoute.json.code, 'NOT_FOUND');

  const stranger = await local.cli('token', `stranger-${process.pid}`);
  const foreignJob = await call(allowedPage, 'GET', base, { token: stranger });
  expectJson(foreignJob, 404, 'a job the caller may not see');
  assert.equal(foreignJob.json.code, 'JOB_NOT_FOUND');

  const badJob = await call(allowedPage, 'GET', '/api/jobs/not-a-uuid/quote-chat/', { token: ownerToken });
  expectJson(badJob, 400, 'a malformed job id');
  assert.equal(badJob.json.code, 'INVALID_JOB_ID');
});

test('an origin outside ALLOWED_ORIGINS is blocked by the browser', { timeout: 20_000 }, async () => {
  const base = `/api/jobs/${jobId}/quote-chat/`;

  // Preflighted (Authorization header): the preflight gets no Access-Control-Allow-Origin.
  const withToken = await call(blockedPage, 'GET', base, { token: ownerToken });
  assert.equal(withToken.status, undefined, `a blocked page must not see the response: ${JSON.stringify(withToken)}`);
  assert.equal(withToken.error, 'TypeError');

  // A simple request (no preflight): the browser sends it, then hides the response.
  const simple = await call(blockedPage, 'GET', base);
  assert.equal(simple.status, undefined, `a blocked page must not see the response: ${JSON.stringify(simple)}`);
  assert.equal(simple.error, 'TypeError');

  // The same request from the allowed page goes through: the block was CORS, not a dead server.
  const allowed = await call(allowedPage, 'GET', base, { token: ownerToken });
  expectJson(allowed, 200, 'the same GET from the allowed origin');
});

// The Vue app always sends Authorization, so even a typo'd path is preflighted. API Gateway (HTTP
// API with CORS configured) answers preflights on every path, and so does the local server, so
// the app reads the 404 instead of a CORS failure.
test('an unknown route with a token gives the app a readable 404', {
  timeout: 20_000,
}, async () => {
  const reply = await call(allowedPage, 'GET', '/api/nothing-here', { token: ownerToken });
  expectJson(reply, 404, 'unknown route with a token');
  assert.equal(reply.json.code, 'NOT_FOUND');
});

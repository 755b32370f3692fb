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
import { DEMO, DemoHarness, listed, run, sendFromPage, waitLoaded, waitMessage, waitStatus } from './demo-page.mjs';

const demo = new DemoHarness('demo');
let jobId; // one chat for the whole file: the tests follow on from one another
let writer; // examples/vue-demo/writer.mjs: { kit, startReply }
let client; // the kit's client, from this process

before(async () => {
  await demo.start();
  ({ writer, client } = demo);
  jobId = await demo.newJob();
}, { timeout: 90_000 });

after(() => demo.stop());

afterEach(() => demo.closePages());

const openDemo = (site, params = {}) => demo.open(jobId, params, site);
const allowed = () => demo.allowedSite;

test('a typed message is listed, and the page streams its own reply to completion', { timeout: 20_000 }, async () => {
  const page = await openDemo(allowed(), { wordMs: '40' });
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
  // Wiring (b): the page only sends and follows; this process is the backend writer.
  const page = await openDemo(allowed(), { mode: 'server', staleAfterMs: '20000' });
  const prompt = 'Add delivery to site';
  await sendFromPage(page, prompt);
  await waitStatus(page, 'submitted'); // awaitReply: the server's reply is expected
  await page.getByTestId('awaiting').waitFor();

  const reply = await writer.startReply(client, jobId, { metadata: { model: 'fake-llm' } });
  reply.add('Checking ');
  await reply.save();
  // The live follow notices the new reply and follows it.
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking ' });
  await waitStatus(page, 'streaming');

  await page.reload();
  await waitLoaded(page);
  // Loaded mid-reply: the follow keeps reading it.
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking ' });
  await page.getByTestId('streaming-elsewhere').waitFor();
  reply.add('the drawings ');
  await reply.save();
  await waitMessage(page, { id: reply.id, status: 'streaming', content: 'Checking the drawings ' });
  reply.add('now.');
  await reply.finish();
  await waitMessage(page, { id: reply.id, status: 'complete', content: 'Checking the drawings now.' });
  await page.getByTestId('streaming-elsewhere').waitFor({ state: 'detached' });
  await waitStatus(page, 'ready');

  // The CLI form of the writer answers the newest user message; the watching page follows it.
  const { stdout } = await run(process.execPath, [
    `${DEMO}writer.mjs`, '--api', demo.api, '--job', jobId, '--word-ms', '5', '--throttle-ms', '20',
  ], { env: { ...process.env, QUOTE_CHAT_TOKEN: demo.token }, timeout: 15_000 });
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
  const page = await openDemo(allowed(), params);
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
  const page = await openDemo(demo.blockedSite);
  await page.getByTestId('error').waitFor();
  assert.match(await page.getByTestId('error').textContent(), /^NETWORK_ERROR/);
  assert.deepEqual(await listed(page), [], 'nothing of the chat reaches the page');
  assert.ok((await client.list(jobId)).length > 0, 'the chat is there for an allowed origin');
});

test('clear asks first, then empties the chat', { timeout: 20_000 }, async () => {
  const page = await openDemo(allowed());
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

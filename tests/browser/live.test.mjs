// Live follow and the writer controls of the kit (useQuoteChat), in the Vue demo in Chromium,
// cross-origin against the local API (see demo-page.mjs): replies, messages, clears and
// restores written by someone else show up without a reload; stop() keeps the text; regenerate()
// takes over an interrupted reply or redoes a complete one, and of two tabs trying at once one
// wins; a hidden tab makes no requests. "Someone else" is this process: the kit's client, or the
// demo's writer.mjs as a server-side writer. Every test has a job of its own.
//
// Waits are on page conditions, except where the point is that nothing happens for a while
// (the hidden tab), which can only be shown by letting that while pass.
//
// `make test` runs it with DYNAMODB_ENDPOINT set; alone:
//   cargo build --workspace --bins --locked && scripts/dynamodb-local.sh with node --test tests/browser/live.test.mjs

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DemoHarness, listed, sendFromPage, waitIds, waitMessage, waitStatus } from './demo-page.mjs';

const demo = new DemoHarness('live');
// Short timings: a change shows within pollMs while something streams, within idleMaxMs else;
// a `streaming` reply not updated for staleAfterMs is interrupted.
const FAST = { pollMs: '150', idleMaxMs: '400', staleAfterMs: '1500' };

before(() => demo.start(), { timeout: 90_000 });
after(() => demo.stop());
afterEach(() => demo.closePages());

/** A user message and an assistant reply left `streaming` by a writer that went away. */
async function seedOrphan(job) {
  const { client } = demo;
  await client.create(job, { message_id: 'user-1', role: 'user', content: '3 stainless steel boxes' });
  await client.create(job, { message_id: 'orphan-1', role: 'assistant', content: 'Noted: 3 st', status: 'streaming' });
}

test('a reply streamed by a server-side writer after load appears live and completes', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  const page = await demo.open(job, { ...FAST, mode: 'server' });
  await waitStatus(page, 'ready');
  await page.locator('[data-testid=following][data-following=true]').waitFor();

  const prompt = 'Powder-coat them black';
  await sendFromPage(page, prompt);
  await waitStatus(page, 'submitted'); // the server's reply is awaited

  const reply = await demo.writer.startReply(demo.client, job, { metadata: { model: 'fake-llm' } });
  await waitMessage(page, { id: reply.id, role: 'assistant', status: 'streaming', content: '' });
  await waitStatus(page, 'streaming');
  // While it streams and nothing changes, a poll is two 304s: `?after=` and the reply itself,
  // revalidated by its version.
  await new Promise((resolve) => {
    const unchanged = new Set();
    page.on('response', (response) => {
      const url = new URL(response.url());
      if (response.status() !== 304) return;
      if (url.pathname.endsWith(`/quote-chat/${reply.id}/`)) unchanged.add('reply');
      if (url.searchParams.get('after') === reply.id) unchanged.add('after');
      if (unchanged.size === 2) resolve();
    });
  });
  for (const word of ['Noted. ', 'Black ', 'powder ', 'coat ']) {
    reply.add(word);
    await reply.save();
    // Each PATCH shows while the reply streams (the follow reads it every pollMs).
    await waitMessage(page, { id: reply.id, status: 'streaming', content: reply.text });
  }
  reply.add('adds 8%.');
  await reply.finish();
  await waitMessage(page, { id: reply.id, status: 'complete', content: 'Noted. Black powder coat adds 8%.' });
  await waitStatus(page, 'ready');
  assert.deepEqual((await listed(page)).map((m) => m.role), ['user', 'assistant']);
});

test('a message from another client appears', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  const page = await demo.open(job, FAST);
  await page.getByTestId('empty').waitFor();
  const { message_id } = await demo.client.create(job, { role: 'user', content: 'Sent from my phone' });
  await waitMessage(page, { id: message_id, role: 'user', status: 'complete', content: 'Sent from my phone' });
  const second = await demo.client.create(job, { role: 'user', content: 'And a second one' });
  await waitIds(page, [message_id, second.message_id]);
});

test('a clear elsewhere empties the page and a restore brings the messages back', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  const ids = [];
  for (const content of ['one', 'two', 'three']) {
    ids.push((await demo.client.create(job, { role: 'user', content })).message_id);
  }
  const page = await demo.open(job, FAST);
  await waitIds(page, ids);

  assert.deepEqual(await demo.client.clear(job), { deleted_count: 3 });
  await page.getByTestId('empty').waitFor();
  await waitIds(page, []);

  assert.deepEqual(await demo.client.restore(job), { restored_count: 3 });
  await waitIds(page, ids);

  // A restore under a message created after the clear: the page holds that one, the older ones
  // come back before it (the follow compares message_count and reads the whole list again).
  await demo.client.clear(job);
  await page.getByTestId('empty').waitFor();
  const late = (await demo.client.create(job, { role: 'user', content: 'after the clear' })).message_id;
  await waitIds(page, [late]);
  await demo.client.restore(job);
  await waitIds(page, [...ids, late]);
  assert.equal(await page.getByTestId('error').count(), 0);
});

test('stop() ends the reply this page streams and keeps its text, complete', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  const page = await demo.open(job, { ...FAST, wordMs: '150' });
  const prompt = '3 stainless steel boxes';
  const full = demo.writer.kit.cannedReply(prompt);
  await sendFromPage(page, prompt);
  await waitMessage(page, { role: 'assistant', status: 'streaming', partial: full.length });
  await waitStatus(page, 'streaming');
  // Some text stored, not all.
  await page.waitForFunction(() => {
    const items = document.querySelectorAll('[data-testid=message]');
    return items[items.length - 1].querySelector('.content').textContent.split(' ').length >= 4;
  });
  await page.getByTestId('stop').click();

  await waitMessage(page, { role: 'assistant', status: 'complete' });
  await page.getByTestId('stopped').waitFor();
  await waitStatus(page, 'ready');
  const shown = (await listed(page)).at(-1);
  assert.ok(shown.content.length > 0 && shown.content.length < full.length, `partial text kept: ${shown.content}`);
  assert.ok(full.startsWith(shown.content));
  const stored = (await demo.client.list(job)).at(-1);
  assert.deepEqual([stored.status, stored.content, stored.metadata.stopped], ['complete', shown.content, true]);
  assert.equal(await page.getByTestId('error').count(), 0, 'a stop is not an error');
});

test('regenerate() takes over an interrupted reply and streams a new one', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  await seedOrphan(job);
  const page = await demo.open(job, { ...FAST, wordMs: '10' });
  await waitMessage(page, { id: 'orphan-1', status: 'streaming', interrupted: true });
  await page.getByTestId('interrupted').waitFor();

  await page.getByTestId('ask-again').click();
  const reply = demo.writer.kit.cannedReply('3 stainless steel boxes');
  await waitMessage(page, { role: 'assistant', status: 'complete', content: reply });
  await waitMessage(page, { id: 'orphan-1', status: 'error', interrupted: false });
  await waitStatus(page, 'ready');
  const stored = await demo.client.list(job);
  assert.equal(stored.length, 3);
  const [orphan, fresh] = stored.slice(1);
  assert.deepEqual([orphan.status, orphan.content, orphan.metadata.superseded_by], ['error', 'Noted: 3 st', fresh.message_id]);
  assert.deepEqual([fresh.status, fresh.content, fresh.metadata.regenerates], ['complete', reply, 'orphan-1']);
});

test('regenerate() redoes a complete reply: it stays complete, marked superseded', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  await demo.client.create(job, { message_id: 'user-1', role: 'user', content: '3 stainless steel boxes' });
  await demo.client.create(job, { message_id: 'answer-1', role: 'assistant', content: 'Noted.', status: 'complete' });
  const page = await demo.open(job, { ...FAST, wordMs: '10' });
  await waitMessage(page, { id: 'answer-1', status: 'complete' });

  await page.getByTestId('ask-again').click();
  const reply = demo.writer.kit.cannedReply('3 stainless steel boxes');
  await waitMessage(page, { role: 'assistant', status: 'complete', content: reply });
  await waitStatus(page, 'ready');
  const stored = await demo.client.list(job);
  assert.equal(stored.length, 3);
  const [old, fresh] = stored.slice(1);
  assert.deepEqual([old.status, old.content, old.metadata.superseded_by], ['complete', 'Noted.', fresh.message_id]);
  assert.deepEqual([fresh.status, fresh.content, fresh.metadata.regenerates], ['complete', reply, 'answer-1']);
});

test('two tabs regenerating the same orphan: one wins, the other shows the error', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  await seedOrphan(job);
  const tabs = [await demo.open(job, { ...FAST, wordMs: '10' }), await demo.open(job, { ...FAST, wordMs: '10' })];
  for (const tab of tabs) {
    await tab.getByTestId('ask-again').waitFor();
    // Neither tab may see the other's takeover before asking: both ask on version 1.
    await tab.getByTestId('follow-pause').click();
    await tab.getByTestId('follow-resume').waitFor();
  }
  await Promise.all(tabs.map((tab) => tab.getByTestId('ask-again').click()));

  const reply = demo.writer.kit.cannedReply('3 stainless steel boxes');
  const outcome = await Promise.all(tabs.map((tab) => tab.waitForFunction(() => {
    if (document.querySelector('[data-testid=error]')) return 'lost';
    const items = [...document.querySelectorAll('[data-testid=message]')];
    const last = items[items.length - 1];
    return items.length === 3 && last.dataset.status === 'complete' && last.dataset.role === 'assistant' ? 'won' : false;
  }).then((handle) => handle.jsonValue())));
  assert.deepEqual([...outcome].sort(), ['lost', 'won'], `one tab wins: ${outcome}`);
  const loser = tabs[outcome.indexOf('lost')];
  assert.match(await loser.getByTestId('error').textContent(), /^PRECONDITION_FAILED \(412\): another tab or writer/);

  const stored = await demo.client.list(job);
  const replies = stored.filter((m) => m.role === 'assistant');
  assert.equal(replies.length, 2, 'one new reply, not two');
  assert.equal(replies[0].metadata.superseded_by, replies[1].message_id);
  assert.deepEqual([replies[1].status, replies[1].content], ['complete', reply]);

  // The losing tab, following again, shows the winner's reply.
  await loser.getByTestId('dismiss').click();
  await loser.getByTestId('follow-resume').click();
  await waitMessage(loser, { id: replies[1].message_id, status: 'complete', content: reply });
});

test('an idle poll is one request answered 304; a hidden tab makes none, and catches up when shown', { timeout: 20_000 }, async () => {
  const job = await demo.newJob();
  const first = await demo.client.create(job, { role: 'user', content: 'hello' });
  const page = await demo.open(job, { ...FAST, idleMaxMs: '300' });
  const origin = new URL(demo.api).origin;
  let requests = 0;
  const answers = [];
  let seen;
  const counted = new Promise((resolve) => { seen = resolve; });
  page.on('request', (request) => {
    if (new URL(request.url()).origin === origin) requests++;
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin !== origin || !url.searchParams.has('after')) return; // the follow's polls
    answers.push(`${response.request().method()} ${url.search} ${response.status()}`);
    if (answers.length >= 4) seen();
  });
  await counted; // visible and idle: it polls (every 300 ms at most)
  // The first poll after the load learns the ETag; each later one is a single 304 (and no
  // other request: no message is streaming).
  const poll = `GET ?after=${first.message_id}`;
  assert.deepEqual(answers.slice(0, 4), [`${poll} 200`, `${poll} 304`, `${poll} 304`, `${poll} 304`]);

  const visibility = (state) => page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { value: s, configurable: true });
    Object.defineProperty(document, 'hidden', { value: s === 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await visibility('hidden');
  await sleep(500); // a poll already under way when the tab was hidden may finish
  const before = requests;
  const { message_id } = await demo.client.create(job, { role: 'user', content: 'while you were away' });
  await sleep(2_000); // ≥ 6 idle periods: a visible tab would have polled 6 times
  assert.equal(requests, before, 'no request while hidden');
  assert.deepEqual((await listed(page)).map((m) => m.id), [first.message_id]);

  await visibility('visible');
  await waitMessage(page, { id: message_id, content: 'while you were away' });
  assert.ok(requests > before);
});

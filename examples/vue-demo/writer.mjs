#!/usr/bin/env node
// Wiring (b): the reply is streamed by a server-side writer — here this script, standing in for a
// backend LLM service — while the page only watches. It uses the kit's client from Node: creates
// the assistant message `streaming`, PATCHes the WHOLE text so far as the (fake) LLM produces it,
// each PATCH guarded by If-Match with the version the previous one returned, and ends with
// `status: "complete"` (or `"error"`: the LLM failed, or Ctrl-C).
//
//   QUOTE_CHAT_TOKEN=$(make -s -C ../.. token USER=demo-user) node writer.mjs \
//     [--api http://127.0.0.1:3000] [--job <uuid>] [--prompt "..."] [--word-ms 80] [--throttle-ms 200]
//
// Without --prompt it answers the newest user message of the chat. Kill it with SIGKILL
// mid-reply and a page shows the reply as interrupted once it is stale.
//
// The page follows the reply live (useQuoteChat's follow: a GET `?after=` answered 304 while
// nothing is created, plus a GET of the streaming reply revalidated by its version).
//
// The fake LLM is the demo's TypeScript (src/fakeLlm.ts), which Node 20 cannot run, so loadKit()
// bundles it, with the kit's client, with esbuild in memory and imports the result.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DEMO_JOB = '5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42';

/** The kit's client module plus the fake LLM: { createQuoteChatClient, newMessageId, fakeLlm, cannedReply, ... }. */
export async function loadKit() {
  const result = await build({
    stdin: {
      contents: "export * from '@quote-chat/client/client'; export * from './src/fakeLlm.ts';",
      resolveDir: HERE,
      loader: 'ts',
      sourcefile: 'writer-kit.ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

export const kit = await loadKit();

/**
 * Creates the assistant message (empty, `streaming`) and returns a handle to stream it:
 * `add(text)` appends locally, `save()` PATCHes the whole text so far, `finish(status)` PATCHes
 * the whole text with the final status. A 412 (e.g. a PATCH that landed but whose answer was
 * lost) is answered by re-sending the same body on the current version: this writer owns the
 * message and always sends its whole state.
 */
export async function startReply(client, job, { id = kit.newMessageId('assistant'), metadata } = {}) {
  await client.create(job, { message_id: id, role: 'assistant', content: '', status: 'streaming', metadata });
  let current = { message_id: id, version: 1 };
  let text = '';
  const write = async (body) => {
    ({ message: current } = await client.patchWithRetry(job, id, () => body, {
      current,
      onConflict: 'overwrite',
    }));
    return current;
  };
  return {
    id,
    get text() {
      return text;
    },
    add(chunk) {
      text += chunk;
    },
    save: () => write({ content: text }),
    finish: (status = 'complete') => write({ content: text, status }),
  };
}

/**
 * Streams `source` (an async iterable of text) into a new assistant message: at most one PATCH
 * per `throttleMs` while text comes, then the final one. Resolves with the stored message.
 */
export async function writeReply(client, job, source, { throttleMs = 200, metadata, onStart } = {}) {
  const reply = await startReply(client, job, { metadata });
  onStart?.(reply.id);
  let lastSave = Date.now();
  try {
    for await (const chunk of source) {
      reply.add(chunk);
      if (Date.now() - lastSave >= throttleMs) {
        await reply.save();
        lastSave = Date.now();
      }
    }
  } catch (error) {
    await reply.finish('error').catch(() => {});
    throw error;
  }
  return reply.finish('complete');
}

async function main() {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: process.env.QUOTE_CHAT_URL ?? 'http://127.0.0.1:3000' },
      token: { type: 'string', default: process.env.QUOTE_CHAT_TOKEN ?? '' },
      job: { type: 'string', default: process.env.QUOTE_CHAT_JOB ?? DEMO_JOB },
      prompt: { type: 'string' },
      'word-ms': { type: 'string', default: '80' },
      'throttle-ms': { type: 'string', default: '200' },
    },
  });
  if (!values.token) {
    console.error('No token: set QUOTE_CHAT_TOKEN=$(make -s token USER=demo-user) or pass --token');
    process.exit(2);
  }
  const client = kit.createQuoteChatClient({ baseUrl: values.api, token: () => values.token });

  let prompt = values.prompt;
  if (prompt === undefined) {
    const { messages } = await client.listPage(values.job, { order: 'desc', limit: 20 });
    prompt = messages.find((m) => m.role === 'user')?.content ?? '';
  }

  // Ctrl-C: stop the LLM; writeReply then marks the reply `error`, so pages stop waiting.
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted (SIGINT)')));
  process.once('SIGTERM', () => abort.abort(new Error('interrupted (SIGTERM)')));

  const source = kit.fakeLlm(prompt, { wordMs: Number(values['word-ms']), signal: abort.signal });
  const message = await writeReply(client, values.job, source, {
    throttleMs: Number(values['throttle-ms']),
    metadata: { model: 'fake-llm', writer: 'writer.mjs' },
    onStart: (id) => console.log(`streaming ${id} into job ${values.job}`),
  });
  console.log(`${message.message_id}: ${message.status}, version ${message.version}, ${message.content.length} characters`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`writer: ${error.code ? `${error.code}: ` : ''}${error.message}`);
    process.exit(1);
  });
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { effectScope, ref, watch, type EffectScope } from "vue";
import {
  createQuoteChatClient,
  QuoteChatError,
  useQuoteChat,
  type ChatStatus,
  type QuoteChatClient,
  type UseQuoteChatOptions,
} from "../src";
import { FakeApi } from "./fakeApi";

const JOB = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
const OTHER_JOB = "0b7e4a52-3c1d-4f6e-8a9b-1c2d3e4f5a6b";
let api: FakeApi;
let client: QuoteChatClient;
const scopes: EffectScope[] = [];

beforeEach(() => {
  // Throttling, polling, back-off and staleness all run on a fake clock: no real sleeps.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  api = new FakeApi(JOB, OTHER_JOB);
  client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: api.fetch });
});
afterEach(() => {
  for (const scope of scopes.splice(0)) scope.stop();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** useQuoteChat inside a scope of its own (a mounted component), disposed after the test. */
function mounted<Meta extends Record<string, unknown> = Record<string, unknown>>(
  options: UseQuoteChatOptions = {},
  jobId: Parameters<typeof useQuoteChat>[1] = JOB,
) {
  const scope = effectScope();
  scopes.push(scope);
  return scope.run(() => useQuoteChat<Meta>(client, jobId, options))!;
}

/** Makes `client` hold every create until the returned function is called. */
function holdCreates(): () => void {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = async (request: Request) => {
    if (request.method === "POST") await released;
    return api.fetch(request);
  };
  client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: held });
  return release;
}

/** Every status the composable goes through, as it changes. */
function statuses(chat: { status: { readonly value: ChatStatus } }): ChatStatus[] {
  const seen: ChatStatus[] = [chat.status.value];
  const scope = effectScope();
  scopes.push(scope);
  scope.run(() => watch(() => chat.status.value, (s) => seen.push(s), { flush: "sync" }));
  return seen;
}

/** An LLM stream: one chunk every `everyMs`, then optionally a failure. */
async function* llm(chunks: string[], everyMs: number, failWith?: Error): AsyncGenerator<string> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    yield chunk;
  }
  if (failWith) throw failWith;
}

/** The follow's requests since `from` (GETs of the list and of one message). */
function polls(from = 0) {
  return api.requests.slice(from).filter((r) => r.method === "GET");
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe("load and send", () => {
  it("loads the history and appends a sent user message", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = mounted({ follow: false });
    const loading = chat.load();
    expect(chat.loading.value).toBe(true);
    await loading;
    expect(chat.loading.value).toBe(false);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["hi"]);

    const sent = await chat.send("3 boxes", { source: "web" });
    expect(sent).toMatchObject({ role: "user", content: "3 boxes", status: "complete", version: 1 });
    expect(chat.messages.value.map((m) => m.content)).toEqual(["hi", "3 boxes"]);
    expect(api.chats.get(JOB)![1]).toMatchObject({ message_id: sent.message_id, metadata: { source: "web" } });
  });

  it("shows a sent message at once and takes it back if it could not be stored", async () => {
    const chat = useQuoteChat("11111111-2222-3333-4444-555555555555", {
      baseUrl: "http://127.0.0.1:3000",
      getToken: () => "t",
      fetch: api.fetch,
    });
    // An unknown job: the POST answers 404, after the message was shown.
    const sending = chat.send("optimistic");
    expect(chat.messages.value.map((m) => m.content)).toEqual(["optimistic"]);
    await expect(sending).rejects.toBeInstanceOf(QuoteChatError);
    expect(chat.messages.value).toEqual([]);
  });

  it("puts a failure in `error` as a QuoteChatError with its code, and rethrows it", async () => {
    const chat = mounted({ follow: false }, "11111111-2222-3333-4444-555555555555");
    await expect(chat.load()).rejects.toBeInstanceOf(QuoteChatError);
    expect(chat.error.value).toMatchObject({ code: "JOB_NOT_FOUND", status: 404 });
    expect(chat.status.value).toBe("error");
    chat.clearError();
    expect(chat.error.value).toBeNull();
    expect(chat.status.value).toBe("ready");
  });

  it("puts a failure to make a message id in `error`, never a synchronous throw", async () => {
    const chat = mounted();
    await chat.load();
    vi.stubGlobal("crypto", {}); // neither randomUUID nor getRandomValues
    let reply: Promise<unknown> | undefined;
    expect(() => (reply = chat.streamReply(llm(["x"], 10)))).not.toThrow();
    await expect(reply).rejects.toMatchObject({ code: "CLIENT_ERROR" });
    expect(chat.error.value).toMatchObject({ code: "CLIENT_ERROR" });
    expect(chat.status.value).toBe("error");

    chat.clearError();
    await expect(chat.send("hi")).rejects.toMatchObject({ code: "CLIENT_ERROR" });
    expect(chat.error.value).toMatchObject({ code: "CLIENT_ERROR" });
    expect(chat.messages.value).toEqual([]);
    expect(api.requestsTo("POST")).toHaveLength(0);
  });

  it("follows after a failed load too, and recovers by itself once the API answers", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    for (let i = 0; i < 3; i++) api.fail("network-before", { method: "GET" });
    const chat = mounted();
    const loading = chat.load();
    const rejected = expect(loading).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    await vi.advanceTimersByTimeAsync(250 + 500);
    await rejected;
    expect(chat.following.value).toBe(true);
    expect(chat.messages.value).toEqual([]);

    await vi.advanceTimersByTimeAsync(1000); // the first tick reads the whole chat
    expect(chat.messages.value.map((m) => m.content)).toEqual(["hi"]);
    expect(chat.error.value).toBeNull();
    expect(chat.status.value).toBe("ready");
  });

  it("does not follow after a load that failed for good (404, 400, 401): only network failures and 5xx are retried", async () => {
    const unknown = mounted({}, "11111111-2222-3333-4444-555555555555");
    await expect(unknown.load()).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
    const malformed = mounted({}, "not-a-uuid");
    await expect(malformed.load()).rejects.toMatchObject({ code: "INVALID_JOB_ID" });
    client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "", fetch: api.fetch });
    const signedOut = mounted();
    await expect(signedOut.load()).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    const requests = api.requests.length;
    await vi.advanceTimersByTimeAsync(30_000);
    for (const chat of [unknown, malformed, signedOut]) {
      expect(chat.following.value).toBe(false);
      expect(chat.status.value).toBe("error");
    }
    expect(api.requests.length).toBe(requests);

    api.fail("unavailable", { method: "GET", retryAfter: "60" }); // longer than the client retries
    client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: api.fetch });
    const unavailable = mounted();
    await expect(unavailable.load()).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(unavailable.following.value).toBe(true);
  });

  it("types metadata as the app declares it", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi", metadata: { source: "web" } });
    const chat = mounted<{ source?: string; model?: string }>({ follow: false });
    await chat.load();
    const source: string | undefined = chat.messages.value[0]!.metadata.source;
    expect(source).toBe("web");
    const typeOnly = () => {
      // @ts-expect-error metadata is { source?: string; model?: string }
      void chat.send("x", { source: 3 });
    };
    expect(typeOnly).toBeTypeOf("function"); // checked by `npm run typecheck`, never called
  });
});

describe("streamReply", () => {
  it("creates a streaming reply, PATCHes the whole text so far at most once per throttleMs, ends complete", async () => {
    const chat = mounted();
    const chunks = Array.from({ length: 10 }, (_, i) => `w${i} `);
    const done = chat.streamReply(llm(chunks, 100), { id: "a-1", throttleMs: 250 });
    await vi.runAllTimersAsync();
    const message = await done;

    const full = chunks.join("");
    const post = api.requestsTo("POST")[0]!;
    expect(post.body).toMatchObject({ message_id: "a-1", role: "assistant", content: "", status: "streaming" });

    const patches = api.requestsTo("PATCH");
    const last = patches[patches.length - 1]!;
    const streamed = patches.slice(0, -1);
    // Throttled: fewer PATCHes than chunks, spaced by at least throttleMs.
    expect(streamed.length).toBeGreaterThanOrEqual(2);
    expect(streamed.length).toBeLessThan(chunks.length);
    for (let i = 1; i < streamed.length; i++) {
      expect(streamed[i]!.at - streamed[i - 1]!.at).toBeGreaterThanOrEqual(250);
    }
    // Each PATCH carries the whole content so far (it replaces), never a delta.
    const prefixes = chunks.map((_, k) => chunks.slice(0, k + 1).join(""));
    for (const patch of streamed) expect(prefixes).toContain(patch.body.content);
    expect(streamed.map((p) => p.body.content.length)).toEqual(
      [...streamed.map((p) => p.body.content.length)].sort((a, b) => a - b),
    );
    // One at a time, each on top of the version the previous one returned.
    expect(patches.map((p) => p.headers.get("If-Match"))).toEqual(patches.map((_, i) => `"${i + 1}"`));
    expect(patches.every((p) => p.status === 200)).toBe(true);
    expect(last.body).toEqual({ content: full, status: "complete" });

    expect(message).toMatchObject({ content: full, status: "complete", version: patches.length + 1 });
    expect(chat.messages.value.at(-1)).toMatchObject({ content: full, status: "complete" });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: full, status: "complete" });
  });

  it("shows each chunk at once, ahead of the stored text", async () => {
    const chat = mounted();
    const done = chat.streamReply(llm(["one ", "two ", "three"], 100), { id: "a-1", throttleMs: 10_000 });
    await vi.advanceTimersByTimeAsync(250);
    expect(chat.messages.value.at(-1)).toMatchObject({ content: "one two ", status: "streaming" });
    expect(api.chats.get(JOB)![0]!.content).toBe(""); // not yet PATCHed (throttleMs)
    await vi.runAllTimersAsync();
    await done;
    expect(chat.messages.value.at(-1)).toMatchObject({ content: "one two three", status: "complete" });
  });

  it("flushes early once flushBytes of new text are waiting", async () => {
    const chat = mounted();
    const big = "x".repeat(600);
    const done = chat.streamReply(llm([big, big, "tail"], 0), { throttleMs: 10_000, flushBytes: 1024 });
    await vi.runAllTimersAsync();
    await done;
    const patches = api.requestsTo("PATCH");
    expect(patches.map((p) => p.body.content.length)).toEqual([1200, 1204]);
    expect(patches[1]!.body.status).toBe("complete");
  });

  it("keeps streaming over a 412 by re-sending its whole text on the current version", async () => {
    const chat = mounted();
    async function* source() {
      yield "one ";
      await new Promise((resolve) => setTimeout(resolve, 300));
      api.update(JOB, "a-1", { metadata: { seen: true } }); // someone else bumps the version
      yield "two";
    }
    const done = chat.streamReply(source(), { id: "a-1", throttleMs: 250 });
    await vi.runAllTimersAsync();
    expect(await done).toMatchObject({ content: "one two", status: "complete", metadata: { seen: true } });
    expect(api.requestsTo("PATCH").some((p) => p.status === 412)).toBe(true);
  });

  it("a source that fails to start fails the reply (stored `error`), not left streaming", async () => {
    const chat = mounted();
    const done = chat.streamReply(() => {
      throw new Error("no API key");
    }, { id: "a-1" });
    await expect(done).rejects.toMatchObject({ code: "SOURCE_FAILED", message: "no API key" });
    expect(api.chats.get(JOB)![0]).toMatchObject({ status: "error", content: "" });
    expect(chat.status.value).toBe("error");
  });

  it("keeps a silent reply alive (its text PATCHed again every staleAfterMs/3), so no other page sees it interrupted", async () => {
    const chat = mounted({ staleAfterMs: 30_000 });
    const tab = mounted({ staleAfterMs: 30_000 }); // another page following the chat
    await tab.load();
    const gates: Array<() => void> = [];
    const gate = () => new Promise<void>((resolve) => gates.push(resolve));
    // A reasoning model: silent before its first text, and again while it calls a tool.
    async function* thinking() {
      await gate();
      yield "Let me check. ";
      await gate();
      yield "3 boxes.";
    }
    const done = chat.streamReply(thinking(), { id: "a-1", throttleMs: 250 });

    await vi.advanceTimersByTimeAsync(45_000);
    expect(tab.messages.value.at(-1)).toMatchObject({ message_id: "a-1", status: "streaming" });
    expect(tab.interrupted.value).toBe(false);
    expect(tab.status.value).toBe("streaming");
    gates.shift()!();
    await vi.advanceTimersByTimeAsync(45_000);
    expect(tab.messages.value.at(-1)).toMatchObject({ content: "Let me check. ", status: "streaming" });
    expect(tab.interrupted.value).toBe(false);

    const patches = api.requestsTo("PATCH");
    // Every 10 s of silence: the same text, each on the version the previous one returned.
    expect(patches.map((p) => p.body)).toEqual([
      ...Array(4).fill({ content: "" }),
      { content: "Let me check. " },
      ...Array(4).fill({ content: "Let me check. " }),
    ]);
    expect(patches.map((p) => p.headers.get("If-Match"))).toEqual(patches.map((_, i) => `"${i + 1}"`));
    expect(patches.slice(5).map((p, i) => p.at - patches[i + 4]!.at)).toEqual(Array(4).fill(10_000));

    gates.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    expect(await done).toMatchObject({ content: "Let me check. 3 boxes.", status: "complete" });
    const ended = api.requestsTo("PATCH").length;
    await vi.advanceTimersByTimeAsync(60_000); // no keep-alive once the reply has ended
    expect(api.requestsTo("PATCH")).toHaveLength(ended);
  });

  it("stops keeping a reply alive when it is stopped", async () => {
    const chat = mounted({ staleAfterMs: 30_000 });
    const silent = (signal: AbortSignal) =>
      (async function* () {
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        yield "never";
      })();
    const done = chat.streamReply(silent, { id: "a-1" });
    await vi.advanceTimersByTimeAsync(25_000);
    expect(api.requestsTo("PATCH")).toHaveLength(2);
    const stopping = chat.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
    expect(await done).toMatchObject({ content: "", status: "complete", metadata: { stopped: true } });
    const ended = api.requestsTo("PATCH").length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.requestsTo("PATCH")).toHaveLength(ended);
  });

  it("a keep-alive whose retry meets a takeover with the same text stops, without writing over it", async () => {
    const chat = mounted({ staleAfterMs: 30_000 });
    let resume!: () => void;
    async function* source() {
      yield "one ";
      await new Promise<void>((resolve) => (resume = resolve));
      yield "two";
    }
    const done = chat.streamReply(source(), { id: "a-1", throttleMs: 250 });
    const rejected = expect(done).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    await vi.advanceTimersByTimeAsync(1000); // "one " stored at 250 ms, version 2
    api.fail("network-before", { method: "PATCH" }); // the keep-alive (at 10 250 ms) never arrives...
    await vi.advanceTimersByTimeAsync(9_300);
    expect(api.requestsTo("PATCH").map((p) => p.status)).toEqual([200, "network-error"]);
    // ...and, before it is retried, another page takes the reply over (it holds the same text).
    api.update(JOB, "a-1", { status: "error", metadata: { superseded_by: "a-2" } });
    await vi.advanceTimersByTimeAsync(1000);
    resume();
    await vi.advanceTimersByTimeAsync(1000);
    await rejected;
    expect(api.chats.get(JOB)![0]).toMatchObject({
      content: "one ",
      status: "error",
      version: 3,
      metadata: { superseded_by: "a-2" },
    });
  });

  it("stops with the 412 when someone else ended the reply (taken over elsewhere)", async () => {
    const chat = mounted();
    async function* source() {
      yield "one ";
      await new Promise((resolve) => setTimeout(resolve, 300));
      api.update(JOB, "a-1", { status: "error", metadata: { superseded_by: "a-2" } });
      yield "two";
    }
    const done = chat.streamReply(source(), { id: "a-1", throttleMs: 250 });
    const rejected = expect(done).rejects.toMatchObject({ code: "PRECONDITION_FAILED", status: 412 });
    await vi.runAllTimersAsync();
    await rejected;
    expect(api.chats.get(JOB)![0]).toMatchObject({ status: "error", content: "one " });
  });
});

describe("status", () => {
  it("goes ready → submitted → streaming → ready for a message and a reply this page streams", async () => {
    const chat = mounted();
    await chat.load();
    const seen = statuses(chat);

    const sending = chat.send("3 boxes");
    expect(chat.status.value).toBe("submitted");
    await sending;
    expect(chat.status.value).toBe("ready");

    const reply = chat.streamReply(llm(["I ", "understand"], 100), { throttleMs: 50 });
    expect(chat.status.value).toBe("submitted"); // no text yet
    await vi.advanceTimersByTimeAsync(100);
    expect(chat.status.value).toBe("streaming");
    await vi.advanceTimersByTimeAsync(200);
    await reply;
    expect(seen).toEqual(["ready", "submitted", "ready", "submitted", "streaming", "ready"]);
    expect(chat.error.value).toBeNull();
  });

  it("goes to error when the source fails: the reply is stored `error` with its text, SOURCE_FAILED", async () => {
    const chat = mounted();
    const seen = statuses(chat);
    const done = chat.streamReply(llm(["Hel", "lo"], 100, new Error("LLM went away")), { id: "a-1" });
    const rejected = expect(done).rejects.toMatchObject({ code: "SOURCE_FAILED", message: "LLM went away" });
    await vi.runAllTimersAsync();
    await rejected;

    const patches = api.requestsTo("PATCH");
    expect(patches[patches.length - 1]!.body).toEqual({ content: "Hello", status: "error" });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: "Hello", status: "error" });
    expect(chat.messages.value[0]).toMatchObject({ status: "error", content: "Hello" });
    expect(chat.error.value).toBeInstanceOf(QuoteChatError);
    expect(chat.error.value?.cause).toBeInstanceOf(Error);
    expect(seen).toEqual(["ready", "submitted", "streaming", "error"]);
    chat.clearError();
    expect(chat.status.value).toBe("ready");
  });

  it("goes to error when a send fails, and the next action clears it", async () => {
    const chat = mounted();
    api.fail("unavailable", { method: "POST" });
    api.fail("unavailable", { method: "POST" });
    api.fail("unavailable", { method: "POST" });
    const sending = chat.send("hi");
    const rejected = expect(sending).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503 });
    await vi.runAllTimersAsync();
    await rejected;
    expect(chat.status.value).toBe("error");
    await chat.send("again");
    expect(chat.status.value).toBe("ready");
    expect(chat.error.value).toBeNull();
  });

  it("stop() ends the reply this page streams: its text kept, complete + {stopped: true}, not an error", async () => {
    const chat = mounted();
    let released = false;
    async function* source() {
      try {
        for (const word of ["one ", "two ", "three ", "four"]) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          yield word;
        }
      } finally {
        released = true;
      }
    }
    const done = chat.streamReply(source(), { id: "a-1", throttleMs: 50 });
    await vi.advanceTimersByTimeAsync(250);
    expect(chat.status.value).toBe("streaming");
    const stopping = chat.stop();
    await vi.runAllTimersAsync();
    await stopping;
    const message = await done;

    expect(message).toMatchObject({ content: "one two ", status: "complete", metadata: { stopped: true } });
    expect(api.requestsTo("PATCH").at(-1)!.body).toEqual({
      content: "one two ",
      status: "complete",
      metadata: { stopped: true },
    });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: "one two ", status: "complete" });
    expect(chat.status.value).toBe("ready");
    expect(chat.error.value).toBeNull();
    expect(released).toBe(true); // the source was told to stop
  });

  it("stop() aborts the signal a source function is given, cancelling the LLM request", async () => {
    const chat = mounted();
    let given: AbortSignal | undefined;
    let cancelled = false;
    // An LLM SDK's stream: a request per chunk that only its signal can end.
    async function* llmRequest(signal: AbortSignal) {
      for (const word of ["one ", "two ", "three"]) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, 100);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            cancelled = true;
            reject(signal.reason);
          });
        });
        yield word;
      }
    }
    const done = chat.streamReply((signal) => llmRequest((given = signal)), { id: "a-1", throttleMs: 50 });
    await vi.advanceTimersByTimeAsync(150);
    expect(given?.aborted).toBe(false);
    const stopping = chat.stop();
    await vi.runAllTimersAsync();
    await stopping;
    expect(given?.aborted).toBe(true);
    expect(cancelled).toBe(true);
    expect(await done).toMatchObject({ content: "one ", status: "complete", metadata: { stopped: true } });

    // A reply whose text can no longer be saved ends its LLM request at once too.
    cancelled = false;
    api.fail("unavailable", { method: "PATCH", retryAfter: "60" });
    const failing = chat.streamReply((signal) => llmRequest((given = signal)), { id: "a-2", throttleMs: 50 });
    const rejected = expect(failing).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    await vi.advanceTimersByTimeAsync(100); // "one ", PATCHed: 503
    expect(given?.aborted).toBe(true);
    expect(cancelled).toBe(true);
    await vi.runAllTimersAsync();
    await rejected;
    expect(api.chats.get(JOB)![1]).toMatchObject({ message_id: "a-2", status: "error" });
  });

  it("an aborted signal, or a source that throws an AbortError, stops the same way", async () => {
    const chat = mounted();
    const abort = new AbortController();
    const first = chat.streamReply(llm(["a ", "b ", "c"], 100), { id: "a-1", signal: abort.signal });
    await vi.advanceTimersByTimeAsync(150);
    abort.abort();
    await vi.runAllTimersAsync();
    expect(await first).toMatchObject({ content: "a ", status: "complete", metadata: { stopped: true } });

    async function* aborting() {
      yield "x";
      throw new DOMException("The operation was aborted.", "AbortError");
    }
    const second = chat.streamReply(aborting(), { id: "a-2" });
    await vi.runAllTimersAsync();
    expect(await second).toMatchObject({ content: "x", status: "complete", metadata: { stopped: true } });
    expect(chat.error.value).toBeNull();
  });

  it("is streaming while a reply written elsewhere is followed; with awaitReply, submitted until it starts", async () => {
    const chat = mounted({ awaitReply: true });
    await chat.load();
    const seen = statuses(chat);
    await chat.send("3 boxes");
    expect(chat.status.value).toBe("submitted"); // the server's reply is awaited

    // The server-side writer starts its reply.
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I ", status: "streaming" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.status.value).toBe("streaming");
    api.update(JOB, "a-1", { content: "I understand", status: "complete" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.at(-1)).toMatchObject({ content: "I understand", status: "complete" });
    expect(seen).toEqual(["ready", "submitted", "streaming", "ready"]);
  });
});

describe("regenerate", () => {
  function seedOrphan() {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    // Left `streaming` a minute ago by a writer that went away.
    return api.seed(JOB, {
      message_id: "a-1",
      role: "assistant",
      content: "I und",
      status: "streaming",
      updated_at: ago(60_000),
    });
  }

  it("takes over an interrupted reply (error + superseded_by, If-Match) and streams a new one", async () => {
    seedOrphan();
    const chat = mounted();
    await chat.load();
    expect(chat.interrupted.value).toBe(true);

    const done = chat.regenerate(() => llm(["I ", "understand"], 50), { id: "a-2" });
    await vi.advanceTimersByTimeAsync(500);
    const message = await done;

    const takeover = api.requestsTo("PATCH").find((r) => r.path.endsWith("/a-1/"))!;
    expect(takeover.headers.get("If-Match")).toBe('"1"');
    expect(takeover.body).toEqual({ status: "error", metadata: { superseded_by: "a-2" } });
    expect(api.chats.get(JOB)![1]).toMatchObject({ status: "error", content: "I und" });
    expect(message).toMatchObject({
      message_id: "a-2",
      content: "I understand",
      status: "complete",
      metadata: { regenerates: "a-1" },
    });
    expect(chat.messages.value.map((m) => [m.message_id, m.status])).toEqual([
      ["m-1", "complete"],
      ["a-1", "error"],
      ["a-2", "complete"],
    ]);
    expect(chat.interrupted.value).toBe(false);
    expect(chat.status.value).toBe("ready");
  });

  it("of the same orphan in two tabs: one wins, the other gets a 412 and writes no reply", async () => {
    seedOrphan();
    const tabA = mounted();
    const tabB = mounted();
    await Promise.all([tabA.load(), tabB.load()]);
    const sourceB = vi.fn(() => llm(["B"], 10));

    const a = tabA.regenerate(() => llm(["A"], 10), { id: "a-A" });
    const b = tabB.regenerate(sourceB, { id: "a-B" });
    const rejected = expect(b).rejects.toMatchObject({ code: "PRECONDITION_FAILED", status: 412 });
    await vi.advanceTimersByTimeAsync(100);
    await a;
    await rejected;

    expect(tabB.error.value).toBeInstanceOf(QuoteChatError);
    expect(tabB.error.value?.message).toMatch(/another tab or writer/);
    expect(tabB.status.value).toBe("error");
    expect(sourceB).not.toHaveBeenCalled();
    const replies = api.chats.get(JOB)!.filter((m) => m.role === "assistant");
    expect(replies.map((m) => [m.message_id, m.status, m.metadata["superseded_by"]])).toEqual([
      ["a-1", "error", "a-A"],
      ["a-A", "complete", undefined],
    ]);
    // Tab B shows the winner's takeover at once, and its reply once it follows.
    expect(tabB.messages.value.find((m) => m.message_id === "a-1")).toMatchObject({ status: "error" });
    await vi.advanceTimersByTimeAsync(2000);
    expect(tabB.messages.value.map((m) => m.message_id)).toEqual(["m-1", "a-1", "a-A"]);
  });

  it("regenerates a complete reply: superseded_by with If-Match, still complete, and streams a new one", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Three boxes.", status: "complete", version: 4 });
    const chat = mounted({ follow: false });
    await chat.load();
    const seen = statuses(chat);

    const done = chat.regenerate(() => llm(["I ", "understand"], 50), { id: "a-2", metadata: { model: "gpt" } });
    await vi.advanceTimersByTimeAsync(500);
    const message = await done;

    const takeovers = api.requestsTo("PATCH", /\/a-1\/$/);
    expect(takeovers).toHaveLength(1);
    expect(takeovers[0]!.headers.get("If-Match")).toBe('"4"');
    expect(takeovers[0]!.body).toEqual({ metadata: { superseded_by: "a-2" } });
    // The answer the user did not like stays a finished answer, not a failure.
    expect(api.chats.get(JOB)![1]).toMatchObject({
      status: "complete",
      content: "Three boxes.",
      version: 5,
      metadata: { superseded_by: "a-2" },
    });
    const create = api.requestsTo("POST")[0]!;
    expect(create.body).toMatchObject({
      message_id: "a-2",
      role: "assistant",
      status: "streaming",
      metadata: { model: "gpt", regenerates: "a-1" },
    });
    expect(message).toMatchObject({
      message_id: "a-2",
      content: "I understand",
      status: "complete",
      metadata: { model: "gpt", regenerates: "a-1" },
    });
    expect(chat.messages.value.map((m) => [m.message_id, m.status, m.metadata.superseded_by])).toEqual([
      ["m-1", "complete", undefined],
      ["a-1", "complete", "a-2"],
      ["a-2", "complete", undefined],
    ]);
    expect(seen).toEqual(["ready", "submitted", "streaming", "ready"]);
  });

  it("regenerates the reply this page just wrote, once it is complete (not while it streams)", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    const chat = mounted({ follow: false });
    await chat.load();
    const first = chat.streamReply(() => llm(["Three ", "boxes."], 50), { id: "a-1" });
    await vi.advanceTimersByTimeAsync(60);
    const early = vi.fn(() => llm(["no"], 10));
    await expect(chat.regenerate(early)).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" });
    expect(early).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(500);
    await first;

    const again = chat.regenerate(() => llm(["3 boxes, ", "noted."], 50), { id: "a-2" });
    await vi.advanceTimersByTimeAsync(500);
    expect(await again).toMatchObject({ content: "3 boxes, noted.", status: "complete", metadata: { regenerates: "a-1" } });
    expect(api.chats.get(JOB)!.map((m) => [m.message_id, m.status, m.content, m.metadata["superseded_by"]])).toEqual([
      ["m-1", "complete", "3 boxes", undefined],
      ["a-1", "complete", "Three boxes.", "a-2"],
      ["a-2", "complete", "3 boxes, noted.", undefined],
    ]);
  });

  it("regenerates a failed reply: superseded_by with If-Match, still error", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "oops", status: "error", version: 2 });
    const chat = mounted({ follow: false });
    await chat.load();
    const done = chat.regenerate(llm(["hello"], 10), { id: "a-2" });
    await vi.advanceTimersByTimeAsync(100);
    expect(await done).toMatchObject({ message_id: "a-2", content: "hello", status: "complete", metadata: { regenerates: "a-1" } });

    const takeover = api.requestsTo("PATCH", /\/a-1\/$/)[0]!;
    expect(takeover.headers.get("If-Match")).toBe('"2"');
    expect(takeover.body).toEqual({ metadata: { superseded_by: "a-2" } });
    expect(api.chats.get(JOB)![1]).toMatchObject({ status: "error", content: "oops", metadata: { superseded_by: "a-2" } });
    expect(chat.messages.value.map((m) => [m.message_id, m.status])).toEqual([
      ["m-1", "complete"],
      ["a-1", "error"],
      ["a-2", "complete"],
    ]);
  });

  it("a complete reply changed since this page read it: the takeover's 412 rejects, the source is never read", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Three boxes.", status: "complete" });
    const chat = mounted({ follow: false });
    await chat.load();
    // Another tab regenerated it meanwhile (its new reply is not created yet).
    api.update(JOB, "a-1", { metadata: { superseded_by: "a-9" } });
    const source = vi.fn(() => llm(["again"], 10));

    await expect(chat.regenerate(source, { id: "a-2" })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", status: 412 });
    expect(source).not.toHaveBeenCalled();
    expect(api.requestsTo("POST")).toHaveLength(0);
    expect(chat.error.value?.message).toMatch(/another tab or writer/);
    expect(chat.status.value).toBe("error");
    // The page shows what the other tab did; asking again now is refused up front.
    expect(chat.messages.value.at(-1)).toMatchObject({ message_id: "a-1", status: "complete", metadata: { superseded_by: "a-9" } });
    await expect(chat.regenerate(source)).rejects.toMatchObject({ code: "NOTHING_TO_REGENERATE" });
    expect(api.requestsTo("PATCH")).toHaveLength(1);
  });

  it("a complete reply regenerated in another tab shows superseded there too, once its successor is read", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Three boxes.", status: "complete" });
    const tabA = mounted();
    const tabB = mounted({ follow: false });
    await Promise.all([tabA.load(), tabB.load()]);

    const done = tabB.regenerate(() => llm(["3 boxes, ", "noted."], 50), { id: "a-2" });
    await vi.advanceTimersByTimeAsync(500);
    await done;
    await vi.advanceTimersByTimeAsync(10_000);

    expect(tabA.messages.value.map((m) => [m.message_id, m.status, m.metadata.superseded_by])).toEqual([
      ["m-1", "complete", undefined],
      ["a-1", "complete", "a-2"],
      ["a-2", "complete", undefined],
    ]);
    // The README's one-liner for a chat that shows the current answers only:
    const current = tabA.messages.value.filter((m) => m.metadata.superseded_by === undefined);
    expect(current.map((m) => m.content)).toEqual(["3 boxes", "3 boxes, noted."]);
  });

  it("refuses a second regenerate() while the first is taking the reply over: one new reply", async () => {
    seedOrphan();
    // The new reply's create waits until released: the window in which the old reply is
    // already taken over (its version is this page's) and no writer of the new one exists yet.
    const releasePost = holdCreates();
    const chat = mounted({ follow: false });
    await chat.load();

    const first = chat.regenerate(() => llm(["one"], 10), { id: "a-2" });
    const early = chat.regenerate(() => llm(["two"], 10), { id: "a-3" }); // before the takeover's answer
    await expect(early).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" });
    await vi.advanceTimersByTimeAsync(0); // the takeover is answered; the create waits
    expect(chat.messages.value.find((m) => m.message_id === "a-1")).toMatchObject({ status: "error" });
    const late = chat.regenerate(() => llm(["three"], 10), { id: "a-4" });
    await expect(late).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" }); // a-2's writer exists

    releasePost();
    await vi.advanceTimersByTimeAsync(100);
    await first;
    expect(api.chats.get(JOB)!.map((m) => m.message_id)).toEqual(["m-1", "a-1", "a-2"]);
    expect(api.requestsTo("PATCH").filter((r) => r.path.endsWith("/a-1/"))).toHaveLength(1);
  });

  it.each(["complete", "error"] as const)(
    "refuses a %s reply another page already regenerated (superseded_by), writing nothing",
    async (status) => {
      api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
      api.seed(JOB, { message_id: "a-1", role: "assistant", status, metadata: { superseded_by: "a-9" } });
      const chat = mounted({ follow: false });
      await chat.load();
      const source = vi.fn(() => llm(["again"], 10));
      await expect(chat.regenerate(source)).rejects.toMatchObject({ code: "NOTHING_TO_REGENERATE" });
      expect(chat.error.value?.message).toMatch(/a-9/);
      expect(source).not.toHaveBeenCalled();
      expect(api.requestsTo("PATCH")).toHaveLength(0);
      expect(api.requestsTo("POST")).toHaveLength(0);
    },
  );

  it("takes a superseded reply over again when its successor never came within staleAfterMs", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "old", metadata: { superseded_by: "a-9" }, version: 2 });
    const chat = mounted({ follow: false });
    await chat.load();
    const early = vi.fn(() => llm(["soon"], 10));
    await expect(chat.regenerate(early, { id: "a-2" })).rejects.toMatchObject({ code: "NOTHING_TO_REGENERATE" });
    expect(early).not.toHaveBeenCalled();

    await vi.advanceTimersByTimeAsync(30_001); // a-9 was never created
    const done = chat.regenerate(() => llm(["again"], 10), { id: "a-3" });
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    const takeover = api.requestsTo("PATCH").find((r) => r.path.endsWith("/a-1/"))!;
    expect(takeover.body).toEqual({ metadata: { superseded_by: "a-3" } });
    expect(takeover.headers.get("if-match")).toBe('"2"');
    expect(api.chats.get(JOB)!.map((m) => [m.message_id, m.status, m.metadata["superseded_by"], m.metadata["regenerates"]])).toEqual([
      ["m-1", "complete", undefined, undefined],
      ["a-1", "complete", "a-3", undefined],
      ["a-3", "complete", undefined, "a-1"],
    ]);
  });

  it("a stale superseded reply whose successor exists after all is not taken over again: the successor is shown", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "old", metadata: { superseded_by: "a-9" }, version: 2 });
    const chat = mounted({ follow: false });
    await chat.load();
    await vi.advanceTimersByTimeAsync(30_001);
    // The successor was created after all (late), and this page has not read it.
    api.seed(JOB, { message_id: "a-9", role: "assistant", content: "new", metadata: { regenerates: "a-1" } });
    const source = vi.fn(() => llm(["again"], 10));
    await expect(chat.regenerate(source, { id: "a-3" })).rejects.toMatchObject({ code: "NOTHING_TO_REGENERATE" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(source).not.toHaveBeenCalled();
    expect(api.requestsTo("PATCH")).toHaveLength(0);
    expect(api.requestsTo("POST")).toHaveLength(0);
    expect(chat.messages.value.map((m) => m.message_id)).toEqual(["m-1", "a-1", "a-9"]);
    expect(chat.status.value).toBe("error");
  });

  it("refuses a second regenerate() of an unanswered user message while the first one's reply is being created", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    const releasePost = holdCreates();
    const chat = mounted({ follow: false });
    await chat.load();

    const first = chat.regenerate(() => llm(["one"], 10), { id: "a-1" });
    await vi.advanceTimersByTimeAsync(0); // its reply's create waits; the newest message is still the user's
    const second = vi.fn(() => llm(["two"], 10));
    await expect(chat.regenerate(second, { id: "a-2" })).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" });
    expect(second).not.toHaveBeenCalled();

    releasePost();
    await vi.advanceTimersByTimeAsync(100);
    await first;
    expect(api.chats.get(JOB)!.map((m) => m.message_id)).toEqual(["m-1", "a-1"]);
  });

  it("refuses regenerate() while a send() is on its way", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Hello." });
    const chat = mounted({ follow: false });
    await chat.load();
    const sent = chat.send("3 boxes");
    const source = vi.fn(() => llm(["again"], 10));
    await expect(chat.regenerate(source)).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" });
    await sent;
    expect(source).not.toHaveBeenCalled();
    expect(api.requestsTo("PATCH")).toHaveLength(0);
  });

  it("canRegenerate is true exactly when regenerate() would not be refused here", async () => {
    const chat = mounted({ follow: false });
    await chat.load();
    expect(chat.canRegenerate.value).toBe(false); // an empty chat

    await chat.send("hi");
    expect(chat.canRegenerate.value).toBe(true); // an unanswered question: regenerate() answers it
    const reply = chat.streamReply(() => llm(["Hello."], 50), { id: "a-1" });
    expect(chat.canRegenerate.value).toBe(false); // this page writes it
    await vi.advanceTimersByTimeAsync(500);
    await reply;
    expect(chat.canRegenerate.value).toBe(true); // complete

    const again = chat.regenerate(() => llm(["Hi!"], 50), { id: "a-2" });
    expect(chat.canRegenerate.value).toBe(false); // taking it over
    await vi.advanceTimersByTimeAsync(500);
    await again;
    expect(chat.canRegenerate.value).toBe(true);
  });

  it("canRegenerate: not for a superseded reply until it is stale, nor one streamed elsewhere until interrupted", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "old", metadata: { superseded_by: "a-9" } });
    const chat = mounted({ follow: false });
    await chat.load();
    expect(chat.canRegenerate.value).toBe(false);
    await vi.advanceTimersByTimeAsync(30_001); // nothing else happens: the clock alone moves it
    expect(chat.canRegenerate.value).toBe(true);

    api.seed(OTHER_JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(OTHER_JOB, { message_id: "b-1", role: "assistant", content: "I und", status: "streaming" });
    const other = mounted({ follow: false }, OTHER_JOB);
    await other.load();
    expect(other.canRegenerate.value).toBe(false);
    await vi.advanceTimersByTimeAsync(30_001);
    expect(other.interrupted.value).toBe(true);
    expect(other.canRegenerate.value).toBe(true);

    const waiting = mounted({ follow: false, awaitReply: true }, OTHER_JOB);
    await waiting.load();
    await waiting.send("and 4 lids?");
    expect(waiting.canRegenerate.value).toBe(false); // the server's writer answers it
  });

  it("refuses an empty chat: there is nothing to regenerate", async () => {
    const chat = mounted({ follow: false });
    await chat.load();
    const source = vi.fn(() => llm(["hello"], 10));
    await expect(chat.regenerate(source)).rejects.toMatchObject({ code: "NOTHING_TO_REGENERATE", status: 0 });
    expect(source).not.toHaveBeenCalled();
    expect(api.requestsTo("POST")).toHaveLength(0);
  });

  it("refuses a reply another writer is still streaming (not yet interrupted), writing nothing", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming" });
    const chat = mounted({ follow: false });
    await chat.load();
    const patches = api.requestsTo("PATCH").length;
    await expect(chat.regenerate(llm(["again"], 10))).rejects.toMatchObject({ code: "REPLY_IN_PROGRESS" });
    expect(api.requestsTo("PATCH").length).toBe(patches);
    expect(api.chats.get(JOB)![1]).toMatchObject({ status: "streaming", content: "I und" });
  });
});

describe("live follow", () => {
  it("shows a message created elsewhere; an idle poll is one request answered 304", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = mounted();
    await chat.load();
    expect(chat.following.value).toBe(true);
    const start = api.requests.length;

    await vi.advanceTimersByTimeAsync(1000); // first poll: ?after=m-1, 200 with the head's ETag
    await vi.advanceTimersByTimeAsync(2000); // nothing new: 304
    const seen = polls(start);
    expect(seen.map((r) => [r.query.get("after"), r.status])).toEqual([
      ["m-1", 200],
      ["m-1", 304],
    ]);
    expect(seen[0]!.headers.get("If-None-Match")).toBeNull();
    expect(seen[1]!.headers.get("If-None-Match")).toBe('"head-1"');

    api.seed(JOB, { message_id: "m-2", role: "user", content: "from my phone" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["hi", "from my phone"]);
    expect(api.requests.slice(start).every((r) => r.method === "GET" && !r.path.endsWith("/m-1/"))).toBe(true);
  });

  it("follows a reply streamed elsewhere every pollMs until it is complete, then backs off", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    const chat = mounted();
    await chat.load();
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "", status: "streaming" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.at(-1)).toMatchObject({ message_id: "a-1", status: "streaming" });
    expect(chat.status.value).toBe("streaming");

    const start = api.requests.length;
    api.update(JOB, "a-1", { content: "I und" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.at(-1)!.content).toBe("I und");
    await vi.advanceTimersByTimeAsync(1000); // nothing new anywhere: two 304s
    const tick = polls(start);
    expect(tick.map((r) => [r.path.endsWith("/a-1/") ? "a-1" : "list", r.status])).toEqual([
      ["list", 304],
      ["a-1", 200],
      ["list", 304],
      ["a-1", 304],
    ]);
    expect(tick[3]!.headers.get("If-None-Match")).toBe('"2"');

    api.update(JOB, "a-1", { content: "I understand", status: "complete" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.at(-1)).toMatchObject({ content: "I understand", status: "complete" });
    expect(chat.status.value).toBe("ready");

    // Idle again: one list request per poll, no message GET, spaced 1 s, 2 s, 4 s, 5 s, 5 s.
    const idleFrom = api.requests.length;
    await vi.advanceTimersByTimeAsync(17_000);
    const idle = polls(idleFrom);
    expect(idle.every((r) => r.query.get("after") === "a-1" && r.status === 304)).toBe(true);
    expect(idle.slice(1).map((r, i) => r.at - idle[i]!.at)).toEqual([2000, 4000, 5000, 5000]);
  });

  it("a clear elsewhere empties the page; a restore elsewhere brings the messages back", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "hello" });
    const chat = mounted();
    await chat.load();
    api.clearChat(JOB);
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value).toEqual([]);
    expect(api.requests.some((r) => r.query.get("after") === "a-1" && r.status === 404)).toBe(true);

    // Empty: the plain list, revalidated (an empty chat's 304 is one request too).
    const start = api.requests.length;
    await vi.advanceTimersByTimeAsync(3000);
    expect(polls(start).map((r) => [r.query.get("after"), r.status])).toEqual([
      [null, 304],
      [null, 304],
    ]);

    api.restoreChat(JOB);
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.messages.value.map((m) => m.message_id)).toEqual(["m-1", "a-1"]);
  });

  it("a restore elsewhere under a newer message: message_count differs, so the whole list is read", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "old" });
    api.clearChat(JOB);
    api.seed(JOB, { message_id: "m-2", role: "user", content: "new" });
    const chat = mounted();
    await chat.load();
    expect(chat.messages.value.map((m) => m.message_id)).toEqual(["m-2"]);

    api.restoreChat(JOB); // m-1 comes back, before m-2: `after=m-2` has nothing new
    const start = api.requests.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.map((m) => m.message_id)).toEqual(["m-1", "m-2"]);
    expect(polls(start).map((r) => r.query.get("after"))).toEqual(["m-2", null]);
  });

  it("a clear elsewhere after which the same ids are used again: last_timestamp differs, so the whole list is read", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "old question" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "old answer" });
    const chat = mounted();
    await chat.load();

    // Same ids, same count: only the newest message's timestamp tells the chats apart.
    api.clearChat(JOB);
    api.seed(JOB, { message_id: "m-1", role: "user", content: "new question" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "new answer" });
    const start = api.requests.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["new question", "new answer"]);
    expect(polls(start).map((r) => r.query.get("after"))).toEqual(["a-1", null]);
  });

  it("makes no request while the page is hidden, and polls at once when it is shown", async () => {
    const page = Object.assign(new EventTarget(), { visibilityState: "visible" as DocumentVisibilityState });
    vi.stubGlobal("document", page);
    const show = (state: DocumentVisibilityState) => {
      page.visibilityState = state;
      page.dispatchEvent(new Event("visibilitychange"));
    };
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = mounted();
    await chat.load();
    await vi.advanceTimersByTimeAsync(1000);

    show("hidden");
    const start = api.requests.length;
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "meanwhile", status: "streaming" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.requests.length).toBe(start);
    expect(chat.following.value).toBe(true);

    show("visible");
    await vi.advanceTimersByTimeAsync(0);
    expect(api.requests.length).toBeGreaterThan(start);
    expect(chat.messages.value.at(-1)).toMatchObject({ content: "meanwhile" });
  });

  it("pause() stops it, resume() polls at once; follow: false never starts; disposal stops it", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = mounted();
    await chat.load();
    chat.follow.pause();
    expect(chat.following.value).toBe(false);
    const start = api.requests.length;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(api.requests.length).toBe(start);

    api.seed(JOB, { message_id: "m-2", role: "user", content: "elsewhere" });
    chat.follow.resume();
    expect(chat.follow.isActive.value).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(chat.messages.value).toHaveLength(2);

    const off = mounted({ follow: false });
    await off.load();
    expect(off.following.value).toBe(false);

    for (const scope of scopes.splice(0)) scope.stop();
    expect(chat.following.value).toBe(false);
    const disposedAt = api.requests.length;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(api.requests.length).toBe(disposedAt);
  });

  it("marks a reply nobody updates interrupted; a later completed reply clears it", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming" });
    const chat = mounted({ staleAfterMs: 30_000 });
    await chat.load();
    expect(chat.interrupted.value).toBe(false);
    expect(chat.status.value).toBe("streaming");

    await vi.advanceTimersByTimeAsync(29_000);
    expect(chat.interrupted.value).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(chat.interrupted.value).toBe(true);
    expect(chat.status.value).toBe("ready");

    api.seed(JOB, { message_id: "m-2", role: "user", content: "hello?" });
    api.seed(JOB, { message_id: "a-2", role: "assistant", content: "Sorry: 3 boxes." });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(chat.messages.value.at(-1)).toMatchObject({ message_id: "a-2", status: "complete" });
    expect(chat.interrupted.value).toBe(false);
  });

  it("keeps following over a failed poll: the error shows until the next poll works", async () => {
    const chat = mounted();
    await chat.load();
    api.fail("network-before", { method: "GET" });
    api.fail("network-before", { method: "GET" });
    api.fail("network-before", { method: "GET" });
    await vi.advanceTimersByTimeAsync(1000 + 250 + 500);
    expect(chat.error.value).toMatchObject({ code: "NETWORK_ERROR" });
    expect(chat.status.value).toBe("error");
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.error.value).toBeNull();
    expect(chat.messages.value).toHaveLength(1);
  });

  it("backs off while ticks fail, even while a reply streams, and honours a 503's Retry-After", async () => {
    client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: api.fetch, retry: { attempts: 1 } });
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming" });
    const chat = mounted({ staleAfterMs: 10 * 60_000 });
    await chat.load();
    expect(chat.status.value).toBe("streaming"); // followed every pollMs

    for (let i = 0; i < 7; i++) api.fail("network-before", { method: "GET" });
    const from = api.requests.length;
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 8000 + 16_000 + 30_000 + 30_000);
    const failing = polls(from);
    expect(failing.map((r) => r.status)).toEqual(Array(7).fill("network-error"));
    expect(failing.slice(1).map((r, i) => r.at - failing[i]!.at)).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(chat.error.value).toMatchObject({ code: "NETWORK_ERROR" });

    // Answering again: back to pollMs (the reply still streams).
    await vi.advanceTimersByTimeAsync(30_000);
    expect(chat.error.value).toBeNull();
    const back = api.requests.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(polls(back).length).toBeGreaterThan(0);

    api.fail("unavailable", { method: "GET", retryAfter: "20" });
    const busy = api.requests.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(polls(busy).map((r) => r.status)).toEqual([503]);
    expect(chat.error.value).toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfter: 20 });
    await vi.advanceTimersByTimeAsync(19_999);
    expect(polls(busy)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(polls(busy).length).toBeGreaterThan(1);
    expect(chat.error.value).toBeNull();
  });

  it("keeps following over a request that never answers (timed out, retried)", async () => {
    const chat = mounted();
    await chat.load();
    api.fail("hang", { method: "GET" });
    await vi.advanceTimersByTimeAsync(1000); // the first tick hangs
    expect(api.requests.at(-1)!.status).toBe("hung");
    await vi.advanceTimersByTimeAsync(30_000 + 250); // given up (timeoutMs, 30 s), retried
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["hi"]);
    expect(chat.following.value).toBe(true);
    expect(chat.error.value).toBeNull();
  });

  it("a jobId ref change loads and follows the new chat, and drops the old one", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "job 1" });
    api.seed(OTHER_JOB, { message_id: "n-1", role: "user", content: "job 2" });
    const jobId = ref(JOB);
    const chat = mounted({}, jobId);
    await chat.load();
    expect(chat.messages.value.map((m) => m.content)).toEqual(["job 1"]);

    jobId.value = OTHER_JOB;
    expect(chat.messages.value).toEqual([]);
    expect(chat.loading.value).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["job 2"]);

    api.seed(JOB, { message_id: "m-2", role: "user", content: "old job" });
    api.seed(OTHER_JOB, { message_id: "n-2", role: "user", content: "new job" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["job 2", "new job"]);
    const after = polls().filter((r) => r.query.get("after"));
    expect(after.at(-1)!.path).toContain(OTHER_JOB);
  });

  it("a jobId change stops this page's reply in the old chat as stop() does; coming back shows it ended", async () => {
    const jobId = ref(JOB);
    const chat = mounted({}, jobId);
    await chat.load();
    let given: AbortSignal | undefined;
    const done = chat.streamReply((signal) => ((given = signal), llm(["one ", "two ", "three"], 100)), {
      id: "a-1",
      throttleMs: 50,
    });
    await vi.advanceTimersByTimeAsync(150);
    expect(chat.status.value).toBe("streaming");

    jobId.value = OTHER_JOB;
    jobId.value = JOB;
    expect(given?.aborted).toBe(true); // the LLM request is cancelled
    await vi.advanceTimersByTimeAsync(0);
    expect(await done).toMatchObject({ content: "one ", status: "complete", metadata: { stopped: true } });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: "one ", status: "complete", metadata: { stopped: true } });
    expect(api.chats.get(OTHER_JOB)).toEqual([]);

    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value.map((m) => [m.message_id, m.status, m.content])).toEqual([["a-1", "complete", "one "]]);
    expect(chat.status.value).toBe("ready");
  });

  it("unmounting stops the replies this page streams, as stop() does", async () => {
    const chat = mounted();
    await chat.load();
    let given: AbortSignal | undefined;
    const done = chat.streamReply((signal) => ((given = signal), llm(["one ", "two ", "three"], 100)), {
      id: "a-1",
      throttleMs: 50,
    });
    await vi.advanceTimersByTimeAsync(150);
    for (const scope of scopes.splice(0)) scope.stop();
    expect(given?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(await done).toMatchObject({ content: "one ", status: "complete", metadata: { stopped: true } });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: "one ", status: "complete", metadata: { stopped: true } });
  });

  it("a regenerate() whose takeover outlives a jobId change writes its reply stopped, in the old chat", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming", updated_at: ago(60_000) });
    const jobId = ref(JOB);
    const chat = mounted({ follow: false }, jobId);
    await chat.load();
    const source = vi.fn((_signal: AbortSignal) => llm(["I ", "understand"], 50));
    const done = chat.regenerate(source, { id: "a-2" });
    jobId.value = OTHER_JOB; // while the takeover PATCH is on its way
    await vi.advanceTimersByTimeAsync(1000);
    expect(await done).toMatchObject({ message_id: "a-2", content: "", status: "complete", metadata: { stopped: true, regenerates: "a-1" } });
    expect(source).not.toHaveBeenCalled();
    expect(api.chats.get(JOB)!.map((m) => [m.message_id, m.status])).toEqual([
      ["m-1", "complete"],
      ["a-1", "error"],
      ["a-2", "complete"],
    ]);
    expect(api.chats.get(OTHER_JOB)).toEqual([]);
  });

  it.each(["unmounting", "stop()"] as const)(
    "%s during a regenerate()'s takeover: its source is never called and no reply is written",
    async (how) => {
      api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
      api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Noted.", status: "complete" });
      const chat = mounted({ follow: false });
      await chat.load();
      const source = vi.fn((_signal: AbortSignal) => llm(["I ", "understand"], 50));
      const done = chat.regenerate(source, { id: "a-2" });
      const settled = done.then(
        (m) => ({ ok: true as const, m }),
        (e) => ({ ok: false as const, e }),
      );
      // While the takeover PATCH is on its way:
      if (how === "stop()") await chat.stop();
      else for (const scope of scopes.splice(0)) scope.stop();
      await vi.advanceTimersByTimeAsync(1000);
      const result = await settled;
      expect(result).toMatchObject({ ok: false, e: { code: "STOPPED" } });
      expect(source).not.toHaveBeenCalled();
      expect(api.requestsTo("POST")).toHaveLength(0);
      // The takeover landed before the stop was seen: the old reply names a successor that never
      // comes, and may be taken over again once it is stale.
      expect(api.chats.get(JOB)!.map((m) => [m.message_id, m.metadata["superseded_by"]])).toEqual([
        ["m-1", undefined],
        ["a-1", "a-2"],
      ]);
      if (how === "stop()") {
        expect(chat.error.value).toBeNull(); // stop() is not an error
        expect(chat.status.value).toBe("ready");
      }
    },
  );

  it("arms no timer once unmounted, even when an answer that changes the chat comes afterwards", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "Noted.", status: "complete" });
    const chat = mounted({ follow: false });
    await chat.load();
    const done = chat.regenerate(() => llm(["again"], 10), { id: "a-2" }).catch(() => {});
    for (const scope of scopes.splice(0)) scope.stop();
    await vi.advanceTimersByTimeAsync(0); // the takeover's answer: a superseded reply, newest
    await done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("streamReply() after unmounting is refused at once: its source is never called, nothing is written", async () => {
    const chat = mounted();
    await chat.load();
    for (const scope of scopes.splice(0)) scope.stop();
    const source = vi.fn((_signal: AbortSignal) => llm(["late"], 10));
    await expect(chat.streamReply(source, { id: "a-1" })).rejects.toMatchObject({ code: "STOPPED" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(source).not.toHaveBeenCalled();
    expect(api.requestsTo("POST")).toHaveLength(0);
    const regenerated = vi.fn((_signal: AbortSignal) => llm(["late"], 10));
    await expect(chat.regenerate(regenerated)).rejects.toMatchObject({ code: "STOPPED" });
    expect(regenerated).not.toHaveBeenCalled();
    expect(api.requestsTo("PATCH")).toHaveLength(0);
  });

  it("takes the jobId from a getter too", async () => {
    api.seed(OTHER_JOB, { message_id: "n-1", role: "user", content: "job 2" });
    const props = ref({ job: JOB });
    const chat = mounted({ follow: false }, () => props.value.job);
    await chat.load();
    expect(chat.messages.value).toEqual([]);
    props.value = { job: OTHER_JOB };
    await vi.advanceTimersByTimeAsync(0);
    expect(chat.messages.value.map((m) => m.content)).toEqual(["job 2"]);
    expect(chat.following.value).toBe(false);
  });
});

describe("clear, summary, export, restore", () => {
  it("asks confirm first and does nothing when declined", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = mounted({ follow: false });
    await chat.load();

    const no = vi.fn(() => {
      expect(api.requestsTo("DELETE")).toHaveLength(0); // asked before anything is sent
      return false;
    });
    expect(await chat.clear(no)).toBeNull();
    expect(no).toHaveBeenCalledOnce();
    expect(api.requestsTo("DELETE")).toHaveLength(0);
    expect(chat.messages.value).toHaveLength(1);

    expect(await chat.clear(async () => true)).toBe(1);
    expect(api.requestsTo("DELETE")).toHaveLength(1);
    expect(chat.messages.value).toEqual([]);

    expect(await chat.restore()).toBe(1);
    expect(chat.messages.value.map((m) => m.message_id)).toEqual(["m-1"]);
    expect(await chat.summary()).toMatchObject({ message_count: 1 });
    expect((await chat.export()).messages).toHaveLength(1);
    expect(await chat.export("jsonl")).toContain('"message_id":"m-1"');
  });
});

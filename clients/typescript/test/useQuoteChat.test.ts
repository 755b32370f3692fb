import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { effectScope } from "vue";
import { createQuoteChatClient, QuoteChatError, useQuoteChat, type QuoteChatClient } from "../src";
import { FakeApi } from "./fakeApi";

const JOB = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
let api: FakeApi;
let client: QuoteChatClient;

beforeEach(() => {
  // Throttling, polling and staleness all run on a fake clock: no real sleeps.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  api = new FakeApi(JOB);
  client = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: api.fetch });
});
afterEach(() => {
  vi.useRealTimers();
});

/** An LLM stream: one chunk every `everyMs`, then optionally a failure. */
async function* llm(chunks: string[], everyMs: number, failWith?: Error): AsyncGenerator<string> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    yield chunk;
  }
  if (failWith) throw failWith;
}

describe("load and send", () => {
  it("loads the history and appends a sent user message", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = useQuoteChat(client, JOB);
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
    await expect(sending).rejects.toBeInstanceOf(Error);
    expect(chat.messages.value).toEqual([]);
  });

  it("puts a failure in `error` as a QuoteChatError with its code, and rethrows it", async () => {
    const chat = useQuoteChat(client, "11111111-2222-3333-4444-555555555555");
    await expect(chat.load()).rejects.toBeInstanceOf(QuoteChatError);
    expect(chat.error.value).toMatchObject({ code: "JOB_NOT_FOUND", status: 404 });
  });
});

describe("streamReply", () => {
  it("creates a streaming reply, PATCHes the whole text so far at most once per throttleMs, ends complete", async () => {
    const chat = useQuoteChat(client, JOB);
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

  it("flushes early once flushBytes of new text are waiting", async () => {
    const chat = useQuoteChat(client, JOB);
    const big = "x".repeat(600);
    const done = chat.streamReply(llm([big, big, "tail"], 0), { throttleMs: 10_000, flushBytes: 1024 });
    await vi.runAllTimersAsync();
    await done;
    const patches = api.requestsTo("PATCH");
    expect(patches.map((p) => p.body.content.length)).toEqual([1200, 1204]);
    expect(patches[1]!.body.status).toBe("complete");
  });

  it("ends with status error when the source throws, keeping the text so far", async () => {
    const chat = useQuoteChat(client, JOB);
    const done = chat.streamReply(llm(["Hel", "lo"], 100, new Error("LLM went away")), { id: "a-1" });
    const rejected = expect(done).rejects.toThrow("LLM went away");
    await vi.runAllTimersAsync();
    await rejected;

    const patches = api.requestsTo("PATCH");
    expect(patches[patches.length - 1]!.body).toEqual({ content: "Hello", status: "error" });
    expect(api.chats.get(JOB)![0]).toMatchObject({ content: "Hello", status: "error" });
    expect(chat.messages.value[0]).toMatchObject({ status: "error" });
    expect(chat.error.value?.message).toBe("LLM went away");
  });

  it("keeps streaming over a 412 by re-sending its whole text on the current version", async () => {
    const chat = useQuoteChat(client, JOB);
    async function* source() {
      yield "one ";
      await new Promise((resolve) => setTimeout(resolve, 300));
      api.update(JOB, "a-1", { metadata: { seen: true } }); // someone else bumps the version
      yield "two";
    }
    const done = chat.streamReply(source(), { id: "a-1", throttleMs: 250 });
    await vi.runAllTimersAsync();
    expect(await done).toMatchObject({ content: "one two", status: "complete" });
    expect(api.requestsTo("PATCH").some((p) => p.status === 412)).toBe(true);
  });
});

describe("resume", () => {
  it("polls a reply streamed elsewhere with If-None-Match until it is complete", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "3 boxes" });
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming" });
    const chat = useQuoteChat(client, JOB, { pollMs: 1000 });
    await chat.load(); // starts resume()
    expect(chat.waiting.value).toBe(true);
    expect(chat.replyInProgress.value).toBe(true);

    await vi.advanceTimersByTimeAsync(1000); // first poll: 200 with the ETag
    await vi.advanceTimersByTimeAsync(1000); // unchanged: 304
    const polls = api.requestsTo("GET").slice(1);
    expect(polls.map((p) => p.status)).toEqual([200, 304]);
    expect(polls[1]!.headers.get("If-None-Match")).toMatch(/^".+"$/);
    expect(polls.every((p) => p.query.get("limit") === "1" && p.query.get("order") === "desc")).toBe(true);

    api.update(JOB, "a-1", { content: "I understand", status: "streaming" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value[1]!.content).toBe("I understand");
    expect(chat.waiting.value).toBe(true);

    api.update(JOB, "a-1", { content: "I understand you need", status: "complete" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(chat.messages.value[1]).toMatchObject({ content: "I understand you need", status: "complete" });
    expect(chat.waiting.value).toBe(false);
    expect(chat.replyInProgress.value).toBe(false);
    expect(chat.interrupted.value).toBe(false);

    const count = api.requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.requests.length).toBe(count); // stopped polling
  });

  it("marks the reply interrupted once its updated_at is older than staleAfterMs", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "I und", status: "streaming" });
    const chat = useQuoteChat(client, JOB, { pollMs: 1000, staleAfterMs: 30_000 });
    await chat.load();

    await vi.advanceTimersByTimeAsync(29_000);
    expect(chat.interrupted.value).toBe(false);
    expect(api.requestsTo("GET").slice(1).some((p) => p.status === 304)).toBe(true);

    await vi.advanceTimersByTimeAsync(3_000);
    expect(chat.interrupted.value).toBe(true);
    expect(chat.waiting.value).toBe(false);

    const count = api.requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.requests.length).toBe(count);
  });

  it("stops polling when the component's scope is disposed", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", status: "streaming" });
    const scope = effectScope();
    const chat = scope.run(() => useQuoteChat(client, JOB))!;
    await chat.load();
    await vi.advanceTimersByTimeAsync(1000);
    scope.stop();
    const count = api.requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.requests.length).toBe(count);
    expect(chat.waiting.value).toBe(false);
  });
});

describe("clear, summary, export, restore", () => {
  it("asks confirm first and does nothing when declined", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user", content: "hi" });
    const chat = useQuoteChat(client, JOB);
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

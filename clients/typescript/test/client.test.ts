import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createQuoteChatClient, isQuoteChatError, newMessageId, QuoteChatError, type QuoteChatClient } from "../src";
import { FakeApi } from "./fakeApi";

const JOB = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
let api: FakeApi;
let client: QuoteChatClient;

beforeEach(() => {
  // Retry back-offs and Retry-After waits run on a fake clock: no real sleeps.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  api = new FakeApi(JOB);
  client = createQuoteChatClient({
    baseUrl: "http://127.0.0.1:3000",
    token: async () => "test-token",
    fetch: api.fetch,
  });
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** Awaits a call while letting its timers (back-offs, Retry-After) run. */
async function run<T>(call: Promise<T>): Promise<T> {
  call.catch(() => {}); // observed below; avoids an unhandled-rejection warning meanwhile
  await vi.runAllTimersAsync();
  return call;
}

function seedMany(n: number): void {
  for (let i = 1; i <= n; i++) api.seed(JOB, { message_id: `m-${i}`, role: "user", content: `#${i}` });
}

describe("list", () => {
  it("follows next_cursor to return every page", async () => {
    seedMany(5);
    api.pageSize = 2;
    const messages = await client.list(JOB);
    expect(messages.map((m) => m.message_id)).toEqual(["m-1", "m-2", "m-3", "m-4", "m-5"]);
    const gets = api.requestsTo("GET");
    expect(gets).toHaveLength(3);
    expect(gets[0]!.query.get("cursor")).toBeNull();
    expect(gets[1]!.query.get("cursor")).toBeTruthy();
    expect(gets[0]!.headers.get("Authorization")).toBe("Bearer test-token");
  });

  it("pages newest first with a page size, and exposes one page with its cursor", async () => {
    seedMany(3);
    expect((await client.list(JOB, { order: "desc", limit: 2 })).map((m) => m.message_id)).toEqual([
      "m-3",
      "m-2",
      "m-1",
    ]);
    const page = await client.listPage(JOB, { limit: 2 });
    expect(page.messages).toHaveLength(2);
    expect(page.nextCursor).toBeTruthy();
    expect(page.etag).toMatch(/^".+"$/);
  });
});

describe("create", () => {
  it("generates an allowed message id", async () => {
    const created = await client.create(JOB, { role: "user", content: "3 boxes" });
    expect(created.message_id).toMatch(/^[A-Za-z0-9._:-]{1,100}$/);
    expect(created.message_id.startsWith("user-")).toBe(true);
    expect(created.replayed).toBe(false);
  });

  it("makes v4 UUIDs without crypto.randomUUID (a page on plain http other than localhost)", () => {
    const { getRandomValues } = globalThis.crypto;
    vi.stubGlobal("crypto", { getRandomValues: getRandomValues.bind(globalThis.crypto) });
    const ids = Array.from({ length: 50 }, () => newMessageId("user"));
    for (const id of ids) {
      expect(id).toMatch(/^user-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("retries a network failure with the same message_id, and the replay answers 200", async () => {
    // The first attempt lands but its answer is lost.
    api.fail("network-after", { method: "POST" });
    const created = await run(client.create(JOB, { role: "user", content: "3 boxes", metadata: { a: 1 } }));
    const posts = api.requestsTo("POST");
    expect(posts).toHaveLength(2);
    expect(posts[0]!.status).toBe("network-error");
    expect(posts[1]!.body.message_id).toBe(posts[0]!.body.message_id);
    expect(posts[1]!.status).toBe(200);
    expect(created).toMatchObject({ message_id: posts[0]!.body.message_id, replayed: true });
    expect(api.chats.get(JOB)).toHaveLength(1);
  });

  it("reports a reused id with other content as MESSAGE_ID_CONFLICT", async () => {
    await client.create(JOB, { message_id: "m-1", role: "user", content: "a" });
    const error = await client.create(JOB, { message_id: "m-1", role: "user", content: "b" }).catch((e) => e);
    expect(error).toBeInstanceOf(QuoteChatError);
    expect(error).toMatchObject({ status: 409, code: "MESSAGE_ID_CONFLICT", requestId: "req-409" });
  });
});

describe("patch", () => {
  it("returns the message and its version, and refuses a stale If-Match with 412", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", content: "" });
    const first = await client.patch(JOB, "a-1", { content: "Hel" }, { ifMatch: 1 });
    expect(first.version).toBe(2);
    expect(first.message).toMatchObject({ content: "Hel", version: 2 });
    expect(api.requestsTo("PATCH")[0]!.headers.get("If-Match")).toBe('"1"');

    const error = await client.patch(JOB, "a-1", { content: "x" }, { ifMatch: 1 }).catch((e) => e);
    expect(isQuoteChatError(error, "PRECONDITION_FAILED")).toBe(true);
    expect(error.status).toBe(412);
    expect(error.details).toEqual({ current_version: 2 });
  });

  it("patchWithRetry re-reads on 412 and re-applies the update to the current message", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant", metadata: { count: 1 } });
    api.update(JOB, "a-1", { metadata: { count: 5 } }); // another writer: version 2
    const update = vi.fn((current) => ({ metadata: { count: (current.metadata.count as number) + 1 } }));

    const result = await client.patchWithRetry(JOB, "a-1", update, { current: mine });

    expect(result.version).toBe(3);
    expect(result.message.metadata).toEqual({ count: 6 });
    expect(update).toHaveBeenCalledTimes(2);
    expect(api.requestsTo("PATCH").map((r) => [r.headers.get("If-Match"), r.status])).toEqual([
      ['"1"', 412],
      ['"2"', 200],
    ]);
  });

  it("patchWithRetry 'retry' never takes another writer's identical change for its own lost answer", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant", metadata: { count: 1 } });
    api.fail("network-before", { method: "PATCH" }); // not applied
    const update = vi.fn((current) => ({ metadata: { count: (current.metadata.count as number) + 1 } }));
    const call = client.patchWithRetry(JOB, "a-1", update, { current: mine });
    await vi.advanceTimersByTimeAsync(0);
    api.update(JOB, "a-1", { metadata: { count: 2 } }); // another writer's increment, during the back-off
    const result = await run(call);

    // Both increments count: the resend's 412 on version 2 (which holds count 2) is not taken for its own.
    expect(result.message.metadata).toEqual({ count: 3 });
    expect(update).toHaveBeenCalledTimes(2);
    expect(api.requestsTo("PATCH").map((r) => [r.headers.get("If-Match"), r.status])).toEqual([
      ['"1"', "network-error"],
      ['"1"', 412],
      ['"2"', 200],
    ]);
  });

  it("patchWithRetry 'retry' after a lost answer: an update that recognises its own write applies once", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant", metadata: { count: 1, draft: true } });
    api.fail("network-after", { method: "PATCH" }); // applied, but the answer is lost
    // The README's recipe: a unique id in the body; when `current` has it, change nothing else.
    const op = "op-7";
    const update = vi.fn((current) =>
      current.metadata.op === op
        ? { metadata: { op } }
        : { metadata: { count: (current.metadata.count as number) + 1, draft: null, op }, status: "complete" as const },
    );

    const result = await run(client.patchWithRetry(JOB, "a-1", update, { current: mine }));

    expect(result.message.metadata).toEqual({ count: 2, op });
    expect(api.chats.get(JOB)![0]).toMatchObject({ version: 3, metadata: { count: 2, op }, status: "complete" });
    expect(update).toHaveBeenCalledTimes(2);
    expect(api.requestsTo("PATCH").map((r) => [r.headers.get("If-Match"), r.status])).toEqual([
      ['"1"', "network-error"],
      ['"1"', 412],
      ['"2"', 200],
    ]);
  });

  it("patchWithRetry 'overwrite' (a body that does not depend on what is stored) takes its own landed write as its answer", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant", content: "" });
    api.fail("network-after", { method: "PATCH" }); // applied, but the answer is lost
    const update = vi.fn(() => ({ content: "the whole text", status: "complete" as const }));

    const result = await run(client.patchWithRetry(JOB, "a-1", update, { current: mine, onConflict: "overwrite" }));

    expect(result.version).toBe(2);
    expect(api.chats.get(JOB)![0]).toMatchObject({ version: 2, content: "the whole text", status: "complete" });
    expect(update).toHaveBeenCalledTimes(1);
    expect(api.requestsTo("PATCH").map((r) => [r.headers.get("If-Match"), r.status])).toEqual([
      ['"1"', "network-error"],
      ['"1"', 412],
    ]);
  });

  it("a resent PATCH that meets someone else's write on the next version still goes by the policy", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant", metadata: { count: 1 } });
    api.fail("network-before", { method: "PATCH" }); // not applied
    const update = vi.fn((current) => ({ metadata: { count: (current.metadata.count as number) + 1 } }));
    const call = client.patchWithRetry(JOB, "a-1", update, { current: mine });
    await vi.advanceTimersByTimeAsync(0);
    api.update(JOB, "a-1", { metadata: { count: 5 } }); // another writer, during the back-off
    const result = await run(call);

    expect(result.message.metadata).toEqual({ count: 6 });
    expect(update).toHaveBeenCalledTimes(2);
    expect(api.requestsTo("PATCH").map((r) => r.status)).toEqual(["network-error", 412, 200]);
  });

  it("patchWithRetry with onConflict 'fail' gives the 412 back", async () => {
    const mine = api.seed(JOB, { message_id: "a-1", role: "assistant" });
    api.update(JOB, "a-1", { content: "theirs" });
    const call = client.patchWithRetry(JOB, "a-1", () => ({ content: "mine" }), {
      current: mine,
      onConflict: "fail",
    });
    await expect(call).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    expect(api.requestsTo("PATCH")).toHaveLength(1);
  });

  it("retries a guarded PATCH after a 503 with Retry-After, waiting as told", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant" });
    api.fail("unavailable", { method: "PATCH" });
    const start = Date.now();
    const result = await run(client.patch(JOB, "a-1", { content: "x" }, { ifMatch: 1 }));
    expect(result.version).toBe(2);
    const patches = api.requestsTo("PATCH");
    expect(patches.map((r) => r.status)).toEqual([503, 200]);
    expect(patches[1]!.at - start).toBeGreaterThanOrEqual(1000);
  });
});

describe("poll", () => {
  it("asks newest-first with If-None-Match and reports 304 as notModified", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", status: "streaming", content: "Hel" });
    const first = await client.poll(JOB);
    expect(first).toMatchObject({ notModified: false, message: { content: "Hel" } });
    const etag = first.etag!;

    expect(await client.poll(JOB, etag)).toEqual({ notModified: true, etag });
    const request = api.requestsTo("GET")[1]!;
    expect(request.headers.get("If-None-Match")).toBe(etag);
    expect(request.query.get("limit")).toBe("1");
    expect(request.query.get("order")).toBe("desc");
    expect(request.status).toBe(304);

    api.update(JOB, "a-1", { content: "Hello", status: "complete" });
    const changed = await client.poll(JOB, etag);
    expect(changed).toMatchObject({ notModified: false, message: { content: "Hello", status: "complete" } });
  });

  it("in a browser leaves If-None-Match to the HTTP cache and compares ETags itself", async () => {
    // Cross-origin, a script may not set If-None-Match (the preflight refuses it); the browser's
    // cache revalidates by itself and hands back the kept body as a 200 with the same ETag.
    const browser = createQuoteChatClient({
      baseUrl: "http://127.0.0.1:3000",
      token: () => "t",
      fetch: api.fetch,
      ifNoneMatch: "browser-cache",
    });
    api.seed(JOB, { message_id: "a-1", role: "assistant", status: "streaming" });
    const first = await browser.poll(JOB);
    expect(first.notModified).toBe(false);
    expect(await browser.poll(JOB, first.etag!)).toEqual({ notModified: true, etag: first.etag });
    for (const request of api.requestsTo("GET")) {
      expect(request.headers.get("If-None-Match")).toBeNull();
      expect(request.cache).toBe("no-cache");
      expect(request.status).toBe(200);
    }
  });
});

describe("listAfter, getMessage, pollMessage (live follow)", () => {
  it("listAfter gives what follows a message, every page, with message_count; 304 on the same ETag", async () => {
    seedMany(5);
    api.pageSize = 2;
    const result = await client.listAfter(JOB, "m-1");
    expect(result).toMatchObject({ notModified: false, messageCount: 5 });
    if (result.notModified) return;
    expect(result.messages.map((m) => m.message_id)).toEqual(["m-2", "m-3", "m-4", "m-5"]);
    const gets = api.requestsTo("GET");
    expect(gets.map((r) => [r.query.get("after"), r.query.get("cursor") !== null])).toEqual([
      ["m-1", false],
      [null, true],
    ]);

    const again = await client.listAfter(JOB, "m-5", result.etag!);
    expect(again).toEqual({ notModified: true, etag: result.etag });
    expect(api.requestsTo("GET").at(-1)).toMatchObject({ status: 304 });
    expect(api.requestsTo("GET").at(-1)!.headers.get("If-None-Match")).toBe(result.etag);
  });

  it("listAfter(null) is the plain list; an `after` hidden by a clear is MESSAGE_NOT_FOUND", async () => {
    seedMany(2);
    const all = await client.listAfter(JOB, null);
    expect(all).toMatchObject({ notModified: false, messageCount: 2 });
    expect(api.requestsTo("GET")[0]!.query.has("after")).toBe(false);
    await client.clear(JOB);
    await expect(client.listAfter(JOB, "m-2")).rejects.toMatchObject({ status: 404, code: "MESSAGE_NOT_FOUND" });
    const page = await client.listPage(JOB);
    expect(page).toMatchObject({ messages: [], messageCount: 0 });
  });

  it("getMessage reads one message; pollMessage revalidates it by version", async () => {
    api.seed(JOB, { message_id: "a-1", role: "assistant", status: "streaming", content: "Hel" });
    expect(await client.getMessage(JOB, "a-1")).toMatchObject({ content: "Hel", version: 1 });
    expect(await client.pollMessage(JOB, "a-1", 1)).toEqual({ notModified: true, version: 1 });
    const request = api.requestsTo("GET").at(-1)!;
    expect(request.path).toBe(`/api/jobs/${JOB}/quote-chat/a-1/`);
    expect(request.headers.get("If-None-Match")).toBe('"1"');
    expect(request.status).toBe(304);

    api.update(JOB, "a-1", { content: "Hello", status: "complete" });
    expect(await client.pollMessage(JOB, "a-1", 1)).toMatchObject({
      notModified: false,
      message: { content: "Hello", version: 2 },
    });
    await expect(client.getMessage(JOB, "nope")).rejects.toMatchObject({ code: "MESSAGE_NOT_FOUND" });
    expect(await client.findMessage(JOB, "nope")).toBeNull();
  });

  it("reads messages named summary or export through the list (their GET is another route)", async () => {
    api.seed(JOB, { message_id: "summary", role: "user", content: "named summary" });
    expect(await client.getMessage(JOB, "summary")).toMatchObject({ content: "named summary" });
    expect(api.requestsTo("GET").at(-1)!.path).toBe(`/api/jobs/${JOB}/quote-chat/`);
  });
});

describe("export, summary, clear, restore", () => {
  it("exports JSON following next_cursor, JSONL following Link, Markdown with one title", async () => {
    seedMany(5);
    api.exportPageSize = 2;

    const json = await client.export(JOB);
    expect(json.messages.map((m) => m.message_id)).toEqual(["m-1", "m-2", "m-3", "m-4", "m-5"]);
    expect(json.next_cursor).toBeNull();

    const jsonl = await client.export(JOB, "jsonl");
    expect(jsonl.trimEnd().split("\n").map((line) => JSON.parse(line).message_id)).toEqual([
      "m-1",
      "m-2",
      "m-3",
      "m-4",
      "m-5",
    ]);
    expect(api.requestsTo("GET", /export/).filter((r) => r.query.get("format") === "jsonl")).toHaveLength(3);

    const markdown = await client.export(JOB, "markdown");
    expect(markdown.match(/^# Quote chat of job/gm)).toHaveLength(1);
    expect(markdown.match(/^## user/gm)).toHaveLength(5);
  });

  it("summarises, clears and restores", async () => {
    seedMany(2);
    expect(await client.summary(JOB)).toMatchObject({ message_count: 2, by_role: { user: 2 } });
    expect(await client.clear(JOB)).toEqual({ deleted_count: 2 });
    expect(await client.list(JOB)).toEqual([]);
    expect(await client.restore(JOB)).toEqual({ restored_count: 2 });
    expect(await client.list(JOB)).toHaveLength(2);
    await expect(client.restore(JOB)).rejects.toMatchObject({ status: 404, code: "NOTHING_TO_RESTORE" });
  });
});

describe("types", () => {
  it("refuse a PATCH body without content, metadata or status (as the server does)", () => {
    const typeOnly = () => {
      // @ts-expect-error at least one of content, metadata and status is required
      void client.patch(JOB, "a-1", {});
    };
    expect(typeOnly).toBeTypeOf("function"); // checked by `npm run typecheck`, never called
  });
});

describe("errors", () => {
  it("are QuoteChatError with the API's code, status and request id", async () => {
    const error = await client.list("not-a-uuid").catch((e) => e);
    expect(error).toBeInstanceOf(QuoteChatError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ status: 400, code: "INVALID_JOB_ID", requestId: "req-400" });

    const other = "11111111-2222-3333-4444-555555555555";
    await expect(client.summary(other)).rejects.toMatchObject({ status: 404, code: "JOB_NOT_FOUND" });
  });

  it("does not retry a clear after a 503, and carries Retry-After", async () => {
    api.fail("unavailable", { method: "DELETE" });
    const error = await run(client.clear(JOB)).catch((e) => e);
    expect(error).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", retryAfter: 1 });
    expect(api.requestsTo("DELETE")).toHaveLength(1);
  });

  it("gives up on network failures after the policy's attempts (NETWORK_ERROR)", async () => {
    for (let i = 0; i < 3; i++) api.fail("network-before", { method: "GET" });
    const error = await run(client.list(JOB)).catch((e) => e);
    expect(error).toMatchObject({ status: 0, code: "NETWORK_ERROR" });
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(api.requestsTo("GET")).toHaveLength(3);
  });

  it("gives up on an attempt that gets no answer within timeoutMs, aborts it and retries it", async () => {
    api.seed(JOB, { message_id: "m-1", role: "user" });
    api.fail("hang", { method: "GET" });
    const call = client.list(JOB);
    let settled = false;
    void call.finally(() => (settled = true)).catch(() => {});
    // 30 s by default: past the function's 15 s, so that the server's own 503 comes first.
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1 + 250); // the timeout, then the network back-off
    expect(await call).toHaveLength(1);
    const gets = api.requestsTo("GET");
    expect(gets.map((r) => r.status)).toEqual(["hung", 200]);
    expect(gets[0]!.signal.aborted).toBe(true); // a real fetch lets its connection go
  });

  it("reports attempts that all time out as NETWORK_ERROR; a non-idempotent call is not retried", async () => {
    const quick = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch: api.fetch, timeoutMs: 1000 });
    for (let i = 0; i < 3; i++) api.fail("hang", { method: "GET" });
    const error = await run(quick.list(JOB)).catch((e) => e);
    expect(error).toMatchObject({ status: 0, code: "NETWORK_ERROR" });
    expect(error.cause).toMatchObject({ name: "TimeoutError" });
    expect(api.requestsTo("GET")).toHaveLength(3);

    api.fail("hang", { method: "DELETE" });
    await expect(run(quick.clear(JOB))).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(api.requestsTo("DELETE")).toHaveLength(1);
  });

  it("wraps every other failure as a QuoteChatError: an AbortError (not retried) and a failing token()", async () => {
    const aborted = new DOMException("The operation was aborted.", "AbortError");
    const fetch = vi.fn(async () => {
      throw aborted;
    });
    const aborting = createQuoteChatClient({ baseUrl: "http://127.0.0.1:3000", token: () => "t", fetch });
    const error = await run(aborting.list(JOB)).catch((e) => e);
    expect(error).toBeInstanceOf(QuoteChatError);
    expect(error).toMatchObject({ status: 0, code: "NETWORK_ERROR" });
    expect(error.cause).toBe(aborted);
    expect(fetch).toHaveBeenCalledOnce();

    const noKey = new Error("no token yet");
    const signedOut = createQuoteChatClient({
      baseUrl: "http://127.0.0.1:3000",
      token: () => {
        throw noKey;
      },
      fetch: api.fetch,
    });
    const failed = await run(signedOut.summary(JOB)).catch((e) => e);
    expect(failed).toBeInstanceOf(QuoteChatError);
    expect(failed).toMatchObject({ status: 0, code: "CLIENT_ERROR", message: "no token yet" });
    expect(failed.cause).toBe(noKey);
    expect(api.requests).toHaveLength(0);
  });

  it("reports a success that is not the API's JSON (e.g. a dev server's index.html) as UNEXPECTED_RESPONSE, once", async () => {
    const answering = (body: string, type: string) => {
      const fetch = vi.fn(async () => new Response(body, { status: 200, headers: { "Content-Type": type } }));
      return { fetch, client: createQuoteChatClient({ baseUrl: "http://127.0.0.1:5173", token: () => "t", fetch }) };
    };
    const html = answering("<!doctype html><html><body><div id=app></div></body></html>", "text/html");
    const error = await run(html.client.list(JOB)).catch((e) => e);
    expect(error).toMatchObject({ status: 200, code: "UNEXPECTED_RESPONSE" });
    expect(error.message).toMatch(/not JSON \(text\/html\)/);
    expect(html.fetch).toHaveBeenCalledOnce();

    const other = answering('{"hello":"world"}', "application/json");
    await expect(run(other.client.summary(JOB))).rejects.toMatchObject({ status: 200, code: "UNEXPECTED_RESPONSE" });
    expect(other.fetch).toHaveBeenCalledOnce();
  });

  it("maps API Gateway's own bodies: 401 → UNAUTHENTICATED, others → UNEXPECTED_RESPONSE", async () => {
    const gateway = (status: number, message: string) =>
      createQuoteChatClient({
        baseUrl: "https://api.example",
        token: () => "t",
        fetch: async () =>
          new Response(JSON.stringify({ message }), {
            status,
            headers: { "Content-Type": "application/json" },
          }),
      });
    await expect(gateway(401, "Unauthorized").list(JOB)).rejects.toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      message: "Unauthorized",
    });
    await expect(gateway(502, "Internal Server Error").summary(JOB)).rejects.toMatchObject({
      status: 502,
      code: "UNEXPECTED_RESPONSE",
    });
  });
});

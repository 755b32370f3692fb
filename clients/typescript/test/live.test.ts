// Against a running API (opt-in; skipped otherwise). It only adds messages to the job, never
// clears it:
//   QUOTE_CHAT_URL=http://127.0.0.1:3000 QUOTE_CHAT_TOKEN=$(make -s -C ../.. token USER=demo-user) npm test
// QUOTE_CHAT_JOB defaults to the demo job that `make run` seeds.
import { describe, expect, it } from "vitest";
import { createQuoteChatClient, isQuoteChatError, newMessageId, useQuoteChat } from "../src";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const baseUrl = env["QUOTE_CHAT_URL"];
const job = env["QUOTE_CHAT_JOB"] ?? "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";

describe.skipIf(!baseUrl)("live API", () => {
  const client = createQuoteChatClient({ baseUrl: baseUrl!, token: () => env["QUOTE_CHAT_TOKEN"] ?? "" });

  it("creates idempotently, patches with If-Match, polls with If-None-Match", async () => {
    const id = newMessageId("live");
    const first = await client.create(job, { message_id: id, role: "user", content: "live", metadata: { n: 2.5 } });
    const again = await client.create(job, { message_id: id, role: "user", content: "live", metadata: { n: 2.5 } });
    expect(again).toEqual({ ...first, replayed: true });

    const patched = await client.patch(job, id, { metadata: { seen: true } }, { ifMatch: 1 });
    expect(patched.version).toBe(2);
    const stale = await client.patch(job, id, { content: "x" }, { ifMatch: 1 }).catch((e) => e);
    expect(isQuoteChatError(stale, "PRECONDITION_FAILED")).toBe(true);
    expect(stale.details).toEqual({ current_version: 2 });

    const polled = await client.poll(job);
    expect(polled.notModified).toBe(false);
    if (polled.notModified) return;
    expect(polled.message?.message_id).toBe(id);
    expect(await client.poll(job, polled.etag ?? undefined)).toMatchObject({ notModified: true });

    expect((await client.list(job)).some((m) => m.message_id === id)).toBe(true);
    expect((await client.export(job)).messages.some((m) => m.message_id === id)).toBe(true);
    expect(await client.export(job, "markdown")).toContain(`\`${id}\``);
    expect((await client.summary(job)).message_count).toBeGreaterThan(0);
  });

  it("reads one message and what follows a message, revalidated (the live follow's requests)", async () => {
    const id = newMessageId("live");
    await client.create(job, { message_id: id, role: "assistant", content: "Hel", status: "streaming" });
    expect(await client.getMessage(job, id)).toMatchObject({ content: "Hel", version: 1 });
    expect(await client.pollMessage(job, id, 1)).toEqual({ notModified: true, version: 1 });
    await client.patch(job, id, { content: "Hello", status: "complete" }, { ifMatch: 1 });
    expect(await client.pollMessage(job, id, 1)).toMatchObject({ notModified: false, message: { version: 2 } });

    const after = await client.listAfter(job, id);
    expect(after).toMatchObject({ notModified: false, messages: [] });
    if (after.notModified) return;
    expect(after.messageCount).toBe((await client.list(job)).length);
    expect(await client.listAfter(job, id, after.etag ?? undefined)).toMatchObject({ notModified: true });
    const next = newMessageId("live");
    await client.create(job, { message_id: next, role: "user", content: "next" });
    const news = await client.listAfter(job, id, after.etag ?? undefined);
    expect(news).toMatchObject({ notModified: false, messages: [{ message_id: next }] });
    // A job id in upper case is the same job.
    expect((await client.getMessage(job.toUpperCase(), next)).content).toBe("next");
  });

  it("streams a reply to completion", async () => {
    const chat = useQuoteChat(client, job);
    async function* source() {
      for (const word of ["I ", "understand ", "you ", "need"]) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        yield word;
      }
    }
    const message = await chat.streamReply(source(), { throttleMs: 40 });
    expect(message).toMatchObject({ content: "I understand you need", status: "complete" });
    expect(message.version).toBeGreaterThan(1);
  });

  it("answers errors as QuoteChatError with the API's code", async () => {
    await expect(client.list("not-a-uuid")).rejects.toMatchObject({ status: 400, code: "INVALID_JOB_ID" });
  });
});

// The Vue 3 side: one job's chat as reactive state, plus the streaming writer and the reader that
// picks up a reply still being streamed when the page is (re)loaded.
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef } from "vue";
import {
  createQuoteChatClient,
  newMessageId,
  type ExportData,
  type ExportFormat,
  type Message,
  type MessagePatch,
  type Metadata,
  type QuoteChatClient,
  type Summary,
} from "./client";

export interface UseQuoteChatOptions {
  /** How often `resume()` polls a reply streamed elsewhere. Default 1000 ms. */
  pollMs?: number;
  /**
   * A `streaming` reply whose `updated_at` is older than this is taken as abandoned (its writer
   * closed the tab or crashed): `interrupted` becomes true and polling stops. Default 30 s.
   * Compared with this machine's clock, so a large clock skew shifts it.
   */
  staleAfterMs?: number;
  /** Whether `load()` starts `resume()`. Default true. */
  autoResume?: boolean;
}

/** The short form's options: where the API is and how to get a token, plus the above. */
export interface UseQuoteChatConnection extends UseQuoteChatOptions {
  baseUrl: string;
  getToken: () => string | Promise<string>;
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface StreamReplyOptions {
  /** The assistant message's id; generated when left out. */
  id?: string;
  /** At most one PATCH per this many ms while text keeps coming. Default 250. */
  throttleMs?: number;
  /** ...or sooner, once this many bytes of new text are waiting. Default 1024. */
  flushBytes?: number;
  metadata?: Metadata;
}

/**
 * One job's chat: `useQuoteChat(jobId, { baseUrl, getToken })`, or with a client of your own
 * (shared between components, custom fetch or retries): `useQuoteChat(client, jobId, options)`.
 */
export function useQuoteChat(jobId: string, connection: UseQuoteChatConnection): QuoteChat;
export function useQuoteChat(
  client: QuoteChatClient,
  jobId: string,
  options?: UseQuoteChatOptions,
): QuoteChat;
export function useQuoteChat(
  first: QuoteChatClient | string,
  second: string | UseQuoteChatConnection,
  third: UseQuoteChatOptions = {},
): QuoteChat {
  if (typeof first === "string" && typeof second !== "string") {
    const client = createQuoteChatClient({
      baseUrl: second.baseUrl,
      token: second.getToken,
      fetch: second.fetch,
    });
    return chat(client, first, second);
  }
  if (typeof first !== "string" && typeof second === "string") {
    return chat(first, second, third);
  }
  throw new TypeError("useQuoteChat(jobId, { baseUrl, getToken }) or useQuoteChat(client, jobId)");
}

export type QuoteChat = ReturnType<typeof chat>;

function chat(client: QuoteChatClient, jobId: string, options: UseQuoteChatOptions) {
  const { pollMs = 1000, staleAfterMs = 30_000, autoResume = true } = options;

  const messages = ref<Message[]>([]);
  const loading = ref(false);
  // shallowRef: an Error is shown, not deeply observed.
  const error = shallowRef<Error | null>(null);
  /** The last reply was left `streaming` by a writer that stopped updating it. */
  const interrupted = ref(false);
  /** `resume()` is polling a reply streamed by another tab or device. */
  const waiting = ref(false);
  const lastMessage = computed(() => messages.value[messages.value.length - 1]);
  /** The newest message is a reply still being written (here or elsewhere). */
  const replyInProgress = computed(
    () => lastMessage.value?.role === "assistant" && lastMessage.value.status === "streaming",
  );

  let writing = 0; // streamReply calls under way on this page
  // One polling loop at a time; stop() ends it (also when the component's scope is disposed).
  let polling: { stopped: boolean; wake: () => void } | undefined;

  // Every action records its failure in `error` and rethrows it, so a template can show it and
  // a caller can still await and handle it.
  async function track<T>(action: () => Promise<T>): Promise<T> {
    error.value = null;
    try {
      return await action();
    } catch (e) {
      error.value = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  function upsert(message: Message): void {
    const i = messages.value.findIndex((m) => m.message_id === message.message_id);
    if (i === -1) messages.value.push(message);
    else messages.value[i] = message;
  }

  /** Reads the whole history; then, unless `autoResume` is off, starts `resume()` unawaited. */
  async function load(): Promise<void> {
    loading.value = true;
    try {
      messages.value = await track(() => client.list(jobId));
    } finally {
      loading.value = false;
    }
    if (autoResume) void resume();
  }

  /**
   * Shows the user's message at once (optimistically, with this machine's time), then stores
   * it and takes the server's timestamp; if storing fails, the message is taken back out and
   * the error rethrown. A retry inside the client reuses the id, so it is never stored twice.
   */
  async function send(content: string, metadata?: Metadata): Promise<Message> {
    const id = newMessageId("user");
    upsert(localMessage(id, "user", content, new Date().toISOString(), metadata));
    try {
      return await track(async () => {
        const created = await client.create(jobId, { message_id: id, role: "user", content, metadata });
        const message = localMessage(id, "user", content, created.timestamp, metadata);
        upsert(message);
        return message;
      });
    } catch (err) {
      messages.value = messages.value.filter((m) => m.message_id !== id);
      throw err;
    }
  }

  /**
   * Writes an assistant reply as it arrives: created `streaming` (so a page loaded meanwhile
   * knows more is coming), then PATCHed with the WHOLE text so far — each PATCH replaces the
   * content, so a lost PATCH is repaired by the next — at most once per `throttleMs` or
   * `flushBytes` of new text, one at a time with If-Match = the last version, and finally
   * PATCHed `complete`, or `error` if `source` throws (the error is rethrown).
   */
  async function streamReply(
    source: AsyncIterable<string>,
    opts: StreamReplyOptions = {},
  ): Promise<Message> {
    const { throttleMs = 250, flushBytes = 1024, metadata } = opts;
    const id = opts.id ?? newMessageId("assistant");
    writing++;
    return track(async () => {
      const created = await client.create(jobId, {
        message_id: id,
        role: "assistant",
        content: "",
        status: "streaming",
        metadata,
      });
      let stored = localMessage(id, "assistant", "", created.timestamp, metadata);
      upsert(stored);

      let text = ""; // everything received so far
      let unsentBytes = 0;
      let lastFlushAt = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let inFlight: Promise<void> | undefined;
      let patchFailure: unknown;
      let done = false;

      // The writer owns this message: on a 412 (e.g. its own PATCH landed but the answer was
      // lost) it re-sends its body on top of the current version instead of re-reading.
      const write = async (body: MessagePatch) => {
        const { message } = await client.patchWithRetry(jobId, id, () => body, {
          current: stored,
          onConflict: "overwrite",
        });
        stored = message;
        // Text received during the PATCH is newer than the server's copy: keep showing it.
        upsert(done ? message : { ...message, content: text });
      };

      const flush = () => {
        timer = undefined;
        if (inFlight || done || unsentBytes === 0) return;
        unsentBytes = 0;
        lastFlushAt = Date.now();
        inFlight = write({ content: text })
          .catch((e) => {
            patchFailure ??= e;
          })
          .finally(() => {
            inFlight = undefined;
            schedule(); // text that came in meanwhile
          });
      };

      // Flush now if enough text waits or the throttle window has passed; otherwise make sure a
      // timer will flush at the window's end. Never while a PATCH is in flight: its If-Match
      // needs the version the in-flight one returns (it calls schedule() again when done).
      const schedule = () => {
        if (inFlight || done || unsentBytes === 0) return;
        const due = lastFlushAt + throttleMs - Date.now();
        if (unsentBytes >= flushBytes || due <= 0) {
          clearTimeout(timer);
          flush();
        } else {
          timer ??= setTimeout(flush, due);
        }
      };

      let sourceFailure: unknown;
      try {
        for await (const chunk of source) {
          if (patchFailure) break; // stops the source too (its return() is called)
          text += chunk;
          unsentBytes += utf8Length(chunk);
          upsert({ ...stored, content: text });
          schedule();
        }
      } catch (e) {
        sourceFailure = e;
      }
      done = true;
      clearTimeout(timer);
      await inFlight;

      if (patchFailure) {
        // The text could not be saved (e.g. 413, or the chat was cleared): try at least to
        // mark the reply failed, and report the PATCH's error.
        await write({ status: "error" }).catch(() => {});
        throw patchFailure;
      }
      await write({ content: text, status: sourceFailure ? "error" : "complete" });
      if (sourceFailure) throw sourceFailure;
      return stored;
    }).finally(() => {
      writing--;
    });
  }

  /**
   * If the newest message is a reply still `streaming` (written by another tab or device, or by
   * this page before a reload), polls `?limit=1&order=desc` with If-None-Match every `pollMs`
   * (a 304 costs little) until it is no longer streaming, or sets `interrupted` once its
   * `updated_at` is older than `staleAfterMs`. Resolves when it stops; failures go to `error`.
   */
  async function resume(): Promise<void> {
    // Nothing to wait for, already polling, or the reply is being written by this page.
    if (polling || writing > 0 || !replyInProgress.value) return;
    const loop = { stopped: false, wake: () => {} };
    polling = loop;
    interrupted.value = false;
    waiting.value = true;
    try {
      let etag: string | undefined;
      while (replyInProgress.value) {
        const watched = lastMessage.value!;
        if (Date.now() - Date.parse(watched.updated_at) > staleAfterMs) {
          interrupted.value = true;
          return;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          loop.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (loop.stopped) return;
        const result = await client.poll(jobId, etag);
        if (loop.stopped) return;
        if (result.notModified) continue;
        etag = result.etag ?? undefined;
        const newest = result.message;
        if (newest?.message_id === watched.message_id) upsert(newest);
        // Cleared, or newer messages arrived: re-read everything once, then re-check.
        else messages.value = await client.list(jobId);
      }
    } catch (e) {
      error.value = e instanceof Error ? e : new Error(String(e));
    } finally {
      waiting.value = false;
      if (polling === loop) polling = undefined;
    }
  }

  /** Stops `resume()`'s polling. */
  function stop(): void {
    if (!polling) return;
    polling.stopped = true;
    polling.wake();
    polling = undefined;
  }
  if (getCurrentScope()) onScopeDispose(stop);

  /** Clears the chat after `confirm()` says yes; the deleted count, or null when declined. */
  async function clear(confirm: () => boolean | Promise<boolean>): Promise<number | null> {
    if (!(await confirm())) return null;
    return track(async () => {
      const { deleted_count } = await client.clear(jobId);
      stop();
      messages.value = [];
      interrupted.value = false;
      return deleted_count;
    });
  }

  function summary(): Promise<Summary> {
    return track(() => client.summary(jobId));
  }

  function exportChat(format?: "json"): Promise<ExportData>;
  function exportChat(format: "jsonl" | "markdown"): Promise<string>;
  function exportChat(format: ExportFormat = "json"): Promise<ExportData | string> {
    return track<ExportData | string>(() =>
      format === "json" ? client.export(jobId, "json") : client.export(jobId, format),
    );
  }

  /** Undoes the last clear, then reloads (cursors and the list from before are stale). */
  async function restore(): Promise<number> {
    const { restored_count } = await track(() => client.restore(jobId));
    await load();
    return restored_count;
  }

  return {
    messages,
    loading,
    error,
    interrupted,
    waiting,
    replyInProgress,
    load,
    send,
    streamReply,
    resume,
    stop,
    clear,
    summary,
    export: exportChat,
    restore,
  };
}

/** The message as the server stored it at creation (version 1), built from the create answer. */
function localMessage(
  id: string,
  role: Message["role"],
  content: string,
  timestamp: string,
  metadata: Metadata | undefined,
): Message {
  return {
    message_id: id,
    role,
    content,
    timestamp,
    metadata: metadata ?? {},
    version: 1,
    status: role === "assistant" ? "streaming" : "complete",
    updated_at: timestamp,
  };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

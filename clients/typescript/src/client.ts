// A thin typed client for the quote-chat API. Its contract: ../../../docs/api.md, ../../../openapi.yaml.
// Every request goes through openapi-fetch with the generated `paths`, so a contract change shows
// up here as a type error after `npm run generate`.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api";
import { holdsPatch } from "./landed";

type Schemas = components["schemas"];
export type Message = Schemas["Message"];
export type Role = Schemas["Role"];
export type MessageStatus = Schemas["Status"];
export type ErrorCode = Schemas["ErrorCode"];
export type Summary = Schemas["Summary"];
export type ExportData = Schemas["ExportResponse"]["data"];
export type ExportFormat = components["parameters"]["ExportFormat"];
export type ListOrder = components["parameters"]["Order"];
export type Metadata = Record<string, unknown>;

/** The POST body, except that `message_id` is generated when left out. */
export type NewMessageInput = Omit<Schemas["NewMessage"], "message_id"> & { message_id?: string };

/**
 * A PATCH body: `content` (replaces), `metadata` (merged shallowly; a `null` value removes the
 * key) and/or `status` — at least one, as the server requires.
 */
export type MessagePatch = AtLeastOne<Schemas["MessagePatch"]>;
type AtLeastOne<T> = { [K in keyof T]-?: Required<Pick<T, K>> & Partial<Omit<T, K>> }[keyof T];

export interface Created {
  message_id: string;
  timestamp: string;
  /** True when the server answered 200: this id was already stored with the same values. */
  replayed: boolean;
}

export interface Patched {
  message: Message;
  /** The new version: send it as the next `ifMatch`. */
  version: number;
}

export interface MessagePage {
  messages: Message[];
  nextCursor: string | null;
  etag: string | null;
  /** The number of visible messages in the whole chat (not only this page). */
  messageCount: number;
  /** The timestamp of the chat's newest message (`null` when it has none). */
  lastTimestamp: string | null;
}

/**
 * What `listAfter` found: nothing new (the server answered 304, or the same ETag), or every
 * message after the given one (all pages), with the chat's `message_count`.
 */
export type AfterResult =
  | { notModified: true; etag: string }
  | {
      notModified: false;
      etag: string | null;
      messages: Message[];
      messageCount: number;
      /** The timestamp of the chat's newest message (`null` when it has none). */
      lastTimestamp: string | null;
    };

/** What `pollMessage` found: the version held is current (304), or the message as stored. */
export type MessagePoll = { notModified: true; version: number } | { notModified: false; message: Message };

export type PollResult =
  | { notModified: true; etag: string }
  | { notModified: false; etag: string | null; message: Message | null };

export interface ConflictPolicy {
  /**
   * What a 412 (someone wrote since `current`) does:
   * - `retry` (default): read the message again and call `update` with it — also when the 412
   *   is this PATCH's own write whose answer was lost (it cannot be told from another writer's
   *   identical change): a non-idempotent `update` should recognise its own write (README);
   * - `overwrite`: send the same body again with If-Match = `details.current_version`, without
   *   reading (for a writer whose body does not depend on the stored state, e.g. a stream
   *   that always sends its whole content);
   * - `fail`: throw the 412.
   */
  onConflict?: "retry" | "overwrite" | "fail";
  /** PATCH attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  /** The caller's copy of the message; without it the message is read first. */
  current?: Message;
}

/**
 * Retries of idempotent calls only — GET, PATCH with If-Match, create (always sent with its
 * message_id) — after a network failure or a 503 carrying Retry-After. Clear and restore are
 * never retried: a repeated clear replaces the one a restore would undo, and a repeated restore
 * answers 404 when the first one worked.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). Default 3. */
  attempts: number;
  /** Wait before retrying a network failure, doubled each time. Default 250 ms. */
  networkDelayMs: number;
  /** A 503 whose Retry-After asks for longer than this is not retried. Default 5000 ms. */
  maxRetryAfterMs: number;
}

export interface QuoteChatClientOptions {
  /** e.g. `http://127.0.0.1:3000` (`make run`) or the stack output `ApiUrl`. */
  baseUrl: string;
  /** The bearer token, asked for before every request (so a refreshed token is picked up). */
  token: () => string | Promise<string>;
  fetch?: (request: Request) => Promise<Response>;
  retry?: Partial<RetryPolicy>;
  /**
   * How `poll` revalidates:
   * - `send`: it sends If-None-Match itself and gets a 304 (Node, SSR, tests, same origin);
   * - `browser-cache`: it leaves that to the browser's HTTP cache (`cache: "no-cache"`), which
   *   sends If-None-Match by itself, gets the 304 and hands back the kept body as a 200; `poll`
   *   then sees the same ETag (for an API whose CORS does not allow If-None-Match).
   * Default: `send` (the API's CORS allows the header).
   */
  ifNoneMatch?: "send" | "browser-cache";
  /**
   * Each attempt of a request gives up after this many ms (0: never), and counts as a network
   * failure: retried as one, then `NETWORK_ERROR`. Default 30000: API Gateway's integration
   * limit, above the function's own 15 s, so that the server's 503 (with `Retry-After`) arrives
   * before the client gives up. A `NETWORK_ERROR` on a call that is never retried (`clear`,
   * `restore`) leaves its outcome unknown: read the chat again before repeating it.
   */
  timeoutMs?: number;
}

/** Errors a client sees that are not the API's own codes. */
export type ClientErrorCode =
  /**
   * No response (offline, DNS, CORS refusal, connection reset, none within `timeoutMs`) after the
   * retries, or a request aborted from outside (an `AbortError` from the fetch; not retried).
   */
  | "NETWORK_ERROR"
  /**
   * A response that is not the API's envelope, e.g. API Gateway's own 5xx `{"message":...}`, or
   * a success whose body is not the API's JSON (a wrong `baseUrl`). Never retried.
   */
  | "UNEXPECTED_RESPONSE"
  /** `useQuoteChat`: the source of a reply threw (the reply is stored `error`); see `cause`. */
  | "SOURCE_FAILED"
  /**
   * `useQuoteChat.regenerate()`: the chat is empty, or its newest reply was regenerated
   * already (`metadata.superseded_by`).
   */
  | "NOTHING_TO_REGENERATE"
  /**
   * `useQuoteChat.regenerate()`: this page is still streaming that reply (`stop()` it first), or
   * another `regenerate()` of this page is taking it over.
   */
  | "REPLY_IN_PROGRESS"
  /**
   * `useQuoteChat`: `stop()` or unmounting ended a `regenerate()` while it was taking the reply
   * over (its source is never read, no new reply is written), or `streamReply()`/`regenerate()`
   * was called after unmounting. Not recorded in `error`.
   */
  | "STOPPED"
  /** Anything else thrown on the client's side (e.g. by the app's `token()`); see `cause`. */
  | "CLIENT_ERROR";

export class QuoteChatError extends Error {
  override readonly name = "QuoteChatError";
  /** HTTP status; 0 when there was no answer (a network failure, or one of the client's codes). */
  readonly status: number;
  readonly code: ErrorCode | ClientErrorCode;
  /** Present only for the codes the API documents (e.g. `current_version` on a 412). */
  readonly details: Record<string, unknown> | undefined;
  /** Quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Seconds, from `Retry-After` (503). */
  readonly retryAfter: number | undefined;

  constructor(init: {
    message: string;
    status: number;
    code: ErrorCode | ClientErrorCode;
    details?: Record<string, unknown> | undefined;
    requestId?: string | undefined;
    retryAfter?: number | undefined;
    cause?: unknown;
  }) {
    super(init.message, { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** True when `error` is a QuoteChatError (with that code, when one is given). */
export function isQuoteChatError(
  error: unknown,
  code?: ErrorCode | ClientErrorCode,
): error is QuoteChatError {
  return error instanceof QuoteChatError && (code === undefined || error.code === code);
}

/**
 * `error` as a QuoteChatError: itself when it is one, else wrapped (`code`, the same message,
 * the original as `cause`).
 */
export function toQuoteChatError(error: unknown, code: ClientErrorCode = "CLIENT_ERROR"): QuoteChatError {
  if (error instanceof QuoteChatError) return error;
  return new QuoteChatError({
    message: error instanceof Error ? error.message : String(error),
    status: 0,
    code,
    cause: error,
  });
}

/**
 * A fresh message id: `<prefix>-<uuid>`, inside the allowed `A-Z a-z 0-9 . _ : -`. Made on the
 * client so that a retried create carries the same id and the server can recognise the replay.
 */
export function newMessageId(prefix = "msg"): string {
  return `${prefix}-${uuidV4()}`;
}

// `crypto.randomUUID` exists only in secure contexts (https, localhost): a page opened as
// http://192.168.x.x has `getRandomValues` alone, from which a v4 UUID is built (RFC 9562 §5.4).
function uuidV4(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const CHAT = "/api/jobs/{job_id}/quote-chat/" as const;
const MESSAGE = "/api/jobs/{job_id}/quote-chat/{message_id}/" as const;
const EXPORT = "/api/jobs/{job_id}/quote-chat/export/" as const;
// Messages read per page while looking for one message that GET of one message cannot read
// (`summary`, `export`): newest first, the one being streamed or edited is near the end.
const FIND_PAGE = 50;
// Message ids whose GET is another route (the summary and the export): read through the list.
const NOT_GETTABLE = new Set(["summary", "export"]);

export function createQuoteChatClient(options: QuoteChatClientOptions): QuoteChatClient {
  return new QuoteChatClient(options);
}

export class QuoteChatClient {
  readonly #api: ReturnType<typeof createClient<paths>>;
  readonly #token: QuoteChatClientOptions["token"];
  readonly #retry: RetryPolicy;
  readonly #ifNoneMatch: "send" | "browser-cache";
  readonly #timeoutMs: number;
  readonly #fetch: (request: Request) => Promise<Response>;

  constructor(options: QuoteChatClientOptions) {
    this.#api = createClient<paths>({ baseUrl: options.baseUrl });
    // Looked up at call time, so a test or an app can swap globalThis.fetch after creation.
    this.#fetch = options.fetch ?? ((request) => globalThis.fetch(request));
    this.#token = options.token;
    this.#retry = { attempts: 3, networkDelayMs: 250, maxRetryAfterMs: 5000, ...options.retry };
    this.#ifNoneMatch = options.ifNoneMatch ?? "send";
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * One page; pass `nextCursor` back as `cursor` for the next. With `after` (a message id), only
   * the messages that come after it, oldest first (its `nextCursor` continues without `after`).
   */
  async listPage(
    jobId: string,
    query: { order?: ListOrder; limit?: number; cursor?: string; after?: string } = {},
  ): Promise<MessagePage> {
    const { data, response } = await this.#send(true, (init) =>
      this.#api.GET(CHAT, { params: { path: { job_id: jobId }, query }, ...init }),
    );
    const page = required(data, response).data;
    return {
      messages: page.messages,
      nextCursor: page.next_cursor,
      etag: response.headers.get("ETag"),
      messageCount: page.message_count,
      lastTimestamp: page.last_timestamp,
    };
  }

  /** Every page in turn; `limit` is the page size. */
  async *pages(
    jobId: string,
    query: { order?: ListOrder; limit?: number } = {},
  ): AsyncGenerator<Message[], void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(jobId, cursor === undefined ? query : { ...query, cursor });
      yield page.messages;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** The whole history, following `next_cursor` (one response holds at most 1000 / ~5 MB). */
  async list(jobId: string, query: { order?: ListOrder; limit?: number } = {}): Promise<Message[]> {
    const all: Message[] = [];
    for await (const messages of this.pages(jobId, query)) all.push(...messages);
    return all;
  }

  /**
   * What is newer than a point the caller holds: the messages after `after` (a message id),
   * oldest first, every page — or, with `after` null, the whole chat. The first request carries
   * `If-None-Match: etag`, so when nothing was created, cleared or restored since the answer that
   * gave `etag` it is one 304. A clear since (or an `after` that was never visible) is a 404
   * `MESSAGE_NOT_FOUND`: the caller's copy is stale, list again with `after` null. Compare
   * `messageCount` with the messages held and `lastTimestamp` with the newest one's: when they
   * differ, list again too (a restore, a message created before one the caller holds, or a
   * clear after which the ids were used again).
   */
  async listAfter(jobId: string, after: string | null, etag?: string): Promise<AfterResult> {
    const query = after === null ? {} : { after };
    const first = await this.#revalidate(etag, (header, cache) =>
      this.#api.GET(CHAT, {
        params: { path: { job_id: jobId }, query, header },
        ...cache,
      }),
    );
    const tag = first.response.headers.get("ETag");
    if (first.response.status === 304 || (etag !== undefined && sameTag(tag, etag))) {
      return { notModified: true, etag: tag ?? etag ?? "" };
    }
    const page = required(first.data, first.response).data;
    const messages = [...page.messages];
    let messageCount = page.message_count;
    let lastTimestamp = page.last_timestamp;
    let cursor = page.next_cursor;
    while (cursor) {
      const next = await this.listPage(jobId, { cursor });
      messages.push(...next.messages);
      messageCount = next.messageCount;
      lastTimestamp = next.lastTimestamp;
      cursor = next.nextCursor;
    }
    return { notModified: false, etag: tag, messages, messageCount, lastTimestamp };
  }

  /**
   * One message (404 `MESSAGE_NOT_FOUND` when it does not exist or was cleared). Messages named
   * `summary` or `export` are read through the list (their GET is another route).
   */
  async getMessage(jobId: string, messageId: string): Promise<Message> {
    if (NOT_GETTABLE.has(messageId)) return this.#mustFind(jobId, messageId);
    const { data, response } = await this.#send(true, (init) =>
      this.#api.GET(MESSAGE, { params: { path: { job_id: jobId, message_id: messageId } }, ...init }),
    );
    return required(data, response).data;
  }

  /**
   * One message revalidated: `version` is the one held, sent as `If-None-Match: "<version>"`, so
   * an unchanged message answers 304 with no body. 404 `MESSAGE_NOT_FOUND` when it is gone
   * (a clear). `summary` and `export` are read through the list.
   */
  async pollMessage(jobId: string, messageId: string, version?: number): Promise<MessagePoll> {
    if (NOT_GETTABLE.has(messageId)) {
      const message = await this.#mustFind(jobId, messageId);
      return message.version === version ? { notModified: true, version } : { notModified: false, message };
    }
    const etag = version === undefined ? undefined : `"${version}"`;
    const { data, response } = await this.#revalidate(etag, (header, cache) =>
      this.#api.GET(MESSAGE, {
        params: { path: { job_id: jobId, message_id: messageId }, header },
        ...cache,
      }),
    );
    const tag = response.headers.get("ETag");
    if (version !== undefined && (response.status === 304 || sameTag(tag, `"${version}"`))) {
      return { notModified: true, version };
    }
    return { notModified: false, message: required(data, response).data };
  }

  /** One message, or null. */
  async findMessage(jobId: string, messageId: string): Promise<Message | null> {
    if (!NOT_GETTABLE.has(messageId)) {
      try {
        return await this.getMessage(jobId, messageId);
      } catch (error) {
        if (isQuoteChatError(error, "MESSAGE_NOT_FOUND")) return null;
        throw error;
      }
    }
    for await (const messages of this.pages(jobId, { order: "desc", limit: FIND_PAGE })) {
      const found = messages.find((m) => m.message_id === messageId);
      if (found) return found;
    }
    return null;
  }

  /**
   * Saves a message. The id is fixed before the first attempt, so a retry after a lost answer
   * is the same request: 200 with the original timestamp if the first one landed.
   */
  async create(jobId: string, input: NewMessageInput): Promise<Created> {
    let messageId = input.message_id;
    try {
      messageId ??= newMessageId(input.role);
    } catch (cause) {
      throw toQuoteChatError(cause, "CLIENT_ERROR"); // no Web Crypto at all
    }
    const body = { ...input, message_id: messageId };
    const { data, response } = await this.#send(true, (init) =>
      this.#api.POST(CHAT, { params: { path: { job_id: jobId } }, body, ...init }),
    );
    return { ...required(data, response).data, replayed: response.status === 200 };
  }

  /**
   * Patches a message. With `ifMatch` the server refuses (412) to overwrite a newer version, and
   * the call is safe to retry; without it, it is sent once. A retried one that meets a 412 on
   * exactly the next version reads the message: when it holds what `body` set, the earlier
   * attempt landed (its answer was lost), and that message is the result.
   */
  async patch(
    jobId: string,
    messageId: string,
    body: MessagePatch,
    options: { ifMatch?: number } = {},
  ): Promise<Patched> {
    return this.#patch(jobId, messageId, body, options.ifMatch, true);
  }

  /** `patch`; with `recognizeOwn` false, a 412 is never taken for this PATCH's own lost answer. */
  async #patch(
    jobId: string,
    messageId: string,
    body: MessagePatch,
    ifMatch: number | undefined,
    recognizeOwn: boolean,
  ): Promise<Patched> {
    let attempts = 0;
    try {
      const { data, response } = await this.#send(ifMatch !== undefined, (init) => {
        attempts++;
        return this.#api.PATCH(MESSAGE, {
          params: {
            path: { job_id: jobId, message_id: messageId },
            header: ifMatch === undefined ? {} : { "If-Match": `"${ifMatch}"` },
          },
          body,
          ...init,
        });
      });
      const message = required(data, response).data;
      return { message, version: message.version ?? versionFromEtag(response.headers.get("ETag")) };
    } catch (error) {
      if (!recognizeOwn || ifMatch === undefined || attempts < 2 || !conflictsWithNext(error, ifMatch)) throw error;
      const message = await this.getMessage(jobId, messageId);
      if (message.version !== ifMatch + 1 || !holdsPatch(message, body)) throw error;
      return { message, version: message.version };
    }
  }

  /**
   * A PATCH guarded by If-Match that survives concurrent writers: `update` computes the body
   * from the message as stored, and on 412 the policy decides (see ConflictPolicy). With
   * `overwrite` and `fail`, a 412 that looks like this PATCH's own lost answer is turned back
   * into its result, as `patch` does; `retry` never guesses so (another writer's identical
   * change looks the same, and an increment would be lost): it calls `update` again on the
   * message as stored — so after a lost answer a change that is not idempotent is applied
   * twice, unless `update` recognises its own earlier write (see the README).
   */
  async patchWithRetry(
    jobId: string,
    messageId: string,
    update: (current: Message) => MessagePatch,
    policy: ConflictPolicy = {},
  ): Promise<Patched> {
    const { onConflict = "retry", maxAttempts = 3 } = policy;
    let current = policy.current ?? (await this.getMessage(jobId, messageId));
    let body = update(current);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#patch(jobId, messageId, body, current.version, onConflict !== "retry");
      } catch (error) {
        if (!isQuoteChatError(error, "PRECONDITION_FAILED")) throw error;
        if (onConflict === "fail" || attempt >= maxAttempts) throw error;
        if (onConflict === "overwrite") {
          const version = Number(error.details?.["current_version"]);
          if (!Number.isInteger(version)) throw error;
          current = { ...current, version };
        } else {
          current = await this.getMessage(jobId, messageId);
          body = update(current);
        }
      }
    }
  }

  /** Soft-deletes the whole chat (restorable until retention runs out). Never retried. */
  async clear(jobId: string): Promise<{ deleted_count: number }> {
    const { data, response } = await this.#send(false, (init) =>
      this.#api.DELETE(CHAT, { params: { path: { job_id: jobId } }, ...init }),
    );
    return required(data, response).data;
  }

  /** Brings back the messages of the last clear. Never retried (see RetryPolicy). */
  async restore(jobId: string): Promise<{ restored_count: number }> {
    const { data, response } = await this.#send(false, (init) =>
      this.#api.POST("/api/jobs/{job_id}/quote-chat/restore/", {
        params: { path: { job_id: jobId } },
        ...init,
      }),
    );
    return required(data, response).data;
  }

  async summary(jobId: string): Promise<Summary> {
    const { data, response } = await this.#send(true, (init) =>
      this.#api.GET("/api/jobs/{job_id}/quote-chat/summary/", {
        params: { path: { job_id: jobId } },
        ...init,
      }),
    );
    return required(data, response).data;
  }

  /**
   * The whole visible history. `json` returns the data object with every page's messages
   * (`next_cursor` null); `jsonl` and `markdown` return the text of every page joined.
   */
  export(jobId: string, format?: "json"): Promise<ExportData>;
  export(jobId: string, format: "jsonl" | "markdown"): Promise<string>;
  async export(jobId: string, format: ExportFormat = "json"): Promise<ExportData | string> {
    if (format === "json") {
      let result: ExportData | undefined;
      let cursor: string | undefined;
      do {
        const { data, response } = await this.#send(true, (init) =>
          this.#api.GET(EXPORT, {
            params: { path: { job_id: jobId }, query: cursor === undefined ? { format } : { format, cursor } },
            ...init,
          }),
        );
        const page = (required(data, response) as Schemas["ExportResponse"]).data;
        result = result ? { ...result, messages: [...result.messages, ...page.messages] } : page;
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return { ...result, next_cursor: null };
    }
    let text = "";
    let cursor: string | undefined;
    do {
      const { data, response } = await this.#send(true, (init) =>
        this.#api.GET(EXPORT, {
          params: { path: { job_id: jobId }, query: cursor === undefined ? { format } : { format, cursor } },
          ...init,
          parseAs: "text",
        }),
      );
      // parseAs "text": the body is the text, whatever the spec's JSON schema says.
      const page = required(data as unknown as string | undefined, response);
      // Every Markdown page starts with the title; keep only the first one.
      text += text && format === "markdown" ? page.replace(MARKDOWN_TITLE, "") : page;
      cursor = nextCursorFromLink(response.headers.get("Link"));
    } while (cursor);
    return text;
  }

  /**
   * The cheap check for a reply in progress: the newest message only, revalidated with
   * If-None-Match, so an unchanged chat answers 304 with no body. Pass the returned etag to the
   * next call. (See the `ifNoneMatch` option for browsers.)
   */
  async poll(jobId: string, etag?: string): Promise<PollResult> {
    const { data, response } = await this.#revalidate(etag, (header, cache) =>
      this.#api.GET(CHAT, {
        params: { path: { job_id: jobId }, query: { limit: 1, order: "desc" }, header },
        ...cache,
      }),
    );
    const tag = response.headers.get("ETag");
    // The ETag is a hash of the body: the same tag is the same answer, whether the server said
    // 304 or the browser's cache turned its 304 into the kept 200.
    if (response.status === 304 || (etag !== undefined && sameTag(tag, etag))) {
      return { notModified: true, etag: tag ?? etag ?? "" };
    }
    return {
      notModified: false,
      etag: tag,
      message: required(data, response).data.messages[0] ?? null,
    };
  }

  /**
   * A GET revalidated per the `ifNoneMatch` option: with `send`, `If-None-Match: etag` (when
   * there is one); with `browser-cache`, no header and `cache: "no-cache"` (the caller compares
   * the answer's ETag itself).
   */
  #revalidate<R extends { error?: unknown; response: Response }>(
    etag: string | undefined,
    request: (
      header: { "If-None-Match"?: string },
      init: AttemptInit & { cache?: RequestCache },
    ) => Promise<R>,
  ): Promise<R> {
    const send = this.#ifNoneMatch === "send";
    return this.#send(true, (init) =>
      request(send && etag !== undefined ? { "If-None-Match": etag } : {}, {
        ...init,
        ...(send ? {} : { cache: "no-cache" as const }),
      }),
    );
  }

  async #mustFind(jobId: string, messageId: string): Promise<Message> {
    let found: Message | undefined;
    for await (const messages of this.pages(jobId, { order: "desc", limit: FIND_PAGE })) {
      found = messages.find((m) => m.message_id === messageId);
      if (found) break;
    }
    if (found) return found;
    throw new QuoteChatError({ message: "Message not found", status: 404, code: "MESSAGE_NOT_FOUND" });
  }

  /**
   * Sends one request (again, for an idempotent one, per the RetryPolicy) and turns any answer
   * that is neither 2xx nor 304 into a QuoteChatError.
   */
  async #send<R extends { error?: unknown; response: Response }>(
    idempotent: boolean,
    request: (init: AttemptInit) => Promise<R>,
  ): Promise<R> {
    const { attempts, networkDelayMs, maxRetryAfterMs } = this.#retry;
    for (let attempt = 1; ; attempt++) {
      // A failing token() is the caller's problem, not a network failure: CLIENT_ERROR.
      let token: string;
      try {
        token = await this.#token();
      } catch (cause) {
        throw toQuoteChatError(cause, "CLIENT_ERROR");
      }
      const headers = { Authorization: `Bearer ${token}` };
      let result: R;
      try {
        result = await this.#attempt(headers, request);
      } catch (cause) {
        if (cause instanceof QuoteChatError) throw cause;
        if (isAbortError(cause)) {
          // Aborted from outside (a custom fetch, the page going away): no answer, and not
          // ours to retry. Whether the server got the request is unknown, as for any
          // network failure.
          throw new QuoteChatError({
            message: `request aborted: ${cause instanceof Error ? cause.message : String(cause)}`,
            status: 0,
            code: "NETWORK_ERROR",
            cause,
          });
        }
        if (idempotent && attempt < attempts) {
          await sleep(networkDelayMs * 2 ** (attempt - 1));
          continue;
        }
        throw new QuoteChatError({
          message: `network error: ${cause instanceof Error ? cause.message : String(cause)}`,
          status: 0,
          code: "NETWORK_ERROR",
          cause,
        });
      }
      const { response } = result;
      if (response.ok || response.status === 304) return result;
      const error = toError(response, result.error);
      const waitMs = error.retryAfter === undefined ? undefined : error.retryAfter * 1000;
      if (
        idempotent &&
        error.status === 503 &&
        waitMs !== undefined &&
        waitMs <= maxRetryAfterMs &&
        attempt < attempts
      ) {
        await sleep(waitMs);
        continue;
      }
      throw error;
    }
  }

  /**
   * One attempt, given up after `timeoutMs` with a `TimeoutError`: a fetch that never settles
   * (a laptop put to sleep, a network switch) would otherwise hang its caller — and the live
   * follow waiting on it — for good. The abort lets a real fetch free its connection; the race
   * covers a fetch that ignores its signal, and the reading of the body too.
   */
  async #attempt<R>(headers: Record<string, string>, request: (init: AttemptInit) => Promise<R>): Promise<R> {
    const abort = new AbortController();
    const deadline = startDeadline(this.#timeoutMs, abort);
    let answer: Response | undefined;
    const fetch = async (req: Request) => (answer = await this.#fetch(req));
    try {
      return await Promise.race([request({ headers, signal: abort.signal, fetch }), deadline.expired]);
    } catch (cause) {
      // A success whose body is not JSON is some other server answering (e.g. a dev server's
      // index.html for a wrong baseUrl), not a network failure: asking again gets the same.
      if (cause instanceof SyntaxError && answer?.ok) throw notJson(answer, cause);
      throw cause;
    } finally {
      deadline.cancel();
    }
  }
}

/** What every attempt of a request carries: the token, its deadline, the fetch that records the answer. */
interface AttemptInit {
  headers: Record<string, string>;
  signal: AbortSignal;
  fetch: (request: Request) => Promise<Response>;
}

function notJson(response: Response, cause: SyntaxError): QuoteChatError {
  const type = response.headers.get("Content-Type") ?? "no Content-Type";
  return new QuoteChatError({
    message: `HTTP ${response.status} with a body that is not JSON (${type}): is baseUrl the API?`,
    status: response.status,
    code: "UNEXPECTED_RESPONSE",
    requestId: response.headers.get("X-Request-ID") ?? undefined,
    cause,
  });
}

// setTimeout fires at once for longer delays (they overflow its 32-bit counter).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A promise that rejects (and aborts `abort`) after `ms`; `ms` 0 or less: never. */
function startDeadline(ms: number, abort: AbortController): { expired: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    if (!(ms > 0)) return;
    timer = setTimeout(() => {
      const reason = new DOMException(`no answer within ${ms} ms`, "TimeoutError");
      abort.abort(reason);
      reject(reason);
    }, Math.min(ms, MAX_TIMER_MS));
  });
  return { expired, cancel: () => clearTimeout(timer) };
}

const MARKDOWN_TITLE = /^# Quote chat of job [^\n]*\n\nExported [^\n]*\n/;

function toError(response: Response, body: unknown): QuoteChatError {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  const headerId = response.headers.get("X-Request-ID") ?? undefined;
  if (isEnvelope(body)) {
    return new QuoteChatError({
      message: body.error,
      status: response.status,
      code: body.code,
      details: isObject(body.details) ? body.details : undefined,
      requestId: body.request_id ?? headerId,
      retryAfter,
    });
  }
  // Not the envelope: API Gateway's own answer (401 from the JWT authorizer, a 5xx when a
  // function fails). The API says to treat any 401 as "sign in again".
  const text = isObject(body) && typeof body["message"] === "string" ? body["message"] : "";
  return new QuoteChatError({
    message: text || `HTTP ${response.status}`,
    status: response.status,
    code: response.status === 401 ? "UNAUTHENTICATED" : "UNEXPECTED_RESPONSE",
    requestId: headerId,
    retryAfter,
  });
}

function isEnvelope(body: unknown): body is Schemas["Error"] {
  return (
    isObject(body) &&
    body["success"] === false &&
    typeof body["code"] === "string" &&
    typeof body["error"] === "string"
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The body of a successful answer; its absence, or JSON without the API's `data`, is a broken
 * response (or another server), not `undefined` data. A text body (an export) is taken as it is.
 */
function required<T>(data: T | undefined, response: Response): T {
  const problem =
    data === undefined ? "without a body" : typeof data === "string" || (isObject(data) && "data" in data) ? null : "without the API's envelope";
  if (problem) {
    throw new QuoteChatError({
      message: `HTTP ${response.status} ${problem}`,
      status: response.status,
      code: "UNEXPECTED_RESPONSE",
      requestId: response.headers.get("X-Request-ID") ?? undefined,
    });
  }
  return data as T;
}

/**
 * A 412 saying one write came after `ifMatch`: the only case in which a resent PATCH may have
 * met its own earlier attempt (two writes since cannot both be it).
 */
function conflictsWithNext(error: unknown, ifMatch: number): boolean {
  return isQuoteChatError(error, "PRECONDITION_FAILED") && Number(error.details?.["current_version"]) === ifMatch + 1;
}

/** Weak comparison, as the server does it (RFC 9110 §8.8.3.2). */
function sameTag(a: string | null, b: string): boolean {
  return a !== null && a.replace(/^W\//, "") === b.replace(/^W\//, "");
}

/** `"3"`, `W/"3"` → 3. */
function versionFromEtag(etag: string | null): number {
  const match = etag?.match(/^(?:W\/)?"?(\d+)"?$/);
  return match ? Number(match[1]) : NaN;
}

/** Seconds, from either form RFC 9110 allows (delay-seconds or an HTTP date). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * The `cursor` of a `Link: <...>; rel="next"` target. The target is the request's path; taking
 * only its cursor and sending it through the typed route keeps the base URL (with any API
 * Gateway stage prefix) and the auth header in one place.
 */
function nextCursorFromLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = part.match(/<([^>]*)>\s*;.*\brel="?next"?/);
    if (match?.[1] !== undefined) {
      return new URL(match[1], "http://link.invalid").searchParams.get("cursor") ?? undefined;
    }
  }
  return undefined;
}

function isAbortError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "AbortError";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

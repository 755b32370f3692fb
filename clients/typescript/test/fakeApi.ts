// An in-memory stand-in for the quote-chat API, behind a `fetch`: enough of the contract
// (../../../docs/api.md, ../../../openapi.yaml) for the client's logic — versions and If-Match,
// ETag and If-None-Match, idempotent creates, cursors, the export's Link header, clear/restore,
// live follow (GET of one message, `after`, `message_count`; docs/api.md, "Follow the chat
// live") — plus injected faults.
import type { Message } from "../src/client";

type Fault = {
  method?: string;
  path?: RegExp;
  /** The Retry-After of an `unavailable` fault; "1" by default. */
  retryAfter?: string;
  /**
   * network-before: nothing happens; network-after: it happens but the answer is lost; hang:
   * nothing happens and the fetch never settles, whatever its signal does (a laptop put to
   * sleep mid-request).
   */
  kind: "network-before" | "network-after" | "unavailable" | "hang";
};

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  cache: RequestCache;
  body: any;
  /** The request's signal (aborted when the client gives up on it). */
  signal: AbortSignal;
  status: number | "network-error" | "hung";
  /** Date.now() when it arrived (the tests' fake clock). */
  at: number;
}

const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const MESSAGE_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export class FakeApi {
  readonly chats = new Map<string, Message[]>();
  readonly cleared = new Map<string, Message[]>();
  readonly requests: Recorded[] = [];
  readonly faults: Fault[] = [];
  /** Page size when no `limit` is given (1000 in the real API); small to exercise paging. */
  pageSize = 1000;
  exportPageSize = 1000;
  #lastMicros = 0;
  /** Per job: bumped by every create, clear and restore (the `after` answers' ETag). */
  readonly #heads = new Map<string, number>();

  constructor(...jobIds: string[]) {
    for (const id of jobIds) this.chats.set(id, []);
  }

  /** The next matching request fails once, as `kind` says. */
  fail(kind: Fault["kind"], match: { method?: string; path?: RegExp; retryAfter?: string } = {}): void {
    this.faults.push({ kind, ...match });
  }

  /** Stores a message directly, as another tab or device would. */
  seed(jobId: string, message: Partial<Message> & { message_id: string; role: Message["role"] }): Message {
    const now = this.#now();
    const stored: Message = {
      content: "",
      timestamp: now,
      metadata: {},
      version: 1,
      status: "complete",
      updated_at: now,
      ...message,
    };
    this.chats.get(jobId)!.push(stored);
    this.#bump(jobId);
    return stored;
  }

  /** A clear by someone else. */
  clearChat(jobId: string): void {
    const chat = this.chats.get(jobId)!;
    this.cleared.set(jobId, [...chat]);
    chat.length = 0;
    this.#bump(jobId);
  }

  /** A restore by someone else. */
  restoreChat(jobId: string): void {
    const chat = this.chats.get(jobId)!;
    chat.push(...(this.cleared.get(jobId) ?? []));
    this.cleared.delete(jobId);
    chat.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    this.#bump(jobId);
  }

  #bump(jobId: string): void {
    this.#heads.set(jobId, (this.#heads.get(jobId) ?? 0) + 1);
  }

  /** A PATCH by someone else (bumps the version). */
  update(jobId: string, messageId: string, change: Partial<Message>): Message {
    const chat = this.chats.get(jobId)!;
    const i = chat.findIndex((m) => m.message_id === messageId);
    const next = { ...chat[i]!, ...change, version: chat[i]!.version + 1, updated_at: this.#now() };
    chat[i] = next;
    return next;
  }

  requestsTo(method: string, path?: RegExp): Recorded[] {
    return this.requests.filter((r) => r.method === method && (!path || path.test(r.path)));
  }

  fetch = async (input: Request): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input);
    const url = new URL(request.url);
    const text = await request.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const record: Recorded = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      cache: request.cache,
      body,
      signal: request.signal,
      status: 0,
      at: Date.now(),
    };
    this.requests.push(record);

    const faultAt = this.faults.findIndex(
      (f) => (!f.method || f.method === request.method) && (!f.path || f.path.test(url.pathname)),
    );
    const fault = faultAt === -1 ? undefined : this.faults.splice(faultAt, 1)[0];
    if (fault?.kind === "hang") {
      record.status = "hung";
      return new Promise<Response>(() => {});
    }
    if (fault?.kind === "network-before") {
      record.status = "network-error";
      throw new TypeError("fetch failed");
    }
    if (fault?.kind === "unavailable") {
      record.status = 503;
      return error(503, "SERVICE_UNAVAILABLE", "service temporarily unavailable, retry later", undefined, {
        "Retry-After": fault.retryAfter ?? "1",
      });
    }
    const response = this.#handle(request, url, body);
    if (fault?.kind === "network-after") {
      record.status = "network-error";
      throw new TypeError("fetch failed");
    }
    record.status = response.status;
    return response;
  };

  #handle(request: Request, url: URL, body: any): Response {
    if (!/^Bearer \S+$/.test(request.headers.get("Authorization") ?? "")) {
      return error(401, "UNAUTHENTICATED", "missing or invalid token");
    }
    const m = url.pathname.match(/^\/api\/jobs\/([^/]+)\/quote-chat\/?(?:([^/]+)\/?)?$/);
    if (!m) return error(404, "NOT_FOUND", "Not found");
    if (!UUID.test(m[1]!)) return error(400, "INVALID_JOB_ID", "job_id must be a UUID");
    const jobId = m[1]!.toLowerCase(); // any case, read as its lowercase form
    const sub = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const chat = this.chats.get(jobId);
    if (!chat) return error(404, "JOB_NOT_FOUND", "Job not found");
    const method = request.method;

    if (sub === undefined && method === "GET") return this.#list(request, url, jobId, chat);
    if (sub === undefined && method === "POST") return this.#create(jobId, chat, body);
    if (sub === undefined && method === "DELETE") {
      const deleted_count = chat.length;
      this.clearChat(jobId);
      return ok({ deleted_count });
    }
    if (sub === "summary" && method === "GET") return this.#summary(jobId, chat);
    if (sub === "export" && method === "GET") return this.#export(url, jobId, chat);
    if (sub === "restore" && method === "POST") {
      const back = this.cleared.get(jobId);
      if (!back?.length) return error(404, "NOTHING_TO_RESTORE", "there is no cleared chat to restore");
      this.restoreChat(jobId);
      return ok({ restored_count: back.length });
    }
    if (sub !== undefined && method === "PATCH") return this.#patch(request, chat, sub, body);
    if (sub !== undefined && method === "GET") return this.#get(request, chat, sub);
    return error(405, "METHOD_NOT_ALLOWED", "method not allowed");
  }

  #list(request: Request, url: URL, jobId: string, chat: Message[]): Response {
    const cursor = url.searchParams.get("cursor");
    const after = url.searchParams.get("after");
    let order = url.searchParams.get("order") ?? "asc";
    let offset = 0;
    if (after !== null) {
      if (cursor || order !== "asc" || !MESSAGE_ID.test(after)) {
        return error(400, "VALIDATION_ERROR", "request validation failed", {
          after: "must be a message id, without cursor and with ascending order",
        });
      }
      const at = chat.findIndex((m) => m.message_id === after);
      if (at === -1) return error(404, "MESSAGE_NOT_FOUND", "Message not found");
      offset = at + 1;
    }
    if (cursor) {
      const decoded = decodeCursor(cursor);
      if (!decoded || decoded.job !== jobId) {
        return error(400, "INVALID_CURSOR", "cursor is invalid for this chat", { cursor: "malformed" });
      }
      ({ offset } = decoded);
      order = decoded.order;
    }
    const limit = Number(url.searchParams.get("limit") ?? this.pageSize);
    const ordered = order === "desc" ? [...chat].reverse() : chat;
    const messages = ordered.slice(offset, offset + Math.min(limit, this.pageSize));
    const end = offset + messages.length;
    const next_cursor = end < ordered.length ? encodeCursor({ job: jobId, offset: end, order }) : null;
    const text = JSON.stringify({
      success: true,
      data: {
        job_id: jobId,
        messages,
        next_cursor,
        message_count: chat.length,
        last_timestamp: chat[chat.length - 1]?.timestamp ?? null,
      },
    });
    // The real ETag is a hash of the body; any stable function of it will do here. An `after`
    // answer's comes from the chat's head alone (creates, clears and restores change it).
    const etag = after === null ? `"${hash(text)}"` : `"head-${this.#heads.get(jobId) ?? 0}"`;
    if (request.headers.get("If-None-Match") === etag) {
      return new Response(null, { status: 304, headers: { ETag: etag } });
    }
    return new Response(text, {
      status: 200,
      headers: { "Content-Type": "application/json", ETag: etag },
    });
  }

  #get(request: Request, chat: Message[], messageId: string): Response {
    const message = chat.find((m) => m.message_id === messageId);
    if (!message) return error(404, "MESSAGE_NOT_FOUND", "Message not found");
    const etag = `"${message.version}"`;
    const ifNoneMatch = request.headers.get("If-None-Match");
    if (ifNoneMatch !== null && ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")) {
      return new Response(null, { status: 304, headers: { ETag: etag } });
    }
    return ok(message, 200, { ETag: etag, "Cache-Control": "no-cache" });
  }

  #create(jobId: string, chat: Message[], body: any): Response {
    const details: Record<string, string> = {};
    if (typeof body?.message_id !== "string" || !MESSAGE_ID.test(body.message_id)) {
      details["message_id"] = "must be 1 to 100 characters of A-Z a-z 0-9 . _ : -";
    }
    if (body?.role !== "user" && body?.role !== "assistant") details["role"] = 'must be "user" or "assistant"';
    if (typeof body?.content !== "string") details["content"] = "must be a string";
    if (Object.keys(details).length) {
      return error(400, "VALIDATION_ERROR", "request validation failed", details);
    }
    const metadata = body.metadata ?? {};
    const existing = chat.find((m) => m.message_id === body.message_id);
    if (existing) {
      const same =
        existing.role === body.role &&
        existing.content === body.content &&
        JSON.stringify(existing.metadata) === JSON.stringify(metadata);
      if (!same) return error(409, "MESSAGE_ID_CONFLICT", "message_id is already used by a different message");
      return ok({ message_id: existing.message_id, timestamp: existing.timestamp }, 200);
    }
    const now = this.#now();
    chat.push({
      message_id: body.message_id,
      role: body.role,
      content: body.content,
      timestamp: now,
      metadata,
      version: 1,
      status: body.status ?? "complete",
      updated_at: now,
    });
    this.#bump(jobId);
    return ok({ message_id: body.message_id, timestamp: now }, 201);
  }

  #patch(request: Request, chat: Message[], messageId: string, body: any): Response {
    const i = chat.findIndex((m) => m.message_id === messageId);
    if (i === -1) return error(404, "MESSAGE_NOT_FOUND", "Message not found");
    const current = chat[i]!;
    const ifMatch = request.headers.get("If-Match");
    if (ifMatch !== null && ifMatch !== "*") {
      const version = Number(ifMatch.replace(/^W\//, "").replace(/"/g, ""));
      if (!Number.isInteger(version)) {
        return error(400, "VALIDATION_ERROR", "request validation failed", {
          "If-Match": 'must be a message version such as "3"',
        });
      }
      if (version !== current.version) {
        return error(
          412,
          "PRECONDITION_FAILED",
          "the message has changed since the version given in If-Match",
          { current_version: current.version },
          { ETag: `"${current.version}"` },
        );
      }
    }
    if (!body || !("content" in body || "metadata" in body || "status" in body)) {
      return error(400, "VALIDATION_ERROR", "request validation failed", {
        body: 'must contain "content", "metadata" and/or "status"',
      });
    }
    const metadata = { ...current.metadata };
    for (const [key, value] of Object.entries(body.metadata ?? {})) {
      if (value === null) delete metadata[key];
      else metadata[key] = value;
    }
    const next: Message = {
      ...current,
      content: body.content ?? current.content,
      status: body.status ?? current.status,
      metadata,
      version: current.version + 1,
      updated_at: this.#now(),
    };
    chat[i] = next;
    return ok(next, 200, { ETag: `"${next.version}"` });
  }

  #summary(jobId: string, chat: Message[]): Response {
    const by_role: Record<string, number> = {};
    for (const m of chat) by_role[m.role] = (by_role[m.role] ?? 0) + 1;
    const last = chat[chat.length - 1];
    return ok({
      job_id: jobId,
      message_count: chat.length,
      first_timestamp: chat[0]?.timestamp ?? null,
      last_timestamp: last?.timestamp ?? null,
      by_role,
      last_message_preview: last ? [...last.content].slice(0, 200).join("") : null,
    });
  }

  #export(url: URL, jobId: string, chat: Message[]): Response {
    const format = url.searchParams.get("format") ?? "json";
    const cursor = url.searchParams.get("cursor");
    const offset = cursor ? (decodeCursor(cursor)?.offset ?? 0) : 0;
    const messages = chat.slice(offset, offset + this.exportPageSize);
    const end = offset + messages.length;
    const next = end < chat.length ? encodeCursor({ job: jobId, offset: end, order: "asc" }) : null;
    const exported_at = this.#now();
    const headers: Record<string, string> = {};
    if (next) headers["Link"] = `<${url.pathname}?format=${format}&cursor=${next}>; rel="next"`;
    if (format === "json") {
      return ok({ job_id: jobId, exported_at, messages, next_cursor: next }, 200, headers);
    }
    if (format === "jsonl") {
      const text = messages.map((m) => JSON.stringify(m) + "\n").join("");
      return new Response(text, { headers: { ...headers, "Content-Type": "application/x-ndjson" } });
    }
    if (format === "markdown") {
      const title = `# Quote chat of job ${jobId}\n\nExported ${exported_at}.\n`;
      const sections = messages.map(
        (m) => `\n## ${m.role} · ${m.timestamp}\n\n\`${m.message_id}\`\n\n\`\`\`text\n${m.content}\n\`\`\`\n`,
      );
      return new Response(title + sections.join(""), {
        headers: { ...headers, "Content-Type": "text/markdown; charset=utf-8" },
      });
    }
    return error(400, "VALIDATION_ERROR", "request validation failed", {
      format: 'must be "json", "jsonl" or "markdown"',
    });
  }

  /** Server time with microseconds, strictly increasing (as the API promises). */
  #now(): string {
    const micros = Math.max(Date.now() * 1000, this.#lastMicros + 1);
    this.#lastMicros = micros;
    const iso = new Date(Math.floor(micros / 1000)).toISOString();
    return `${iso.slice(0, 23)}${String(micros % 1000).padStart(3, "0")}Z`;
  }
}

function ok(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ success: true, data }), {
    status,
    headers: { ...headers, "Content-Type": "application/json" },
  });
}

function error(
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  const body = { success: false, error: message, code, details, request_id: `req-${status}` };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "Content-Type": "application/json" },
  });
}

function encodeCursor(cursor: { job: string; offset: number; order: string }): string {
  // base64url, like the real cursors: safe in a query string and a Link header as it is.
  return btoa(JSON.stringify(cursor)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function decodeCursor(cursor: string): { job: string; offset: number; order: string } | undefined {
  try {
    return JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return undefined;
  }
}

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}

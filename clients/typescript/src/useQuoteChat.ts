// The Vue 3 side: one job's chat as reactive state that follows the chat live (messages, replies
// and clears written by any tab, device or server), plus the writer of a reply streamed by this
// page, with stop and regenerate. See ./follow.ts for the timing of the follow.
import {
  computed,
  getCurrentScope,
  isRef,
  onScopeDispose,
  shallowRef,
  toValue,
  watch,
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
} from "vue";
import {
  createQuoteChatClient,
  isQuoteChatError,
  newMessageId,
  QuoteChatError,
  toQuoteChatError,
  type ExportData,
  type ExportFormat,
  type Message,
  type MessagePatch,
  type Metadata,
  type QuoteChatClient,
  type QuoteChatClientOptions,
  type Summary,
} from "./client";
import { createFollower, type Pausable, type TickResult } from "./follow";
import { holdsPatch } from "./landed";

export type { Pausable } from "./follow";

/** The vocabulary of Vercel AI SDK's `useChat`, TanStack AI and Nuxt UI's chat components. */
export type ChatStatus = "ready" | "submitted" | "streaming" | "error";

/** The metadata keys the kit itself writes on replies. */
export interface ReplyMarks {
  /** Set by `stop()` (or an aborted `signal`): the reply was ended early; its text is kept. */
  stopped?: boolean;
  /** Set by `regenerate()` on the reply it took over: the id of the reply that replaces it. */
  superseded_by?: string;
  /** Set by `regenerate()` on the new reply: the id of the reply it replaces. */
  regenerates?: string;
}

/** A message whose metadata has the app's type (`useQuoteChat<Meta>()`). */
export type ChatMessage<Meta extends Metadata = Metadata> = Omit<Message, "metadata"> & {
  metadata: Meta & ReplyMarks;
};

export interface UseQuoteChatOptions {
  /** Whether `load()` starts following the chat live. Default true. */
  follow?: boolean;
  /** The follow's period while a reply is being written elsewhere. Default 1000 ms. */
  pollMs?: number;
  /** The longest period while nothing happens (it doubles from `pollMs` up to this). Default 5000 ms. */
  idleMaxMs?: number;
  /**
   * The longest period while the follow's requests fail (it doubles from the current one up to
   * this, and waits at least as long as a 503's Retry-After asks). Default 30 s.
   */
  errorMaxMs?: number;
  /**
   * A `streaming` reply that nobody writes here and whose `updated_at` is older than this is
   * taken as abandoned (its writer closed the tab or crashed): `interrupted` becomes true.
   * Compared with this machine's clock. Default 30 s. A reply this page writes is PATCHed every
   * third of it while its source is silent, so that pages with the same setting never see it so.
   */
  staleAfterMs?: number;
  /**
   * A server-side writer answers every user message: after `send()`, `status` stays
   * `submitted` until its reply shows up (and the follow ticks every `pollMs` meanwhile).
   * Default false (this page streams the reply, with `streamReply`).
   */
  awaitReply?: MaybeRefOrGetter<boolean>;
}

/** The short form's options: where the API is and how to get a token, plus the above. */
export interface UseQuoteChatConnection extends UseQuoteChatOptions {
  baseUrl: string;
  getToken: () => string | Promise<string>;
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * An LLM's text as it comes. A function is called only once the reply is really to be written,
 * with a signal that aborts when the reply ends early (`stop()`, the `signal` option, a PATCH
 * that failed): hand it to the LLM request so that it is cancelled too. A function that takes
 * no argument works as well.
 */
export type ReplySource = AsyncIterable<string> | ((signal: AbortSignal) => AsyncIterable<string>);

export interface StreamReplyOptions<Meta extends Metadata = Metadata> {
  /** The assistant message's id; generated when left out. */
  id?: string;
  /** At most one PATCH per this many ms while text keeps coming. Default 250. */
  throttleMs?: number;
  /** ...or sooner, once this many bytes of new text are waiting. Default 1024. */
  flushBytes?: number;
  metadata?: Meta;
  /** Aborting it is `stop()` for this reply: the text so far is kept, `complete`. */
  signal?: AbortSignal;
}

export interface UseQuoteChatReturn<Meta extends Metadata = Metadata> {
  /** The chat, oldest first: what the server holds, plus a message being sent. */
  messages: Readonly<ShallowRef<readonly ChatMessage<Meta>[]>>;
  /**
   * `submitted`: a message is being sent, or a reply of this page waits for its first text (or,
   * with `awaitReply`, for the server's reply); `streaming`: a reply is being written, here or
   * elsewhere; `error`: `error` is set; `ready` otherwise.
   */
  status: Readonly<Ref<ChatStatus>>;
  /** `load()` is reading the chat. */
  loading: Readonly<Ref<boolean>>;
  /** Live follow is on (the same as `follow.isActive`). */
  following: Readonly<Ref<boolean>>;
  /** The last failure (of an action, or of the follow until its next tick works). */
  error: Readonly<Ref<QuoteChatError | null>>;
  /** The newest message is a reply left `streaming` by a writer that stopped updating it. */
  interrupted: Readonly<Ref<boolean>>;
  /**
   * `regenerate()` would not be refused by this page's own checks (show the "Regenerate" button
   * while it is true): this page is neither sending nor writing a reply, and the newest message
   * is a reply nobody is writing (finished, or interrupted) that was not regenerated already
   * (or whose successor never came within `staleAfterMs`), or a user message nobody answered
   * (not while `awaitReply` waits for the server's reply). Another tab may still win the race.
   */
  canRegenerate: Readonly<Ref<boolean>>;
  clearError: () => void;
  /**
   * Reads the whole chat; then (unless `follow: false` or paused) follows it live — also when
   * the read failed for a reason that may pass (no answer, a timeout, a 5xx): the follow reads
   * it once the API answers again. Not after a 4xx (an unknown job, a bad id, a 401).
   */
  load: () => Promise<void>;
  /** Shows the user's message at once, stores it, takes it back out if that fails. */
  send: (content: string, metadata?: Meta) => Promise<ChatMessage<Meta>>;
  /** Writes an assistant reply as `source` produces it (see the README). */
  streamReply: (source: ReplySource, options?: StreamReplyOptions<Meta>) => Promise<ChatMessage<Meta>>;
  /**
   * Ends the replies this page is streaming, keeping their text, `complete` + `{stopped: true}`
   * (a `jobId` change and unmounting do the same for the chat left), and a `regenerate()` still
   * taking a reply over: it writes no new reply and rejects with `STOPPED` (so does unmounting).
   */
  stop: () => Promise<void>;
  /**
   * Redoes the newest reply — complete, failed or interrupted — as Vercel AI SDK's `regenerate()`:
   * marks it `superseded_by` the new reply with If-Match (so only one tab wins; the other gets a
   * 412), keeping its status (an interrupted one becomes `error`), then streams a new reply from
   * `source`. Refused while this page sends a message or writes a reply, while the reply is
   * being written elsewhere (until it is interrupted), and once it was regenerated already
   * (unless its successor never came within `staleAfterMs`). `canRegenerate` says when not.
   */
  regenerate: (source: ReplySource, options?: StreamReplyOptions<Meta>) => Promise<ChatMessage<Meta>>;
  /** Pause and resume the live follow (VueUse's `Pausable`). */
  follow: Pausable;
  /** Clears the chat after `confirm()` says yes; the deleted count, or null when declined. */
  clear: (confirm: () => boolean | Promise<boolean>) => Promise<number | null>;
  /** Undoes the last clear, then reloads. */
  restore: () => Promise<number>;
  summary: () => Promise<Summary>;
  export: {
    (format?: "json"): Promise<ExportData>;
    (format: "jsonl" | "markdown"): Promise<string>;
  };
}

/** @deprecated the name of 0.1; use UseQuoteChatReturn. */
export type QuoteChat<Meta extends Metadata = Metadata> = UseQuoteChatReturn<Meta>;

/**
 * One job's chat: `useQuoteChat(jobId, { baseUrl, getToken })`, or with a client of your own
 * (shared between components, custom fetch or retries): `useQuoteChat(client, jobId, options)`.
 * `jobId` may be a ref or a getter: a change empties the state and, once `load()` has been
 * called, loads and follows the new chat. A change, and the disposal of the calling scope, stop
 * the replies this page streams in the chat left, as `stop()` does.
 */
export function useQuoteChat<Meta extends Metadata = Metadata>(
  jobId: MaybeRefOrGetter<string>,
  connection: UseQuoteChatConnection,
): UseQuoteChatReturn<Meta>;
export function useQuoteChat<Meta extends Metadata = Metadata>(
  client: QuoteChatClient,
  jobId: MaybeRefOrGetter<string>,
  options?: UseQuoteChatOptions,
): UseQuoteChatReturn<Meta>;
export function useQuoteChat<Meta extends Metadata = Metadata>(
  first: QuoteChatClient | MaybeRefOrGetter<string>,
  second: MaybeRefOrGetter<string> | UseQuoteChatConnection,
  third: UseQuoteChatOptions = {},
): UseQuoteChatReturn<Meta> {
  if (isClient(first)) {
    return chat<Meta>(first, second as MaybeRefOrGetter<string>, third);
  }
  if (isConnection(second)) {
    const options: QuoteChatClientOptions = { baseUrl: second.baseUrl, token: second.getToken };
    if (second.fetch) options.fetch = second.fetch;
    return chat<Meta>(createQuoteChatClient(options), first, second);
  }
  throw new TypeError("useQuoteChat(jobId, { baseUrl, getToken }) or useQuoteChat(client, jobId)");
}

function isClient(value: unknown): value is QuoteChatClient {
  return (
    typeof value === "object" &&
    value !== null &&
    !isRef(value) &&
    typeof (value as { listAfter?: unknown }).listAfter === "function"
  );
}

function isConnection(value: unknown): value is UseQuoteChatConnection {
  return typeof value === "object" && value !== null && !isRef(value) && "baseUrl" in value;
}

/** A reply this page is writing. */
interface Writer {
  gen: number;
  id: string;
  phase: "submitted" | "streaming";
  abort: AbortController;
  done: Promise<unknown>;
}

const IDLE: TickResult = { changed: false, fast: false };
/** This page changed the chat (a clear, a restore, its own create) while an answer was on its
 * way: the answer may predate the change, so it is dropped and the next poll comes soon. */
const AGAIN: TickResult = { changed: true, fast: true };

function chat<Meta extends Metadata>(
  client: QuoteChatClient,
  jobId: MaybeRefOrGetter<string>,
  options: UseQuoteChatOptions,
): UseQuoteChatReturn<Meta> {
  const { pollMs = 1000, idleMaxMs = 5000, errorMaxMs = 30_000, staleAfterMs = 30_000, awaitReply = false } = options;
  type Msg = ChatMessage<Meta>;

  // --- state -------------------------------------------------------------------------------
  // Plain data, turned into `messages` by commit(); reactive state is what templates read.
  let gen = 0; // bumped by a jobId change: answers for the old chat are dropped
  let job = toValue(jobId);
  let server: Message[] = []; // stored messages, in the server's order (by timestamp)
  let pending: Message[] = []; // sent, not yet stored (shown at the end)
  const overrides = new Map<string, Message>(); // replies this page writes: the text so far
  const writers = new Set<Writer>();
  const sentHere = new Set<string>(); // user messages this page stored (for awaitReply)
  let listEtag: string | undefined; // of the last plain list (followed while the chat is empty)
  let afterEtag: string | undefined; // of the last `after` answer
  let epoch = 0; // bumped by every local change of `server` (a create answered, clear, restore)
  let loaded = false; // load() was called (a jobId change loads again)
  let wantFollow = options.follow ?? true;
  let errorFromFollow = false;
  let disposed = false; // the calling scope was disposed (unmounted): nothing more is written

  const messages = shallowRef<readonly Msg[]>([]);
  const loading = shallowRef(false);
  const error = shallowRef<QuoteChatError | null>(null);
  const sending = shallowRef(0);
  const writersChanged = shallowRef(0); // read by `status`: `writers` changed
  const clock = shallowRef(Date.now()); // read by `interrupted`
  let staleTimer: ReturnType<typeof setTimeout> | undefined;

  const isOrphanCandidate = (m: Message | undefined): m is Message =>
    m !== undefined && m.role === "assistant" && m.status === "streaming" && !isWriting(m.message_id);
  const isStale = (m: Message, now: number) => now - Date.parse(m.updated_at) > staleAfterMs;

  const interrupted = computed(() => {
    const last = messages.value[messages.value.length - 1];
    return isOrphanCandidate(last) && isStale(last, clock.value);
  });

  const canRegenerate = computed(() => {
    if (busyHere()) return false;
    const last = messages.value[messages.value.length - 1];
    if (last === undefined) return false;
    if (last.role !== "assistant") return !awaitingReply();
    const stale = isStale(last, clock.value);
    if (typeof last.metadata["superseded_by"] === "string" && !stale) return false;
    return last.status !== "streaming" || stale;
  });

  const status = computed<ChatStatus>(() => {
    void writersChanged.value;
    let mine: "submitted" | "streaming" | undefined;
    for (const w of writers) if (w.gen === gen) mine = mine === "streaming" ? mine : w.phase;
    if (mine) return mine;
    if (sending.value > 0) return "submitted";
    if (error.value) return "error";
    const last = messages.value[messages.value.length - 1];
    if (isOrphanCandidate(last) && !interrupted.value) return "streaming";
    if (awaitingReply()) return "submitted";
    return "ready";
  });

  function awaitingReply(): boolean {
    const last = messages.value[messages.value.length - 1];
    return toValue(awaitReply) && last?.role === "user" && sentHere.has(last.message_id);
  }

  /** This page writes a reply in the current chat, or stores a message (send, regenerate). */
  function busyHere(): boolean {
    void writersChanged.value; // for computed readers
    if (sending.value > 0) return true;
    for (const w of writers) if (w.gen === gen) return true;
    return false;
  }

  function isWriting(id: string): boolean {
    for (const w of writers) if (w.gen === gen && w.id === id) return true;
    return false;
  }

  function commit(): void {
    if (disposed) return; // unmounted: nobody reads `messages`, and no timer may be armed
    const stored = new Set(server.map((m) => m.message_id));
    messages.value = [
      ...server.map((m) => overrides.get(m.message_id) ?? m),
      ...pending.filter((m) => !stored.has(m.message_id)),
    ] as Msg[];
    tickClock();
  }

  // `interrupted` compares with the clock: move it now, and again when the newest reply would
  // become stale if nothing changes.
  function tickClock(): void {
    if (disposed) return;
    clock.value = Date.now();
    clearTimeout(staleTimer);
    staleTimer = undefined;
    const last: Message | undefined = messages.value[messages.value.length - 1];
    // A superseded reply too: regenerate() may take it over once it is stale (canRegenerate).
    const superseded = last?.role === "assistant" && typeof last.metadata["superseded_by"] === "string";
    if (last === undefined || !(superseded || isOrphanCandidate(last)) || isStale(last, clock.value)) return;
    const due = Date.parse(last.updated_at) + staleAfterMs - clock.value + 1;
    staleTimer = setTimeout(tickClock, Math.max(1, due));
  }

  /** Puts a stored message in its place; true when it is new or newer than the one held. */
  function upsertServer(message: Message): boolean {
    const i = server.findIndex((m) => m.message_id === message.message_id);
    if (i !== -1) {
      const held = server[i]!;
      if (held.version > message.version || (held.version === message.version && sameMessage(held, message))) {
        return false;
      }
      server[i] = message;
      return true;
    }
    // `server` is ours alone (commit() copies it into `messages`): changed in place.
    let at = server.length;
    while (at > 0 && server[at - 1]!.timestamp > message.timestamp) at--;
    server.splice(at, 0, message);
    return true;
  }

  function setError(e: unknown, fromFollow = false): QuoteChatError {
    const wrapped = toQuoteChatError(e);
    error.value = wrapped;
    errorFromFollow = fromFollow;
    return wrapped;
  }

  function clearError(): void {
    error.value = null;
    errorFromFollow = false;
  }

  // Every action clears `error` first, records its failure in it and rethrows it (as a
  // QuoteChatError), so a template can show it and a caller can still await and handle it.
  async function track<T>(action: () => Promise<T>): Promise<T> {
    const g = gen;
    clearError();
    try {
      return await action();
    } catch (e) {
      const wrapped = toQuoteChatError(e);
      if (g === gen) setError(wrapped);
      throw wrapped;
    }
  }

  // --- reading and following ---------------------------------------------------------------

  /** Replaces the stored messages with a fresh full list. False when the jobId changed. */
  async function reloadAll(g: number): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const e = epoch;
      const result = await client.listAfter(job, null);
      if (g !== gen) return false;
      if (result.notModified) return true;
      // This page stored something while the list was read: read again (at most twice).
      if (e !== epoch && attempt < 3) continue;
      server = [...result.messages].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
      listEtag = result.etag ?? undefined;
      afterEtag = undefined;
      commit();
      return true;
    }
  }

  async function load(): Promise<void> {
    const g = gen;
    loaded = true;
    loading.value = true;
    let follows = true;
    try {
      await track(() => reloadAll(g));
    } catch (e) {
      // Only a failure that may pass (no answer, a timeout, a 5xx) is worth following on; an
      // unknown job, a malformed id or a token refused answer the same every time.
      follows = isQuoteChatError(e) && (e.code === "NETWORK_ERROR" || e.status >= 500);
      // The read the follow retries: its first good tick clears this error, as its own.
      if (g === gen && follows) errorFromFollow = true;
      throw e;
    } finally {
      if (g === gen) loading.value = false;
      // Even after a failed load (offline, a 503): the follow's first good tick reads the
      // whole chat and clears the error, so the page recovers without a reload.
      if (g === gen && wantFollow && follows) follower.start();
    }
  }

  /**
   * One look at the server (docs/api.md, "Follow the chat live"): what is newer than the newest
   * message held (one 304 when nothing was created, cleared or restored), then each reply held
   * `streaming` that someone else writes, revalidated by its version (and, once, a reply that a
   * new one says it regenerates, for its `superseded_by`).
   */
  async function tick(): Promise<TickResult> {
    const g = gen;
    let changed = false;
    let failed: TickResult["failed"];
    const fresh = new Set<string>(); // read in this tick already
    try {
      const e = epoch;
      if (server.length === 0) {
        const result = await client.listAfter(job, null, listEtag);
        if (g !== gen) return IDLE;
        if (e !== epoch) return AGAIN;
        if (!result.notModified) {
          listEtag = result.etag ?? undefined;
          for (const m of result.messages) {
            changed = upsertServer(m) || changed;
            fresh.add(m.message_id);
          }
        }
      } else {
        const newest = server[server.length - 1]!.message_id;
        try {
          const result = await client.listAfter(job, newest, afterEtag);
          if (g !== gen) return IDLE;
          if (e !== epoch) return AGAIN;
          if (!result.notModified) {
            afterEtag = result.etag ?? undefined;
            for (const m of result.messages) {
              changed = upsertServer(m) || changed;
              fresh.add(m.message_id);
            }
            // A restore, a message created before one held, or a clear after which the ids were
            // used again: the whole list again. (An API older than `message_count` and
            // `last_timestamp` gives none: nothing to compare.)
            const count: unknown = result.messageCount;
            const last: unknown = result.lastTimestamp;
            const held = server[server.length - 1]?.timestamp ?? null;
            const differs =
              (typeof count === "number" && count !== server.length) ||
              ((typeof last === "string" || last === null) && last !== held);
            if (e === epoch && differs) {
              if (!(await reloadAll(g))) return IDLE;
              changed = true;
            }
          }
        } catch (err) {
          if (!isQuoteChatError(err, "MESSAGE_NOT_FOUND")) throw err;
          // `newest` is gone: a clear happened.
          if (!(await reloadAll(g))) return IDLE;
          changed = true;
        }
      }
      for (const m of new Set([...followedReplies(), ...regeneratedElsewhere(fresh)])) {
        if (fresh.has(m.message_id) || follower.hidden()) continue;
        try {
          const result = await client.pollMessage(job, m.message_id, m.version);
          if (g !== gen) return IDLE;
          if (e !== epoch) return AGAIN;
          if (!result.notModified) changed = upsertServer(result.message) || changed;
        } catch (err) {
          if (!isQuoteChatError(err, "MESSAGE_NOT_FOUND")) throw err;
          if (!(await reloadAll(g))) return IDLE;
          changed = true;
          break;
        }
      }
      if (g !== gen) return IDLE;
      if (errorFromFollow) clearError();
    } catch (err) {
      if (g !== gen) return IDLE;
      const wrapped = toQuoteChatError(err);
      if (!error.value || errorFromFollow) setError(wrapped, true);
      failed = { retryAfterMs: wrapped.retryAfter === undefined ? undefined : wrapped.retryAfter * 1000 };
    }
    commit();
    const now = Date.now();
    const fast = followedReplies().some((m) => !isStale(m, now)) || awaitingReply();
    return failed ? { changed, fast, failed } : { changed, fast };
  }

  /** Replies held `streaming` that another writer writes: the newest one always, others while fresh. */
  function followedReplies(): Message[] {
    const now = Date.now();
    return server.filter(
      (m, i) =>
        m.status === "streaming" &&
        !isWriting(m.message_id) &&
        (i === server.length - 1 || !isStale(m, now)),
    );
  }

  /**
   * Held replies that a reply read in this tick says it regenerates, still without their
   * `superseded_by`: a finished reply (or one no longer the newest) is not followed, so the
   * takeover made elsewhere is read once, here — every page then knows which reply is replaced.
   */
  function regeneratedElsewhere(fresh: Set<string>): Message[] {
    const replaced = new Set<unknown>();
    for (const m of server) if (fresh.has(m.message_id)) replaced.add(m.metadata["regenerates"]);
    return server.filter((m) => replaced.has(m.message_id) && m.metadata["superseded_by"] === undefined);
  }

  const follower = createFollower(tick, { pollMs, idleMaxMs, errorMaxMs });
  const follow: Pausable = {
    isActive: follower.isActive,
    pause: () => {
      wantFollow = false;
      follower.pause();
    },
    resume: () => {
      wantFollow = true;
      follower.resume();
    },
  };

  // --- writing -----------------------------------------------------------------------------

  /**
   * `given`, or a new id — or, when none can be made (no Web Crypto at all), that failure as a
   * rejected action: in `error` like any other, never a throw before the caller has a promise.
   */
  function messageId(given: string | undefined, prefix: string): string | Promise<never> {
    if (given !== undefined) return given;
    try {
      return newMessageId(prefix);
    } catch (e) {
      return track(() => Promise.reject(e));
    }
  }

  async function send(content: string, metadata?: Meta): Promise<Msg> {
    const g = gen;
    const jobNow = job;
    const id = messageId(undefined, "user");
    if (typeof id !== "string") return id;
    const shown = localMessage(id, "user", content, new Date().toISOString(), metadata);
    pending = [...pending, shown];
    sending.value++;
    commit();
    try {
      return await track(async () => {
        const created = await client.create(jobNow, {
          message_id: id,
          role: "user",
          content,
          ...(metadata === undefined ? {} : { metadata }),
        });
        const message = localMessage(id, "user", content, created.timestamp, metadata);
        if (g === gen) {
          pending = pending.filter((m) => m.message_id !== id);
          upsertServer(message);
          sentHere.add(id);
          epoch++;
          commit();
          follower.hurry(); // a reply may be on its way
        }
        return message as Msg;
      });
    } catch (err) {
      if (g === gen) {
        pending = pending.filter((m) => m.message_id !== id);
        commit();
      }
      throw err;
    } finally {
      sending.value--;
    }
  }

  /**
   * Writes an assistant reply as it arrives: created `streaming` (so a page loaded meanwhile
   * knows more is coming), then PATCHed with the WHOLE text so far — each PATCH replaces the
   * content, so a lost PATCH is repaired by the next — at most once per `throttleMs` or
   * `flushBytes` of new text (and again every `staleAfterMs / 3` while none comes, to keep it
   * from looking abandoned), one at a time with If-Match = the last version, and finally
   * PATCHed `complete`; `complete` with `{stopped: true}` after `stop()` or an aborted signal
   * (or a source that throws an AbortError); `error` if `source` throws anything else (rethrown
   * as a QuoteChatError `SOURCE_FAILED`).
   */
  function streamReply(source: ReplySource, opts: StreamReplyOptions<Meta> = {}): Promise<Msg> {
    return writeReply(gen, job, source, opts);
  }

  /**
   * streamReply() for the chat of generation `g`. One that is not shown any more (a regenerate()
   * whose takeover outlived a jobId change) is stopped from the start, as the writers of that
   * chat were: its reply is created — the reply it replaces names it — and stored stopped.
   */
  function writeReply(g: number, jobNow: string, source: ReplySource, opts: StreamReplyOptions<Meta>): Promise<Msg> {
    if (disposed) return Promise.reject(afterDisposal(source));
    const { throttleMs = 250, flushBytes = 1024, metadata, signal } = opts;
    const id = messageId(opts.id, "assistant");
    if (typeof id !== "string") return id;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    if (signal?.aborted || g !== gen) abort.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const writer: Writer = { gen: g, id, phase: "submitted", abort, done: Promise.resolve() };
    writers.add(writer);
    writersChanged.value++;
    const shown = (m: Message) => {
      if (g !== gen) return;
      upsertServer(m);
      commit();
    };

    const run = track(async () => {
      const created = await client.create(jobNow, {
        message_id: id,
        role: "assistant",
        content: "",
        status: "streaming",
        ...(metadata === undefined ? {} : { metadata }),
      });
      let stored = localMessage(id, "assistant", "", created.timestamp, metadata);
      if (g === gen) epoch++;
      shown(stored);

      let text = ""; // everything received so far
      let unsentBytes = 0;
      let lastFlushAt = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let aliveTimer: ReturnType<typeof setTimeout> | undefined;
      let inFlight: Promise<void> | undefined;
      let patchFailure: unknown;
      let done = false;

      // The writer owns this message: on a 412 (e.g. its own PATCH landed but the answer was
      // lost, or someone changed its metadata) it reads it and sends its body again on the
      // current version — unless someone else ended it (regenerate() in another tab): then
      // the 412 stands.
      const write = async (body: MessagePatch) => {
        // A body without a status leaves the reply streaming: the same text in a reply ended
        // elsewhere (a keep-alive repeats the text) is not this writer's PATCH having landed.
        const landed: MessagePatch = { status: "streaming", ...body };
        for (let attempt = 1; ; attempt++) {
          try {
            const { message } = await client.patch(jobNow, id, body, { ifMatch: stored.version });
            if (!holdsPatch(message, landed)) throw endedElsewhere(message);
            stored = message;
            break;
          } catch (e) {
            if (!isQuoteChatError(e, "PRECONDITION_FAILED") || attempt >= 3) throw e;
            const current = await client.getMessage(jobNow, id);
            if (holdsPatch(current, landed)) {
              stored = current;
              break;
            }
            if (current.status !== "streaming") throw e;
            stored = current;
          }
        }
        // Text received during the PATCH is newer than the server's copy: keep showing it.
        if (done || g !== gen) overrides.delete(id);
        else overrides.set(id, { ...stored, content: text });
        shown(stored);
      };

      // Another page takes a reply whose updated_at has not moved for staleAfterMs as abandoned
      // (and may take it over): a model that thinks or calls a tool for longer must not look so.
      // So while there is nothing new to send, the same text is PATCHed again every third of
      // that, with If-Match like any PATCH, which moves version and updated_at.
      const keepAliveMs = Number.isFinite(staleAfterMs)
        ? Math.min(Math.max(throttleMs, staleAfterMs / 3), MAX_TIMER_MS)
        : undefined;

      const flush = () => {
        timer = undefined;
        if (inFlight || done || unsentBytes === 0) return;
        patchText();
      };

      const keepAlive = () => {
        aliveTimer = undefined;
        if (inFlight || done) return;
        patchText();
      };

      const patchText = () => {
        clearTimeout(timer);
        timer = undefined;
        clearTimeout(aliveTimer);
        aliveTimer = undefined;
        unsentBytes = 0;
        lastFlushAt = Date.now();
        inFlight = write({ content: text })
          .catch((e) => {
            patchFailure ??= e;
            abort.abort(); // the text cannot be saved: end the source now, not at its next chunk
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
        if (inFlight || done) return;
        if (unsentBytes === 0) {
          if (keepAliveMs !== undefined) aliveTimer ??= setTimeout(keepAlive, lastFlushAt + keepAliveMs - Date.now());
          return;
        }
        const due = lastFlushAt + throttleMs - Date.now();
        if (unsentBytes >= flushBytes || due <= 0) {
          clearTimeout(timer);
          flush();
        } else {
          timer ??= setTimeout(flush, due);
        }
      };

      let sourceFailure: unknown;
      let stopped = abort.signal.aborted || disposed;
      schedule(); // the keep-alive, before the first text: a reasoning model may think long
      if (!stopped) {
        const aborted = new Promise<"aborted">((resolve) => {
          if (abort.signal.aborted) resolve("aborted");
          abort.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
        });
        let iterator: AsyncIterator<string> | undefined;
        // Both: return() alone waits for a generator's pending step, e.g. an LLM request.
        const release = () => {
          abort.abort();
          void iterator?.return?.()?.catch(() => {});
        };
        try {
          // Inside the try: a source that fails to start fails the reply like one that breaks.
          iterator = (typeof source === "function" ? source(abort.signal) : source)[Symbol.asyncIterator]();
          for (;;) {
            if (patchFailure) {
              release();
              break;
            }
            const next = iterator.next();
            next.catch(() => {}); // a rejection after stop() is nobody's business
            const step = await Promise.race([next, aborted]);
            if (step === "aborted") {
              stopped = true;
              release();
              break;
            }
            if (step.done) break;
            if (writer.phase === "submitted") {
              writer.phase = "streaming";
              writersChanged.value++;
            }
            text += step.value;
            unsentBytes += utf8Length(step.value);
            if (g === gen) {
              overrides.set(id, { ...stored, content: text });
              commit();
            }
            schedule();
          }
        } catch (e) {
          if (isAbort(e)) stopped = true;
          else sourceFailure = e;
        }
      } else {
        discard(source);
      }
      done = true;
      clearTimeout(timer);
      clearTimeout(aliveTimer);
      await inFlight;

      if (patchFailure) {
        // The text could not be saved (e.g. 413, or the chat was cleared): try at least to
        // mark the reply failed, and report the PATCH's error.
        await write({ status: "error" }).catch(() => {});
        overrides.delete(id);
        throw patchFailure;
      }
      if (sourceFailure) {
        await write({ content: text, status: "error" }).finally(() => overrides.delete(id));
        throw toQuoteChatError(sourceFailure, "SOURCE_FAILED");
      }
      await write(
        stopped ? { content: text, status: "complete", metadata: { stopped: true } } : { content: text, status: "complete" },
      ).finally(() => overrides.delete(id));
      return stored as Msg;
    }).finally(() => {
      signal?.removeEventListener("abort", onAbort);
      overrides.delete(id);
      writers.delete(writer);
      writersChanged.value++;
      if (g === gen) commit();
    });
    writer.done = run.catch(() => {});
    return run;
  }

  /**
   * Ends every reply this page is streaming, and every regenerate() still taking a reply over
   * (it writes nothing more); resolves once the replies are stored. Not an error.
   */
  async function stop(): Promise<void> {
    for (const r of regenerating) if (r.gen === gen) r.cancel.abort();
    await end([...writers].filter((w) => w.gen === gen));
  }

  /** Ends `ending` as stop() does (text kept, `complete` + `{stopped: true}`); resolves once stored. */
  async function end(ending: Writer[]): Promise<void> {
    for (const w of ending) w.abort.abort();
    await Promise.all(ending.map((w) => w.done));
  }

  // The gen in which a regenerate() is taking a reply over. Until its new reply's writer exists,
  // nothing else shows that this page is busy with it: a second call would take the same reply
  // over again (its version is ours now) and write a second reply.
  let takingOver: number | undefined;
  // The regenerate()s between their start and their new reply's writer, which stop() and
  // disposal cancel: once the takeover is answered, such a one reads no source, writes nothing.
  const regenerating = new Set<{ gen: number; cancel: AbortController }>();

  async function regenerate(source: ReplySource, opts: StreamReplyOptions<Meta> = {}): Promise<Msg> {
    if (disposed) throw afterDisposal(source);
    if (takingOver === gen) {
      throw refuse(source, "REPLY_IN_PROGRESS", "a regenerate() of this page is already taking the newest reply over");
    }
    // A reply of this page being written (or created: until then the newest message is still
    // the user's, which a second call would answer too) or a message being sent.
    if (busyHere()) {
      throw refuse(source, "REPLY_IN_PROGRESS", "this page is still sending a message or writing a reply: wait for it, or stop() it first");
    }
    const g = gen;
    const jobNow = job;
    const id = messageId(opts.id, "assistant");
    if (typeof id !== "string") return id;
    takingOver = g;
    const pending = { gen: g, cancel: new AbortController() };
    regenerating.add(pending);
    let regenerates: string | undefined;
    try {
      regenerates = await takeOver(source, id);
    } finally {
      if (takingOver === g) takingOver = undefined;
      regenerating.delete(pending);
    }
    if (pending.cancel.signal.aborted) {
      sending.value--;
      discard(source);
      throw new QuoteChatError({
        message: "regenerate() was stopped while it took the reply over: no new reply was written",
        status: 0,
        code: "STOPPED",
      });
    }
    const metadata = { ...opts.metadata, ...(regenerates ? { regenerates } : {}) } as Meta;
    try {
      return writeReply(g, jobNow, source, { ...opts, id, metadata });
    } finally {
      sending.value--; // the new reply's writer (added at once) keeps `status` submitted
    }
  }

  /**
   * Takes over the newest reply for the reply `id`: its id, or undefined when the newest
   * message is the user's (no reply was ever created: `id` just answers it). Resolves with
   * `sending` counted once, for regenerate() to release once the new reply's writer exists:
   * `status` stays `submitted` from the takeover to the new reply, never `ready` in between.
   */
  async function takeOver(source: ReplySource, id: string): Promise<string | undefined> {
    const g = gen;
    const jobNow = job;
    const last = server[server.length - 1];
    if (last === undefined) throw refuse(source, "NOTHING_TO_REGENERATE", "the chat is empty: there is nothing to regenerate");
    if (last.role !== "assistant") {
      sending.value++;
      return undefined;
    }
    const refused = refusal(last);
    if (refused) throw refuse(source, ...refused);
    sending.value++;
    try {
      await track(async () => {
        // A stale superseded reply (refusal() let it through): its successor may exist after
        // all, unread here (created late, or this page does not follow). Taking the reply over
        // again would leave two answers: read the successor first.
        const successor = last.metadata["superseded_by"];
        if (typeof successor === "string") {
          const found = await client.findMessage(jobNow, successor);
          if (found) {
            if (g === gen && upsertServer(found)) commit();
            throw new QuoteChatError({
              message: `the newest reply was already regenerated: ${successor} replaces it`,
              status: 0,
              code: "NOTHING_TO_REGENERATE",
            });
          }
        }
        await supersede(jobNow, g, last, id);
      });
    } catch (e) {
      sending.value--;
      discard(source); // lost: the source is never read
      throw e;
    }
    return last.message_id;
  }

  /**
   * Why this page may not take the newest reply over, or null when it may: any reply that is
   * finished (`complete` or `error`) or interrupted, unless it was regenerated already.
   */
  function refusal(last: Message): [RefusalCode, string] | null {
    if (isWriting(last.message_id)) {
      return ["REPLY_IN_PROGRESS", "this page is still writing the newest reply: stop() it first"];
    }
    const successor = last.metadata["superseded_by"];
    // The successor is created right after the takeover; one that never came within
    // staleAfterMs (its page closed in between, its create failed for good) leaves the question
    // unanswered, so the reply may be taken over again.
    if (typeof successor === "string" && !isStale(last, Date.now())) {
      return ["NOTHING_TO_REGENERATE", `the newest reply was already regenerated: ${successor} replaces it`];
    }
    if (last.status === "streaming" && !isStale(last, Date.now())) {
      // Another tab or a server is still writing it: taking it over would fail their reply.
      return ["REPLY_IN_PROGRESS", "the newest reply is still being written elsewhere: wait for it, or until it is interrupted"];
    }
    return null;
  }

  /**
   * Names the reply's successor — only if nobody wrote it since this page read it (If-Match). A
   * finished reply keeps its status (a `complete` answer stays one); an interrupted one, still
   * `streaming`, is ended `error`, so that its writer, should it come back, stops at a 412.
   */
  async function supersede(jobNow: string, g: number, last: Message, id: string): Promise<void> {
    const marks = { superseded_by: id };
    const body: MessagePatch = last.status === "streaming" ? { status: "error", metadata: marks } : { metadata: marks };
    try {
      const { message } = await client.patch(jobNow, last.message_id, body, { ifMatch: last.version });
      if (g === gen) {
        upsertServer(message);
        commit();
      }
    } catch (e) {
      if (!isQuoteChatError(e, "PRECONDITION_FAILED")) throw e;
      // Someone else took it over (or its writer came back): show what they did.
      const now = await client.findMessage(jobNow, last.message_id).catch(() => null);
      if (now && g === gen && upsertServer(now)) commit();
      throw new QuoteChatError({
        message: "another tab or writer changed this reply first (it was regenerated, or written since this page read it): not regenerated",
        status: e.status,
        code: e.code,
        details: e.details,
        requestId: e.requestId,
        cause: e,
      });
    }
  }

  /** A reply asked for after unmounting: refused at once, its source never read (not in `error`). */
  function afterDisposal(source: ReplySource): QuoteChatError {
    discard(source);
    return new QuoteChatError({
      message: "this chat was unmounted (its scope disposed): no reply is written any more",
      status: 0,
      code: "STOPPED",
    });
  }

  /** A refused regenerate(): recorded in `error`, and its source never read. */
  function refuse(source: ReplySource, code: RefusalCode, message: string): QuoteChatError {
    discard(source);
    return setError(new QuoteChatError({ message, status: 0, code }));
  }

  // --- the rest ----------------------------------------------------------------------------

  async function clear(confirm: () => boolean | Promise<boolean>): Promise<number | null> {
    if (!(await confirm())) return null;
    const g = gen;
    const jobNow = job;
    return track(async () => {
      const { deleted_count } = await client.clear(jobNow);
      if (g === gen) {
        server = [];
        listEtag = undefined;
        afterEtag = undefined;
        epoch++;
        commit();
      }
      return deleted_count;
    });
  }

  function summary(): Promise<Summary> {
    const jobNow = job;
    return track(() => client.summary(jobNow));
  }

  function exportChat(format?: "json"): Promise<ExportData>;
  function exportChat(format: "jsonl" | "markdown"): Promise<string>;
  function exportChat(format: ExportFormat = "json"): Promise<ExportData | string> {
    const jobNow = job;
    return track<ExportData | string>(() =>
      format === "json" ? client.export(jobNow, "json") : client.export(jobNow, format),
    );
  }

  async function restore(): Promise<number> {
    const jobNow = job;
    const { restored_count } = await track(() => client.restore(jobNow));
    epoch++;
    await load();
    return restored_count;
  }

  // A new job: forget the old chat, and load and follow the new one if the old one was loaded.
  // The replies this page writes in the old chat are stopped: nobody sees them any more (their
  // LLM would run on unseen), and coming back to that job must not find one that looks written
  // elsewhere yet is this page's, out of reach of stop().
  watch(
    () => toValue(jobId),
    (next) => {
      if (next === job) return;
      void end([...writers]);
      gen++;
      job = next;
      server = [];
      pending = [];
      overrides.clear();
      sentHere.clear();
      listEtag = undefined;
      afterEtag = undefined;
      epoch++;
      clearError();
      loading.value = false;
      writersChanged.value++;
      commit();
      if (loaded) load().catch(() => {}); // the failure is in `error`
    },
    { flush: "sync" },
  );

  if (getCurrentScope()) {
    onScopeDispose(() => {
      disposed = true;
      clearTimeout(staleTimer);
      staleTimer = undefined;
      for (const r of regenerating) r.cancel.abort();
      void end([...writers]); // unmounted: nobody sees them, so their LLM should not run on
    });
  }

  return {
    messages,
    status,
    loading,
    following: follower.isActive,
    error,
    interrupted,
    canRegenerate,
    clearError,
    load,
    send,
    streamReply,
    stop,
    regenerate,
    follow,
    clear,
    restore,
    summary,
    export: exportChat,
  };
}

type RefusalCode = "REPLY_IN_PROGRESS" | "NOTHING_TO_REGENERATE";

// setTimeout fires at once for longer delays (they overflow its 32-bit counter).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The 412 a writer meets when the reply it writes was ended by someone else. */
function endedElsewhere(message: Message): QuoteChatError {
  return new QuoteChatError({
    message: "the reply was ended elsewhere (taken over or finished by another writer)",
    status: 412,
    code: "PRECONDITION_FAILED",
    details: { current_version: message.version },
  });
}

/** A source that will never be read: a function is never called; an iterator is let go. */
function discard(source: ReplySource): void {
  if (typeof source !== "function") source[Symbol.asyncIterator]().return?.()?.catch(() => {});
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

function sameMessage(a: Message, b: Message): boolean {
  return a.version === b.version && a.status === b.status && a.content === b.content;
}

function isAbort(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "AbortError";
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

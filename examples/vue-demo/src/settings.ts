// Where the page's settings come from: the query string (api, job, mode, and the timings the
// browser tests shorten), and the token, which the page takes once from `?token=` (or the form)
// into sessionStorage and removes from the address bar, so a reload keeps it but the URL does not
// carry it around.

export const DEMO_JOB = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42"; // seeded by `make run`
export const DEFAULT_API = "http://127.0.0.1:3000";
const TOKEN_KEY = "quote-chat-demo-token";

/** Who streams the assistant's reply: this page (wiring a) or a server-side writer (wiring b). */
export type Mode = "page" | "server";

export interface Settings {
  api: string;
  job: string;
  token: string;
  mode: Mode;
  /** The fake LLM's delay per word. */
  wordMs: number;
  /** useQuoteChat's pollMs: the live follow's period while a reply is being written elsewhere. */
  pollMs: number;
  /** useQuoteChat's idleMaxMs: the follow's longest period while nothing happens. */
  idleMaxMs: number;
  /** useQuoteChat's staleAfterMs: a `streaming` reply not updated for this long is interrupted. */
  staleAfterMs: number;
}

export function readSettings(): Settings {
  const url = new URL(location.href);
  const query = url.searchParams;
  const token = query.get("token");
  if (token !== null) {
    sessionStorage.setItem(TOKEN_KEY, token);
    query.delete("token");
    history.replaceState(history.state, "", url);
  }
  return {
    api: (query.get("api") || DEFAULT_API).replace(/\/+$/, ""),
    job: query.get("job") || DEMO_JOB,
    token: sessionStorage.getItem(TOKEN_KEY) ?? "",
    mode: query.get("mode") === "server" ? "server" : "page",
    wordMs: count(query.get("wordMs"), 80),
    pollMs: count(query.get("pollMs"), 1000),
    idleMaxMs: count(query.get("idleMaxMs"), 5000),
    staleAfterMs: count(query.get("staleAfterMs"), 30_000),
  };
}

/** Keeps a setting in the address bar, so that a reload keeps it. */
export function rememberParam(name: string, value: string): void {
  const url = new URL(location.href);
  url.searchParams.set(name, value);
  history.replaceState(history.state, "", url);
}

/** Stores a new connection and reloads the page with it. */
export function connect(api: string, job: string, token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  const url = new URL(location.href);
  url.searchParams.set("api", api.trim());
  url.searchParams.set("job", job.trim());
  location.assign(url);
}

export function disconnect(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

function count(value: string | null, fallback: number): number {
  const n = Number(value);
  return value !== null && value !== "" && Number.isFinite(n) && n >= 0 ? n : fallback;
}

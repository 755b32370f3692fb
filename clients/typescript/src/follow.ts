// The timing of live follow, apart from what a tick does: a tick every `pollMs` while something
// streams, backing off (doubling) up to `idleMaxMs` while nothing changes and up to `errorMaxMs`
// (or as long as the server's Retry-After asks) while ticks fail, no tick at all while
// the page is hidden and one at once when it is shown again; pause/resume as VueUse's
// `Pausable`; stopped when the calling scope is disposed. Nothing here touches `document` before
// following starts (so importing the kit in SSR or Node is safe).
import { getCurrentScope, onScopeDispose, shallowRef, type Ref } from "vue";

// setTimeout fires at once for longer delays (a Retry-After of weeks would overflow it).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** VueUse's `Pausable`: the shape of a control that runs on a timer. */
export interface Pausable {
  /** True while it runs (after `resume()`, until `pause()` or the scope is disposed). */
  readonly isActive: Readonly<Ref<boolean>>;
  pause: () => void;
  resume: () => void;
}

/** What one tick saw, which sets the period of the next. */
export interface TickResult {
  /** Something changed (the next tick comes after `pollMs` again). */
  changed: boolean;
  /** Something is being written elsewhere right now: keep ticking every `pollMs`. */
  fast: boolean;
  /**
   * The tick failed: back off whatever `fast` says (hammering a failing API every `pollMs`
   * helps neither it nor the page), waiting at least `retryAfterMs` when the server asked.
   */
  failed?: { retryAfterMs?: number | undefined };
}

export interface FollowTimingOptions {
  pollMs: number;
  idleMaxMs: number;
  /** The longest period while ticks fail (it doubles up to this). */
  errorMaxMs: number;
}

export interface Follower extends Pausable {
  /** Starts ticking, the first tick after `pollMs` (right after a full load there is no news). */
  start: () => void;
  /** Back to `pollMs` at once (e.g. after sending: a reply is expected). */
  hurry: () => void;
  /** True while the page is hidden (`document.visibilityState === "hidden"`). */
  hidden: () => boolean;
}

/** `tick` must not throw (it records its own failures); a throw counts as a failed tick. */
export function createFollower(tick: () => Promise<TickResult>, timing: FollowTimingOptions): Follower {
  const pollMs = Math.max(1, timing.pollMs);
  const idleMaxMs = Math.max(pollMs, timing.idleMaxMs);
  const errorMaxMs = Math.max(pollMs, timing.errorMaxMs);
  const isActive = shallowRef(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let dueAt = 0; // when the pending timer fires
  let delay = pollMs; // the current period
  let running = false;
  let disposed = false;
  let listening = false;

  const hidden = () => typeof document !== "undefined" && document.visibilityState === "hidden";

  function schedule(ms: number): void {
    clearTimeout(timer);
    dueAt = Date.now() + ms;
    timer = setTimeout(run, Math.min(ms, MAX_TIMER_MS));
  }

  async function run(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    // Hidden: no request and no timer; `onVisibility` runs one tick when the page is shown.
    if (!isActive.value || running || hidden()) return;
    running = true;
    let result: TickResult = { changed: false, fast: false, failed: {} };
    try {
      result = await tick();
    } catch {
      // counted as failed
    } finally {
      running = false;
    }
    if (!isActive.value) return;
    delay = nextDelay(result);
    schedule(delay);
  }

  function nextDelay({ changed, fast, failed }: TickResult): number {
    if (failed) return Math.max(Math.min(delay * 2, errorMaxMs), failed.retryAfterMs ?? 0);
    // After failures `delay` may be long: a tick that works starts again from the usual range.
    if (changed || fast) return pollMs;
    return Math.min(delay * 2, idleMaxMs);
  }

  function onVisibility(): void {
    if (!isActive.value || hidden() || running) return;
    delay = pollMs;
    void run();
  }

  function listen(on: boolean): void {
    if (typeof document === "undefined" || listening === on) return;
    listening = on;
    if (on) document.addEventListener("visibilitychange", onVisibility);
    else document.removeEventListener("visibilitychange", onVisibility);
  }

  function activate(): boolean {
    if (disposed) return false;
    isActive.value = true;
    listen(true);
    delay = pollMs;
    return true;
  }

  function pause(): void {
    isActive.value = false;
    clearTimeout(timer);
    timer = undefined;
    listen(false);
  }

  function resume(): void {
    if (activate() && !running) void run();
  }

  function start(): void {
    if (activate() && !running) schedule(pollMs);
  }

  function hurry(): void {
    delay = pollMs;
    if (!isActive.value || running || timer === undefined) return;
    if (dueAt - Date.now() > pollMs) schedule(pollMs);
  }

  if (getCurrentScope()) {
    onScopeDispose(() => {
      disposed = true;
      pause();
    });
  }

  return { isActive, pause, resume, start, hurry, hidden };
}

// A stand-in for the LLM, offline: a canned reply streamed word by word with small delays, the
// way an LLM SDK's streaming API hands out text. Shared by the page (wiring a) and writer.mjs
// (wiring b).

/** The whole reply the fake LLM gives to `prompt`. */
export function cannedReply(prompt: string): string {
  const topic = prompt.trim().replace(/\s+/g, " ").slice(0, 80) || "your job";
  return (
    `Noted: "${topic}". For a first estimate I would price it in three parts: ` +
    "materials at list price less ten percent, two days of fabrication and finishing, " +
    "and delivery on one pallet. Shall I add installation on site to the quote?"
  );
}

export interface FakeLlmOptions {
  /** Delay before each word. Default 80 ms. */
  wordMs?: number;
  /** Stops the stream (the generator then throws the signal's reason). */
  signal?: AbortSignal;
}

/** Yields `cannedReply(prompt)` a word at a time (each word with its trailing space). */
export async function* fakeLlm(prompt: string, options: FakeLlmOptions = {}): AsyncGenerator<string> {
  const { wordMs = 80, signal } = options;
  for (const word of cannedReply(prompt).match(/\S+\s*/g) ?? []) {
    await delay(wordMs, signal);
    yield word;
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

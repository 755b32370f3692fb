// Whether a PATCH already landed. A guarded PATCH whose answer was lost (a network failure after
// the server applied it) is sent again and meets its own write as a 412; re-applying the change
// then would apply it twice (a counter incremented twice). The only evidence left is the message
// itself: it holds every field the body set.
import type { Message, MessagePatch } from "./client";

/**
 * `message` holds what `body` set: the same `content` and `status`, each metadata key set to
 * that value, each key set to `null` absent. Fields the body leaves out are not compared.
 */
export function holdsPatch(message: Message, body: MessagePatch): boolean {
  if (body.content !== undefined && body.content !== message.content) return false;
  if (body.status !== undefined && body.status !== message.status) return false;
  for (const [key, value] of Object.entries(body.metadata ?? {})) {
    const held = Object.hasOwn(message.metadata, key);
    if (value === null ? held : !held || !sameJson(message.metadata[key], value)) return false;
  }
  return true;
}

// Metadata round-trips exactly, but a JSON object's key order is not part of its value.
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  const other = b as Record<string, unknown>;
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(other, key) && sameJson((a as Record<string, unknown>)[key], other[key]))
  );
}

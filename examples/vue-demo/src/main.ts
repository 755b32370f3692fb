// The demo page: one job's chat through @quote-chat/client. Two wirings of the assistant reply:
//  (a) mode "page": this page asks the (fake) LLM and streams the reply itself with
//      useQuoteChat's streamReply (Stop ends it early, keeping its text);
//  (b) mode "server": a server-side writer (writer.mjs, as a backend LLM service would) streams
//      it; this page only sends the user's message and shows the reply through the kit's live
//      follow (no loop of its own).
// Either way every open page follows the chat live (messages, replies, clears and restores made
// anywhere); a reply whose writer went away is shown as interrupted after `staleAfterMs`.
// "Ask again" regenerates the newest reply — complete, failed or interrupted — (one tab wins if
// several try); the reply it replaces stays, marked superseded.
import { computed, createApp, defineComponent, onMounted, ref, watch } from "vue";
import {
  createQuoteChatClient,
  useQuoteChat,
  type ChatMessage,
  type Summary,
} from "@quote-chat/client";
import { fakeLlm } from "./fakeLlm";
import {
  DEFAULT_API,
  DEMO_JOB,
  connect,
  disconnect,
  readSettings,
  rememberParam,
  type Mode,
  type Settings,
} from "./settings";

/** The metadata this demo writes on messages. */
type DemoMeta = { source?: string; model?: string; writer?: string };

const ConnectForm = defineComponent({
  props: { settings: { type: Object as () => Settings, required: true } },
  setup(props) {
    const api = ref(props.settings.api || DEFAULT_API);
    const job = ref(props.settings.job || DEMO_JOB);
    const token = ref("");
    return { api, job, token, submit: () => connect(api.value, job.value, token.value) };
  },
  template: `
    <form data-testid="connect" @submit.prevent="submit">
      <p>Start the API with <code>make run</code>, then get a token for the owner of the demo job:
        <code>make -s token USER=demo-user</code>.</p>
      <label>API base URL <input type="url" v-model="api" required></label>
      <label>Job id <input type="text" v-model="job" required></label>
      <label>Token <input type="password" v-model="token" required autocomplete="off"></label>
      <button type="submit">Connect</button>
    </form>`,
});

const ChatView = defineComponent({
  props: { settings: { type: Object as () => Settings, required: true } },
  setup(props) {
    const s = props.settings;
    const client = createQuoteChatClient({ baseUrl: s.api, token: () => s.token });
    const mode = ref<Mode>(s.mode);
    watch(mode, (m) => rememberParam("mode", m));
    // Refs, destructured: each is unwrapped in the template (`status`, not `chat.status.value`).
    const {
      messages, status, loading, following, error, interrupted, canRegenerate: regenerable,
      clearError, load, send: sendMessage, streamReply, stop, regenerate, follow, clear, restore: restoreChat,
    } = useQuoteChat<DemoMeta>(client, s.job, {
      pollMs: s.pollMs,
      idleMaxMs: s.idleMaxMs,
      staleAfterMs: s.staleAfterMs,
      // Server mode: after a send, `status` is `submitted` until the writer's reply shows up.
      awaitReply: () => mode.value === "server",
    });

    const draft = ref("");
    const sending = ref(false);
    const streamingHere = ref(false); // this page is writing a reply (Stop ends it)
    const loaded = ref(false); // the first load() has settled (for the browser tests)
    const cleared = ref<number | null>(null); // messages of the last clear, for Restore
    const summary = ref<Summary | null>(null);
    const last = computed<ChatMessage<DemoMeta> | undefined>(() => messages.value[messages.value.length - 1]);
    const busy = computed(() => sending.value || streamingHere.value);
    // "Ask again": whenever regenerate() would go ahead (the kit's canRegenerate: the newest
    // reply is complete, failed or interrupted and not regenerated already — or its successor
    // never came — or a question is unanswered), and this page is not busy.
    const canRegenerate = computed(() => !busy.value && regenerable.value);

    // The summary (the API's counters) whenever a message comes or goes or changes status.
    let summaryCalls = 0;
    async function refreshSummary() {
      const call = ++summaryCalls;
      try {
        const fresh = await client.summary(s.job);
        if (call === summaryCalls) summary.value = fresh;
      } catch {
        // a summary is a nice-to-have; the chat's own failures are in `error`
      }
    }
    watch(
      () => messages.value.map((m) => `${m.message_id}:${m.status}`).join(","),
      () => void refreshSummary(),
    );

    // Stop (or a reply that can no longer be saved) aborts `signal`: the fake LLM ends at once.
    const llm = (prompt: string) => (signal: AbortSignal) => fakeLlm(prompt, { wordMs: s.wordMs, signal });

    async function writeHere(write: () => Promise<unknown>) {
      streamingHere.value = true;
      try {
        await write();
      } catch {
        // in `error`
      } finally {
        streamingHere.value = false;
      }
    }

    async function send() {
      const text = draft.value.trim();
      if (!text || busy.value) return;
      sending.value = true;
      try {
        await sendMessage(text, { source: "vue-demo" });
        draft.value = "";
      } catch {
        return; // in `error`; the draft stays
      } finally {
        sending.value = false;
      }
      if (mode.value === "page") {
        await writeHere(() => streamReply(llm(text), { metadata: { model: "fake-llm" } }));
      }
    }

    // Redo the newest reply: mark it superseded (PATCH with If-Match, so only one tab wins; the
    // other shows the 412; an interrupted one is also ended `error`) and ask the fake LLM again,
    // on this page. (In a real app with a server-side writer, the backend would do this.)
    async function askAgain() {
      const prompt = [...messages.value].reverse().find((m) => m.role === "user")?.content ?? "";
      await writeHere(() => regenerate(llm(prompt), { metadata: { model: "fake-llm" } }));
    }

    async function clearChat() {
      const n = messages.value.length;
      try {
        const deleted = await clear(() =>
          window.confirm(`Clear all ${n} messages of this chat? Restore brings them back for a while.`),
        );
        if (deleted !== null) cleared.value = deleted;
      } catch {
        // in `error`
      }
    }

    async function restore() {
      try {
        await restoreChat();
        cleared.value = null;
      } catch {
        // in `error` (404 NOTHING_TO_RESTORE once retention ran out)
      }
    }

    onMounted(async () => {
      try {
        await load(); // then follows the chat live
      } catch {
        // in `error`
      } finally {
        loaded.value = true;
      }
    });

    const errorText = computed(() => {
      const e = error.value;
      if (!e) return "";
      return `${e.code}${e.status ? ` (${e.status})` : ""}: ${e.message}${e.requestId ? ` [request ${e.requestId}]` : ""}`;
    });
    const writerCommand = computed(
      () =>
        `cd examples/vue-demo && QUOTE_CHAT_TOKEN=$(make -s -C ../.. token USER=demo-user) ` +
        `node writer.mjs --api ${s.api} --job ${s.job}`,
    );
    const time = (iso: string) => new Date(iso).toLocaleTimeString();

    return {
      s, mode, draft, busy, loaded, cleared, summary, last, messages, loading, status, following,
      error, errorText, interrupted, streamingHere, canRegenerate, writerCommand, time,
      send, stop, askAgain, clearChat, restore, clearError, follow, disconnect,
    };
  },
  template: `
    <div data-testid="chat" :data-loaded="loaded">
      <p class="summary">
        API <code>{{ s.api }}</code> · job <code>{{ s.job }}</code> ·
        <a href="#" @click.prevent="disconnect">change</a>
      </p>
      <p class="summary" data-testid="summary" v-if="summary">
        <span data-testid="summary-count">{{ summary.message_count }}</span> messages
        (<template v-for="(n, role, i) in summary.by_role" :key="role">{{ i ? ', ' : '' }}{{ role }}: {{ n }}</template>)
        <template v-if="summary.last_message_preview"> · last: “{{ summary.last_message_preview.slice(0, 60) }}”</template>
      </p>
      <p class="summary">
        status <strong data-testid="status">{{ status }}</strong> ·
        <span data-testid="following" :data-following="following">{{ following ? 'following live' : 'not following' }}</span>
        <button type="button" v-if="following" data-testid="follow-pause" @click="follow.pause()">Pause</button>
        <button type="button" v-else-if="loaded" data-testid="follow-resume" @click="follow.resume()">Follow</button>
      </p>

      <fieldset>
        <legend>Who streams the reply</legend>
        <label><input type="radio" value="page" v-model="mode" data-testid="mode-page">
          this page (fake LLM, streamReply)</label>
        <label><input type="radio" value="server" v-model="mode" data-testid="mode-server">
          a server-side writer; this page shows it live</label>
        <p v-if="mode === 'server'" class="summary">Run: <code>{{ writerCommand }}</code></p>
      </fieldset>

      <p v-if="loading && !loaded">Loading…</p>
      <ol class="messages" data-testid="messages">
        <li v-for="m in messages" :key="m.message_id" class="message" data-testid="message"
            :data-id="m.message_id" :data-role="m.role" :data-status="m.status"
            :data-interrupted="interrupted && m.message_id === last?.message_id">
          <div class="meta">
            <strong class="role">{{ m.role }}</strong>
            <span class="badge" :class="m.status">{{ m.status }}</span>
            <span v-if="m.metadata.stopped" class="badge" data-testid="stopped">stopped</span>
            <span v-if="m.metadata.superseded_by" class="badge">superseded</span>
            <span v-if="interrupted && m.message_id === last?.message_id" class="badge interrupted"
                  data-testid="interrupted">interrupted</span>
            <span>{{ time(m.timestamp) }} · v{{ m.version }}</span>
          </div>
          <p class="content">{{ m.content }}</p>
        </li>
      </ol>
      <p v-if="loaded && !messages.length" data-testid="empty" class="summary">No messages yet.</p>
      <p v-if="status === 'streaming' && !streamingHere" data-testid="streaming-elsewhere" class="summary">
        A reply is being written elsewhere; it shows here as it comes.</p>
      <p v-if="status === 'submitted' && mode === 'server' && !busy" data-testid="awaiting" class="summary">
        Waiting for the server-side writer's reply…</p>
      <p v-if="interrupted" class="error">
        The reply was interrupted (no update for {{ s.staleAfterMs / 1000 }} s).</p>
      <p v-if="canRegenerate">
        <button type="button" data-testid="ask-again" @click="askAgain">Ask again</button>
      </p>

      <form class="row" @submit.prevent="send">
        <input type="text" v-model="draft" data-testid="draft" placeholder="e.g. 3 stainless steel boxes" :disabled="busy">
        <button type="submit" data-testid="send" :disabled="busy || !draft.trim()">Send</button>
        <button type="button" v-if="streamingHere" data-testid="stop" @click="stop">Stop</button>
      </form>
      <p class="row">
        <button type="button" data-testid="clear" @click="clearChat" :disabled="busy || !messages.length">Clear</button>
        <button type="button" v-if="cleared !== null" data-testid="restore" @click="restore">Restore {{ cleared }}</button>
      </p>
      <p v-if="errorText" class="error" data-testid="error">{{ errorText }}
        <button type="button" data-testid="dismiss" @click="clearError">Dismiss</button></p>
    </div>`,
});

const App = defineComponent({
  components: { ConnectForm, ChatView },
  setup() {
    return { settings: readSettings() };
  },
  template: `
    <h1>quote-chat demo</h1>
    <ChatView v-if="settings.token" :settings="settings" />
    <ConnectForm v-else :settings="settings" />`,
});

createApp(App).mount("#app");

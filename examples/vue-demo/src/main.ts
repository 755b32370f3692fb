// The demo page: one job's chat through @quote-chat/client. Two wirings of the assistant reply:
//  (a) mode "page": this page asks the (fake) LLM and streams the reply itself with
//      useQuoteChat's streamReply;
//  (b) mode "server": a server-side writer (writer.mjs, as a backend LLM service would) streams
//      it; this page only watches: a cheap poll for news, then load(), whose resume() follows a
//      reply still `streaming`.
// Either way a reload picks up a reply in progress, and a reply whose writer went away is shown
// as interrupted after `staleAfterMs`.
import { computed, createApp, defineComponent, onBeforeUnmount, onMounted, ref, watch } from "vue";
import {
  createQuoteChatClient,
  isQuoteChatError,
  useQuoteChat,
  type Message,
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
    const chat = useQuoteChat(client, s.job, { pollMs: s.pollMs, staleAfterMs: s.staleAfterMs });
    const { messages, loading, error, interrupted, waiting, replyInProgress } = chat;

    const mode = ref<Mode>(s.mode);
    watch(mode, (m) => rememberParam("mode", m));
    const draft = ref("");
    const busy = ref(false); // sending, or this page streaming a reply
    const loaded = ref(false); // the first load() has settled (for the browser test)
    const cleared = ref<number | null>(null); // messages of the last clear, for Restore
    const summary = ref<Summary | null>(null);
    const last = computed<Message | undefined>(() => messages.value[messages.value.length - 1]);

    // The summary (the API's counters) whenever a message comes or goes or changes status.
    let summaryCalls = 0;
    async function refreshSummary() {
      const call = ++summaryCalls;
      try {
        const fresh = await client.summary(s.job);
        if (call === summaryCalls) summary.value = fresh;
      } catch {
        // shown via the chat's own calls; a summary is a nice-to-have
      }
    }
    watch(
      () => messages.value.map((m) => `${m.message_id}:${m.status}`).join(","),
      () => void refreshSummary(),
    );

    async function send() {
      const text = draft.value.trim();
      if (!text || busy.value) return;
      busy.value = true;
      try {
        await chat.send(text, { source: "vue-demo" });
        draft.value = "";
        if (mode.value === "page") {
          await chat.streamReply(fakeLlm(text, { wordMs: s.wordMs }), { metadata: { model: "fake-llm" } });
        }
      } catch {
        // in chat.error
      } finally {
        busy.value = false;
      }
    }

    // An interrupted reply stays `streaming` on the server until someone ends it: mark it
    // `error` (If-Match: if its writer was alive after all, the 412 says so), then ask again.
    async function askAgain() {
      const reply = last.value;
      const prompt = [...messages.value].reverse().find((m) => m.role === "user")?.content ?? "";
      busy.value = true;
      try {
        if (reply?.status === "streaming") {
          await client.patch(s.job, reply.message_id, { status: "error" }, { ifMatch: reply.version });
        }
        await chat.load();
        interrupted.value = false;
        if (mode.value === "page") {
          await chat.streamReply(fakeLlm(prompt, { wordMs: s.wordMs }), { metadata: { model: "fake-llm" } });
        }
      } catch (e) {
        error.value = e instanceof Error ? e : new Error(String(e));
      } finally {
        busy.value = false;
      }
    }

    async function clearChat() {
      const n = messages.value.length;
      try {
        const deleted = await chat.clear(() =>
          window.confirm(`Clear all ${n} messages of this chat? Restore brings them back for a while.`),
        );
        if (deleted !== null) cleared.value = deleted;
      } catch {
        // in chat.error
      }
    }

    async function restore() {
      try {
        await chat.restore();
        cleared.value = null;
      } catch {
        // in chat.error (404 NOTHING_TO_RESTORE once retention ran out)
      }
    }

    // Mode "server": watch for a reply written elsewhere. poll() is `?limit=1&order=desc`
    // revalidated by ETag (a 304 when nothing changed); on news, load() re-reads the chat and its
    // resume() follows a reply still streaming (meanwhile `waiting` is true and this pauses).
    let watching = true;
    async function watchForReplies() {
      let etag: string | undefined;
      while (watching) {
        await new Promise((resolve) => setTimeout(resolve, s.pollMs));
        if (!watching || mode.value !== "server" || busy.value || waiting.value || loading.value) continue;
        try {
          const result = await client.poll(s.job, etag);
          if (result.notModified) continue;
          etag = result.etag ?? undefined;
          const newest = result.message;
          if (newest?.message_id !== last.value?.message_id || newest?.version !== last.value?.version) {
            await chat.load();
          }
        } catch {
          // the next round tries again; load() errors are in chat.error
        }
      }
    }
    onBeforeUnmount(() => {
      watching = false;
    });

    onMounted(async () => {
      try {
        await chat.load();
      } catch {
        // in chat.error
      } finally {
        loaded.value = true;
      }
      void watchForReplies();
    });

    const errorText = computed(() => {
      const e = error.value;
      if (!e) return "";
      if (isQuoteChatError(e)) {
        return `${e.code}${e.status ? ` (${e.status})` : ""}: ${e.message}${e.requestId ? ` [request ${e.requestId}]` : ""}`;
      }
      return e.message;
    });
    const writerCommand = computed(
      () =>
        `cd examples/vue-demo && QUOTE_CHAT_TOKEN=$(make -s -C ../.. token USER=demo-user) ` +
        `node writer.mjs --api ${s.api} --job ${s.job}`,
    );
    const time = (iso: string) => new Date(iso).toLocaleTimeString();

    return {
      s, mode, draft, busy, loaded, cleared, summary, last, messages, loading, error, errorText,
      interrupted, waiting, replyInProgress, writerCommand, time,
      send, askAgain, clearChat, restore, disconnect,
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

      <fieldset>
        <legend>Who streams the reply</legend>
        <label><input type="radio" value="page" v-model="mode" data-testid="mode-page">
          this page (fake LLM, streamReply)</label>
        <label><input type="radio" value="server" v-model="mode" data-testid="mode-server">
          a server-side writer; this page only watches</label>
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
            <span v-if="interrupted && m.message_id === last?.message_id" class="badge interrupted"
                  data-testid="interrupted">interrupted</span>
            <span>{{ time(m.timestamp) }} · v{{ m.version }}</span>
          </div>
          <p class="content">{{ m.content }}</p>
        </li>
      </ol>
      <p v-if="loaded && !messages.length" data-testid="empty" class="summary">No messages yet.</p>
      <p v-if="waiting" data-testid="waiting" class="summary">The reply is being written elsewhere; following it…</p>
      <p v-if="interrupted" class="error">
        The reply was interrupted (no update for {{ s.staleAfterMs / 1000 }} s).
        <button type="button" @click="askAgain" :disabled="busy">Ask again</button>
      </p>

      <form class="row" @submit.prevent="send">
        <input type="text" v-model="draft" data-testid="draft" placeholder="e.g. 3 stainless steel boxes" :disabled="busy">
        <button type="submit" data-testid="send" :disabled="busy || !draft.trim()">Send</button>
      </form>
      <p class="row">
        <button type="button" data-testid="clear" @click="clearChat" :disabled="busy || !messages.length">Clear</button>
        <button type="button" v-if="cleared !== null" data-testid="restore" @click="restore">Restore {{ cleared }}</button>
      </p>
      <p v-if="errorText" class="error" data-testid="error">{{ errorText }}</p>
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

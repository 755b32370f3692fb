// Type-level checks on what the app gets from the kit's .d.ts. Checked twice by vue-tsc -b:
// with the app's settings (tsconfig.app.json) and without skipLibCheck (tsconfig.kit.json).
import type { UnwrapRef } from 'vue'
import type { Message, QuoteChatClient, QuoteChatError, components } from '@quote-chat/client'
import type { useQuoteChat } from '@quote-chat/client/vue'

type IsAny<T> = 0 extends 1 & T ? true : false
type Expect<T extends true> = T
type Chat = ReturnType<typeof useQuoteChat>

export type KitTypeChecks = [
  // the generated types resolve (an unresolved import in a .d.ts makes them `any`)
  Expect<IsAny<components['schemas']['Message']> extends false ? true : false>,
  Expect<IsAny<Message> extends false ? true : false>,
  Expect<Message['content'] extends string ? true : false>,
  Expect<IsAny<QuoteChatClient> extends false ? true : false>,
  // the composable's refs are this app's Vue refs (one copy of vue's types): they unwrap
  Expect<UnwrapRef<Chat['messages']> extends readonly unknown[] ? true : false>,
  // the template-facing state has the ecosystem's vocabulary and the kit's error type
  Expect<UnwrapRef<Chat['status']> extends 'ready' | 'submitted' | 'streaming' | 'error' ? true : false>,
  Expect<UnwrapRef<Chat['error']> extends QuoteChatError | null ? true : false>,
  Expect<UnwrapRef<Chat['following']> extends boolean ? true : false>,
]

// The local server (target/debug/quote-chat-local) as the browser tests run it: on a port the
// OS picks, over the DynamoDB Local that `make test` started (DYNAMODB_ENDPOINT), with tables
// and a JWT secret of its own so parallel runs and a developer's `make run` data are untouched.
// Not a test file itself (node --test only runs *.test.mjs).

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// Where cargo built it (CARGO_TARGET_DIR, as cargo reads it: relative to the workspace), or
// QUOTE_CHAT_LOCAL: another build of it (e.g. a copy, while the target directory is rebuilt).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = process.env.QUOTE_CHAT_LOCAL
  || resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target', 'debug', 'quote-chat-local');
export const READY_TIMEOUT_MS = 30_000;
const run = promisify(execFile);

export class LocalApi {
  /** `prefix` names its tables (`<prefix>-messages-<pid>`), `secret` signs its tokens. */
  constructor(prefix, secret) {
    this.prefix = prefix;
    this.secret = secret;
    this.server = undefined;
    this.output = ''; // stdout + stderr, for start-up failures
    this.log = ''; // stderr alone: warnings and errors (RUST_LOG=warn), shown at the end
  }

  env() {
    return {
      ...process.env,
      DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT,
      MESSAGES_TABLE: `${this.prefix}-messages-${process.pid}`,
      JOBS_TABLE: `${this.prefix}-jobs-${process.pid}`,
      LOCAL_JWT_SECRET: this.secret,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    };
  }

  /** `quote-chat-local <args>` (token, job): its printed answer. */
  async cli(...args) {
    const { stdout } = await run(BIN, args, { env: this.env(), timeout: READY_TIMEOUT_MS });
    return stdout.trim();
  }

  /** Starts `serve` on PORT=0 (no race) and resolves with its address once it says it is
   * ready; rejects if it exits or stays silent too long. */
  start(allowedOrigins) {
    const server = spawn(BIN, ['serve'], {
      env: { ...this.env(), HOST: '127.0.0.1', PORT: '0', ALLOWED_ORIGINS: allowedOrigins },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.server = server;
    server.stderr.on('data', (chunk) => { this.output += chunk; this.log += chunk; });
    return new Promise((resolve, reject) => {
      let address;
      const timer = setTimeout(
        () => reject(new Error(`quote-chat-local not ready within ${READY_TIMEOUT_MS} ms:\n${this.output}`)),
        READY_TIMEOUT_MS,
      );
      server.on('error', (err) => { clearTimeout(timer); reject(err); });
      server.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`quote-chat-local exited (${code ?? signal}) before ready:\n${this.output}`));
      });
      createInterface({ input: server.stdout }).on('line', (line) => {
        this.output += `${line}\n`;
        const match = line.match(/local API on (http:\/\/\S+)/);
        if (match) address = match[1];
        if (line.includes('Ctrl-C stops the server.')) {
          clearTimeout(timer);
          if (address) resolve(address);
          else reject(new Error(`no address in the ready output:\n${this.output}`));
        }
      });
    });
  }

  /** Stops it the way a developer does (Ctrl-C), killing it if that takes too long. */
  async stop() {
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    server.kill('SIGINT');
    const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

#!/usr/bin/env python3
"""`make load`: a mixed, concurrent load on a local API of its own, then a check that nothing
acknowledged was lost, duplicated or left stale.

Starts an in-memory DynamoDB Local on a free port (scripts/dynamodb-local.sh with) and the local
server (quote-chat-local of $CARGO_TARGET_DIR or target/: release/ when it exists, else debug/) on another, with
tables and a JWT secret of its own, so it can run beside `make run` and `make test`. Then, for
--duration seconds (default 30), --clients client threads (default 50) work on --jobs jobs
(default 10) of one user, each on one keep-alive HTTP/1.1 connection:

  * a conversation: POST the user's message (now and then sent twice, as a client whose answer
    was lost would: the replay must answer 200 with the original timestamp), POST an empty
    assistant reply `streaming`, stream it by PATCHes with If-Match, each carrying the whole
    text so far (on 412: take the current version from the answer and send the same text
    again), and end it with `status: complete`;
  * now and then another writer's PATCH: read the newest messages, add a metadata key to a reply
    with If-Match on the version just read (412 = a writer got there first, give up), so the
    streamers do meet 412s;
  * lists (the newest page, or the whole history by cursors) and summaries;
  * and one more thread clears a job every --clear-every seconds (default 2.5), racing the
    writers.

A 503 must carry Retry-After; the request is then sent again after it (never a clear). Every
request's send and acknowledgement times are kept. When the clients have stopped, each chat is
read whole and checked, per message id (ids are never reused):

  must be present   some acknowledged create (201, or 200 replay) began after every clear of
                    that job had been answered: no clear can have come after it;
  must be absent    every create attempt that may have written (201, 200, 5xx, no answer) was
                    answered before some acknowledged clear began;
  either            otherwise (a create racing a clear): absent, or present as below.

Present means exactly once, with the content, role and metadata sent (metadata compared with
its number text), a content at least as new as the last acknowledged PATCH (the texts only
grow, so: one of the texts sent, no shorter than the acknowledged one), a version at least the
acknowledged one, `complete` when the last PATCH was acknowledged, and every acknowledged
metadata key of the other writers still there (no lost update). Also checked: a PATCH right
after its create never answers 404 unless a clear of that job began in between
(read-your-writes); each list page has no id twice and is in (timestamp, message_id) order;
the ETag of a PATCH's 200 or 412 is the version; after the run, timestamps are strictly
increasing and each summary's counts equal the chat read whole.

Prints throughput, latency p50/p99 per operation and the answers by status, and exits non-zero
on any loss, duplication, stale or wrong content, undocumented status or 5xx other than a 503
with Retry-After. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INNER = "QC_LOAD_INNER"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=int(os.environ.get("LOAD_CLIENTS", 50)))
    p.add_argument("--duration", type=float, default=float(os.environ.get("LOAD_DURATION", 30)))
    p.add_argument("--jobs", type=int, default=int(os.environ.get("LOAD_JOBS", 10)))
    p.add_argument("--clear-every", type=float, default=float(os.environ.get("LOAD_CLEAR_EVERY", 2.5)),
                   help="seconds between two clears (of a random job); 0 for none")
    p.add_argument("--seed", type=int, default=int(os.environ.get("LOAD_SEED", 1)))
    p.add_argument("--binary", default=os.environ.get("LOAD_BINARY", ""),
                   help="the quote-chat-local binary (default: release if built, else debug)")
    p.add_argument("--json", default=os.environ.get("LOAD_JSON", ""),
                   help="also write the report as JSON to this file")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------
# Process set-up: DynamoDB Local (through scripts/dynamodb-local.sh with), then the local server.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_binary(explicit: str) -> tuple[str, str]:
    if explicit:
        return explicit, "given"
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    release = os.path.join(target, "release", "quote-chat-local")
    debug = os.path.join(target, "debug", "quote-chat-local")
    if os.access(release, os.X_OK):
        if os.access(debug, os.X_OK) and os.path.getmtime(release) < os.path.getmtime(debug):
            print(f"load: note: {release} is older than the debug build; "
                  "rebuild it (cargo build --release --locked -p quote-chat-local) or pass --binary",
                  file=sys.stderr)
        return release, "release"
    if os.access(debug, os.X_OK):
        return debug, "debug"
    sys.exit("no quote-chat-local binary: run 'cargo build --locked -p quote-chat-local' "
             "(or --release)")


class Server:
    """The local API as a child process, stopped by stop() (and on any exit of this script)."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        tag = f"{os.getpid()}"
        self.env = dict(os.environ)
        self.env.update({
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "MESSAGES_TABLE": f"load-messages-{tag}",
            "JOBS_TABLE": f"load-jobs-{tag}",
            "LOCAL_JWT_SECRET": f"load-{tag}-{random.getrandbits(64):x}-secret",
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        })
        self.log = tempfile.NamedTemporaryFile(prefix="quote-chat-load-", suffix=".log", delete=False)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with open(self.log.name, encoding="utf-8", errors="replace") as f:
                if any(line.startswith("quote-chat local API on ") for line in f):
                    return
            time.sleep(0.1)
        self.stop()
        sys.exit("the local API did not start:\n" + self.tail())

    def helper(self, *args: str) -> str:
        out = subprocess.run([self.binary, *args], env=self.env, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def tail(self, lines: int = 30) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def warnings(self) -> collections.Counter:
        """The server's WARN and ERROR lines, counted by message (fields and times left out):
        why a 503 was answered (lost races, throttling, timeouts)."""
        counts: collections.Counter = collections.Counter()
        pattern = re.compile(r"\b(WARN|ERROR)\b\s+(.*)")
        try:
            f = open(self.log.name, encoding="utf-8", errors="replace")
        except OSError:
            return counts
        with f:
            for line in f:
                match = pattern.search(ANSI.sub("", line))
                if match:
                    text = re.sub(r"[\w:]+\{[^}]*\}:?", "", match.group(2))          # spans
                    text = re.sub(r"(^|\s)[\w.]+=(\"[^\"]*\"|\S+)", "", text).strip()  # fields
                    counts[f"{match.group(1)} {text}"] += 1
        return counts

    def stop(self) -> None:
        self.stop_process()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def stop_process(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# HTTP: one keep-alive connection per client; every request timed and counted.


class Answer:
    __slots__ = ("status", "headers", "body", "t0", "t1")

    def __init__(self, status: int, headers: dict, body: bytes, t0: float, t1: float):
        self.status, self.headers, self.body, self.t0, self.t1 = status, headers, body, t0, t1

    def json(self):
        # Number text kept as it was sent: 2.50 stays "2.50" (metadata round-trips exactly).
        return json.loads(self.body, parse_float=str, parse_int=str) if self.body else None


class Stats:
    """One per thread, merged at the end: latencies and statuses per operation."""

    def __init__(self):
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.problems: list[str] = []
        self.retry_after_missing = 0

    def merge(self, other: "Stats") -> None:
        for op, values in other.latency.items():
            self.latency[op].extend(values)
        for op, counter in other.statuses.items():
            self.statuses[op].update(counter)
        self.problems.extend(other.problems)
        self.retry_after_missing += other.retry_after_missing


class Http:
    def __init__(self, port: int, token: str, stats: Stats):
        self.port, self.stats = port, stats
        self.auth = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn:
            self.conn.close()
            self.conn = None

    def once(self, op: str, method: str, path: str, body=None, headers=None) -> Answer:
        hdrs = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        t0 = time.monotonic()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                t1 = time.monotonic()
                answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload, t0, t1)
                if resp.will_close:
                    self.close()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed between two requests: one new try on
                # a fresh connection. A second failure is a transport error (status 0).
                self.close()
                if attempt == 2:
                    t1 = time.monotonic()
                    answer = Answer(0, {}, b"", t0, t1)
        self.stats.latency[op].append(answer.t1 - answer.t0)
        self.stats.statuses[op][answer.status] += 1
        if answer.status == 503 and "retry-after" not in answer.headers:
            self.stats.retry_after_missing += 1
        return answer

    def call(self, op: str, method: str, path: str, body=None, headers=None, retry_503: bool = True,
             attempts: list | None = None) -> Answer:
        """`once`, sent again after Retry-After on a 503 (at most 5 times). Every attempt's
        (t0, t1, status) goes to `attempts` when given."""
        for _ in range(6):
            answer = self.once(op, method, path, body, headers)
            if attempts is not None:
                attempts.append((answer.t0, answer.t1, answer.status))
            if answer.status != 503 or not retry_503:
                return answer
            try:
                wait = float(answer.headers.get("retry-after", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(min(wait, 2.0))
        return answer


# ---------------------------------------------------------------------------------------------
# What the clients did, for the final check.


class Sent:
    """One message id: what was sent for it and what was acknowledged."""

    __slots__ = ("job", "id", "role", "metadata_text", "texts", "create_attempts", "acked_creates",
                 "acked_text", "acked_version", "complete_acked", "complete_text", "replay")

    def __init__(self, job: str, mid: str, role: str, metadata_text: str, content: str):
        self.job, self.id, self.role = job, mid, role
        self.metadata_text = metadata_text
        self.texts = [content]            # every content sent, in order; each extends the last
        self.create_attempts: list = []   # (t0, t1, status) of every POST
        self.acked_creates: list = []     # (t0, t1) of POSTs answered 201 or 200
        self.acked_text = 0               # index in texts of the newest acknowledged content
        self.acked_version = 1
        self.complete_acked = False
        self.complete_text = None
        self.replay = False


class World:
    def __init__(self, jobs: list[str]):
        self.jobs = jobs
        self.lock = threading.Lock()
        self.clears: list = []            # (job, t0, t1, status, deleted_count)
        self.touches: list = []           # (job, mid, key, value, version): acknowledged metadata keys
        self.not_found: list = []         # (job, mid, create_t0, patch_t1): PATCH 404 after an acknowledged create


def chat_path(job: str, rest: str = "") -> str:
    return f"/api/jobs/{job}/quote-chat/{rest}"


def expect(stats: Stats, op: str, answer: Answer, allowed: set[int]) -> None:
    if answer.status not in allowed:
        stats.problems.append(f"{op}: unexpected {answer.status} {answer.body[:300]!r}")


class Client(threading.Thread):
    def __init__(self, n: int, world: World, port: int, token: str, stop_at: float, seed: int):
        super().__init__(name=f"client-{n}", daemon=True)
        self.n, self.world, self.stop_at = n, world, stop_at
        self.rng = random.Random(seed * 1000 + n)
        self.stats = Stats()
        self.http = Http(port, token, self.stats)
        self.sent: list[Sent] = []
        self.seq = 0

    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    def run(self) -> None:
        try:
            while self.running():
                job = self.rng.choice(self.world.jobs)
                roll = self.rng.random()
                if roll < 0.55:
                    self.conversation(job)
                elif roll < 0.70:
                    self.touch(job)
                elif roll < 0.85:
                    self.list_newest(job)
                elif roll < 0.92:
                    self.list_whole(job)
                else:
                    self.summary(job)
        except Exception as err:  # a bug of this script: reported, never hidden
            self.stats.problems.append(f"{self.name} crashed: {err!r}")
        finally:
            self.http.close()

    def create(self, sent: Sent, body: dict, op: str = "create") -> Answer:
        answer = self.http.call(op, "POST", chat_path(sent.job), body, attempts=sent.create_attempts)
        if answer.status in (200, 201):
            sent.acked_creates.append((answer.t0, answer.t1))
        # 200 to a first POST is right too after a transport-level resend (Http.once); 503 only
        # after five retries, still documented.
        expect(self.stats, op, answer, {200, 201, 503})
        return answer

    def conversation(self, job: str) -> None:
        self.seq += 1
        base = f"c{self.n}-{self.seq}"
        # The user's message, with metadata whose number text must come back as sent.
        price = f"{self.rng.randint(1, 99)}.{self.rng.choice(['5', '50', '25', '0'])}"
        metadata_text = f'{{"price":{price},"source":"load","n":{self.seq},"nested":{{"list":[1,2.50,{{"x":null}}]}}}}'
        content = f"{self.rng.randint(1, 9)} stainless steel boxes, client {self.n} turn {self.seq} ✓"
        user = Sent(job, f"{base}-user", "user", metadata_text, content)
        self.sent.append(user)
        raw = ('{"message_id":%s,"role":"user","content":%s,"metadata":%s}'
               % (json.dumps(user.id), json.dumps(content), metadata_text)).encode()
        first = self.create(user, raw)
        if first.status == 201 and self.rng.random() < 0.15:
            # The same request again, as after a lost answer: 200 with the original timestamp,
            # unless a clear came in between (the id is then free again: 201).
            user.replay = True
            again = self.create(user, raw, op="create (replay)")
            if again.status == 200 and first.json() and again.json():
                if again.json()["data"]["timestamp"] != first.json()["data"]["timestamp"]:
                    self.stats.problems.append(f"replay of {user.id}: another timestamp")
        if not self.running():
            return
        # The assistant's reply: created empty, streamed by PATCHes of the whole text so far.
        reply = Sent(job, f"{base}-assistant", "assistant", "{}", "")
        self.sent.append(reply)
        created = self.create(reply, {"message_id": reply.id, "role": "assistant", "content": "",
                                      "status": "streaming"})
        if created.status != 201:
            return
        version = 1
        words = self.rng.randint(3, 8)
        text = ""
        for i in range(words):
            last = i == words - 1 or not self.running()
            text += ("" if not text else " ") + f"word{i}-{self.rng.randint(0, 999)}"
            reply.texts.append(text)
            body = {"content": text}
            if last:
                body["status"] = "complete"
            version = self.patch(reply, body, version, len(reply.texts) - 1, created.t0)
            if version is None or last:
                return
            time.sleep(self.rng.uniform(0.0, 0.05))  # tokens arrive

    def patch(self, sent: Sent, body: dict, version: int, text_index: int, created_t0: float) -> int | None:
        """One streamed PATCH with If-Match, re-sent on 412 with the current version. Returns the
        new version, or None when the message is gone (cleared)."""
        path = chat_path(sent.job, f"{sent.id}/")
        for _ in range(20):
            answer = self.http.call("patch", "PATCH", path, body, headers={"If-Match": f'"{version}"'})
            if answer.status == 200:
                data = answer.json()["data"]
                new_version = int(data["version"])
                etag = answer.headers.get("etag")
                if etag != f'"{new_version}"':
                    self.stats.problems.append(f"patch {sent.id}: ETag {etag} for version {new_version}")
                if data["content"] != body["content"]:
                    self.stats.problems.append(f"patch {sent.id}: answer holds another content")
                sent.acked_text = max(sent.acked_text, text_index)
                sent.acked_version = max(sent.acked_version, new_version)
                if body.get("status") == "complete":
                    sent.complete_acked = True
                    sent.complete_text = body["content"]
                return new_version
            if answer.status == 412:
                details = (answer.json() or {}).get("details") or {}
                current = details.get("current_version")
                if current is None:
                    self.stats.problems.append(f"patch {sent.id}: 412 without details.current_version")
                    return None
                if answer.headers.get("etag") != f'"{current}"':
                    self.stats.problems.append(f"patch {sent.id}: 412 with ETag {answer.headers.get('etag')} "
                                               f"but current_version {current}")
                version = int(current)
                continue
            if answer.status == 404:
                self.world_not_found(sent, created_t0, answer.t1)
                return None
            expect(self.stats, "patch", answer, {200, 404, 412, 503})
            return None
        self.stats.problems.append(f"patch {sent.id}: still 412 after 20 tries")
        return None

    def world_not_found(self, sent: Sent, created_t0: float, t1: float) -> None:
        with self.world.lock:
            self.world.not_found.append((sent.job, sent.id, created_t0, t1))

    def touch(self, job: str) -> None:
        """Another writer (a second tab): read the newest messages, then add a metadata key to a
        reply with If-Match on the version read."""
        page = self.http.call("list", "GET", chat_path(job, "?limit=10&order=desc"))
        expect(self.stats, "list", page, {200})
        if page.status != 200:
            return
        replies = [m for m in page.json()["data"]["messages"] if m["role"] == "assistant"]
        if not replies:
            return
        message = self.rng.choice(replies)
        key = f"touch-{self.n}-{self.seq}-{self.rng.randint(0, 1 << 30)}"
        answer = self.http.call("patch (other writer)", "PATCH", chat_path(job, f"{message['message_id']}/"),
                                {"metadata": {key: self.n}}, headers={"If-Match": f'"{message["version"]}"'})
        expect(self.stats, "patch (other writer)", answer, {200, 404, 412, 503})
        if answer.status == 200:
            data = answer.json()["data"]
            with self.world.lock:
                self.world.touches.append((job, message["message_id"], key, str(self.n), int(data["version"])))

    def check_page(self, messages: list, what: str) -> None:
        ids = [m["message_id"] for m in messages]
        if len(ids) != len(set(ids)):
            self.stats.problems.append(f"{what}: a message id twice in one page")

    def list_newest(self, job: str) -> None:
        page = self.http.call("list", "GET", chat_path(job, "?limit=20&order=desc"))
        expect(self.stats, "list", page, {200})
        if page.status == 200:
            messages = page.json()["data"]["messages"]
            self.check_page(messages, "list")
            keys = [(m["timestamp"], m["message_id"]) for m in messages]
            if keys != sorted(keys, reverse=True):
                self.stats.problems.append("list ?order=desc: not newest first")

    def list_whole(self, job: str) -> None:
        cursor = ""
        while True:
            query = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            page = self.http.call("list (whole, by pages)", "GET", chat_path(job, query))
            if page.status == 400 and (page.json() or {}).get("code") == "INVALID_CURSOR":
                return  # a clear between two pages: documented, start over another time
            expect(self.stats, "list (whole, by pages)", page, {200})
            if page.status != 200:
                return
            data = page.json()["data"]
            self.check_page(data["messages"], "list (whole)")
            keys = [(m["timestamp"], m["message_id"]) for m in data["messages"]]
            if keys != sorted(keys):
                self.stats.problems.append("list: not oldest first")
            cursor = data["next_cursor"]
            if not cursor:
                return

    def summary(self, job: str) -> None:
        answer = self.http.call("summary", "GET", chat_path(job, "summary/"))
        expect(self.stats, "summary", answer, {200})


class Clearer(threading.Thread):
    def __init__(self, world: World, port: int, token: str, stop_at: float, every: float, seed: int):
        super().__init__(name="clearer", daemon=True)
        self.world, self.stop_at, self.every = world, stop_at, every
        self.rng = random.Random(seed * 7919)
        self.stats = Stats()
        self.http = Http(port, token, self.stats)

    def run(self) -> None:
        try:
            order: list[str] = []
            while True:
                time.sleep(self.every * self.rng.uniform(0.5, 1.5))
                if time.monotonic() >= self.stop_at - 1:
                    return
                if not order:
                    order = list(self.world.jobs)
                    self.rng.shuffle(order)
                job = order.pop()
                # Never retried automatically (docs/api.md): a 503 leaves the clear maybe done.
                answer = self.http.call("clear", "DELETE", chat_path(job), retry_503=False)
                expect(self.stats, "clear", answer, {200, 503})
                count = None
                if answer.status == 200:
                    count = int(answer.json()["data"]["deleted_count"])
                with self.world.lock:
                    self.world.clears.append((job, answer.t0, answer.t1, answer.status, count))
        except Exception as err:
            self.stats.problems.append(f"clearer crashed: {err!r}")
        finally:
            self.http.close()


# ---------------------------------------------------------------------------------------------
# The check, once every client has stopped.


def read_whole(http_: Http, job: str) -> list:
    messages, cursor = [], ""
    while True:
        query = "?limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = http_.call("final read", "GET", chat_path(job, query))
        if page.status != 200:
            raise RuntimeError(f"final read of {job}: {page.status} {page.body[:300]!r}")
        data = page.json()["data"]
        messages.extend(data["messages"])
        cursor = data["next_cursor"]
        if not cursor:
            return messages


def verify(world: World, sent: list[Sent], http_: Http) -> dict:
    result = collections.Counter()
    problems: list[str] = []
    clears = collections.defaultdict(list)
    for job, t0, t1, status, _ in world.clears:
        clears[job].append((t0, t1, status))
    touches = collections.defaultdict(list)
    for job, mid, key, value, version in world.touches:
        touches[(job, mid)].append((key, value, version))
    stored = {}
    for job in world.jobs:
        messages = read_whole(http_, job)
        ids = collections.Counter(m["message_id"] for m in messages)
        for mid, count in ids.items():
            if count > 1:
                result["duplicated"] += 1
                problems.append(f"duplicated: {mid} appears {count} times in job {job}")
        stamps = [m["timestamp"] for m in messages]
        if any(a >= b for a, b in zip(stamps, stamps[1:])):
            result["out of order"] += 1
            problems.append(f"job {job}: timestamps not strictly increasing")
        for m in messages:
            stored[(job, m["message_id"])] = m
        # The summary's counters against the chat read whole.
        summary = http_.call("final read", "GET", chat_path(job, "summary/")).json()["data"]
        roles = collections.Counter(m["role"] for m in messages)
        if int(summary["message_count"]) != len(messages) or \
                {k: int(v) for k, v in summary["by_role"].items()} != dict(roles):
            result["summary mismatch"] += 1
            problems.append(f"job {job}: summary {summary['message_count']} {summary['by_role']} but "
                            f"{len(messages)} {dict(roles)} read")
    known = set()
    for s in sent:
        known.add((s.job, s.id))
        job_clears = clears[s.job]
        # A create attempt that was not refused (4xx) may have written, acknowledged or not.
        maybe_written = [(t0, t1) for t0, t1, status in s.create_attempts if status in (0, 200, 201) or status >= 500]
        if not maybe_written:
            continue
        result["create attempts that may have written"] += 1
        if s.acked_creates:
            result["acknowledged creates"] += 1
        must_present = any(all(c1 < a0 for _, c1, _ in job_clears) for a0, _ in s.acked_creates)
        must_absent = all(any(c0 > w1 for c0, _, st in job_clears if st == 200) for _, w1 in maybe_written)
        message = stored.get((s.job, s.id))
        if message is None:
            if must_present:
                result["lost"] += 1
                problems.append(f"lost: {s.id} in job {s.job} (acknowledged, no clear after it)")
            elif must_absent:
                result["absent, cleared after its create"] += 1
            elif not s.acked_creates:
                result["absent, create never acknowledged"] += 1
            else:
                result["absent, create raced a clear"] += 1
            continue
        if must_absent:
            result["resurrected"] += 1
            problems.append(f"resurrected: {s.id} in job {s.job} is present after a clear acknowledged after it")
            continue
        result["present" if must_present else "present, create raced a clear"] += 1
        bad = []
        if message["role"] != s.role:
            bad.append(f"role {message['role']}")
        expected_metadata = json.loads(s.metadata_text, parse_float=str, parse_int=str)
        metadata = dict(message["metadata"])
        for key, value, version in touches.get((s.job, s.id), []):
            if metadata.pop(key, None) != value:
                bad.append(f"metadata key {key} of an acknowledged PATCH lost (no lost update)")
        if metadata != expected_metadata:
            bad.append(f"metadata {message['metadata']} != {s.metadata_text}")
        if message["content"] not in s.texts:
            bad.append("content never sent")
        elif s.texts.index(message["content"]) < s.acked_text:
            bad.append("content older than an acknowledged PATCH")
        version = int(message["version"])
        if version < s.acked_version or any(version < v for _, _, v in touches.get((s.job, s.id), [])):
            bad.append(f"version {version} below an acknowledged one")
        if s.complete_acked and (message["status"] != "complete" or message["content"] != s.complete_text):
            bad.append(f"status {message['status']} after an acknowledged completion")
        if bad:
            result["stale or wrong"] += 1
            problems.append(f"{s.id} in job {s.job}: " + "; ".join(bad))
    for (job, mid) in stored:
        if (job, mid) not in known:
            result["unknown messages"] += 1
            problems.append(f"unknown message {mid} in job {job}")
    # Read-your-writes: a PATCH that found no message, though no clear of the job began between
    # the create and that PATCH's answer.
    for job, mid, created_t0, patch_t1 in world.not_found:
        if not any(created_t0 < c0 < patch_t1 or c0 <= created_t0 <= c1 for c0, c1, _ in clears[job]):
            result["read-your-writes violations"] += 1
            problems.append(f"read-your-writes: PATCH of {mid} in job {job} answered 404 with no clear")
    result["present total"] = len(stored)
    return {"counts": dict(result), "problems": problems}


# ---------------------------------------------------------------------------------------------
# The report.


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def main() -> int:
    args = parse_args()
    if os.environ.get(INNER) != "1":
        # Come back inside an in-memory DynamoDB Local on a free port; the helper stops it.
        os.environ[INNER] = "1"
        helper = os.path.join(ROOT, "scripts", "dynamodb-local.sh")
        os.execv(helper, [helper, "with", sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
    if not os.environ.get("DYNAMODB_ENDPOINT"):
        sys.exit("DYNAMODB_ENDPOINT is not set (run through scripts/dynamodb-local.sh with)")
    binary, build = pick_binary(args.binary)
    server = Server(binary)
    try:
        server.start()
        user = "load-user"
        jobs = [server.helper("job", user) for _ in range(args.jobs)]
        token = server.helper("token", user)
        print(f"load: {args.clients} clients for {args.duration:g} s over {args.jobs} jobs, a clear every "
              f"~{args.clear_every:g} s; local API ({build} build, {os.path.relpath(binary, ROOT)}) on "
              f"127.0.0.1:{server.port}, DynamoDB Local in memory at {os.environ['DYNAMODB_ENDPOINT']}; "
              f"seed {args.seed}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        world = World(jobs)
        start = time.monotonic()
        stop_at = start + args.duration
        clients = [Client(n, world, server.port, token, stop_at, args.seed) for n in range(args.clients)]
        threads: list = list(clients)
        clearer = None
        if args.clear_every > 0:
            clearer = Clearer(world, server.port, token, stop_at, args.clear_every, args.seed)
            threads.append(clearer)
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 120)
        hung = [t.name for t in threads if t.is_alive()]
        elapsed = time.monotonic() - start
        stats = Stats()
        for t in threads:
            stats.merge(t.stats)
        if hung:
            stats.problems.append(f"threads still running after the run: {hung}")
        sent = [s for c in clients for s in c.sent]
        check_stats = Stats()
        checker = Http(server.port, token, check_stats)
        try:
            checked = verify(world, sent, checker)
        finally:
            checker.close()
        stats.merge(check_stats)
        server_log = server.tail(20)
    finally:
        server.stop_process()
        warnings = server.warnings()
        server.stop()

    load_after = os.getloadavg()[0]
    # Throughput counts the load's requests (not the final reads).
    ops = [op for op in stats.latency if op != "final read"]
    total = sum(len(stats.latency[op]) for op in ops)
    report = {
        "build": build, "clients": args.clients, "duration_s": round(elapsed, 1), "jobs": args.jobs,
        "load_average_after": round(load_after, 1), "cores": os.cpu_count(),
        "clears": len(world.clears), "requests": total, "throughput_rps": round(total / elapsed, 1),
        "operations": {}, "checks": checked["counts"],
    }
    print()
    print(f"{'operation':<24} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for op in sorted(ops, key=lambda o: -len(stats.latency[o])):
        values = stats.latency[op]
        p50, p99, worst = (quantile(values, 0.5) * 1000, quantile(values, 0.99) * 1000, max(values) * 1000)
        statuses = dict(sorted(stats.statuses[op].items()))
        report["operations"][op] = {"requests": len(values), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                                    "max_ms": round(worst, 1), "statuses": {str(k): v for k, v in statuses.items()}}
        status_text = " ".join(f"{k}:{v}" for k, v in statuses.items())
        print(f"{op:<24} {len(values):>8} {len(values) / elapsed:>7.1f} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f}  {status_text}")
    all_values = [v for op in ops for v in stats.latency[op]]
    print(f"{'all':<24} {total:>8} {total / elapsed:>7.1f} {quantile(all_values, 0.5) * 1000:>8.1f} "
          f"{quantile(all_values, 0.99) * 1000:>8.1f} {max(all_values, default=0) * 1000:>8.1f}")
    report["p50_ms"] = round(quantile(all_values, 0.5) * 1000, 1)
    report["p99_ms"] = round(quantile(all_values, 0.99) * 1000, 1)

    errors = collections.Counter()
    for op in ops:
        for status, n in stats.statuses[op].items():
            if status < 200 or status >= 300:
                errors[(op, status)] += n
    print()
    print("answers other than 2xx, by status (412 and 404 are the races the clients handle; 400 on a")
    print("list by pages is a cursor that a clear invalidated; 0 = transport error):")
    if not errors:
        print("  none")
    for (op, status), n in sorted(errors.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {status} {op}: {n}")
    report["errors_by_status"] = {f"{op} {status}": n for (op, status), n in errors.items()}

    counts = checked["counts"]
    five_xx = sum(n for (op, status), n in errors.items() if status >= 500 and status != 503)
    transport = sum(n for (op, status), n in errors.items() if status == 0)
    documented_503 = sum(n for (op, status), n in errors.items() if status == 503)
    failures = {
        "lost": counts.get("lost", 0),
        "duplicated": counts.get("duplicated", 0),
        "resurrected": counts.get("resurrected", 0),
        "stale or wrong": counts.get("stale or wrong", 0),
        "out of order": counts.get("out of order", 0),
        "summary mismatch": counts.get("summary mismatch", 0),
        "unknown messages": counts.get("unknown messages", 0),
        "read-your-writes violations": counts.get("read-your-writes violations", 0),
        "5xx other than 503": five_xx,
        "503 without Retry-After": stats.retry_after_missing,
        "transport errors": transport,
        "other problems": len(stats.problems),
    }
    report["failures"] = failures
    report["documented_503"] = documented_503
    print()
    print(f"check, per message id ({len(world.clears)} clears raced the writers):")
    for key in ("acknowledged creates", "present", "present, create raced a clear",
                "absent, cleared after its create", "absent, create raced a clear",
                "absent, create never acknowledged", "present total"):
        print(f"  {key}: {counts.get(key, 0)}")
    print(f"  503 with Retry-After (documented): {documented_503}")
    for key, n in failures.items():
        print(f"  {key}: {n}")
    for line in (checked["problems"] + stats.problems)[:40]:
        print(f"  ! {line}")
    print("the local API's warnings and errors (why the 503s):" if warnings else "the local API logged no warning or error")
    for text, n in warnings.most_common(10):
        print(f"  {n} × {text}")
    report["server_warnings"] = dict(warnings)
    ok = not any(failures.values())
    if not ok and server_log.strip():
        print("\nthe local API's last log lines:\n" + server_log)
    print()
    print(f"load: {'PASS' if ok else 'FAIL'}: {total} requests in {elapsed:.1f} s = {total / elapsed:.1f} req/s, "
          f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms ({build} build); lost={failures['lost']} "
          f"duplicated={failures['duplicated']} 5xx(other than 503)={five_xx}; load average {load_after:.1f} "
          f"on {os.cpu_count()} cores")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

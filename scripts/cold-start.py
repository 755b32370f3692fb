#!/usr/bin/env python3
"""Cold start, warm latency, peak memory and size of Lambda binaries, each run as a real process
on an emulated Lambda Runtime API (the way the Lambda service runs a `provided.al2023` function).

  cold start    spawn → the binary's first GET /runtime/invocation/next: logging, configuration
                and the DynamoDB client ready
  first answer  spawn → the response to the first event is posted (its first DynamoDB calls,
                connection set-up included)
  warm          event handed out → its response posted, for the events after the first
  peak RSS      VmHWM of the process once it has served them all

Usage:
  scripts/cold-start.py BINARY...                      cold start only (no DynamoDB needed)
  scripts/cold-start.py --endpoint URL --messages-table T --jobs-table J --job ID \\
      --clear-job ID [--json] BINARY...                all of the above on DynamoDB Local

Each function gets its own route's event from events/ (aimed at --job; the clear function's at
--clear-job, so the others keep their messages); a binary named `bare` (bench/src/bin/bare.rs)
gets the list event, `fallback` the list event too (it answers unknown routes), `sweep` a
scheduled event. Rounds interleave the binaries, so machine noise hits them alike. `make bench`
runs it through target/release/table, which seeds the jobs and prints the one table.
"""
import argparse
import http.server
import json
import os
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_JOB = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42"
RUNS = int(os.environ.get("COLD_START_RUNS", "9"))
WARM = 5  # events after the first, per process


# SAM's logical id of a function (`ListFunction` for the binary `list`), where `make build`
# leaves its arm64 bootstrap: .aws-sam/build/<id>/bootstrap (scripts/functions.sh sam).
def sam_name(binary):
    return os.path.basename(binary).capitalize() + "Function"


def arm64_state():
    """Whether `make build`'s arm64 bootstraps are of the code as it is now: "current",
    "stale" (built from other sources, or unknown ones) or "missing", by
    scripts/source-stamp.sh."""
    build = os.path.join(ROOT, ".aws-sam", "build")
    stamp_file = os.path.join(build, "source-stamp")
    if not os.path.isfile(stamp_file):
        built = any(os.path.isfile(os.path.join(build, n, "bootstrap"))
                    for n in os.listdir(build)) if os.path.isdir(build) else False
        return "stale" if built else "missing"  # built before stamps: of unknown code
    with open(stamp_file) as f:
        built_from = f.read().strip()
    now = subprocess.run([os.path.join(ROOT, "scripts", "source-stamp.sh")], check=True,
                         capture_output=True, text=True).stdout.strip()
    return "current" if built_from == now else "stale"


def event_for(name, args):
    """The event a function serves, as API Gateway (or EventBridge) would send it."""
    if name == "sweep":
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "detail": {}}
    route = {"bare": "list", "fallback": "list"}.get(name, name)
    with open(os.path.join(ROOT, "events", f"{route}.json")) as f:
        text = f.read()
    job = args.clear_job if route == "clear" else args.job
    event = json.loads(text.replace(DEMO_JOB, job))
    # A warm PATCH names no version: each would otherwise meet the previous one's.
    event.get("headers", {}).pop("if-match", None)
    return event


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        if not self.path.endswith("/runtime/invocation/next"):
            return self.answer(404)
        now = time.perf_counter()
        if server.first_next is None:
            server.first_next = now
        if not server.events:
            server.done.set()
            server.stop.wait()
            # The process was killed while it waited: there is no one left to answer.
            self.close_connection = True
            return None
        event = server.events.pop(0)
        request_id = str(uuid.uuid4())
        deadline = int(time.time() * 1000) + 30_000
        body = json.dumps(event).encode()
        server.sent[request_id] = time.perf_counter()
        self.answer(200, body, [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn",
             f"arn:aws:lambda:us-east-1:123456789012:function:{server.name}"),
            ("Lambda-Runtime-Trace-Id", "Root=1-65a50928-0123456789abcdef01234567;Sampled=0"),
        ])

    def do_POST(self):
        now = time.perf_counter()
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.strip("/").split("/")
        if len(parts) >= 5 and parts[-1] in ("response", "error"):
            request_id = parts[-2]
            took = now - server.sent.pop(request_id, now)
            if server.first_answer is None:
                server.first_answer = now
            else:
                server.warm.append(took * 1000)
            try:
                server.statuses.append(json.loads(body).get("statusCode", parts[-1]))
            except (ValueError, AttributeError):
                server.statuses.append(parts[-1])
        elif parts[-1] == "error":
            server.statuses.append("init error")
            server.done.set()
        self.answer(202, b'{"status":"OK"}')

    def log_message(self, *args):
        pass


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def once(binary, args):
    """One process: its cold start, first answer, warm latencies and peak RSS."""
    name = os.path.basename(binary)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.name = name
    server.first_next = server.first_answer = None
    server.warm, server.statuses, server.sent = [], [], {}
    server.done, server.stop = threading.Event(), threading.Event()
    server.events = [event_for(name, args) for _ in range(WARM + 1)] if args.endpoint else []
    # Polled often: shutdown() waits for the next poll, which would add up over the runs.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    # A clean environment: the Lambda service's variables and the template's, nothing else.
    env = {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "coldstart",
        "AWS_SECRET_ACCESS_KEY": "coldstart",
        "CURSOR_SECRET": "cold-start-measurement-secret",
    }
    if args.endpoint:
        env.update(DYNAMODB_ENDPOINT=args.endpoint, MESSAGES_TABLE=args.messages_table,
                   JOBS_TABLE=args.jobs_table)
    started = time.perf_counter()
    # COLD_START_LOG=FILE keeps what the processes print (to see why one answers 500).
    log = open(os.environ["COLD_START_LOG"], "ab") if os.environ.get("COLD_START_LOG") else None
    process = subprocess.Popen([binary], env=env, stdout=log or subprocess.DEVNULL,
                               stderr=log or subprocess.DEVNULL)
    try:
        if not server.done.wait(30):
            raise SystemExit(f"{name} did not serve its events within 30 s")
        if server.first_next is None:
            raise SystemExit(f"{name} never asked for an event")
        rss = peak_rss_kib(process.pid)
        first = (server.first_answer - started) * 1000 if server.first_answer else None
        return (server.first_next - started) * 1000, first, server.warm, rss, server.statuses
    finally:
        process.kill()
        process.wait()
        if log:
            log.close()
        server.stop.set()
        server.shutdown()
        server.server_close()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--messages-table", default="quote-chat-messages")
    parser.add_argument("--jobs-table", default="jobs")
    parser.add_argument("--job", default=DEMO_JOB)
    parser.add_argument("--clear-job", default=DEMO_JOB)
    parser.add_argument("--json", action="store_true", help="print JSON for bench's table")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    results = {b: {"cold": [], "first": [], "warm": [], "rss": [], "statuses": set()}
               for b in args.binaries}
    for round_ in range(RUNS):
        # Interleaved, and the order rotated, so no binary always follows the same one.
        shift = round_ % len(args.binaries)
        for binary in args.binaries[shift:] + args.binaries[:shift]:
            cold, first, warm, rss, statuses = once(binary, args)
            r = results[binary]
            r["cold"].append(cold)
            r["first"].append(first)
            r["warm"].extend(warm)
            r["rss"].append(rss)
            r["statuses"].update(str(s) for s in statuses)
    functions = []
    arm64 = arm64_state()
    names = [os.path.basename(b) for b in args.binaries]
    for binary in args.binaries:
        name = os.path.basename(binary)
        if names.count(name) > 1:  # variants of one function: named by their directory
            name = f"{os.path.basename(os.path.dirname(binary))}/{name}"
        r = results[binary]
        bootstrap = os.path.join(ROOT, ".aws-sam", "build", sam_name(binary), "bootstrap")
        rss = median(r["rss"])
        functions.append({
            "name": name,
            "cold_ms": median(r["cold"]),
            "first_answer_ms": median(r["first"]),
            "warm_ms": median(r["warm"]),
            "rss_kib": int(rss) if rss else None,
            "bytes": os.path.getsize(binary),
            "arm64_bytes": (os.path.getsize(bootstrap)
                            if arm64 == "current" and os.path.isfile(bootstrap) else None),
            "statuses": sorted(r["statuses"]),
        })
    for f in functions:
        fmt = lambda v, unit="ms": "—" if v is None else f"{v:.1f} {unit}"
        print(f"{f['name']:9} cold {fmt(f['cold_ms'])}  first answer {fmt(f['first_answer_ms'])}"
              f"  warm {fmt(f['warm_ms'])}  peak RSS {fmt(f['rss_kib'] and f['rss_kib'] / 1024, 'MiB')}"
              f"  {f['bytes'] / 1e6:.2f} MB  answers {','.join(f['statuses']) or '—'}"
              f"  ({RUNS} runs)", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        json.dump({"runs": RUNS, "arm64": arm64, "functions": functions}, sys.stdout)


if __name__ == "__main__":
    main()

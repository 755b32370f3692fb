#!/usr/bin/env python3
"""Cold start of Lambda binaries: time from spawn until the binary asks a (fake) Lambda Runtime
API for its first event, i.e. logging, configuration and the DynamoDB client are ready.
Usage: scripts/cold-start.py BINARY... (make bench runs it on the release builds)."""
import http.server
import os
import socketserver
import statistics
import subprocess
import sys
import threading
import time

RUNS = 15


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if "/runtime/invocation/next" in self.path:
            self.server.first_next = time.perf_counter()
            self.server.asked.set()
        # No event is ever handed out: the process is killed once it has asked.
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def once(binary):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.asked = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME=os.path.basename(binary),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="cold-start",
        AWS_SECRET_ACCESS_KEY="cold-start",
        CURSOR_SECRET="cold-start-measurement-secret",
        RUST_LOG="warn",
    )
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.asked.wait(10):
            raise SystemExit(f"{binary} never asked for an event")
        return (server.first_next - started) * 1000
    finally:
        process.kill()
        process.wait()
        server.shutdown()


def main():
    for binary in sys.argv[1:]:
        times = [once(binary) for _ in range(RUNS)]
        print(
            f"cold start {os.path.basename(binary):9} median {statistics.median(times):6.1f} ms"
            f"  min {min(times):6.1f}  max {max(times):6.1f}  ({RUNS} runs, {os.path.getsize(binary) // 1024} KiB)"
        )


if __name__ == "__main__":
    main()

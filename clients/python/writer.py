"""A server-side writer of an assistant reply, on a client generated from openapi.yaml.

What a backend task (a Django view, a Celery task) does while it streams an LLM's answer into a
job's chat, so that every open page follows it live (docs/api.md, "A server-side writer in
Python"):

1. create the reply empty, ``status: streaming`` (version 1);
2. PATCH the whole text so far as it arrives, each PATCH with ``If-Match: "<version>"`` of the
   previous answer (versions 2, 3, ...);
3. on ``412 PRECONDITION_FAILED`` read ``details.current_version`` from the typed error and send
   the same body again with it (here the answer of one PATCH is dropped on purpose, as a lost
   answer would be, so that the next PATCH meets the 412 and recovers);
4. end with the whole text, ``status: complete`` and a metadata change.

The client package ``quote_chat_client`` is generated, not committed::

    .tools/venv/bin/openapi-python-client generate --path openapi.yaml \\
        --output-path target/python-client --overwrite
    PYTHONPATH=target/python-client .tools/venv/bin/python clients/python/writer.py \\
        --api http://127.0.0.1:3000 --job 5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42 \\
        --token "$(make -s token USER=demo-user)"

Prints one JSON line (message id, version, status, conflicts recovered, content) and exits 0;
any other answer than the flow expects prints the error and exits 1. Type-checked with
``mypy --strict`` together with the generated package (scripts/python-writer-test.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from typing import NoReturn, TypeVar

import httpx

from quote_chat_client import AuthenticatedClient
from quote_chat_client.api.quote_chat import create_message, get_message, patch_message
from quote_chat_client.models import (
    CreatedResponse,
    Error412,
    Message,
    MessagePatch,
    MessageResponse,
    MetadataPatch,
    NewMessage,
    Role,
    Status,
)
from quote_chat_client.types import Response


T = TypeVar("T")


class WriterError(Exception):
    """An answer the flow does not expect."""


def fail(step: str, response: Response[T]) -> NoReturn:
    """Stops the flow on an unexpected answer, naming the error code and request id if any."""
    parsed = response.parsed
    code = getattr(parsed, "code", None)
    request_id = getattr(parsed, "request_id", None)
    detail = f"{getattr(code, 'value', code)}" if code is not None else response.content[:200].decode("utf-8", "replace")
    raise WriterError(f"{step}: HTTP {int(response.status_code)} {detail} (request_id {request_id})")


def fake_llm(chunks: int) -> Iterator[str]:
    """Stands in for the LLM's stream: the pieces of the reply, one at a time."""
    for i in range(1, chunks + 1):
        yield f"Part {i} of the reply. "


def if_match(version: int) -> str:
    """The If-Match value for a version: the ETag form, quoted."""
    return f'"{version}"'


def patch(
    client: AuthenticatedClient, job: uuid.UUID, message_id: str, body: MessagePatch, version: int
) -> tuple[Message, int]:
    """PATCHes with If-Match = version; on 412 sends the same body again with the current version
    read from the typed error's details. Returns the updated message and the 412s recovered."""
    conflicts = 0
    while True:
        response = patch_message.sync_detailed(job, message_id, client=client, body=body, if_match=if_match(version))
        parsed = response.parsed
        if isinstance(parsed, MessageResponse):
            return parsed.data, conflicts
        if isinstance(parsed, Error412) and conflicts == 0:
            # Someone wrote since `version` — here, our own PATCH whose answer was lost. This
            # writer owns the reply and always sends its whole text, so it overwrites — unless
            # the reply was ended meanwhile (a page's regenerate() took it over, status `error`):
            # then it is no longer this writer's to write.
            current = get_message.sync_detailed(job, message_id, client=client)
            if not isinstance(current.parsed, MessageResponse):
                fail(f"GET {message_id}", current)
            if current.parsed.data.status != Status.STREAMING:
                raise WriterError(f"PATCH {message_id}: the reply was ended elsewhere ({current.parsed.data.status.value}); stopping")
            conflicts += 1
            version = parsed.details.current_version
            continue
        fail(f"PATCH {message_id} (If-Match {if_match(version)})", response)


def write_reply(client: AuthenticatedClient, job: uuid.UUID, message_id: str, chunks: int) -> dict[str, object]:
    created = create_message.sync_detailed(
        job,
        client=client,
        body=NewMessage(message_id=message_id, role=Role.ASSISTANT, content="", status=Status.STREAMING),
    )
    if not (int(created.status_code) == 201 and isinstance(created.parsed, CreatedResponse)):
        fail(f"POST {message_id}", created)
    version = 1
    text = ""
    conflicts = 0
    lose_answer_of = chunks // 2  # the PATCH whose answer this writer "does not receive"
    for i, chunk in enumerate(fake_llm(chunks), start=1):
        text += chunk
        message, recovered = patch(client, job, message_id, MessagePatch(content=text), version)
        conflicts += recovered
        if i != lose_answer_of:
            version = message.version
    final = MessagePatch(
        content=text,
        status=Status.COMPLETE,
        metadata=MetadataPatch.from_dict({"chunks": chunks, "writer": "python"}),
    )
    message, recovered = patch(client, job, message_id, final, version)
    conflicts += recovered
    return {
        "message_id": message.message_id,
        "version": message.version,
        "status": message.status.value,
        "conflicts_recovered": conflicts,
        "metadata": message.metadata.to_dict(),
        "content": message.content,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--api", default=os.environ.get("QUOTE_CHAT_API", "http://127.0.0.1:3000"))
    parser.add_argument("--token", default=os.environ.get("QUOTE_CHAT_TOKEN"), help="a JWT (env QUOTE_CHAT_TOKEN)")
    parser.add_argument("--job", default=os.environ.get("QUOTE_CHAT_JOB"), help="the job id, a UUID in any case")
    parser.add_argument("--message-id", help="default: a fresh assistant-<uuid> per run")
    parser.add_argument("--chunks", type=int, default=20, help="PATCHes before the final one (default 20)")
    args = parser.parse_args(argv)
    if not args.token or not args.job:
        parser.error("--token and --job are required (or QUOTE_CHAT_TOKEN and QUOTE_CHAT_JOB)")
    if args.chunks < 2:
        parser.error("--chunks must be at least 2 (one answer is dropped to provoke a 412)")
    try:
        job = uuid.UUID(args.job)
    except ValueError:
        parser.error(f"--job {args.job!r} is not a UUID")
    message_id: str = args.message_id or f"assistant-{uuid.uuid4()}"
    client = AuthenticatedClient(
        base_url=args.api, token=args.token, raise_on_unexpected_status=True, timeout=httpx.Timeout(10.0)
    )
    try:
        with client:
            result = write_reply(client, job, message_id, args.chunks)
    except (WriterError, httpx.HTTPError) as e:
        print(f"writer: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the generated client's UnexpectedStatus, a malformed answer
        print(f"writer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

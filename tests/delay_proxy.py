"""A TCP proxy on loopback that holds every byte from the client for a fixed delay.

The tests' own "gateway": in front of a mock, it adds a known delay to each request (the
request's bytes reach the server `delay_s` after the client wrote them; the answer comes back
at once), so the gateway overhead a run reports can be checked against the truth. It runs an
asyncio loop in a thread of the test process; `delays` holds the delay each chunk really got
(the loop may wake late on a busy machine), so a test compares with what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class DelayProxy:
    """A running proxy: its port, and the delay each forwarded chunk of requests had."""

    port: int = 0
    delays: list[float] = field(default_factory=list)


@contextlib.contextmanager
def delay_proxy(upstream_port: int, delay_s: float) -> Iterator[DelayProxy]:
    """Proxy 127.0.0.1:<free port> → 127.0.0.1:`upstream_port`, each client chunk held
    `delay_s`; stopped on exit."""
    proxy = DelayProxy()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def pipe_delayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def forward() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                proxy.delays.append(time.perf_counter() - due + delay_s)
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(forward())
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.perf_counter() + delay_s, data))
                if not data:
                    break
            await sender
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            pipe_delayed(client_r, server_w), pipe(server_r, client_w), return_exceptions=True
        )

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())
        # let the cancelled connections' tasks finish closing their sockets
        pending = asyncio.all_tasks(loop)
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))

    thread = threading.Thread(target=run, name="delay-proxy", daemon=True)
    thread.start()
    assert ready.wait(10), "the delay proxy did not start"
    try:
        yield proxy
    finally:

        def cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        loop.call_soon_threadsafe(cancel_all)
        thread.join(10)
        if not thread.is_alive():
            loop.close()

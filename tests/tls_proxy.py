"""A TLS-terminating proxy for tests: HTTPS on loopback in front of a plain-HTTP server.

``python -m tests.tls_proxy --upstream 127.0.0.1:PORT --cert CERT --key KEY`` prints
``tls listening on https://127.0.0.1:PORT`` and serves until killed. Each accepted connection
is wrapped in TLS and piped both ways to its own upstream connection, one thread per
direction, every read forwarded at once (TCP_NODELAY on both sides), so the upstream's timing
reaches the client within a fraction of a millisecond.

It runs as its own process: the pytest process may be gevent-monkey-patched by modules that
import Locust, so no threaded server lives there.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import ssl
import threading


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _serve(raw: socket.socket, context: ssl.SSLContext, upstream: tuple[str, int]) -> None:
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):  # the client refused our certificate: its test's point
        raw.close()
        return
    try:
        server = socket.create_connection(upstream, timeout=5)
    except OSError:
        client.close()
        return
    server.settimeout(None)
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pipe, args=(server, client), daemon=True)
    back.start()
    _pipe(client, server)
    back.join()
    client.close()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP server")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"tls listening on https://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=_serve, args=(raw, context, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    main()

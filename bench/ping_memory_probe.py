#!/usr/bin/env python3
"""Memory per held ActiveSync Ping: easgate's RSS growth per device holding a Ping.

Starts easgate in front of a fake Exchange (in this process) that never answers a Ping, opens
--pings TLS connections with a device certificate, each sending a Ping, waits until Exchange holds
every one of them, and reads easgate's VmRSS. With --churn N, N short connections (TLS handshake,
one request answered at once) and one round of held Pings dropped again come first, so the number
includes what the allocator keeps after connections come and go. Prints one JSON line.

  bench/ping_memory_probe.py --easgate build/bin/easgate --upstream https1.3 --pings 2000 --churn 4000

Needs the openssl command line tool. Noisy: run each configuration more than once.
"""
import argparse
import asyncio
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PING = ("POST /Microsoft-Server-ActiveSync?Cmd={cmd}&User=alice&DeviceId=D{n}&DeviceType=Probe HTTP/1.1\r\n"
        "Host: localhost\r\nMS-ASProtocolVersion: 14.1\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n"
        "Content-Length: 13\r\n\r\n").encode() + bytes([3, 1, 106, 0, 0, 13, 69, 72, 3, 54, 48, 0, 1])
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def make_pki(folder):
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    def ca(name):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem")

    def issue(name, issuer, extensions):
        with open(os.path.join(folder, f"{name}.ext"), "w") as ext:
            ext.write(extensions)
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")

    ca("server-ca")
    ca("device-ca")
    issue("server", "server-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    issue("alice", "device-ca", "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.test\n"
                                "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n")


class FakeExchange:
    """Answers every request at once, except a Ping, which it holds until the connection ends."""

    def __init__(self):
        self.held = 0

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                if b"Cmd=Ping" in head:
                    self.held += 1
                    await reader.read()  # until easgate closes it
                    self.held -= 1
                    return
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


async def device(port, tls, n, cmd, hold):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname="localhost")
    writer.write(PING.replace(b"{cmd}", cmd.encode()).replace(b"{n}", str(n).encode()))
    await writer.drain()
    if hold:
        return writer
    await reader.readuntil(b"\r\n\r\nok")
    writer.close()
    return None


async def gather_bounded(coroutines, limit=100):
    gate = asyncio.Semaphore(limit)

    async def bounded(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(bounded(c) for c in coroutines))


async def hold_pings(port, tls, exchange, count):
    writers = await gather_bounded(device(port, tls, n, "Ping", True) for n in range(count))
    deadline = time.monotonic() + 120
    while exchange.held < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    if exchange.held < count:
        sys.exit(f"only {exchange.held} of {count} Pings reached the fake Exchange")
    await asyncio.sleep(2)  # let easgate settle
    return writers


async def drop(writers, exchange):
    for writer in writers:
        writer.transport.abort()
    while exchange.held > 0:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)


async def probe(args, folder):
    exchange = FakeExchange()
    upstream_tls = None
    if args.upstream != "http":
        upstream_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        upstream_tls.load_cert_chain(f"{folder}/server.pem", f"{folder}/server.key")
        upstream_tls.maximum_version = ssl.TLSVersion.TLSv1_2 if args.upstream == "https1.2" else \
            ssl.TLSVersion.TLSv1_3
    server = await asyncio.start_server(exchange.serve, "127.0.0.1", 0, ssl=upstream_tls, backlog=4096)
    upstream_port = server.sockets[0].getsockname()[1]
    scheme = "http" if args.upstream == "http" else "https"
    port = free_port()
    with open(f"{folder}/easgate.yaml", "w") as config:
        config.write(f"""listeners:
  - address: 127.0.0.1
    port: {port}
    certificate: {folder}/server.pem
    private_key: {folder}/server.key
    client_auth:
      mode: required
      trusted_ca_file: {folder}/device-ca.pem
upstreams:
  - name: exchange
    servers: [{scheme}://localhost:{upstream_port}]
    ca_file: {folder}/server-ca.pem
admin:
  listen: 127.0.0.1:{free_port()}
logging:
  level: warn
workers: {args.workers}
""")
    log = open(f"{folder}/easgate.log", "w")
    gateway = subprocess.Popen([args.easgate, "run", "--config", f"{folder}/easgate.yaml"], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        tls = ssl.create_default_context(cafile=f"{folder}/server-ca.pem")
        tls.load_cert_chain(f"{folder}/alice.pem", f"{folder}/alice.key")
        await wait_listening(port)
        await gather_bounded(device(port, tls, n, "Sync", False) for n in range(20))  # warm-up
        before = vm_rss_kib(gateway.pid)
        if args.churn:
            await gather_bounded(device(port, tls, n, "Sync", False) for n in range(args.churn))
            await drop(await hold_pings(port, tls, exchange, args.pings), exchange)
        writers = await hold_pings(port, tls, exchange, args.pings)
        held = vm_rss_kib(gateway.pid)
        await asyncio.sleep(args.linger)  # time to look at the gateway with other tools (heaptrack, smaps)
        await drop(writers, exchange)
        return {"upstream": args.upstream, "pings": args.pings, "churn": args.churn, "rss_before_kib": before,
                "rss_held_kib": held, "kib_per_ping": round((held - before) / args.pings, 1)}
    finally:
        gateway.terminate()
        gateway.wait()
        server.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_listening(port):
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except ConnectionError:
            await asyncio.sleep(0.1)
    sys.exit("easgate did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--easgate", required=True)
    parser.add_argument("--upstream", choices=["http", "https1.2", "https1.3"], default="https1.3")
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--churn", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--linger", type=float, default=0, help="seconds to keep the Pings held after measuring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ping-probe-") as folder:
        make_pki(folder)
        print(json.dumps(asyncio.run(probe(args, folder))))


if __name__ == "__main__":
    main()

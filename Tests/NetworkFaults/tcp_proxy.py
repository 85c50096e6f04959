#!/usr/bin/env python3
"""A TCP proxy for the network-fault tests (issue 27): the daemon talks to the database or the
broker through it, and it adds what a bad link does and loopback never does.

  --delay-ms D      every chunk is delivered D ms after it was read (latency, not a throughput
                    cap: chunks in flight overlap, as on a long link)
  --stall-share S   with probability S a chunk is held an extra --stall-ms first (a lost
  --stall-ms T      segment waiting for its retransmission: a lossy link, without corrupting
                    the stream as a dropped byte would)

A silent partition is not done here but with an iptables DROP on the proxy's port (the test
adds and removes it): a proxy that stops forwarding still has its kernel acknowledge the
data, which is the black-holed-process case the suite already covers, not a partition.
SIGUSR1 (sent on the heal) aborts every connection it carries: those from before the
partition were given up by the daemon meanwhile, but their FIN was dropped, and the
server-side sessions behind them (holding a COPY's uncommitted rows) would otherwise linger
until TCP's timers or the server's keepalive notice.

Prints "listening <port>" once it accepts; stops on SIGTERM.
"""
import argparse
import asyncio
import os
import random
import signal
import time


async def pump(reader, writer, delay, stall_share, stall_ms, rng):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            due = time.monotonic() + delay
            if stall_share > 0 and rng.random() < stall_share:
                due += stall_ms / 1000
            await queue.put((due, data))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await delivering
    except (ConnectionError, OSError):
        pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port")
    parser.add_argument("--delay-ms", type=float, default=0)
    parser.add_argument("--stall-share", type=float, default=0)
    parser.add_argument("--stall-ms", type=float, default=0)
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    rng = random.Random(args.seed)
    delay = args.delay_ms / 1000

    carried = set()

    def abort_all():
        for writer in list(carried):
            writer.transport.abort()
        carried.clear()

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        carried.update((client_writer, up_writer))
        await asyncio.gather(
            pump(client_reader, up_writer, delay, args.stall_share, args.stall_ms, rng),
            pump(up_reader, client_writer, delay, args.stall_share, args.stall_ms, rng),
        )

    # Stop at once on SIGTERM: the kernel closes every socket; nothing here needs flushing.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, abort_all)
    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    print(f"listening {args.listen}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

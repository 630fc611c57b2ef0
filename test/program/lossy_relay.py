#!/usr/bin/python3
"""A lossy link between two interfaces, for the fault tests (the kernel
here has no sch_netem): every frame arriving on one side is sent out of the
other, except that, independently per frame and per direction, it is
  dropped      with probability LOSS,
  duplicated   with probability DUP (sent twice, back to back),
  reordered    with probability REORDER (held, and sent after the next frame
               in its direction, or after 5 ms when none comes).
Counts per direction are written as JSON to STATS on SIGTERM, so a test can
explain every frame: out = in - dropped + duplicated. With LOG, every frame
each direction took in and put out, in order (hex), is written there too,
so a test can compute the truth of exactly what was delivered.
  lossy_relay.py IFACE_A IFACE_B LOSS DUP REORDER SEED STATS [LOG]
"""
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    a, b, loss, dup, reorder, seed, stats_path = sys.argv[1:8]
    log_path = sys.argv[8] if len(sys.argv) > 8 else None
    loss, dup, reorder = float(loss), float(dup), float(reorder)
    rng = random.Random(int(seed))
    socks = {}
    for name in (a, b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    peer = {a: b, b: a}
    stats = {f'{x}->{peer[x]}': {'in': 0, 'out': 0, 'dropped': 0, 'duplicated': 0,
                                 'reordered': 0} for x in (a, b)}
    log = {d: {'in': [], 'out': []} for d in stats} if log_path else None
    held = {a: None, b: None}  # (frame, since)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def emit(src, frame):
        socks[peer[src]].send(frame)
        stats[f'{src}->{peer[src]}']['out'] += 1
        if log:
            log[f'{src}->{peer[src]}']['out'].append(frame.hex())

    print('relay ready', flush=True)
    while not stop:
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], 0.002)
        except InterruptedError:
            continue
        for src, s in socks.items():
            if s not in ready:
                continue
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:  # our own sends, seen by the raw socket
                    continue
                st = stats[f'{src}->{peer[src]}']
                st['in'] += 1
                if log:
                    log[f'{src}->{peer[src]}']['in'].append(frame.hex())
                if rng.random() < loss:
                    st['dropped'] += 1
                    continue
                copies = 1
                if rng.random() < dup:
                    st['duplicated'] += 1
                    copies = 2
                if held[src] is None and rng.random() < reorder:
                    st['reordered'] += 1
                    held[src] = (frame, copies, time.monotonic())
                    continue
                for _ in range(copies):
                    emit(src, frame)
                if held[src] is not None:
                    for _ in range(held[src][1]):
                        emit(src, held[src][0])
                    held[src] = None
        now = time.monotonic()
        for src in (a, b):
            if held[src] is not None and now - held[src][2] > 0.005:
                for _ in range(held[src][1]):
                    emit(src, held[src][0])
                held[src] = None
    for src in (a, b):
        if held[src] is not None:
            for _ in range(held[src][1]):
                emit(src, held[src][0])
    with open(stats_path, 'w') as f:
        json.dump(stats, f)
    if log_path:
        with open(log_path, 'w') as f:
            json.dump(log, f)


if __name__ == '__main__':
    main()

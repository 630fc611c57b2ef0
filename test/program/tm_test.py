#!/usr/bin/python3
"""Traffic manager test in virtual time, against an analytic model.

Two 10G ingress ports (0 and 1) each send back-to-back bursts of mixed-size
UDP packets into one 10G egress port (2), a 2:1 oversubscription, with a
small queue limit so the queue fills and tail-drops. The tm_probe program
writes the metadata the TM gave each packet into its payload. This script
computes, from first principles and independently of the switch's code, what
every packet must see:

  arrival   a = burst start + wire time of the packets before it on its
              ingress port (back to back), wire(len) = (len + 24) * 800 ps
  order     arrivals in time order; same instant: lower ingress port first
  start     s = max(a, when the egress wire finished the previous packet)
  enq_qdepth  cells(len) + cells of the accepted packets before it that have
              not started leaving by a (a packet starting exactly at a is
              still there: arrivals come first at the same instant)
  tail drop when the cells already queued + cells(len) exceed the limit
  deq_qdepth  cells of the accepted packets from it onwards that arrived by s
  deq_timedelta = (s - a) // 1000 ns, enq_tstamp = (a // 1000) mod 2^32

and checks every output record (order, identity, each field) and the drop
count the switch reports.
  tm_test.py SOFTFINO
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

from scapy.all import Ether, IP, UDP, Raw, wrpcap, RawPcapReader

PS_PER_BYTE_10G = 800
WIRE_OVERHEAD = 24
CELL = 80
LIMIT_CELLS = 120
T0_US = 1_000_000  # bursts start at t = 1 s (pcap times are microseconds)


def cells(n):
    return (n + CELL - 1) // CELL


def wire_ps(n):
    return (n + WIRE_OVERHEAD) * PS_PER_BYTE_10G


def make_bursts(rng):
    """Per ingress port: list of (start_us, [sizes]) bursts."""
    sizes = [70, 70, 128, 200, 512, 1000, 1514]  # 70: the smallest that holds record + id
    return {
        0: [(T0_US, [rng.choice(sizes) for _ in range(60)]),
            (T0_US + 200, [rng.choice(sizes) for _ in range(20)])],
        1: [(T0_US, [rng.choice(sizes) for _ in range(60)]),
            (T0_US + 90, [rng.choice(sizes) for _ in range(30)])],
    }


def frame(port, seq, size):
    """A UDP frame of `size` bytes carrying (port, seq) after the 24-byte record slot."""
    head = Ether(src="02:00:00:00:00:%02x" % port, dst="02:00:00:00:00:ff") / \
        IP(src="10.0.%d.1" % port, dst="10.0.9.9") / UDP(sport=1000 + port, dport=9)
    pad = size - len(head)
    payload = bytes(24) + struct.pack("!HH", port, seq)
    payload += bytes(pad - len(payload))
    return head / Raw(payload)


def model(bursts):
    """The analytic TM: returns the expected output records and the drop count."""
    arrivals = []  # (arrival_ps, port, seq, size)
    for port, port_bursts in bursts.items():
        free = 0
        seq = 0
        for start_us, sizes in port_bursts:
            t = max(start_us * 1_000_000, free)
            for size in sizes:
                arrivals.append((t, port, seq, size))
                t += wire_ps(size)
                seq += 1
            free = t
    arrivals.sort(key=lambda x: (x[0], x[1]))

    accepted = []  # dicts, in FIFO order
    drops = 0
    wire_free = 0
    # Starts are known as soon as a packet is accepted, because the queue is
    # FIFO: s_i = max(a_i, finish of the previous accepted packet).
    for a, port, seq, size in arrivals:
        queued = sum(cells(p["size"]) for p in accepted if p["start"] >= a)
        if queued + cells(size) > LIMIT_CELLS:
            drops += 1
            continue
        start = max(a, wire_free)
        wire_free = start + wire_ps(size)
        accepted.append({"a": a, "port": port, "seq": seq, "size": size, "start": start,
                         "enq_qdepth": queued + cells(size)})
    for i, p in enumerate(accepted):
        p["deq_qdepth"] = sum(cells(q["size"]) for q in accepted[i:] if q["a"] <= p["start"])
        p["deq_timedelta"] = (p["start"] - p["a"]) // 1000
        p["enq_tstamp"] = (p["a"] // 1000) % (1 << 32)
    return accepted, drops


def main():
    softfino = sys.argv[1]
    rng = random.Random(5)
    bursts = make_bursts(rng)
    work = tempfile.mkdtemp(prefix="softfino-tm.")
    for port in (0, 1):
        pkts = []
        seq = 0
        for start_us, sizes in bursts[port]:
            for size in sizes:
                p = frame(port, seq, size)
                p.time = start_us / 1e6  # a whole burst shares one timestamp
                pkts.append(p)
                seq += 1
        wrpcap(os.path.join(work, "in%d.pcap" % port), pkts)
    wrpcap(os.path.join(work, "empty.pcap"), [])
    config = {
        "tables": {"port_map": [
            {"key": {"ingress_port": 0}, "action": "send", "data": {"port": 2, "qid": 0}},
            {"key": {"ingress_port": 1}, "action": "send", "data": {"port": 2, "qid": 0}}]},
        "ports": [{"port": p, "speed": "10G", "queue_limit_cells": LIMIT_CELLS} for p in range(3)],
    }
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(config, f)
    cmd = [softfino, "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0",
           "--file-prefix", "tm%d" % os.getpid(), "--log-level=warning",
           "--vdev=net_pcap0,rx_pcap=%s/in0.pcap,tx_pcap=%s/out0.pcap" % (work, work),
           "--vdev=net_pcap1,rx_pcap=%s/in1.pcap,tx_pcap=%s/out1.pcap" % (work, work),
           "--vdev=net_pcap2,rx_pcap=%s/empty.pcap,tx_pcap=%s/out2.pcap" % (work, work),
           "--", "--pipeline", "tm_probe", "--config", os.path.join(work, "config.json"),
           "--clock", "virtual", "--exit-when-idle", "200",
           "--stats-json", os.path.join(work, "stats.json")]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr)
        sys.exit("FAIL: softfino exited with %d" % run.returncode)

    expected, expected_drops = model(bursts)
    actual = [bytes(d) for d, _ in RawPcapReader(os.path.join(work, "out2.pcap"))]
    failures = 0
    if len(actual) != len(expected):
        print("FAIL: %d packets out, model says %d" % (len(actual), len(expected)))
        failures += 1
    fields = ["enq_qdepth", "deq_qdepth", "deq_timedelta", "enq_tstamp"]
    for i, (raw, exp) in enumerate(zip(actual, expected)):
        rec = raw[42:42 + 24]
        enq_q, deq_q, delta, tstamp, eport, qid, _, plen, _ = struct.unpack("!IIIIHBBHH", rec)
        port, seq = struct.unpack("!HH", raw[66:70])
        got = {"enq_qdepth": enq_q, "deq_qdepth": deq_q, "deq_timedelta": delta,
               "enq_tstamp": tstamp}
        ident_ok = (port, seq) == (exp["port"], exp["seq"])
        bad = [f for f in fields if got[f] != exp[f]]
        if not ident_ok or bad or eport != 2 or qid != 0 or plen != exp["size"]:
            failures += 1
            if failures <= 10:
                print("FAIL record %d: got packet (%d,%d) %s port %d qid %d len %d; "
                      "model: packet (%d,%d) %s len %d" % (
                          i, port, seq, got, eport, qid, plen, exp["port"], exp["seq"],
                          {f: exp[f] for f in fields}, exp["size"]))
    with open(os.path.join(work, "stats.json")) as f:
        stats = json.load(f)
    if stats["drops"].get("tm_queue_full", 0) != expected_drops:
        print("FAIL: tm_queue_full = %d, model says %d" % (stats["drops"].get("tm_queue_full", 0),
                                                           expected_drops))
        failures += 1
    if failures:
        sys.exit("FAIL: %d mismatches (work dir %s)" % (failures, work))
    max_depth = max(p["enq_qdepth"] for p in expected)
    print("TM matches the analytic model: %d packets in, %d out, %d tail drops, "
          "queue up to %d cells, longest wait %d ns" % (
              sum(len(s) for b in bursts.values() for _, s in b), len(expected), expected_drops,
              max_depth, max(p["deq_timedelta"] for p in expected)))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

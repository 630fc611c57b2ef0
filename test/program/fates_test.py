#!/usr/bin/python3
"""Program test of the packet fates: unicast, multicast (rids), ingress and
egress mirroring (with truncation), recirculation, resubmit and drop, through the real softfino with
net_pcap ports and the packet_fates program (config/default.json).

The expected output of every port is computed here from the config's
meaning, independently of the switch: which copies each packet makes, where
they go, how long they are, and the 8-byte record each copy's egress pass
writes into its UDP payload (instance type, rid, egress port, session).
  fates_test.py SOFTFINO REPO_ROOT
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

from scapy.all import Ether, IP, UDP, Raw, wrpcap, RawPcapReader

NORMAL, I2E, E2E = 0, 1, 2


def stamp(frame, instance, rid, port, session):
    """What egress does: UDP checksum 0, record at the start of the payload
    (its last byte is ingress's count of extra passes, left as it is)."""
    b = bytearray(frame)
    b[40:42] = b"\x00\x00"
    b[42:49] = struct.pack("!BHHH", instance, rid, port, session)
    return bytes(b)


def passes(frame, n):
    """An extra pass through ingress (recirculated or resubmitted) counts in byte 49."""
    b = bytearray(frame)
    b[49] = n
    return bytes(b)


def oracle(frames, config):
    fates = {e["key"]["udp_dst_port"]: e for e in config["tables"]["fate"]}
    e2e = {e["key"]["egress_port"]: e["data"]["session"] for e in config["tables"]["egress_mirror"]}
    groups = {g["group"]: g["members"] for g in config["multicast_groups"]}
    sessions = {s["session"]: s for s in config["mirror_sessions"]}
    out = {p: [] for p in range(5)}
    drops = {}

    def egress(frame, port, instance, rid=0, session=0):
        stamped = stamp(frame, instance, rid, port, session)
        out[port].append(stamped)
        if instance == NORMAL and port in e2e:  # the e2e copy: as egress left it
            s = sessions[e2e[port]]
            copy = stamped[:s.get("max_len", 0) or len(stamped)]
            egress(copy, s["port"], E2E, 0, e2e[port])

    for f in frames:
        dport = struct.unpack("!H", f[36:38])[0]
        fate = fates.get(dport)
        if fate is None:
            drops["no_route"] = drops.get("no_route", 0) + 1
            continue
        action, data = fate["action"], fate.get("data", {})
        if action in ("mirror_and_forward", "mirror_and_drop"):
            s = sessions[data["session"]]
            egress(f[:s.get("max_len", 0) or len(f)], s["port"], I2E, 0, data["session"])
        if action in ("unicast", "mirror_and_forward"):
            egress(f, data["port"], NORMAL)
        elif action in ("recirculate_then", "resubmit_then"):
            # One more pass through ingress, then out of `port` (the first
            # pass's scribble on a resubmitted packet is undone).
            egress(passes(f, 1), data["port"], NORMAL)
        elif action == "multicast":
            for m in groups[data["group"]]:
                egress(f, m["port"], NORMAL, m.get("rid", 0))
        else:
            drops["program_drop"] = drops.get("program_drop", 0) + 1
    return out, drops


def run(softfino, config_path, config, frames, times, extra_args, name):
    """Runs softfino on `frames` (arriving at `times`) and compares every
    port's output, the drops and the totals with the oracle's; returns the
    failures."""
    pkts = []
    for f, t in zip(frames, times):
        p = Ether(f)
        p.time = t
        pkts.append(p)
    work = tempfile.mkdtemp(prefix="softfino-fates.")
    wrpcap(os.path.join(work, "in.pcap"), pkts)
    wrpcap(os.path.join(work, "empty.pcap"), [])
    cmd = [softfino, "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0",
           "--file-prefix", "fates%d" % os.getpid(), "--log-level=warning",
           "--vdev=net_pcap0,rx_pcap=%s/in.pcap,tx_pcap=%s/out0.pcap" % (work, work)]
    for p in range(1, 5):
        cmd.append("--vdev=net_pcap%d,rx_pcap=%s/empty.pcap,tx_pcap=%s/out%d.pcap" % (p, work, work, p))
    cmd += ["--", "--pipeline", "packet_fates", "--config", config_path, "--exit-when-idle", "200",
            "--stats-json", os.path.join(work, "stats.json")] + extra_args
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr)
        sys.exit("FAIL (%s): softfino exited with %d" % (name, run.returncode))

    expected, drops = oracle(frames, config)
    failures = 0
    for port in range(5):
        actual = [bytes(d) for d, _ in RawPcapReader(os.path.join(work, "out%d.pcap" % port))]
        if actual != expected[port]:
            failures += 1
            print("FAIL %s port %d: %d records, expected %d" % (name, port, len(actual), len(expected[port])))
            for i, (a, e) in enumerate(zip(actual, expected[port])):
                if a != e:
                    print("  first difference at record %d:\n   got      %s\n   expected %s" % (
                        i, a[:60].hex(), e[:60].hex()))
                    break
    with open(os.path.join(work, "stats.json")) as f:
        stats = json.load(f)
    got_drops = {k: v for k, v in stats["drops"].items() if v}
    if got_drops != drops:
        failures += 1
        print("FAIL %s drops: got %s, expected %s" % (name, got_drops, drops))
    copies = sum(len(v) for v in expected.values()) + sum(drops.values()) - len(frames)
    t = stats["totals"]
    if (t["received"], t["copies"], t["forwarded"]) != (len(frames), copies,
                                                        sum(len(v) for v in expected.values())):
        failures += 1
        print("FAIL %s totals: %s, expected %d received, %d copies" % (name, t, len(frames), copies))
    extra = {"recirculated": sum(struct.unpack("!H", f[36:38])[0] == 5001 for f in frames),
             "resubmitted": sum(struct.unpack("!H", f[36:38])[0] == 6001 for f in frames)}
    for key, want in extra.items():
        got = sum(p[key] for p in stats["pipes"])
        if got != want:
            failures += 1
            print("FAIL %s %s: %d, expected %d" % (name, key, got, want))
    if failures:
        print("(%s: work dir %s)" % (name, work))
    else:
        print("%s: packet fates match: %d in, %d copies, out per port %s, drops %s" % (
            name, len(frames), copies, [len(expected[p]) for p in range(5)], drops))
        subprocess.run(["rm", "-rf", work])
    return failures


def make_frames(rng, count, ports):
    frames = []
    for i in range(count):
        dport = rng.choice(ports)
        size = rng.choice([60, 100, 300, 1000])
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
            IP(src="10.0.0.1", dst="10.0.0.2", id=i) / UDP(sport=7, dport=dport)
        p = p / Raw(bytes(max(0, size - len(p))))
        frames.append(bytes(p))
    return frames


def main():
    softfino, root = sys.argv[1], sys.argv[2]
    config_path = os.path.join(root, "pipelines/packet_fates/config/default.json")
    with open(config_path) as f:
        config = json.load(f)
    rng = random.Random(3)
    # Every fate, in virtual time, packets spaced out: queues never fill,
    # and a recirculated or resubmitted packet is back before the next one.
    frames = make_frames(rng, 400, [1001, 1002, 2001, 2002, 3001, 3002, 4001, 5001, 6001, 5555])
    failures = run(softfino, config_path, config, frames, [1.0 + i * 1e-5 for i in range(len(frames))],
                   [], "every fate")
    # Unicast and multicast in real time: a received burst arrives at one
    # time, so runs of packets to one port or group go into the traffic
    # manager together, member by member (group 8 has port 1 twice: a
    # packet at a time). Each port must still get its packets in order.
    frames = make_frames(rng, 640, [1001, 1002, 2001, 2001, 2002, 2002])
    failures += run(softfino, config_path, config, frames, [1.0] * len(frames),
                    ["--clock", "real"], "bursts in real time")
    if failures:
        sys.exit("FAIL")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Compare what the switch sent (and counted) with what the l3fwd oracle expects.

Usage:
  compare_output.py --expected-dir DIR --actual PORT=FILE [--actual PORT=FILE ...]
                    [--stats STATS_JSON]

DIR is an l3fwd_workload.py output directory. Each actual pcap is compared
with DIR/expected_port{PORT}.pcap record by record: packet bytes and order
(timestamps are ignored). With --stats, the switch's counters are checked
against DIR/expected.json. Exit status: 0 on a match, 1 on any mismatch.
"""

import argparse
import json
import os
import struct
import sys
from collections import Counter
from difflib import SequenceMatcher

MAX_DETAILED = 3        # mismatching records shown in full per port
MAX_LISTED = 10         # missing/unexpected frames listed per port
HEXDUMP_BYTES = 64      # bytes of context shown around a difference


class PcapError(Exception):
    pass


def read_pcap(path):
    """Packet bytes of every record of a classic pcap file (either byte order,
    microsecond or nanosecond timestamps). Returns (frames, notes)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise PcapError(f"{path}: {len(data)} bytes, too short for a pcap header")
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    elif magic_le == 0x0A0D0D0A:
        raise PcapError(f"{path}: pcapng is not supported, expected a classic pcap file")
    else:
        raise PcapError(f"{path}: not a pcap file (magic 0x{magic_le:08x})")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != 1:
        raise PcapError(f"{path}: link type {linktype}, expected 1 (Ethernet)")

    frames, notes = [], []
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            notes.append(f"{path}: trailing partial record header ignored")
            break
        _, _, caplen, origlen = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        if offset + caplen > len(data):
            notes.append(f"{path}: record {len(frames)} truncated by end of file, ignored")
            break
        if caplen != origlen:
            notes.append(f"{path}: record {len(frames)} captured {caplen} of {origlen} bytes")
        frames.append(data[offset:offset + caplen])
        offset += caplen
    return frames, notes


# ---------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------

def field_at(frame, off):
    """Name of the header field at byte offset `off` of an Ethernet frame."""
    if off < 6:
        return "eth.dst"
    if off < 12:
        return "eth.src"
    if off < 14:
        return "eth.type"
    ethertype = frame[12:14]
    l3 = off - 14
    if ethertype == b"\x08\x00" and len(frame) > 14:
        hlen = (frame[14] & 0x0F) * 4
        names = {0: "version/ihl", 1: "tos", 2: "total_length", 3: "total_length",
                 4: "id", 5: "id", 6: "flags/frag", 7: "flags/frag", 8: "ttl", 9: "protocol",
                 10: "checksum", 11: "checksum"}
        if l3 in names:
            return "ipv4." + names[l3]
        if l3 < 16:
            return "ipv4.src"
        if l3 < 20:
            return "ipv4.dst"
        if l3 < hlen:
            return "ipv4.options"
        total = int.from_bytes(frame[16:18], "big")
        return "ipv4 payload" if l3 < total else "Ethernet padding"
    if ethertype == b"\x86\xdd":
        if l3 < 4:
            return "ipv6.version/tc/flow"
        if l3 < 6:
            return "ipv6.payload_length"
        names = {6: "ipv6.next_header", 7: "ipv6.hop_limit"}
        if l3 in names:
            return names[l3]
        if l3 < 24:
            return "ipv6.src"
        if l3 < 40:
            return "ipv6.dst"
        plen = int.from_bytes(frame[18:20], "big") if len(frame) >= 20 else 0
        return "ipv6 payload" if l3 < 40 + plen else "Ethernet padding"
    return "L3"


def hexdump_pair(expected, actual, first_diff):
    """Expected and actual bytes around the first difference, row by row,
    with a marker row under differing bytes."""
    start = max(0, (first_diff // 16) * 16 - 16)
    end = min(max(len(expected), len(actual)), start + HEXDUMP_BYTES)
    lines = []
    for row in range(start, end, 16):
        exp_row = expected[row:row + 16]
        act_row = actual[row:row + 16]
        lines.append(f"      expected {row:04x}: {exp_row.hex(' '):<47}")
        lines.append(f"      actual   {row:04x}: {act_row.hex(' '):<47}")
        marks = ["^^" if (i >= len(exp_row) or i >= len(act_row) or exp_row[i] != act_row[i]) else "  "
                 for i in range(max(len(exp_row), len(act_row)))]
        if "^^" in marks:
            lines.append("                     " + " ".join(marks).rstrip())
    if end < max(len(expected), len(actual)):
        lines.append("      ...")
    return "\n".join(lines)


class InputIndex:
    """Maps a frame seen on the wire back to the input frame it came from,
    ignoring what l3fwd may rewrite (MACs, TTL/hop limit, IPv4 checksum)."""

    def __init__(self, expected_dir, verdicts):
        self.verdicts = verdicts
        self.by_key = {}
        path = os.path.join(expected_dir, "in.pcap")
        if os.path.exists(path):
            frames, _ = read_pcap(path)
            for i, frame in enumerate(frames):
                self.by_key.setdefault(self.key(frame), []).append(i)

    @staticmethod
    def key(frame):
        b = bytearray(frame[12:])
        if b[:2] == b"\x08\x00" and len(b) >= 14:
            b[10] = b[12] = b[13] = 0
        elif b[:2] == b"\x86\xdd" and len(b) >= 10:
            b[9] = 0
        return bytes(b)

    def describe(self, frame):
        hits = self.by_key.get(self.key(frame))
        if not hits:
            return "matches no input frame"
        parts = []
        for i in hits[:3]:
            verdict = self.verdicts[i] if i < len(self.verdicts) else "?"
            parts.append(f"input #{i} (oracle: {verdict})")
        return "looks like " + ", ".join(parts) + (" ..." if len(hits) > 3 else "")


def describe_pair(i, exp, j, act, source, index):
    """Report lines for an expected record and the actual record in its place."""
    common = min(len(exp), len(act))
    diff = next((k for k in range(common) if exp[k] != act[k]), common)
    where = field_at(exp, diff) if diff < len(exp) else "past the end of the expected frame"
    return [f"  expected record {i} ({source}) vs actual record {j}: length expected {len(exp)}, "
            f"actual {len(act)}; first difference at byte {diff} ({where}); "
            f"the actual frame {index.describe(act)}",
            hexdump_pair(exp, act, diff)]


def compare_port(port, expected, actual, index, expected_inputs):
    """Returns a list of report lines; empty when the port matches."""
    if expected == actual:
        return []

    def source(i):
        return f"input #{expected_inputs[i]}" if i < len(expected_inputs) else "input ?"

    first = next(i for i in range(max(len(expected), len(actual)))
                 if i >= len(expected) or i >= len(actual) or expected[i] != actual[i])
    report = [f"port {port}: {len(actual)} frames sent, {len(expected)} expected; "
              f"records differ from index {first} on"]

    # Align the two sequences first, so that one lost or extra frame shows up
    # as such instead of making every later record differ.
    changed = missing = extra = 0
    shown = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, expected, actual, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            if changed < MAX_DETAILED:
                shown += describe_pair(i1 + k, expected[i1 + k], j1 + k, actual[j1 + k], source(i1 + k), index)
            changed += 1
        for i in range(i1 + pairs, i2):
            if missing < MAX_LISTED:
                shown.append(f"  missing: expected record {i} ({source(i)}), {len(expected[i])} bytes")
            missing += 1
        for j in range(j1 + pairs, j2):
            if extra < MAX_LISTED:
                shown.append(f"  unexpected: actual record {j}, {len(actual[j])} bytes, {index.describe(actual[j])}")
            extra += 1
    report.append(f"  after alignment: {changed} records differ, {missing} expected records missing, "
                  f"{extra} unexpected records")
    report += shown
    hidden = max(0, changed - MAX_DETAILED) + max(0, missing - MAX_LISTED) + max(0, extra - MAX_LISTED)
    if hidden:
        report.append(f"  ... {hidden} more not shown")
    if Counter(expected) == Counter(actual):
        report.append("  (same frames as expected, only the order differs)")
    return report


def check_stats(stats, expected):
    """Returns a list of report lines; empty when the counters match."""
    report = []
    exp_drops = expected["drops"]
    act_drops = stats.get("drops", {})
    # A reason missing on one side counts as 0; reasons unknown to the oracle
    # therefore have to be 0 in the switch's stats.
    for reason in sorted(set(exp_drops) | set(act_drops)):
        e, a = exp_drops.get(reason, 0), act_drops.get(reason, 0)
        if e != a:
            report.append(f"stats: drops[{reason}] = {a}, expected {e}")

    ports = stats.get("ports", [])
    if isinstance(ports, dict):      # tolerate {"0": {...}} as well as a list
        ports = [dict(v, port=int(k)) for k, v in ports.items()]
    rx = sum(p.get("rx_packets", 0) for p in ports)
    if rx != expected["received"]:
        report.append(f"stats: sum of rx_packets = {rx}, expected {expected['received']}")
    tx = {int(p["port"]): p.get("tx_packets", 0) for p in ports}
    exp_tx = {int(k): v for k, v in expected["forwarded"].items()}
    for port in sorted(set(tx) | set(exp_tx)):
        if port not in tx:
            if exp_tx[port]:
                report.append(f"stats: port {port} missing, expected tx_packets {exp_tx[port]}")
        elif tx[port] != exp_tx.get(port, 0):
            report.append(f"stats: port {port} tx_packets = {tx[port]}, expected {exp_tx.get(port, 0)}")
    return report


def parse_actual(ap, specs):
    actual = {}
    for spec in specs:
        port, sep, path = spec.partition("=")
        if not sep or not port.isdigit() or not path:
            ap.error(f"--actual wants PORT=FILE, got {spec!r}")
        if int(port) in actual:
            ap.error(f"--actual: port {port} given twice")
        actual[int(port)] = path
    return actual


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expected-dir", required=True, help="output directory of l3fwd_workload.py")
    ap.add_argument("--actual", action="append", default=[], metavar="PORT=FILE",
                    help="pcap the switch wrote for PORT (repeat for every port)")
    ap.add_argument("--stats", help="stats JSON written by the switch")
    args = ap.parse_args()

    actual_paths = parse_actual(ap, args.actual)
    try:
        with open(os.path.join(args.expected_dir, "expected.json")) as f:
            expected = json.load(f)
        stats = None
        if args.stats:
            with open(args.stats) as f:
                stats = json.load(f)
    except (OSError, ValueError) as e:
        ap.error(str(e))
    verdicts = expected.get("verdicts", [])
    expected_ports = sorted(int(p) for p in expected["forwarded"])
    index = InputIndex(args.expected_dir, verdicts)

    notes, report = [], []    # report: mismatches only; notes alone do not fail
    for port in sorted(set(expected_ports) | set(actual_paths)):
        exp_path = os.path.join(args.expected_dir, f"expected_port{port}.pcap")
        exp_frames, _ = read_pcap(exp_path) if os.path.exists(exp_path) else ([], [])
        if port not in actual_paths:
            report.append(f"port {port}: no --actual given ({len(exp_frames)} frames expected)")
            continue
        try:
            act_frames, read_notes = read_pcap(actual_paths[port])
        except (OSError, PcapError) as e:
            report.append(f"port {port}: cannot read actual output: {e}")
            continue
        notes.extend(f"port {port}: note: {n}" for n in read_notes)
        # Input index of each expected record, from the oracle's verdicts.
        expected_inputs = [i for i, v in enumerate(verdicts) if v == f"port:{port}"]
        report.extend(compare_port(port, exp_frames, act_frames, index, expected_inputs))

    if stats is not None:
        report.extend(check_stats(stats, expected))

    for line in notes + report:
        print(line)
    if report:
        print("l3fwd output DOES NOT match the oracle", file=sys.stderr)
        return 1

    forwarded = expected["forwarded"]
    total_fwd = sum(forwarded.values())
    per_port = ", ".join(f"port{p} {n}" for p, n in sorted(forwarded.items(), key=lambda kv: int(kv[0])))
    dropped = expected["received"] - total_fwd
    print(f"l3fwd output matches oracle: {expected['received']} in, {total_fwd} forwarded ({per_port}), "
          f"{dropped} dropped by {len(expected['drops'])} reasons" + (", stats match" if stats is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

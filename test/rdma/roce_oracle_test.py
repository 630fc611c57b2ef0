#!/usr/bin/python3
"""Program-level oracle for rdma/'s RoCEv2 wire layer.

roce_pcap_tool writes a pcap of packets built by our builders (every RC kind,
several endpoints, varied fields) and a JSON list of the values each one was
asked to carry. Two outside decoders then judge the packets:
  (a) tshark's InfiniBand dissector: every BTH/RETH/AtomicETH/AETH/
      AtomicAckETH/ImmDt field, the payload (+pad), and the IP/UDP fields
      must equal the intended values;
  (b) Debian's scapy (scapy.contrib.roce) computes each packet's ICRC, which
      must equal ours byte for byte; then a flipped byte must make scapy
      disagree (the check has teeth), while a rewritten TTL (masked in the
      ICRC) must not.

  roce_oracle_test.py ROCE_PCAP_TOOL
"""
import json
import os
import subprocess
import sys
import tempfile

# scapy must be Debian's (python3-scapy), which the first python3 on PATH
# may not see.
if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

from scapy.all import Ether, RawPcapReader  # noqa: E402
from scapy.contrib.roce import BTH  # noqa: E402

FIELDS = [
    "frame.number", "ip.src", "ip.dst", "ip.ttl", "ip.dsfield", "ip.flags.df", "udp.srcport",
    "udp.dstport", "udp.checksum", "infiniband.bth.opcode", "infiniband.bth.se",
    "infiniband.bth.m", "infiniband.bth.padcnt", "infiniband.bth.tver", "infiniband.bth.p_key",
    "infiniband.bth.destqp", "infiniband.bth.a", "infiniband.bth.psn", "infiniband.reth.va",
    "infiniband.reth.r_key", "infiniband.reth.dmalen", "infiniband.atomiceth.swapdt",
    "infiniband.atomiceth.cmpdt", "infiniband.aeth.syndrome", "infiniband.aeth.msn",
    "infiniband.atomicacketh.origremdt", "infiniband.immdt", "infiniband.invariant.crc",
    "data.data",
]

failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 40:
        print("FAIL:", msg, file=sys.stderr)


def num(text):
    return int(text, 0)


def expected_fields(r):
    """What tshark should show for record r; None where the field is absent."""
    e = {
        "ip.src": r["src_ip"], "ip.dst": r["dst_ip"], "ip.ttl": r["ttl"],
        "ip.dsfield": r["tos"], "ip.flags.df": 1, "udp.srcport": r["udp_src_port"],
        "udp.dstport": 4791, "udp.checksum": 0,
        "infiniband.bth.opcode": r["opcode"], "infiniband.bth.se": int(r["solicited"]),
        "infiniband.bth.m": 1, "infiniband.bth.padcnt": r["pad"], "infiniband.bth.tver": 0,
        "infiniband.bth.p_key": r["pkey"], "infiniband.bth.destqp": r["dest_qp"],
        "infiniband.bth.a": int(r["ack_req"]), "infiniband.bth.psn": r["psn"],
        # tshark shows the 4 ICRC bytes as a big-endian number; ours is the
        # CRC sent least significant byte first.
        "infiniband.invariant.crc": int.from_bytes(r["icrc"].to_bytes(4, "little"), "big"),
    }
    for f in ("reth.va", "reth.r_key", "reth.dmalen", "atomiceth.swapdt", "atomiceth.cmpdt",
              "aeth.syndrome", "aeth.msn", "atomicacketh.origremdt", "immdt"):
        e["infiniband." + f] = None
    if "reth" in r:
        e["infiniband.reth.va"] = r["reth"]["va"]
        e["infiniband.reth.r_key"] = r["reth"]["r_key"]
        e["infiniband.reth.dmalen"] = r["reth"]["dma_length"]
    if "atomic_eth" in r:
        # tshark shows the AtomicETH address and key in the RETH fields.
        e["infiniband.reth.va"] = r["atomic_eth"]["va"]
        e["infiniband.reth.r_key"] = r["atomic_eth"]["r_key"]
        e["infiniband.atomiceth.swapdt"] = r["atomic_eth"]["swap_add"]
        e["infiniband.atomiceth.cmpdt"] = r["atomic_eth"]["compare"]
    if "aeth" in r:
        e["infiniband.aeth.syndrome"] = r["aeth"]["syndrome"]
        e["infiniband.aeth.msn"] = r["aeth"]["msn"]
    if "atomic_ack_eth" in r:
        e["infiniband.atomicacketh.origremdt"] = r["atomic_ack_eth"]["original"]
    if "immdt" in r:
        e["infiniband.immdt"] = "%08x" % r["immdt"]
    return e


def check_tshark(pcap, records):
    cmd = ["tshark", "-r", pcap, "-d", "udp.port==4791,infiniband", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    if len(rows) != len(records):
        fail("tshark decoded %d packets, the tool wrote %d" % (len(rows), len(records)))
        return
    checked = 0
    payloads = 0
    for row, r in zip(rows, records):
        got = dict(zip(FIELDS, row))
        where = "packet %d (%s)" % (r["index"] + 1, r["kind"])
        for field, want in expected_fields(r).items():
            text = got.get(field, "")
            if not text and field == "infiniband.invariant.crc" and r["opcode"] == 0x04:
                continue  # tshark's SEND heuristics take the ICRC as upper-layer data
            if want is None:
                if text:
                    fail("%s: %s should be absent, tshark shows %s" % (where, field, text))
            elif isinstance(want, str):
                if text.lower() != want.lower():
                    fail("%s: %s = %r, want %r" % (where, field, text, want))
            elif not text or num(text) != want:
                fail("%s: %s = %r, want %d" % (where, field, text, want))
            checked += 1
        # The payload as tshark shows undissected data: payload + pad bytes.
        # SEND payloads go to tshark's upper-layer heuristics, so only where
        # tshark shows them as plain data are they compared.
        data = got.get("data.data", "")
        want_data = r["payload"] + "00" * r["pad"]
        if data:
            payloads += 1
            if data.lower() != want_data:
                fail("%s: payload %s, want %s" % (where, data[:40], want_data[:40]))
        elif want_data and r["opcode"] not in (0x04,):
            fail("%s: tshark shows no payload, want %s" % (where, want_data[:40]))
    print("tshark: %d packets, %d field values and %d payloads as intended"
          % (len(rows), checked, payloads))


def scapy_icrc(frame):
    """scapy's ICRC for the frame, as the 4 wire bytes."""
    return BTH.compute_icrc(Ether(frame)[BTH], None)


def check_scapy(pcap, records):
    frames = [bytes(pkt) for pkt, _ in RawPcapReader(pcap)]
    kinds = set()
    for frame, r in zip(frames, records):
        want = scapy_icrc(frame)
        if frame[-4:] != want:
            fail("packet %d (%s): ICRC %s, scapy computes %s"
                 % (r["index"] + 1, r["kind"], frame[-4:].hex(), want.hex()))
        kinds.add(r["opcode"])
    print("scapy: %d ICRCs agree, over %d opcodes" % (len(frames), len(kinds)))

    # Teeth: any covered byte flipped (a PSN bit, a RETH byte, a payload
    # byte, the opcode's neighbour the pad count) makes scapy disagree.
    teeth = 0
    for frame, r in zip(frames, records):
        for off in (53, 54, len(frame) - 5, 43):
            if off >= len(frame) - 4:
                continue
            bad = bytearray(frame)
            bad[off] ^= 0x01
            if scapy_icrc(bytes(bad)) == frame[-4:]:
                fail("packet %d: flipping byte %d leaves scapy's ICRC unchanged"
                     % (r["index"] + 1, off))
            teeth += 1
        # A router's TTL decrement is masked: scapy must still agree.
        hop = bytearray(frame)
        hop[22] -= 1
        if scapy_icrc(bytes(hop)) != frame[-4:]:
            fail("packet %d: a TTL rewrite changed scapy's ICRC" % (r["index"] + 1))
    print("scapy: %d one-byte corruptions all detected; TTL rewrites all masked" % teeth)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "roce.pcap")
        meta = os.path.join(tmp, "roce.json")
        subprocess.run([sys.argv[1], pcap, meta], check=True)
        with open(meta) as f:
            records = json.load(f)
        kinds = {r["kind"] for r in records}
        want_kinds = {"write_only", "write_only_imm", "send_only", "read_response_only",
                      "segment", "read_request", "fetch_add", "cmp_swap", "ack", "nak",
                      "atomic_ack"}
        if kinds != want_kinds:
            fail("the tool wrote kinds %s, want %s" % (sorted(kinds), sorted(want_kinds)))
        opcodes = {r["opcode"] for r in records}
        if opcodes != set(range(0x04, 0x15)) - {0x05}:
            fail("opcodes covered: %s" % sorted(opcodes))
        check_tshark(pcap, records)
        check_scapy(pcap, records)
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

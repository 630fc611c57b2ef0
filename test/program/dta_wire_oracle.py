#!/usr/bin/python3
"""Program-level oracle for net/dta.h, DTA's report wire formats.

The DTA headers are defined here as scapy Packets, written from the bit
layouts in REFERENCE.md (not from our code). Scapy builds reports of every
primitive in both base header forms, and NACKs, with varied field values,
addresses, VLAN tags, IP options and Ethernet padding, plus frames that are
wrong in one way each, and writes them to pcaps. dta_pcap_dump parses every
record with ParseDtaReport/ParseDtaNack and prints the decoded fields as
JSON lines; this script checks them against the values it put in, and checks
that the frame our builder makes from those fields is scapy's frame byte for
byte (where scapy was asked for the builder's IPv4 ID/flags and UDP
checksum). Reading each form's pcap as the other form checks that a
misconfigured form is noticed.

  dta_wire_oracle.py DTA_PCAP_DUMP
"""
import json
import os
import random
import subprocess
import sys
import tempfile

# scapy must be Debian's (python3-scapy), which the first python3 on PATH
# may not see.
if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

from scapy.all import (  # noqa: E402
    IP, UDP, BitField, ByteField, Dot1Q, Ether, IntField, IPOption_NOP, LongField, Packet,
    Raw, RawPcapWriter)

REPORT_PORT = 40040
NACK_PORT = 40044


class DtaBase2(Packet):
    name = "DTA base (2-byte)"
    fields_desc = [ByteField("opcode", 1), BitField("immediate", 0, 1),
                   BitField("reserved", 0, 7)]


class DtaBase3(Packet):
    name = "DTA base (3-byte)"
    fields_desc = [ByteField("opcode", 1), ByteField("seqnum", 0), BitField("immediate", 0, 1),
                   BitField("retransmitable", 0, 1), BitField("reserved", 0, 6)]


class DtaKeyWrite(Packet):
    name = "DTA Key-Write"
    fields_desc = [ByteField("redundancy", 1), IntField("key", 0), IntField("data", 0)]


class DtaAppend(Packet):
    name = "DTA Append"
    fields_desc = [IntField("list_id", 0), IntField("data", 0)]


class DtaKeyIncrement(Packet):
    name = "DTA Key-Increment"
    fields_desc = [ByteField("redundancy", 1), IntField("key", 0), LongField("counter", 0)]


class DtaPostcard(Packet):
    name = "DTA Postcarding"
    fields_desc = [IntField("key", 0), ByteField("hop", 1), IntField("data", 0)]


class DtaNack(Packet):
    name = "DTA NACK"
    fields_desc = [ByteField("seqnum", 0), BitField("nack", 0, 1), BitField("reserved", 0, 7)]


PRIMITIVES = {  # opcode: (class, its fields)
    1: (DtaKeyWrite, ("redundancy", "key", "data")),
    2: (DtaAppend, ("list_id", "data")),
    3: (DtaKeyIncrement, ("redundancy", "key", "counter")),
    4: (DtaPostcard, ("key", "hop", "data")),
}
ALL_FIELDS = ("redundancy", "hop", "key", "list_id", "data", "counter")

failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 40:
        print("FAIL:", msg, file=sys.stderr)


def random_addresses(rng, i):
    """Ether/[Dot1Q]/IP/UDP for record i, and what the parser should report."""
    src_ip = "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    dst_ip = "192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
    sport = rng.randrange(1, 65536)
    vlan = i % 3 == 1
    options = i % 7 == 3  # IHL 6
    # The builder's style (ID 0, DF, UDP checksum 0) for most, so its frame
    # can be compared; scapy's defaults (ID 1, no DF, a real UDP checksum)
    # for some, which the parser must take all the same.
    builder_style = i % 5 != 4
    l2 = Ether(src="02:00:00:%02x:%02x:01" % (i >> 8 & 0xff, i & 0xff), dst="02:00:00:00:00:fe")
    if vlan:
        l2 = l2 / Dot1Q(prio=i % 8, vlan=100 + i)
    ip_args = dict(src=src_ip, dst=dst_ip, ttl=rng.randrange(1, 256), tos=rng.randrange(256))
    if builder_style:
        ip_args.update(id=0, flags="DF")
    if options:
        ip_args["options"] = [IPOption_NOP()] * 4
    udp_args = dict(sport=sport, dport=REPORT_PORT)
    if builder_style:
        udp_args["chksum"] = 0
    l3 = 18 if vlan else 14
    ihl = 24 if options else 20
    want = {"src_ip": src_ip, "dst_ip": dst_ip, "src_port": sport}
    comparable = builder_style and not options  # the builder writes no IP options
    return l2, ip_args, udp_args, l3 + ihl + 8, want, comparable


def random_fields(rng, opcode):
    v = {f: 0 for f in ALL_FIELDS}
    edge = rng.random() < 0.25
    word = (lambda: rng.choice([0, 1, 0x7fffffff, 0x80000000, 0xffffffff])) if edge else (
        lambda: rng.getrandbits(32))
    if opcode in (1, 3):
        v["redundancy"] = rng.randint(1, 4)
        v["key"] = word()
    if opcode in (1, 2, 4):
        v["data"] = word()
    if opcode == 2:
        v["list_id"] = word()
    if opcode == 3:
        v["counter"] = rng.choice([0, 1, 2**63, 2**64 - 1]) if edge else rng.getrandbits(64)
    if opcode == 4:
        v["key"] = word()
        v["hop"] = rng.randint(1, 5)
    return v


def make_reports(rng, form, count):
    """Valid reports of every primitive in `form`: (frame, expected, comparable)."""
    records = []
    for i in range(count):
        opcode = 1 + i % 4
        l2, ip_args, udp_args, base_off, want, comparable = random_addresses(rng, i)
        base = {"seqnum": 0, "immediate": rng.getrandbits(1), "retransmitable": 0}
        if form == 3:
            base["seqnum"] = rng.getrandbits(8)
            base["retransmitable"] = rng.getrandbits(1)
            hdr = DtaBase3(opcode=opcode, **base)
        else:
            hdr = DtaBase2(opcode=opcode, immediate=base["immediate"])
        fields = random_fields(rng, opcode)
        cls, names = PRIMITIVES[opcode]
        prim = cls(**{n: fields[n] for n in names})
        pkt = l2 / IP(**ip_args) / UDP(**udp_args) / hdr / prim
        frame = bytes(pkt)
        if i % 6 == 5:  # Ethernet padding, past the 60-byte minimum
            frame += b"\x00" * (60 + i % 9 - len(frame) % 60)
        want = dict(want, error="ok", opcode=opcode, primitive_offset=base_off + form,
                    immediate=bool(base["immediate"]),
                    retransmitable=bool(base["retransmitable"]), seqnum=base["seqnum"],
                    **fields)
        records.append((frame, want, comparable, len(pkt)))
    return records


def bad_reports(form):
    """Frames wrong in one way each, with the reason the spec says."""
    base = (lambda op: DtaBase3(opcode=op, seqnum=1)) if form == 3 else (
        lambda op: DtaBase2(opcode=op))
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    ip = dict(src="10.0.0.1", dst="10.0.0.2")
    kw = DtaKeyWrite(redundancy=2, key=1, data=2)

    def udp_frame(payload, **udp):
        return bytes(eth / IP(**ip) / UDP(sport=1234, dport=REPORT_PORT, **udp) / payload)

    cases = [
        (bytes(eth / IP(chksum=0x1234, **ip) / UDP(dport=REPORT_PORT) / base(1) / kw),
         "bad_ipv4_checksum"),
        (bytes(eth / IP(flags="MF", **ip) / UDP(dport=REPORT_PORT) / base(1) / kw),
         "ipv4_fragment"),
        (bytes(eth / IP(**ip) / UDP(dport=REPORT_PORT + 1) / base(1) / kw), "not_dta"),
        (bytes(eth / IP(**ip) / UDP(dport=NACK_PORT) / base(1) / kw), "not_dta"),
        (udp_frame(base(1) / kw, len=8 + form + 8), "bad_udp_length"),
        (udp_frame(Raw(bytes(base(1))[:form - 1])), "truncated_base"),
        (udp_frame(base(0) / kw), "bad_opcode"),
        (udp_frame(base(5) / kw), "bad_opcode"),
        (udp_frame(Raw(bytes(base(1) / kw)[:-1])), "truncated_primitive"),
        (udp_frame(base(3) / DtaKeyWrite(redundancy=2, key=1, data=2)), "truncated_primitive"),
        (udp_frame(base(1) / kw / Raw(b"x")), "trailing_bytes"),
        (udp_frame(base(2) / DtaKeyIncrement(redundancy=1, key=1, counter=1)), "trailing_bytes"),
        (udp_frame(base(1) / DtaKeyWrite(redundancy=0, key=1, data=2)), "bad_redundancy"),
        (udp_frame(base(3) / DtaKeyIncrement(redundancy=5, key=1, counter=2)), "bad_redundancy"),
        (udp_frame(base(4) / DtaPostcard(key=1, hop=0, data=2)), "bad_hop"),
        (udp_frame(base(4) / DtaPostcard(key=1, hop=6, data=2)), "bad_hop"),
    ]
    return cases


def make_nacks(rng, count):
    records = []
    for i in range(count):
        seqnum, nack = rng.getrandbits(8), rng.getrandbits(1)
        sport = rng.randrange(1, 65536)
        pkt = (Ether(src="02:00:00:00:00:aa", dst="02:00:00:00:00:%02x" % (i & 0xff)) /
               IP(src="10.9.0.1", dst="10.0.%d.%d" % (i >> 8, i & 0xff), id=0, flags="DF",
                  ttl=64) /
               UDP(sport=sport, dport=NACK_PORT, chksum=0) / DtaNack(seqnum=seqnum, nack=nack))
        want = {"error": "ok", "seqnum": seqnum, "nack": bool(nack), "src_ip": "10.9.0.1",
                "dst_ip": "10.0.%d.%d" % (i >> 8, i & 0xff), "src_port": sport}
        records.append((bytes(pkt), want, True, len(pkt)))
    l3 = Ether(src="02:00:00:00:00:aa", dst="02:00:00:00:00:01") / IP(src="10.9.0.1",
                                                                      dst="10.0.0.1")
    bad = [
        (bytes(l3 / UDP(sport=1, dport=NACK_PORT) / Raw(b"\x01")), "truncated_nack"),
        (bytes(l3 / UDP(sport=1, dport=NACK_PORT) / DtaNack() / Raw(b"\x00")),
         "trailing_bytes"),
        (bytes(l3 / UDP(sport=1, dport=REPORT_PORT) / DtaNack()), "not_dta"),
    ]
    return records, bad


def write_pcap(path, frames):
    # Raw bytes: re-dissecting them in scapy could change a bad frame.
    w = RawPcapWriter(path, linktype=1)  # DLT_EN10MB
    for f in frames:
        w.write(f)
    w.close()


def dump(tool, mode, path):
    # stderr passes through, so a sanitizer report shows in the test log.
    out = subprocess.run([tool, mode, path], check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def check(name, got_lines, records, bad):
    if len(got_lines) != len(records) + len(bad):
        fail("%s: %d lines for %d records" % (name, len(got_lines), len(records) + len(bad)))
        return
    for i, (frame, want, comparable, datagram_end) in enumerate(records):
        got = got_lines[i]
        if got.get("index") != i:
            fail("%s[%d]: index %r" % (name, i, got.get("index")))
        for k, v in want.items():
            if got.get(k) != v:
                fail("%s[%d]: %s = %r, want %r" % (name, i, k, got.get(k), v))
        if comparable and got.get("rebuilt") != frame[:datagram_end].hex():
            fail("%s[%d]: builder made\n  %s\nscapy made\n  %s" %
                 (name, i, got.get("rebuilt"), frame[:datagram_end].hex()))
    for j, (frame, reason) in enumerate(bad):
        got = got_lines[len(records) + j]
        if got.get("error") != reason:
            fail("%s bad[%d]: %r, want %r (%s)" % (name, j, got.get("error"), reason, frame.hex()))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = sys.argv[1]
    rng = random.Random(40040)
    with tempfile.TemporaryDirectory() as tmp:
        reports = {}
        for form in (2, 3):
            records = make_reports(rng, form, 400)
            bad = bad_reports(form)
            path = os.path.join(tmp, "reports_%d.pcap" % form)
            write_pcap(path, [r[0] for r in records] + [b[0] for b in bad])
            reports[form] = (path, records, bad)
            check("%d-byte" % form, dump(tool, "%d-byte" % form, path), records, bad)
            kinds = {r[1]["opcode"] for r in records}
            comparable = sum(1 for r in records if r[2])
            if kinds != {1, 2, 3, 4} or comparable < len(records) // 2:
                fail("%d-byte: coverage: opcodes %s, %d compared" % (form, kinds, comparable))

        # Each form's valid reports read as the other form: the one-byte
        # difference is always noticed (REFERENCE: both forms in the wild).
        for form, other, reason in ((3, 2, "trailing_bytes"), (2, 3, "truncated_primitive")):
            path, records, _ = reports[form]
            got = dump(tool, "%d-byte" % other, path)[:len(records)]
            for i, g in enumerate(got):
                if g.get("error") != reason:
                    fail("%d-byte read as %d-byte [%d]: %r, want %r" %
                         (form, other, i, g.get("error"), reason))

        nacks, bad_nacks = make_nacks(rng, 100)
        path = os.path.join(tmp, "nacks.pcap")
        write_pcap(path, [r[0] for r in nacks] + [b[0] for b in bad_nacks])
        check("nack", dump(tool, "nack", path), nacks, bad_nacks)

    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("dta wire oracle: 800 reports in both forms, %d bad frames, 100 NACKs, "
          "cross-form reads: all as the spec says" % (2 * len(bad_reports(3)) + 3))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Workload generator and independent oracle for the l3fwd program test.

Builds a deterministic mix of input frames (valid IPv4/IPv6 traffic plus one
family of malformed or undeliverable frames per drop reason), runs every frame
through a reference model of the l3fwd pipeline written here from the spec
(own LPM, own IPv4 checksum, no code shared with the switch), and writes:

  DIR/in.pcap               all input frames, in order (they arrive on port 0)
  DIR/expected_port{P}.pcap frames that must leave port P, in input order
  DIR/expected.json         {"received", "forwarded", "drops"} counters, plus
                            per-input verdicts and the case mix (diagnostics)

Usage:
  l3fwd_workload.py --config CONFIG --out-dir DIR [--count N] [--seed S] [--ports P]
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import sys
from collections import Counter

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import checksum as scapy_checksum

ETH_HLEN = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
MIN_FRAME = 60      # Ethernet minimum without FCS
MAX_FRAME = 1514    # Ethernet maximum without FCS

# Every drop reason of the spec, in pipeline order.
DROP_REASONS = (
    "eth_truncated",
    "unknown_ethertype",
    "ipv4_truncated",
    "ipv4_bad_version",
    "ipv4_bad_ihl",
    "ipv4_bad_total_length",
    "ipv4_bad_checksum",
    "ipv6_truncated",
    "ipv6_bad_version",
    "ipv6_bad_payload_length",
    "no_route",
    "ttl_expired",
)


class ConfigError(Exception):
    pass


# ---------------------------------------------------------------------------
# Configuration and routing tables
# ---------------------------------------------------------------------------

def parse_mac(text):
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ConfigError(f"bad MAC address {text!r}")
    return bytes(int(p, 16) for p in parts)


class Nexthop:
    def __init__(self, nh_id, port, src_mac, dst_mac):
        self.nh_id = nh_id
        self.port = port
        self.src_mac = src_mac
        self.dst_mac = dst_mac


class LpmTable:
    """Longest-prefix match: one exact-match dict per prefix length, probed
    from the longest length down. Slow but obviously correct."""

    def __init__(self, version):
        self.version = version
        self.width = 32 if version == 4 else 128
        self.by_len = {}            # prefix length -> {network int: route}
        self.routes = []            # (ip_network, nexthop id), config order

    def add(self, network, nh_id):
        table = self.by_len.setdefault(network.prefixlen, {})
        net = int(network.network_address)
        if net in table:
            raise ConfigError(f"duplicate prefix {network}")
        table[net] = (network, nh_id)
        self.routes.append((network, nh_id))

    def mask(self, plen):
        return ((1 << plen) - 1) << (self.width - plen)

    def lookup(self, addr):
        """addr: int. Returns (ip_network, nexthop id) or None."""
        for plen in sorted(self.by_len, reverse=True):
            hit = self.by_len[plen].get(addr & self.mask(plen))
            if hit is not None:
                return hit
        return None


class Config:
    def __init__(self, path, ports):
        with open(path) as f:
            doc = json.load(f)
        tables = doc.get("tables")
        if not isinstance(tables, dict):
            raise ConfigError("missing 'tables' object")

        self.nexthops = {}
        for entry in tables.get("nexthop", []):
            if entry.get("action") != "forward":
                raise ConfigError(f"nexthop entry with unknown action: {entry}")
            nh_id = int(entry["key"]["nexthop_id"])
            data = entry["data"]
            port = int(data["port"])
            if not 0 <= port < ports:
                raise ConfigError(f"nexthop {nh_id}: port {port} not in 0..{ports - 1}")
            if nh_id in self.nexthops:
                raise ConfigError(f"duplicate nexthop_id {nh_id}")
            self.nexthops[nh_id] = Nexthop(nh_id, port, parse_mac(data["src_mac"]),
                                           parse_mac(data["dst_mac"]))

        self.lpm = {4: LpmTable(4), 6: LpmTable(6)}
        for name, version in (("ipv4_lpm", 4), ("ipv6_lpm", 6)):
            for entry in tables.get(name, []):
                if entry.get("action") != "set_nexthop":
                    raise ConfigError(f"{name} entry with unknown action: {entry}")
                # strict: host bits set in a prefix is a config error, not
                # something to silently mask (the switch might not).
                network = ipaddress.ip_network(entry["key"]["dst_addr"], strict=True)
                if network.version != version:
                    raise ConfigError(f"{name}: {network} is not IPv{version}")
                nh_id = int(entry["data"]["nexthop_id"])
                if nh_id not in self.nexthops:
                    raise ConfigError(f"{name}: {network} -> unknown nexthop {nh_id}")
                self.lpm[version].add(network, nh_id)


# ---------------------------------------------------------------------------
# Reference model of the l3fwd pipeline (the oracle)
# ---------------------------------------------------------------------------

def ones_complement_sum(data):
    """16-bit one's complement sum of big-endian words (len(data) is even)."""
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_checksum_ok(header):
    # RFC 1071 verification: the sum over the whole header, checksum
    # included, is all ones.
    return ones_complement_sum(header) == 0xFFFF


def ipv4_checksum_compute(header):
    """Checksum of the header computed from scratch (checksum field as 0)."""
    zeroed = header[:10] + b"\x00\x00" + header[12:]
    return (~ones_complement_sum(zeroed)) & 0xFFFF


class Verdict:
    def __init__(self, drop=None, port=None, frame=None, route=None):
        self.drop = drop        # drop reason, or None when forwarded
        self.port = port        # output port when forwarded
        self.frame = frame      # output frame bytes when forwarded
        self.route = route      # matched (ip_network, nexthop id), if any

    def label(self):
        return f"drop:{self.drop}" if self.drop else f"port:{self.port}"


def process(frame, cfg):
    """What l3fwd does with one frame received on port 0."""
    if len(frame) < ETH_HLEN:
        return Verdict(drop="eth_truncated")
    ethertype = (frame[12] << 8) | frame[13]
    l3 = frame[ETH_HLEN:]
    avail = len(l3)

    if ethertype == ETHERTYPE_IPV4:
        if avail < 20:
            return Verdict(drop="ipv4_truncated")
        if l3[0] >> 4 != 4:
            return Verdict(drop="ipv4_bad_version")
        ihl = l3[0] & 0x0F
        if ihl < 5:
            return Verdict(drop="ipv4_bad_ihl")
        hlen = ihl * 4
        if hlen > avail:
            return Verdict(drop="ipv4_truncated")
        total_length = (l3[2] << 8) | l3[3]
        if total_length < hlen or total_length > avail:
            return Verdict(drop="ipv4_bad_total_length")
        if not ipv4_checksum_ok(l3[:hlen]):
            return Verdict(drop="ipv4_bad_checksum")
        route = cfg.lpm[4].lookup(int.from_bytes(l3[16:20], "big"))
        if route is None:
            return Verdict(drop="no_route")
        if l3[8] <= 1:
            return Verdict(drop="ttl_expired", route=route)
        header = bytearray(l3[:hlen])
        header[8] -= 1
        header[10:12] = ipv4_checksum_compute(bytes(header)).to_bytes(2, "big")
        new_l3 = bytes(header) + l3[hlen:]
    elif ethertype == ETHERTYPE_IPV6:
        if avail < 40:
            return Verdict(drop="ipv6_truncated")
        if l3[0] >> 4 != 6:
            return Verdict(drop="ipv6_bad_version")
        payload_length = (l3[4] << 8) | l3[5]
        if 40 + payload_length > avail:
            return Verdict(drop="ipv6_bad_payload_length")
        route = cfg.lpm[6].lookup(int.from_bytes(l3[24:40], "big"))
        if route is None:
            return Verdict(drop="no_route")
        if l3[7] <= 1:
            return Verdict(drop="ttl_expired", route=route)
        new_l3 = l3[:7] + bytes([l3[7] - 1]) + l3[8:]
    else:
        return Verdict(drop="unknown_ethertype")

    nh = cfg.nexthops[route[1]]
    out = nh.dst_mac + nh.src_mac + frame[12:14] + new_l3
    return Verdict(port=nh.port, frame=out, route=route)


# ---------------------------------------------------------------------------
# Input generation
# ---------------------------------------------------------------------------

def set_ipv4_checksum(frame):
    """Recompute the IPv4 header checksum of a (possibly mutated) frame.
    Uses scapy's checksum, so generation does not rely on the oracle's."""
    b = bytearray(frame)
    hlen = (b[ETH_HLEN] & 0x0F) * 4
    b[ETH_HLEN + 10:ETH_HLEN + 12] = b"\x00\x00"
    b[ETH_HLEN + 10:ETH_HLEN + 12] = scapy_checksum(bytes(b[ETH_HLEN:ETH_HLEN + hlen])).to_bytes(2, "big")
    return bytes(b)


def patch(frame, offset, data):
    return frame[:offset] + data + frame[offset + len(data):]


class Generator:
    SPECIAL_SIZES = (60, 61, 64, 65, 128, 256, 512, 576, 1000, 1024, 1280,
                     1499, 1500, 1513, 1514)

    def __init__(self, cfg, rng):
        self.cfg = cfg
        self.rng = rng
        self.checksum_edges = 0     # fwd_v4_checksum_edge frames built so far
        self.routable = {4: [], 6: []}
        self.unroutable = {4: [], 6: []}
        for version in (4, 6):
            self._build_pools(version)
            if not self.cfg.lpm[version].routes:
                raise ConfigError(f"no IPv{version} routes: cannot generate IPv{version} traffic")
            if not self.unroutable[version]:
                raise ConfigError(f"every IPv{version} address is routed: cannot generate no_route")

    # -- destination pools ------------------------------------------------

    def _build_pools(self, version):
        """Addresses around every prefix edge (network/last address +-2), so
        that overlapping prefixes are probed exactly at their boundaries,
        e.g. 10.1.2.3/32 yields 10.1.2.2 and 10.1.2.4, 10.1.2.0/24 yields
        10.1.3.1, 10.1.0.0/16 yields 10.2.0.1."""
        lpm = self.cfg.lpm[version]
        top = (1 << lpm.width) - 1
        candidates = set()
        for network, _ in lpm.routes:
            first = int(network.network_address)
            last = int(network.broadcast_address)
            for base in (first, last):
                for delta in (-2, -1, 0, 1, 2):
                    if 0 <= base + delta <= top:
                        candidates.add(base + delta)
        if version == 4:
            specials = ("0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.1",
                        "169.254.1.1", "11.0.0.1", "9.255.255.255")
            rand_bits = lambda: self.rng.getrandbits(32)
        else:
            specials = ("::", "::1", "fe80::1", "ff02::1", "2001:db9::1",
                        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::1")
            rand_bits = lambda: self.rng.getrandbits(128)
        candidates.update(int(ipaddress.ip_address(a)) for a in specials)
        candidates.update(rand_bits() for _ in range(64))
        for addr in sorted(candidates):
            pool = self.routable if lpm.lookup(addr) else self.unroutable
            pool[version].append(addr)

    def addr_str(self, version, addr):
        return str(ipaddress.IPv4Address(addr) if version == 4 else ipaddress.IPv6Address(addr))

    def routable_dst(self, version):
        rng = self.rng
        if rng.random() < 0.5:
            addr = rng.choice(self.routable[version])
        else:
            # A random address inside a random route (LPM may still pick a
            # more specific route; the oracle decides).
            network, _ = rng.choice(self.cfg.lpm[version].routes)
            addr = int(network.network_address) + rng.randrange(network.num_addresses)
        return self.addr_str(version, addr)

    def unroutable_dst(self, version):
        return self.addr_str(version, self.rng.choice(self.unroutable[version]))

    # -- small helpers ------------------------------------------------------

    def mac(self):
        b = bytearray(self.rng.randbytes(6))
        b[0] = (b[0] & 0xFC) | 0x02      # unicast, locally administered
        return ":".join(f"{x:02x}" for x in b)

    def ether(self, ethertype):
        return Ether(dst=self.mac(), src=self.mac(), type=ethertype)

    def src4(self):
        return str(ipaddress.IPv4Address(0xC6120000 | self.rng.getrandbits(17)))  # 198.18.0.0/15

    def src6(self):
        return str(ipaddress.IPv6Address((0x20010DB8BEEF << 80) | self.rng.getrandbits(80)))

    def frame_len(self):
        if self.rng.random() < 0.3:
            return self.rng.choice(self.SPECIAL_SIZES)
        return self.rng.randint(MIN_FRAME, MAX_FRAME)

    def padding(self, n):
        kind = self.rng.random()
        if kind < 0.4:
            return b"\x00" * n
        if kind < 0.8:
            return self.rng.randbytes(n)
        return b"\xff" * n

    def ttl(self):
        return self.rng.choice((2, 3, 63, 64, 128, 254, 255, self.rng.randint(2, 255)))

    def ipv4_options(self, length):
        """length bytes (multiple of 4, <= 40) of IPv4 options."""
        rng = self.rng
        out = b""
        while len(out) < length:
            room = length - len(out)
            kinds = ["nop", "eol"]
            if room >= 4:
                kinds += ["ra", "unknown"]
            if room >= 7:
                kinds.append("rr")
            if room >= 8:
                kinds.append("ts")
            kind = rng.choice(kinds)
            if kind == "nop":
                out += b"\x01"
            elif kind == "eol":
                out += b"\x00" * room    # end of list; the rest is zero padding
            elif kind == "ra":           # router alert
                out += b"\x94\x04\x00\x00"
            elif kind == "unknown":      # experimental option 30, any class
                n = rng.randint(2, min(room, 12))
                out += bytes([rng.choice((0x1E, 0x5E, 0x9E, 0xDE)), n]) + rng.randbytes(n - 2)
            elif kind == "rr":           # record route
                k = rng.randint(1, (room - 3) // 4)
                out += bytes([7, 3 + 4 * k, 4]) + rng.randbytes(4 * k)
            else:                        # timestamp, timestamps only
                k = rng.randint(1, (room - 4) // 4)
                out += bytes([68, 4 + 4 * k, 5, 0]) + rng.randbytes(4 * k)
        assert len(out) == length
        return out

    # -- packet builders ------------------------------------------------------

    def ipv4(self, dst=None, ttl=None, size=None, ihl=5, l4=None):
        """A valid IPv4 frame of `size` bytes where the headers allow it
        (never padded; IP total length == frame length - 14)."""
        rng = self.rng
        size = size or self.frame_len()
        dst = dst or self.routable_dst(4)
        ttl = self.ttl() if ttl is None else ttl
        r = rng.random()     # mostly unfragmented; the router ignores fragmentation
        if r < 0.5:
            flags, frag = "DF", 0
        elif r < 0.95:
            flags, frag = "", 0
        elif r < 0.975:      # first fragment
            flags, frag = "MF", 0
        else:                # later fragment
            flags, frag = rng.choice(("MF", "")), rng.randrange(1, 8192)
        opts = self.ipv4_options((ihl - 5) * 4) if ihl > 5 else b""
        ip = IP(src=self.src4(), dst=dst, ttl=ttl, tos=rng.randrange(256),
                id=rng.randrange(65536), flags=flags, frag=frag,
                options=[IPOption(opts)] if opts else [])
        l4 = l4 or rng.choice(["tcp"] * 8 + ["udp"] * 7 + ["icmp"] * 4 + ["raw"])
        if l4 == "tcp":
            ip /= TCP(sport=rng.randrange(1, 65536), dport=rng.choice((80, 443, 22, rng.randrange(1, 65536))),
                      seq=rng.getrandbits(32), ack=rng.getrandbits(32),
                      flags=rng.choice(("S", "SA", "A", "PA", "FA", "R")), window=rng.randrange(65536))
            l4_len = 20
        elif l4 == "udp":
            ip /= UDP(sport=rng.randrange(1, 65536), dport=rng.choice((53, 123, rng.randrange(1, 65536))))
            l4_len = 8
        elif l4 == "icmp":
            ip /= ICMP(type=rng.choice((0, 8)), id=rng.randrange(65536), seq=rng.randrange(65536))
            l4_len = 8
        else:
            ip.proto = rng.choice((47, 50, 253))
            l4_len = 0
        payload = max(0, size - ETH_HLEN - ihl * 4 - l4_len)
        if payload:
            ip /= Raw(rng.randbytes(payload))
        frame = bytes(self.ether(ETHERTYPE_IPV4) / ip)
        # Guard against scapy reshaping the options behind our back.
        assert frame[ETH_HLEN] == 0x40 | ihl and frame[34:14 + ihl * 4] == opts, "IPv4 options mangled"
        return frame

    def ipv6(self, dst=None, hlim=None, size=None, l4=None, ext=None):
        """A valid IPv6 frame of `size` bytes where the headers allow it."""
        rng = self.rng
        size = size or self.frame_len()
        dst = dst or self.routable_dst(6)
        hlim = self.ttl() if hlim is None else hlim
        pkt = IPv6(src=self.src6(), dst=dst, hlim=hlim, tc=rng.randrange(256), fl=rng.getrandbits(20))
        hdr_len = 40
        if ext is None:
            ext = rng.random() < 0.15
        if ext:
            pkt /= rng.choice((IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(),
                               IPv6ExtHdrFragment(id=rng.getrandbits(32), m=rng.randrange(2))))
            hdr_len += 8
        l4 = l4 or rng.choice(["tcp"] * 8 + ["udp"] * 7 + ["icmp"] * 4 + ["none"])
        if l4 == "tcp":
            pkt /= TCP(sport=rng.randrange(1, 65536), dport=rng.choice((80, 443, rng.randrange(1, 65536))),
                       seq=rng.getrandbits(32), flags=rng.choice(("S", "SA", "A", "PA")))
            hdr_len += 20
        elif l4 == "udp":
            pkt /= UDP(sport=rng.randrange(1, 65536), dport=rng.choice((53, 443, rng.randrange(1, 65536))))
            hdr_len += 8
        elif l4 == "icmp":
            cls = rng.choice((ICMPv6EchoRequest, ICMPv6EchoReply))
            pkt /= cls(id=rng.randrange(65536), seq=rng.randrange(65536))
            hdr_len += 8
        else:
            pkt.nh = 59   # no next header; whatever follows is opaque
        payload = max(0, size - ETH_HLEN - hdr_len)
        if payload:
            pkt /= Raw(rng.randbytes(payload))
        return bytes(self.ether(ETHERTYPE_IPV6) / pkt)

    def any_ip(self, **kw):
        return self.ipv4(**kw) if self.rng.random() < 0.5 else self.ipv6(**kw)

    # -- forwarded cases ----------------------------------------------------------

    def fwd_v4(self):
        return self.ipv4()

    def fwd_v6(self):
        return self.ipv6()

    def fwd_v4_options(self):
        return self.ipv4(ihl=self.rng.randint(6, 15))

    def fwd_v4_padded(self):
        """Small IPv4 packet in a frame with Ethernet padding after it."""
        rng = self.rng
        ihl = 5 if rng.random() < 0.8 else rng.randint(6, 8)
        frame = self.ipv4(size=rng.randint(34, 59), ihl=ihl,
                          l4=rng.choice(("udp", "icmp", "raw", "tcp")))
        target = max(MIN_FRAME, len(frame) + 1)
        if rng.random() < 0.25:       # more padding than the minimum frame needs
            target = rng.randint(target, 200)
        return frame + self.padding(target - len(frame))

    def fwd_v6_padded(self):
        rng = self.rng
        frame = self.ipv6(size=rng.randint(54, 90), l4=rng.choice(("udp", "icmp", "none")), ext=False)
        return frame + self.padding(rng.randint(max(1, MIN_FRAME - len(frame)), 40))

    def fwd_ttl2(self):
        if self.rng.random() < 0.5:
            return self.ipv4(ttl=2, ihl=self.rng.choice((5, 5, 5, 6, 15)))
        return self.ipv6(hlim=2)

    def fwd_v4_checksum_edge(self):
        """Pick the IP ID so that either the input header checksum or the
        forwarded header checksum is exactly 0x0000 (an incremental update
        done wrong yields 0xFFFF there)."""
        frame = bytearray(self.ipv4(ihl=self.rng.choice((5, 5, 6))))
        hlen = (frame[ETH_HLEN] & 0x0F) * 4
        # Alternate between the two flavours so that both always show up.
        self.checksum_edges += 1
        out_zero = self.checksum_edges % 2 == 1
        header = bytearray(frame[ETH_HLEN:ETH_HLEN + hlen])
        header[4:6] = b"\x00\x00"       # ID
        header[10:12] = b"\x00\x00"     # checksum
        if out_zero:
            header[8] -= 1              # the TTL the router will write
        partial = (~scapy_checksum(bytes(header))) & 0xFFFF   # one's complement sum
        ident = 0xFFFF - partial        # makes the sum 0xFFFF, the checksum 0
        frame[ETH_HLEN + 4:ETH_HLEN + 6] = ident.to_bytes(2, "big")
        frame = set_ipv4_checksum(bytes(frame))
        if not out_zero:
            assert frame[ETH_HLEN + 10:ETH_HLEN + 12] == b"\x00\x00"
        return frame

    # -- drop cases -----------------------------------------------------------------

    def drop_eth_truncated(self):
        n = self.rng.randint(1, ETH_HLEN - 1)
        if self.rng.random() < 0.5:
            return self.any_ip()[:n]
        return self.rng.randbytes(n)

    def drop_unknown_ethertype(self):
        rng = self.rng
        kind = rng.choice(("arp", "vlan", "qinq", "lldp", "mpls", "8023", "near", "bare", "random"))
        if kind == "arp":
            f = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=self.mac()) /
                      ARP(op=rng.choice((1, 2)), hwsrc=self.mac(), psrc=self.src4(), pdst=self.routable_dst(4)))
        elif kind == "vlan":  # a perfectly routable packet, but tagged: no VLAN support
            inner = self.any_ip(size=rng.randint(MIN_FRAME, MAX_FRAME - 4))
            tag = Dot1Q(vlan=rng.randint(1, 4094), prio=rng.randrange(8), type=int.from_bytes(inner[12:14], "big"))
            f = bytes(Ether(dst=self.mac(), src=self.mac()) / tag / Raw(inner[ETH_HLEN:]))
        elif kind == "qinq":
            inner = self.ipv4(size=rng.randint(MIN_FRAME, MAX_FRAME - 8))
            f = bytes(Ether(dst=self.mac(), src=self.mac(), type=0x88A8) /
                      Dot1Q(vlan=rng.randint(1, 4094), type=0x8100) /
                      Dot1Q(vlan=rng.randint(1, 4094), type=ETHERTYPE_IPV4) / Raw(inner[ETH_HLEN:]))
        elif kind == "lldp":
            f = bytes(Ether(dst="01:80:c2:00:00:0e", src=self.mac(), type=0x88CC) / Raw(rng.randbytes(46)))
        elif kind == "mpls":
            inner = self.ipv4(size=rng.randint(60, 1400))
            label = struct.pack("!I", (rng.randrange(16, 1 << 20) << 12) | (1 << 8) | 64)
            f = self.ipv4()[:12] + b"\x88\x47" + label + inner[14:]
        elif kind == "8023":   # IEEE 802.3 length field + LLC
            body = b"\x42\x42\x03" + rng.randbytes(rng.randint(43, 200))
            f = bytes(Ether(dst="01:80:c2:00:00:00", src=self.mac(), type=len(body)) / Raw(body))
        elif kind == "near":   # looks like IP except the EtherType
            base = self.any_ip()
            f = patch(base, 12, rng.choice((0x0801, 0x0008, 0x86DC, 0x86DE, 0xDD86, 0x0000, 0xFFFF, 0x0806)).to_bytes(2, "big"))
        elif kind == "bare":   # header only
            f = bytes(self.ether(rng.choice((0x0806, 0x88CC, 0x8100, 0x9000))))
        else:
            et = rng.randrange(0x10000)
            while et in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
                et = rng.randrange(0x10000)
            f = bytes(self.ether(et) / Raw(rng.randbytes(rng.randint(0, 200))))
        return f

    def drop_ipv4_truncated(self):
        rng = self.rng
        kind = rng.choice(("short", "short", "cut_options", "big_ihl"))
        if kind == "short":        # fewer than 20 bytes of L3
            return self.ipv4()[:ETH_HLEN + rng.randint(0, 19)]
        if kind == "cut_options":  # frame ends inside the options
            ihl = rng.randint(6, 15)
            return self.ipv4(ihl=ihl)[:ETH_HLEN + rng.randint(20, ihl * 4 - 1)]
        # IHL claims more header than the frame holds
        frame = self.ipv4(size=rng.randint(34, 60), l4=rng.choice(("udp", "icmp", "raw")))
        if rng.random() < 0.3:
            frame += self.padding(max(0, MIN_FRAME - len(frame)))
        avail = len(frame) - ETH_HLEN
        ihl = rng.randint(avail // 4 + 1, 15)
        frame = patch(frame, ETH_HLEN, bytes([0x40 | ihl]))
        return set_ipv4_checksum(frame) if rng.random() < 0.5 else frame

    def drop_ipv4_bad_version(self):
        rng = self.rng
        frame = self.ipv4(ihl=rng.choice((5, 5, 5, 7)), ttl=rng.choice((None, None, 0, 1)))
        version = rng.choice([6, 6, 0, 15] + [v for v in range(16) if v != 4])
        b0 = frame[ETH_HLEN]
        if rng.random() < 0.2:
            b0 = rng.randrange(5)         # IHL < 5 too; version is checked first
        frame = patch(frame, ETH_HLEN, bytes([(version << 4) | (b0 & 0x0F)]))
        if rng.random() < 0.5 and frame[ETH_HLEN] & 0x0F >= 5:
            frame = set_ipv4_checksum(frame)
        return frame

    def drop_ipv4_bad_ihl(self):
        rng = self.rng
        frame = self.ipv4(ttl=rng.choice((None, None, 1)))
        frame = patch(frame, ETH_HLEN, bytes([0x40 | rng.randrange(5)]))
        if rng.random() < 0.3:   # also a bogus total length: IHL is checked first
            frame = patch(frame, ETH_HLEN + 2, rng.randrange(65536).to_bytes(2, "big"))
        return frame

    def drop_ipv4_bad_total_length(self):
        rng = self.rng
        ihl = rng.choice((5, 5, 5, 6, 10, 15))
        kind = rng.choice(("small", "large", "large_padded", "cut"))
        if kind == "cut":          # valid packet, frame cut short after the header
            frame = self.ipv4(ihl=ihl, size=rng.randint(max(MIN_FRAME, ETH_HLEN + ihl * 4 + 30), MAX_FRAME))
            return frame[:rng.randint(ETH_HLEN + ihl * 4, len(frame) - 1)]
        if kind == "large_padded":
            frame = self.fwd_v4_padded()
        else:
            frame = self.ipv4(ihl=ihl)
        hlen = (frame[ETH_HLEN] & 0x0F) * 4
        avail = len(frame) - ETH_HLEN
        if kind == "small":
            total = rng.choice((0, hlen - 1, rng.randrange(hlen)))
            if hlen > 20 and rng.random() < 0.5:
                total = rng.randint(20, hlen - 1)   # >= 20 but less than IHL*4
        else:
            total = rng.choice((avail + 1, avail + 1, 0xFFFF, rng.randint(avail + 1, 0xFFFF)))
        frame = patch(frame, ETH_HLEN + 2, total.to_bytes(2, "big"))
        # Total length is checked before the checksum: fix it only half the time.
        return set_ipv4_checksum(frame) if rng.random() < 0.5 else frame

    def drop_ipv4_bad_checksum(self):
        rng = self.rng
        kind = rng.choice(("field", "field", "zero", "header", "option"))
        ihl = rng.randint(6, 15) if kind == "option" else rng.choice((5, 5, 5, 8))
        dst = self.unroutable_dst(4) if rng.random() < 0.2 else None  # checksum before LPM
        ttl = rng.choice((0, 1)) if rng.random() < 0.2 else None      # and before TTL
        while True:
            frame = bytearray(self.ipv4(ihl=ihl, dst=dst, ttl=ttl))
            if kind == "field":
                frame[ETH_HLEN + 10 + rng.randrange(2)] ^= rng.randint(1, 255)
            elif kind == "zero":
                frame[ETH_HLEN + 10:ETH_HLEN + 12] = b"\x00\x00"
            elif kind == "header":   # a header byte changed after the checksum was set
                off = rng.choice((1, 4, 5, 6, 8, 9, 12, 15, 16, 19))
                frame[ETH_HLEN + off] ^= rng.randint(1, 255)
            else:                    # corrupt an option byte: checksum covers IHL*4
                frame[ETH_HLEN + rng.randrange(20, ihl * 4)] ^= rng.randint(1, 255)
            hlen = (frame[ETH_HLEN] & 0x0F) * 4
            # Keep only unambiguously bad headers: scapy's sum (checksum
            # field included) must not verify under any convention.
            if scapy_checksum(bytes(frame[ETH_HLEN:ETH_HLEN + hlen])) != 0:
                return bytes(frame)

    def drop_v4_no_route(self):
        ttl = self.rng.choice((0, 1)) if self.rng.random() < 0.3 else None  # no_route beats TTL
        return self.ipv4(dst=self.unroutable_dst(4), ttl=ttl, ihl=self.rng.choice((5, 5, 5, 9)))

    def drop_v4_ttl_expired(self):
        rng = self.rng
        frame = self.ipv4(ttl=rng.choice((0, 1)), ihl=rng.choice((5, 5, 5, 11)))
        if rng.random() < 0.2:
            frame += self.padding(min(rng.randint(1, 30), MAX_FRAME - len(frame)))
        return frame

    def drop_ipv6_truncated(self):
        return self.ipv6()[:ETH_HLEN + self.rng.randint(0, 39)]

    def drop_ipv6_bad_version(self):
        rng = self.rng
        frame = self.ipv6(hlim=rng.choice((None, None, 1)))
        version = rng.choice([4, 4, 0, 15] + [v for v in range(16) if v != 6])
        frame = patch(frame, ETH_HLEN, bytes([(version << 4) | (frame[ETH_HLEN] & 0x0F)]))
        if rng.random() < 0.3:   # also a bad payload length: version is checked first
            frame = patch(frame, ETH_HLEN + 4, b"\xff\xff")
        return frame

    def drop_ipv6_bad_payload_length(self):
        rng = self.rng
        hlim = rng.choice((0, 1)) if rng.random() < 0.2 else None
        dst = self.unroutable_dst(6) if rng.random() < 0.2 else None
        kind = rng.choice(("longer", "max", "cut", "padded"))
        if kind == "cut":
            frame = self.ipv6(hlim=hlim, dst=dst, size=rng.randint(80, MAX_FRAME))
            return frame[:rng.randint(ETH_HLEN + 40, len(frame) - 1)]
        frame = self.fwd_v6_padded() if kind == "padded" else self.ipv6(hlim=hlim, dst=dst)
        avail = len(frame) - ETH_HLEN
        plen = 0xFFFF if kind == "max" else rng.choice((avail - 39, rng.randint(avail - 39, 0xFFFF)))
        return patch(frame, ETH_HLEN + 4, plen.to_bytes(2, "big"))

    def drop_v6_no_route(self):
        hlim = self.rng.choice((0, 1)) if self.rng.random() < 0.3 else None
        return self.ipv6(dst=self.unroutable_dst(6), hlim=hlim)

    def drop_v6_ttl_expired(self):
        frame = self.ipv6(hlim=self.rng.choice((0, 1)))
        if self.rng.random() < 0.2:
            frame += self.padding(min(self.rng.randint(1, 30), MAX_FRAME - len(frame)))
        return frame


# (case name, intent, share of the workload, builder). Intent is "forward" or
# the drop reason the oracle must report; the builder's output is checked
# against it, so a generator bug cannot silently change the mix.
# fwd_v4 has no share: it fills whatever the others leave.
CASES = (
    ("fwd_v4", "forward", None, Generator.fwd_v4),
    ("fwd_v6", "forward", 0.25, Generator.fwd_v6),
    ("fwd_v4_options", "forward", 0.07, Generator.fwd_v4_options),
    ("fwd_v4_padded", "forward", 0.04, Generator.fwd_v4_padded),
    ("fwd_v6_padded", "forward", 0.02, Generator.fwd_v6_padded),
    ("fwd_ttl2", "forward", 0.04, Generator.fwd_ttl2),
    ("fwd_v4_checksum_edge", "forward", 0.005, Generator.fwd_v4_checksum_edge),
    ("eth_truncated", "eth_truncated", 0.015, Generator.drop_eth_truncated),
    ("unknown_ethertype", "unknown_ethertype", 0.025, Generator.drop_unknown_ethertype),
    ("ipv4_truncated", "ipv4_truncated", 0.02, Generator.drop_ipv4_truncated),
    ("ipv4_bad_version", "ipv4_bad_version", 0.015, Generator.drop_ipv4_bad_version),
    ("ipv4_bad_ihl", "ipv4_bad_ihl", 0.015, Generator.drop_ipv4_bad_ihl),
    ("ipv4_bad_total_length", "ipv4_bad_total_length", 0.02, Generator.drop_ipv4_bad_total_length),
    ("ipv4_bad_checksum", "ipv4_bad_checksum", 0.02, Generator.drop_ipv4_bad_checksum),
    ("v4_no_route", "no_route", 0.02, Generator.drop_v4_no_route),
    ("v4_ttl_expired", "ttl_expired", 0.02, Generator.drop_v4_ttl_expired),
    ("ipv6_truncated", "ipv6_truncated", 0.015, Generator.drop_ipv6_truncated),
    ("ipv6_bad_version", "ipv6_bad_version", 0.015, Generator.drop_ipv6_bad_version),
    ("ipv6_bad_payload_length", "ipv6_bad_payload_length", 0.015, Generator.drop_ipv6_bad_payload_length),
    ("v6_no_route", "no_route", 0.02, Generator.drop_v6_no_route),
    ("v6_ttl_expired", "ttl_expired", 0.015, Generator.drop_v6_ttl_expired),
)


def plan(count, rng):
    """Exact number of frames per case (every drop case at least once), shuffled."""
    quotas = {}
    for name, intent, share, _ in CASES:
        if share is not None:
            n = round(share * count)
            quotas[name] = max(1, n) if intent != "forward" else n
    fill = count - sum(quotas.values())
    if fill < 1:
        raise SystemExit(f"--count {count} is too small for one frame of every case")
    quotas[CASES[0][0]] = fill
    order = [name for name, _, _, _ in CASES for _ in range(quotas[name])]
    rng.shuffle(order)
    return order


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

PCAP_TS_BASE = 1_700_000_000   # fixed, so the files are byte-for-byte reproducible


def write_pcap(path, records):
    """records: iterable of (index, frame). Classic pcap, microsecond
    timestamps, Ethernet link type; the timestamp encodes the input index."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for index, frame in records:
            usec = index * 10
            f.write(struct.pack("<IIII", PCAP_TS_BASE + usec // 1_000_000, usec % 1_000_000,
                                len(frame), len(frame)))
            f.write(frame)


def cross_check_forwarded(frame):
    """Independent sanity checks on an oracle output frame (scapy's checksum)."""
    if frame[12:14] == b"\x08\x00":
        hlen = (frame[ETH_HLEN] & 0x0F) * 4
        header = frame[ETH_HLEN:ETH_HLEN + hlen]
        zeroed = header[:10] + b"\x00\x00" + header[12:]
        assert int.from_bytes(header[10:12], "big") == scapy_checksum(zeroed), "oracle checksum disagrees with scapy"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="l3fwd table config (JSON)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--count", type=int, default=3000, help="number of input frames (default 3000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--ports", type=int, default=3, help="number of switch ports (default 3)")
    args = ap.parse_args()

    try:
        cfg = Config(args.config, args.ports)
        rng = random.Random(args.seed)
        gen = Generator(cfg, rng)
    except (ConfigError, ValueError, KeyError, OSError) as e:
        sys.exit(f"l3fwd_workload: bad config {args.config}: {e}")

    inputs, verdicts = [], []
    cases = Counter()
    builders = {name: (intent, fn) for name, intent, _, fn in CASES}
    for name in plan(args.count, rng):
        intent, fn = builders[name]
        frame = fn(gen)
        assert 1 <= len(frame) <= MAX_FRAME, f"{name}: frame of {len(frame)} bytes"
        verdict = process(frame, cfg)
        got = "forward" if verdict.drop is None else verdict.drop
        assert got == intent, f"case {name} built a frame the oracle classifies as {got}: {frame.hex()}"
        if verdict.drop is None:
            assert len(verdict.frame) == len(frame)
            cross_check_forwarded(verdict.frame)
        inputs.append(frame)
        verdicts.append(verdict)
        cases[name] += 1

    drops = Counter(v.drop for v in verdicts if v.drop)
    missing = [r for r in DROP_REASONS if drops[r] == 0]
    assert not missing, f"workload lacks drop reasons: {missing}"

    # Every route should be the longest match of some forwarded frame; a route
    # fully shadowed by more specific ones cannot be, hence only a warning.
    hit = {v.route[0] for v in verdicts if v.drop is None}
    for version in (4, 6):
        for network, _ in cfg.lpm[version].routes:
            if network not in hit:
                print(f"l3fwd_workload: warning: no forwarded frame matched {network}", file=sys.stderr)

    os.makedirs(args.out_dir, exist_ok=True)
    write_pcap(os.path.join(args.out_dir, "in.pcap"), enumerate(inputs))
    forwarded = {}
    for port in range(args.ports):
        records = [(i, v.frame) for i, v in enumerate(verdicts) if v.drop is None and v.port == port]
        write_pcap(os.path.join(args.out_dir, f"expected_port{port}.pcap"), records)
        forwarded[str(port)] = len(records)

    expected = {
        "received": len(inputs),
        "forwarded": forwarded,
        "drops": {r: drops[r] for r in DROP_REASONS if drops[r]},
        # Diagnostics only (compare_output.py uses them to explain diffs).
        "seed": args.seed,
        "cases": dict(sorted(cases.items())),
        "verdicts": [v.label() for v in verdicts],
    }
    with open(os.path.join(args.out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    total_fwd = sum(forwarded.values())
    per_port = ", ".join(f"port{p} {n}" for p, n in forwarded.items())
    print(f"l3fwd workload: {len(inputs)} frames -> {total_fwd} forwarded ({per_port}), "
          f"{len(inputs) - total_fwd} dropped by {len(expected['drops'])} reasons; written to {args.out_dir}")


if __name__ == "__main__":
    main()

/*
 * burstradar: the TNA (Tofino-1) counterpart of pipelines/burstradar/burstradar.{h,cpp}.
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler. It is kept
 * in step with the C++ program by review.
 * Build: bf-p4c --target tofino --arch tna -o burstradar.tofino p4/burstradar.p4
 *        add -DRING_ENTRIES=N for a ring of N entries (default 1000, at most 65536).
 *
 * What it does (the header comment of burstradar.h is the specification):
 * ingress forwards by ingress port and puts a 1-byte bridged header in front
 * of the packet. In the egress of every watched port (a hit in `threshold`)
 * the BurstRadar snapshot algorithm runs on the queue depth at dequeue, in
 * 80-byte cells as the traffic manager gives it:
 *   if deq_qdepth > threshold:  remaining = deq_qdepth - size;  mark
 *   elif remaining > 0:         remaining -= size (saturating); mark
 * with `remaining` the per-port register bytes_remaining (in cells, despite
 * the name, which is the paper's and Resources()'s). A marked packet takes
 * the next ring slot and sequence number, writes its telemetry there (one
 * 32-bit register per word of the courier: sequence number, 5-tuple, the
 * config's number of the egress port, enqueue and dequeue timestamps,
 * enqueue and dequeue depths, length) and is mirrored egress-to-egress to
 * the courier session, the mirror header carrying the slot and sequence
 * number. The copy (the courier) passes egress of the monitor port: it reads
 * the entry back; if the stored sequence number is not its own, the ring
 * wrapped before it got there: it is counted (overwritten) and dropped;
 * otherwise it becomes the courier packet, Ethernet/IPv4/UDP 9393 -> 9393
 * and the 40-byte payload of burstradar.cpp's CourierWire. The marked
 * packet itself leaves unchanged, as every other packet does.
 *
 * Where it differs from the C++ program:
 * - The packet's size in cells is exact: ceil(pkt_length / 80) ==
 *   ceil(ceil(pkt_length / 16) / 5), the inner one computed as
 *   (pkt_length + 15) >> 4 (a key slice), the outer one by the table
 *   `cells_of_length` (4097 entries). But Tofino's egress pkt_length may
 *   count the 1-byte bridged header (check on tofino-model): then size and
 *   the ring's pkt_length are those of a packet one byte longer, one cell
 *   more for lengths that are multiples of 80. The byte is also in the
 *   buffer, so the depths count it too.
 * - The ingress-side time of an entry is enq_tstamp, the time the packet
 *   joined its queue, as in the C++ program (whose Entry has no other).
 *   The ingress MAC timestamp is not bridged: the courier has no field for
 *   it, and every bridged byte waits in the very queue being measured. For
 *   the same reason the 5-tuple is parsed in egress, not in ingress; the
 *   bridged header is only the kind byte that tells it from a mirror header.
 * - Widths: Tofino-1's enq_qdepth and deq_qdepth are 19 bits, deq_timedelta
 *   18 bits (262 us); they are zero-extended into the 32-bit words. The
 *   dequeue time is enq_tstamp + deq_timedelta, wrapping at 32 bits, as in
 *   the C++ program.
 * - The 5-tuple is recorded under ParseL3's conditions (IPv4 version 4,
 *   IHL >= 5, a good header checksum, total length >= IHL * 4) except that
 *   a total length beyond the frame is not checked; otherwise its fields
 *   are 0, as in the C++ program. Ports are read behind IPv4 options and,
 *   as in the C++ program, whatever the fragment offset.
 * - The ring: RING_ENTRIES is a compile-time constant and must equal the
 *   config's "ring_entries" (the C++ program allows up to 2^20, here 2^16).
 *   Egress cannot take seq % ring_entries, so the slot has its own register
 *   (`ring_index`, wrapping at RING_ENTRIES) beside the 32-bit sequence
 *   counter (`ring_next_seq`); both start at 0 and move together, so the
 *   slot is seq % RING_ENTRIES until seq wraps at 2^32 (where the C++ slot
 *   jumps and this one goes on; overwrites are detected either way).
 * - The mirror header is 7 bytes, network order: kind (0xe2), slot, seq.
 *   The C++ program's is the 4-byte seq in host order; it tells mirror
 *   copies by instance_type, which a Tofino program learns from the kind.
 * - The ring is ten 32-bit registers, one per courier word: a Tofino-1
 *   stateful ALU returns one 32-bit value, so a 64-bit pair (Resources()
 *   counts four) could not be read back whole in one pass.
 * - bytes_remaining: the branch taken (deq_qdepth > threshold) is decided
 *   in the match-action unit (a saturating subtraction); remaining_set and
 *   remaining_drain are two RegisterActions of the one register, the drain
 *   subtracting with saturation at 0 as the C++ std::min does.
 * - egress_port in the ring is the config's port number (`port_id`, a
 *   parameter of `threshold`), not Tofino's 9-bit dev port.
 * - The courier is written in front of the truncated mirror copy. Its
 *   parser consumes the mirror header and skips the copy's first 34 bytes
 *   (Ethernet and IPv4 without options, always there); the rest of what the
 *   session's truncation leaves follows the 82-byte courier after the IPv4
 *   datagram, where softfino's parser reads it as Ethernet padding (with
 *   max_pkt_len 64: 23..30 bytes, depending on whether the mirror header
 *   counts towards max_pkt_len; check on tofino-model). The C++ program
 *   cuts the copy to the courier's 82 bytes. A copy too short to parse is
 *   dropped (egress_drop), as the C++ program drops one under 4 bytes;
 *   the C++ "no room for the courier" drop has no counterpart.
 *
 * Control plane (what softfino's Configure/Replication set up):
 * - Ingress `forward` (exact ingress_port): forward_to(port) per "forward"
 *   entry. A miss drops (no_route), as an unforwarded port does in softfino.
 * - Egress `threshold` (exact egress_port): watch(threshold_cells, port_id,
 *   session) per watched port ("watch", or else every "forward" out port;
 *   never the monitor port); threshold_cells = max(1, floor(bytes / 80)),
 *   bytes = threshold_bytes, or threshold_rtt_fraction * rtt_us * 1e-6 *
 *   the port's rate in bit/s / 8 (5% of a 25 us RTT at 10G: 1562.5 B, 19
 *   cells); port_id = the port's number in the config; session = the
 *   session of the monitor port in the watched port's pipe (mirror_session,
 *   default 900, for the first monitor port, the next number for the next,
 *   or the listed ones).
 * - Egress `cells_of_length` (exact sixteenths): set_cells(ceil(s / 5)) for
 *   each s in 0..4096.
 * - Egress `courier_addresses` (no key, default action): courier_headers(src
 *   mac, dst mac, src ip, dst ip) from "courier"; the default is the C++
 *   program's, 02:42:52:44:52:01 -> :02, 192.168.254.1 -> .2.
 * - A mirror session per monitor port: E2E, egress port = that port,
 *   max_pkt_len 64 (Replication()'s truncation).
 * - Registers are per pipe, as the C++ ring is: a watched port's couriers
 *   must go to a monitor port of its own pipe, so "monitor_port" lists one
 *   per pipe that has watched ports (Configure checks). All start at 0.
 * - Counters: `stats` by STAT_* (marked, couriers, overwritten: the C++
 *   Counters() names), `watched_packets` by egress port (their sum is
 *   "watched_packets"), `drop_counter` by softfino::pipe::DropReason code.
 */

#include <core.p4>
#include <tna.p4>

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8> IP_PROTO_TCP = 6;
const bit<8> IP_PROTO_UDP = 17;
const bit<16> UDP_COURIER = 9393;  // BurstRadar::kCourierUdpPort

#ifndef RING_ENTRIES
#define RING_ENTRIES 1000
#endif
typedef bit<16> ring_slot_t;
const bit<32> RING_LAST = RING_ENTRIES - 1;

// The first byte of what egress finds in front of a packet.
const bit<8> KIND_BRIDGE = 0xb1;  // bridged header from ingress
const bit<8> KIND_MIRROR = 0xe2;  // mirror header: a courier
const MirrorType_t MIRROR_TYPE_E2E = 2;

// A courier copy's bytes behind the mirror header that its parser skips:
// the marked packet's Ethernet header and IPv4 header without options.
const bit<32> COPY_SKIP_BITS = (14 + 20) * 8;

// The courier's lengths: IPv4 total length and UDP length.
const bit<16> COURIER_IP_BYTES = 20 + 8 + 40;
const bit<16> COURIER_UDP_BYTES = 8 + 40;

// softfino::pipe::DropReason codes: drop_counter index N is the same reason
// in both versions.
typedef bit<8> drop_reason_t;
const drop_reason_t DROP_NO_ROUTE = 11;
const drop_reason_t DROP_EGRESS_DROP = 17;
const drop_reason_t DROP_BURSTRADAR_OVERWRITTEN = 35;
const bit<32> DROP_REASON_COUNT = 36;

// `stats` indices (BurstRadar::Counters() names).
typedef bit<2> stat_t;
const stat_t STAT_MARKED = 0;
const stat_t STAT_COURIERS = 1;
const stat_t STAT_OVERWRITTEN = 2;
const bit<32> STAT_COUNT = 3;

/* ---------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------- */

header ethernet_h { mac_addr_t dst_addr; mac_addr_t src_addr; bit<16> ether_type; }
header ipv4_h {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> total_len;
    bit<16> identification; bit<3> flags; bit<13> frag_offset;
    bit<8> ttl; bit<8> protocol; bit<16> hdr_checksum;
    ipv4_addr_t src_addr; ipv4_addr_t dst_addr;
}
// IPv4 options, 4..40 bytes, as raw chunks (l3fwd.p4's scheme): at most one
// each of 16 (a), 16 (b), 8 and 4 bytes, extracted and emitted in that order,
// which reproduces the bytes for every IHL.
header ipv4_opts16_h { bit<128> data; }
header ipv4_opts8_h  { bit<64> data; }
header ipv4_opts4_h  { bit<32> data; }
// The first 4 bytes of TCP and UDP: all the 5-tuple needs.
header l4_ports_h { bit<16> src_port; bit<16> dst_port; }
header udp_h { bit<16> src_port; bit<16> dst_port; bit<16> len; bit<16> checksum; }

header bridge_h { bit<8> kind; }  // KIND_BRIDGE
header mirror_h { bit<8> kind; ring_slot_t slot; bit<32> seq; }  // KIND_MIRROR

// burstradar.cpp's CourierWire (40 bytes, network order).
header courier_h {
    bit<32> seq;
    bit<32> src_ip; bit<32> dst_ip;
    bit<16> src_port; bit<16> dst_port;
    bit<8> proto; bit<8> reserved; bit<16> egress_port;
    bit<32> enq_tstamp; bit<32> deq_tstamp;
    bit<32> enq_qdepth; bit<32> deq_qdepth;
    bit<16> pkt_length; bit<16> reserved2;
}

struct ig_headers_t {
    bridge_h bridge;
}
struct ig_metadata_t {}

// Egress: the bridged and mirror headers are consumed and never emitted. A
// courier's headers (c_*) are only ever valid on a courier, the parsed ones
// only on other packets.
struct eg_headers_t {
    bridge_h      bridge;
    mirror_h      mirror;
    ethernet_h    c_ethernet;
    ipv4_h        c_ipv4;
    udp_h         c_udp;
    courier_h     courier;
    ethernet_h    ethernet;
    ipv4_h        ipv4;
    ipv4_opts16_h opts16_a;
    ipv4_opts16_h opts16_b;
    ipv4_opts8_h  opts8;
    ipv4_opts4_h  opts4;
    l4_ports_h    ports;
}

struct eg_metadata_t {
    bool        ipv4_ok;       // the whole IPv4 header (options too) was parsed
    bool        checksum_err;  // its header checksum is wrong
    bit<32>     threshold;     // cells
    bit<16>     port_id;       // the egress port's number in the config
    MirrorId_t  session;
    bit<32>     len_up;        // pkt_length + 15; [16:4]: ceil(pkt_length / 16)
    bit<32>     size_cells;    // ceil(pkt_length / 80)
    bit<32>     deq_qdepth;
    bit<32>     enq_qdepth;
    bit<32>     excess;        // deq_qdepth |-| threshold: non-zero iff above it
    bit<32>     depth_after;   // deq_qdepth |-| size_cells
    bit<1>      mark;
    ring_slot_t slot;
    bit<32>     seq;
    bit<16>     hdr_len;       // IHL * 4
    bit<16>     len_deficit;   // hdr_len |-| total_len: non-zero iff total_len < IHL * 4
    bit<8>      proto;
    bit<32>     src_ip;
    bit<32>     dst_ip;
    bit<32>     ports;         // src_port ++ dst_port
    bit<32>     proto_port;    // proto ++ 0 ++ port_id: the courier's word
    bit<32>     length_word;   // pkt_length ++ 0: the courier's word
    bit<32>     enq_tstamp;
    bit<32>     deq_tstamp;
    bit<32>     stored_seq;    // a courier's: the sequence number in its slot
    bit<32>     seq_diff;
}

/* ---------------------------------------------------------------------------
 * Ingress: forward by ingress port. Nothing is parsed: forwarding needs
 * only the port, and egress parses what the ring records.
 * ------------------------------------------------------------------------- */

parser IngressParser(packet_in pkt, out ig_headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);  // never resubmits
        transition accept;
    }
}

control Ingress(inout ig_headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;

    action forward_to(PortId_t port) {
        ig_tm_md.ucast_egress_port = port;
        hdr.bridge.setValid();
        hdr.bridge.kind = KIND_BRIDGE;
    }
    action no_route() {
        ig_dprsr_md.drop_ctl = 1;
        drop_counter.count(DROP_NO_ROUTE);
    }
    table forward {
        key = { ig_intr_md.ingress_port : exact @name("ingress_port"); }
        actions = { forward_to; @defaultonly no_route; }
        const default_action = no_route();
        size = 512;
    }

    apply { forward.apply(); }
}

control IngressDeparser(packet_out pkt, inout ig_headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    apply { pkt.emit(hdr); }  // the bridged header, then the packet as it came
}

/* ---------------------------------------------------------------------------
 * Egress parser: a bridged packet's headers for its 5-tuple (re-emitted as
 * they came), or a courier's mirror header. Never rejects; reading
 * eg_prsr_md.parser_err in Egress keeps bf-p4c from dropping packets with
 * parser errors (a packet too short for its ports is forwarded, ports 0).
 * ------------------------------------------------------------------------- */

parser EgressParser(packet_in pkt, out eg_headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    Checksum() ck;  // the IPv4 header checksum, options included

    state start {
        pkt.extract(eg_intr_md);
        md.ipv4_ok = false;
        md.checksum_err = false;
        transition select(pkt.lookahead<bit<8>>()) {
            KIND_BRIDGE : parse_bridge;
            KIND_MIRROR : parse_mirror;
            default     : accept;
        }
    }
    // A courier: the mirror header, then the copy's first bytes, skipped
    // (dropped from the packet) to make room for the courier's headers.
    state parse_mirror {
        pkt.extract(hdr.mirror);
        pkt.advance(COPY_SKIP_BITS);
        transition accept;
    }
    state parse_bridge {
        pkt.extract(hdr.bridge);
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ck.add(hdr.ipv4);
        transition select(hdr.ipv4.version, hdr.ipv4.ihl) {
            (4, 5)  : ipv4_verify;
            (4, 6)  : opts_4;
            (4, 7)  : opts_8;
            (4, 8)  : opts_12;
            (4, 9)  : opts_16;
            (4, 10) : opts_20;
            (4, 11) : opts_24;
            (4, 12) : opts_28;
            (4, 13) : opts_32;
            (4, 14) : opts_36;
            (4, 15) : opts_40;
            default : accept;  // bad version or IHL: no 5-tuple (ParseL3 rejects it)
        }
    }
    // opts_N extracts the N option bytes that remain.
    state opts_40 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_24_b; }
    state opts_36 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_20_b; }
    state opts_32 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_16_b; }
    state opts_28 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_12; }
    state opts_24 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_8; }
    state opts_20 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition opts_4; }
    state opts_16 { pkt.extract(hdr.opts16_a); ck.add(hdr.opts16_a); transition ipv4_verify; }
    state opts_24_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition opts_8; }
    state opts_20_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition opts_4; }
    state opts_16_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition ipv4_verify; }
    state opts_12 { pkt.extract(hdr.opts8); ck.add(hdr.opts8); transition opts_4; }
    state opts_8 { pkt.extract(hdr.opts8); ck.add(hdr.opts8); transition ipv4_verify; }
    state opts_4 { pkt.extract(hdr.opts4); ck.add(hdr.opts4); transition ipv4_verify; }

    // verify() is true when the ones' complement sum is wrong.
    state ipv4_verify {
        md.ipv4_ok = true;
        md.checksum_err = ck.verify();
        transition select(hdr.ipv4.protocol) {
            IP_PROTO_TCP : parse_ports;
            IP_PROTO_UDP : parse_ports;
            default      : accept;
        }
    }
    // A packet too short for its ports leaves them invalid (recorded as 0).
    state parse_ports { pkt.extract(hdr.ports); transition accept; }
}

/* ---------------------------------------------------------------------------
 * Egress: the snapshot on watched ports, the courier on the monitor port
 * ------------------------------------------------------------------------- */

// One ring register: a 32-bit word per entry, written by a marked packet
// (NAME_put, from VALUE) and read back by its courier (NAME_get); one
// stateful ALU each. A packet runs at most one of the two.
#define RING_WORD(NAME, VALUE)                                                  \
    Register<bit<32>, ring_slot_t>(RING_ENTRIES, 0) NAME;                       \
    RegisterAction<bit<32>, ring_slot_t, bit<32>>(NAME) NAME##_put = {          \
        void apply(inout bit<32> v) { v = VALUE; }                              \
    };                                                                          \
    RegisterAction<bit<32>, ring_slot_t, bit<32>>(NAME) NAME##_get = {          \
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; }                 \
    };

control Egress(inout eg_headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;
    Counter<bit<32>, stat_t>(STAT_COUNT, CounterType_t.PACKETS) stats;
    Counter<bit<32>, PortId_t>(512, CounterType_t.PACKETS) watched_packets;

    // Per watched port: the cells still to mark of the burst in progress.
    Register<bit<32>, PortId_t>(512, 0) bytes_remaining;
    // Above the threshold: what waits behind this packet.
    RegisterAction<bit<32>, PortId_t, bit<1>>(bytes_remaining) remaining_set = {
        void apply(inout bit<32> v) { v = md.depth_after; }
    };
    // At or below it: mark while some of the burst is left.
    RegisterAction<bit<32>, PortId_t, bit<1>>(bytes_remaining) remaining_drain = {
        void apply(inout bit<32> v, out bit<1> mark) {
            if (v != 0) {
                mark = 1;
                if (v > md.size_cells) { v = v - md.size_cells; } else { v = 0; }
            } else {
                mark = 0;
            }
        }
    };

    // The next slot (wraps at RING_ENTRIES) and sequence number (marks so
    // far in this pipe); each returns the old value.
    Register<bit<32>, bit<1>>(1, 0) ring_index;
    RegisterAction<bit<32>, bit<1>, bit<32>>(ring_index) ring_index_take = {
        void apply(inout bit<32> v, out bit<32> old) {
            old = v;
            if (v >= RING_LAST) { v = 0; } else { v = v + 1; }
        }
    };
    Register<bit<32>, bit<1>>(1, 0) ring_next_seq;
    RegisterAction<bit<32>, bit<1>, bit<32>>(ring_next_seq) ring_next_seq_take = {
        void apply(inout bit<32> v, out bit<32> old) { old = v; v = v + 1; }
    };

    // The ring, word by word in CourierWire's order.
    RING_WORD(ring_seq, md.seq)
    RING_WORD(ring_src_ip, md.src_ip)
    RING_WORD(ring_dst_ip, md.dst_ip)
    RING_WORD(ring_ports, md.ports)
    RING_WORD(ring_proto_port, md.proto_port)
    RING_WORD(ring_enq_tstamp, md.enq_tstamp)
    RING_WORD(ring_deq_tstamp, md.deq_tstamp)
    RING_WORD(ring_enq_qdepth, md.enq_qdepth)
    RING_WORD(ring_deq_qdepth, md.deq_qdepth)
    RING_WORD(ring_pkt_length, md.length_word)

    action drop(drop_reason_t reason) {
        eg_dprsr_md.drop_ctl = 1;
        drop_counter.count(reason);
    }

    action watch(bit<32> threshold_cells, bit<16> port_id, MirrorId_t session) {
        md.threshold = threshold_cells;
        md.port_id = port_id;
        md.session = session;
    }
    action not_watched() {}
    table threshold {
        key = { eg_intr_md.egress_port : exact @name("egress_port"); }
        actions = { watch; @defaultonly not_watched; }
        const default_action = not_watched();
        size = 512;
    }

    // ceil(pkt_length / 16) -> ceil(pkt_length / 80) (see the top of this file).
    action set_cells(bit<32> cells) { md.size_cells = cells; }
    table cells_of_length {
        key = { md.len_up[16:4] : exact @name("sixteenths"); }
        actions = { set_cells; }
        default_action = set_cells(0);
        size = 4097;
    }

    // The courier's headers, as BurstRadar::Courier writes them; the
    // control plane sets the addresses from "courier".
    action courier_headers(mac_addr_t src_mac, mac_addr_t dst_mac,
                           ipv4_addr_t src_ip, ipv4_addr_t dst_ip) {
        hdr.c_ethernet.setValid();
        hdr.c_ethernet.dst_addr = dst_mac; hdr.c_ethernet.src_addr = src_mac;
        hdr.c_ethernet.ether_type = ETHERTYPE_IPV4;
        hdr.c_ipv4.setValid();
        hdr.c_ipv4.version = 4; hdr.c_ipv4.ihl = 5; hdr.c_ipv4.diffserv = 0;
        hdr.c_ipv4.total_len = COURIER_IP_BYTES;
        hdr.c_ipv4.identification = 0; hdr.c_ipv4.flags = 0; hdr.c_ipv4.frag_offset = 0;
        hdr.c_ipv4.ttl = 64; hdr.c_ipv4.protocol = IP_PROTO_UDP;
        hdr.c_ipv4.hdr_checksum = 0;  // the deparser computes it
        hdr.c_ipv4.src_addr = src_ip; hdr.c_ipv4.dst_addr = dst_ip;
        hdr.c_udp.setValid();
        hdr.c_udp.src_port = UDP_COURIER; hdr.c_udp.dst_port = UDP_COURIER;
        hdr.c_udp.len = COURIER_UDP_BYTES; hdr.c_udp.checksum = 0;
        hdr.courier.setValid();
        hdr.courier.reserved = 0; hdr.courier.reserved2 = 0;
    }
    // No key: the control plane may replace the default action.
    table courier_addresses {
        actions = { courier_headers; }
        default_action = courier_headers(0x024252445201, 0x024252445202,
                                         0xc0a8fe01, 0xc0a8fe02);
    }

    apply {
        if (hdr.mirror.isValid()) {
            // A courier on the monitor port.
            if (eg_prsr_md.parser_err != PARSER_ERROR_OK) {
                drop(DROP_EGRESS_DROP);  // too short for the mirror header and what it skips
            } else {
                md.stored_seq = ring_seq_get.execute(hdr.mirror.slot);
                md.seq_diff = md.stored_seq ^ hdr.mirror.seq;
                if (md.seq_diff != 0) {
                    // The ring wrapped before this courier got here.
                    drop(DROP_BURSTRADAR_OVERWRITTEN);
                    stats.count(STAT_OVERWRITTEN);
                } else {
                    courier_addresses.apply();
                    hdr.courier.seq = hdr.mirror.seq;
                    hdr.courier.src_ip = ring_src_ip_get.execute(hdr.mirror.slot);
                    hdr.courier.dst_ip = ring_dst_ip_get.execute(hdr.mirror.slot);
                    md.ports = ring_ports_get.execute(hdr.mirror.slot);
                    md.proto_port = ring_proto_port_get.execute(hdr.mirror.slot);
                    hdr.courier.enq_tstamp = ring_enq_tstamp_get.execute(hdr.mirror.slot);
                    hdr.courier.deq_tstamp = ring_deq_tstamp_get.execute(hdr.mirror.slot);
                    hdr.courier.enq_qdepth = ring_enq_qdepth_get.execute(hdr.mirror.slot);
                    hdr.courier.deq_qdepth = ring_deq_qdepth_get.execute(hdr.mirror.slot);
                    md.length_word = ring_pkt_length_get.execute(hdr.mirror.slot);
                    hdr.courier.src_port = md.ports[31:16];
                    hdr.courier.dst_port = md.ports[15:0];
                    hdr.courier.proto = md.proto_port[31:24];
                    hdr.courier.egress_port = md.proto_port[15:0];
                    hdr.courier.pkt_length = md.length_word[31:16];
                    stats.count(STAT_COURIERS);
                }
            }
        } else {
            hdr.bridge.setInvalid();  // leaves as it came
            if (threshold.apply().hit) {
                watched_packets.count(eg_intr_md.egress_port);

                // The snapshot algorithm, in cells.
                md.deq_qdepth = 13w0 ++ eg_intr_md.deq_qdepth;
                md.excess = md.deq_qdepth |-| md.threshold;
                md.len_up = (16w0 ++ eg_intr_md.pkt_length) + 15;
                cells_of_length.apply();
                md.depth_after = md.deq_qdepth |-| md.size_cells;
                if (md.excess != 0) {
                    remaining_set.execute(eg_intr_md.egress_port);
                    md.mark = 1;
                } else {
                    md.mark = remaining_drain.execute(eg_intr_md.egress_port);
                }

                if (md.mark == 1) {
                    // The entry: 5-tuple (0 unless ParseL3 would accept the
                    // IPv4 header), times, depths, length.
                    md.src_ip = 0; md.dst_ip = 0; md.proto = 0; md.ports = 0;
                    if (md.ipv4_ok && !md.checksum_err) {
                        md.hdr_len = 10w0 ++ hdr.ipv4.ihl ++ 2w0;
                        md.len_deficit = md.hdr_len |-| hdr.ipv4.total_len;
                        if (md.len_deficit == 0) {
                            md.src_ip = hdr.ipv4.src_addr;
                            md.dst_ip = hdr.ipv4.dst_addr;
                            md.proto = hdr.ipv4.protocol;
                            if (hdr.ports.isValid()) {
                                md.ports = hdr.ports.src_port ++ hdr.ports.dst_port;
                            }
                        }
                    }
                    md.proto_port = md.proto ++ 8w0 ++ md.port_id;
                    md.enq_tstamp = eg_intr_md.enq_tstamp;
                    md.deq_tstamp = eg_intr_md.enq_tstamp + (14w0 ++ eg_intr_md.deq_timedelta);
                    md.enq_qdepth = 13w0 ++ eg_intr_md.enq_qdepth;
                    md.length_word = eg_intr_md.pkt_length ++ 16w0;

                    md.slot = (ring_slot_t) ring_index_take.execute(0);
                    md.seq = ring_next_seq_take.execute(0);
                    ring_seq_put.execute(md.slot);
                    ring_src_ip_put.execute(md.slot);
                    ring_dst_ip_put.execute(md.slot);
                    ring_ports_put.execute(md.slot);
                    ring_proto_port_put.execute(md.slot);
                    ring_enq_tstamp_put.execute(md.slot);
                    ring_deq_tstamp_put.execute(md.slot);
                    ring_enq_qdepth_put.execute(md.slot);
                    ring_deq_qdepth_put.execute(md.slot);
                    ring_pkt_length_put.execute(md.slot);
                    stats.count(STAT_MARKED);

                    // The courier: a copy of this packet (as deparsed) to
                    // the monitor port, behind the mirror header.
                    eg_dprsr_md.mirror_type = MIRROR_TYPE_E2E;
                }
            }
        }
    }
}

control EgressDeparser(packet_out pkt, inout eg_headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Checksum() ipv4_checksum;
    Mirror() mirror;

    apply {
        // Only the courier's IPv4 header is new; a forwarded packet keeps
        // its checksum, right or wrong, as in the C++ program.
        if (hdr.c_ipv4.isValid()) {
            hdr.c_ipv4.hdr_checksum = ipv4_checksum.update({
                hdr.c_ipv4.version, hdr.c_ipv4.ihl, hdr.c_ipv4.diffserv, hdr.c_ipv4.total_len,
                hdr.c_ipv4.identification, hdr.c_ipv4.flags, hdr.c_ipv4.frag_offset,
                hdr.c_ipv4.ttl, hdr.c_ipv4.protocol, hdr.c_ipv4.src_addr, hdr.c_ipv4.dst_addr});
        }
        if (eg_dprsr_md.mirror_type == MIRROR_TYPE_E2E) {
            mirror.emit<mirror_h>(md.session, {KIND_MIRROR, md.slot, md.seq});
        }
        // Not the bridged or mirror header: that is how they come off.
        pkt.emit(hdr.c_ethernet); pkt.emit(hdr.c_ipv4); pkt.emit(hdr.c_udp);
        pkt.emit(hdr.courier);
        pkt.emit(hdr.ethernet); pkt.emit(hdr.ipv4);
        pkt.emit(hdr.opts16_a); pkt.emit(hdr.opts16_b); pkt.emit(hdr.opts8); pkt.emit(hdr.opts4);
        pkt.emit(hdr.ports);
    }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

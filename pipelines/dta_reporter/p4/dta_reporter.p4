/*
 * dta_reporter: the TNA (Tofino-1) counterpart of
 * pipelines/dta_reporter/dta_reporter.{h,cpp} (config: reporter_config.h).
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler. It is kept
 * in step with the C++ program by review.
 * Build: bf-p4c --target tofino --arch tna -o dta_reporter.tofino p4/dta_reporter.p4
 *        add -DDTA_BASE_2B for the 2-byte base header ("base_form": "2-byte"),
 *        -DFLOW_INDEX_BITS=N for 2^N flow slots (default 16: 65536).
 *
 * What it does (the header comment of dta_reporter.h is the specification):
 * forwards by ingress port, and for each forwarded IPv4 TCP/UDP packet that
 * is not a later fragment computes the flow key, the standard CRC-32 of the
 * 13-byte 5-tuple (src ip, dst ip, proto, src port, dst port). A per-pipe
 * flow table in registers indexed by the key's low bits decides the reports:
 *   Key-Write      (switch_id << 16 | ingress port) when it differs from
 *                  what was last reported for the flow (a flow's first packet
 *                  always);
 *   Key-Increment  every `every`-th packet of the flow, with the bytes (IPv4
 *                  total length) or packets those packets add up to;
 *   Append         the key into list `list` when the flow starts;
 *   Postcarding    (key, hop, switch_id) when the flow starts.
 * One packet becomes several as in the C++ program: ingress puts the values
 * into a bridged header in front of the packet and sends it to multicast
 * group base + 16 * forward_index + mask (mask bit opcode-1), whose members
 * are the forwarding port (rid 0x100) and the report port once per report
 * (rid = opcode). Egress of the forwarding port does not emit the bridged
 * header; egress of the report port turns its copy into the report.
 *
 * Truncation. A Tofino deparser emits the valid headers and then everything
 * the parser did not consume: the rest of a packet always follows, and egress
 * cannot shorten a packet. The standard way to make a small packet out of a
 * large one is a mirror session with truncation (max_pkt_len), which is what
 * this program does: egress of the report port writes the report's headers
 * in front of the (unparsed) original packet, mirrors that egress-to-egress
 * to the report port through the opcode's mirror session, whose max_pkt_len
 * cuts it to the report's size, and drops the untruncated original. The
 * mirror copy passes egress a second time untouched. With -DDTA_UNTRUNCATED
 * the report goes out at once instead, with the original packet behind it,
 * past the IPv4 total length (softfino's report parser treats bytes after the
 * datagram as Ethernet padding, so the translator still accepts it, but every
 * report is as long as the packet it reports on).
 *
 * Where it differs from the C++ program:
 * - flow_slots is a compile-time constant (FLOW_INDEX_BITS); the config's
 *   "flow_slots" must equal 2^FLOW_INDEX_BITS. The slot holds the key and a
 *   used flag (a 64-bit register pair), as FlowSlot does.
 * - The Key-Increment accumulator is 32 bits (Tofino-1's stateful ALU has no
 *   64-bit add); the report's counter is 64 bits with the upper half 0. With
 *   "counter": "bytes" it is exact while every <= 65537 (65535-byte packets);
 *   the C++ program accepts every up to 2^20 and sums in 64 bits.
 * - Registers of primitives the config leaves out still run; the `enabled`
 *   mask keeps their reports from being made, so nothing observable differs.
 * - The Key-Write value uses the ingress port's number as the config gives it
 *   (`in_port_id`, a parameter of `forward`), not Tofino's 9-bit dev port.
 * - The bridged header is 17 bytes, the C++ Bridge's 16 plus a leading kind
 *   byte, so that egress tells bridged copies from mirror copies. Packets
 *   that make no report bypass egress (ig_tm_md.bypass_egress).
 * - The report leaves after a second egress pass (the E2E mirror). Tofino's
 *   MAC pads frames to 64 bytes, so reports of 52..58 bytes (softfino sends
 *   them unpadded) carry padding after the IPv4 datagram.
 * - The C++ program does not monitor a packet whose IPv4 total length runs
 *   past the frame; Tofino-1's ingress does not know the frame's length, so
 *   only total_len >= IHL * 4 is checked. The C++ "no headroom" case has no
 *   counterpart, nor has reports_too_long.
 * - A report copy (rid 1..4) on a port other than the report port misses
 *   `report` and leaves without its bridged header; the C++ program leaves it
 *   as it is. The groups never make one.
 * - Counters: `reports` counts by report mask (16 entries; the control plane
 *   sums the bits by opcode), `reports_built` by opcode.
 * - The CRC: that the hash unit feeds the field list to the reflected CRC in
 *   wire bit order must be checked once on tofino-model against softfino's
 *   net::Crc("crc_32") over the same 13 bytes (if not, byte-reverse the
 *   fields); the key must match for the translator's queries to find flows.
 *
 * Control plane (what softfino's Configure/Replication set up):
 * - Ingress `forward` (exact ingress_port): forward_to(port, group, in_port_id)
 *   for each "forward" entry: port = the out port, group =
 *   multicast_group_base + 16 * (index of the out port among the distinct
 *   out ports, in config order), in_port_id = the "in" number. A miss drops
 *   (no_route), as an unforwarded port does in softfino.
 * - Ingress `reporter` (no key, default action): configure(switch_id,
 *   enabled, count_bytes, every_minus_1); enabled bit 0 Key-Write, 1 Append,
 *   2 Key-Increment, 3 Postcarding, for the config sections present.
 * - PRE: for each out port index i and mask 1..15, group base + 16 i + mask
 *   with an L1 node (rid 0x100) on the out port and one L1 node (rid = op) on
 *   the report port per bit op-1 of mask.
 * - Egress `report` (exact egress_port, egress_rid): one entry (report port,
 *   opcode) per configured primitive: key_write_report(redundancy, session),
 *   append_report(list, session), key_increment_report(redundancy, session),
 *   postcard_report(hop, switch_id, session).
 * - Egress `report_addresses` (no key, default action): set_addresses(src
 *   mac, dst mac, src ip, dst ip) from "report". UDP source port 40040, TTL
 *   64, TOS 0, ID 0, DF, UDP checksum 0: DtaAddresses' defaults, which the
 *   config cannot change.
 * - Mirror sessions: one per opcode (E2E, egress port = the report port),
 *   max_pkt_len = the report's frame bytes, 14 + 20 + 8 + base + primitive:
 *   54/53/58/54 bytes (Key-Write/Append/Key-Increment/Postcarding) in the
 *   3-byte form, one less each in the 2-byte form; check on tofino-model
 *   whether the 1-byte mirror header counts towards max_pkt_len (then add 1).
 * - A report port per pipe ("report_port" and "report.src_ip" as lists of R):
 *   no change to this program, only to its control plane, which sets the
 *   tables per pipe (asymmetric entries, bfrt's pipe scope), as softfino's
 *   per-pipe state does: in pipe p, whose report port has index r,
 *   `forward`'s group = base + 16 * (i * R + r); the PRE has the groups of
 *   every (i, r, mask), r's report nodes on report port r; `report` has the
 *   entries of the report port in that pipe, with mirror sessions of their
 *   own (egress port = that report port); `report_addresses` has src ip =
 *   src_ip[r]. Each pipe's `seqnum` register numbers its own port's reports.
 */

#include <core.p4>
#include <tna.p4>

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8> IP_PROTO_TCP = 6;
const bit<8> IP_PROTO_UDP = 17;
const bit<16> UDP_DTA_REPORT = 40040;

// DTA opcodes (net::DtaOpcode); mask bit opcode-1.
const bit<8> OP_KEY_WRITE = 1;
const bit<8> OP_APPEND = 2;
const bit<8> OP_KEY_INCREMENT = 3;
const bit<8> OP_POSTCARDING = 4;

// DtaReporter::kForwardRid: the forwarding port's copy of a reported packet.
const bit<16> RID_FORWARD = 0x100;

// The first byte of what egress finds in front of a packet.
const bit<8> KIND_BRIDGE = 0xb1;  // bridged header from ingress
const bit<8> KIND_MIRROR = 0xe2;  // mirror header: a finished, truncated report
const MirrorType_t MIRROR_TYPE_E2E = 2;

#ifdef DTA_BASE_2B
#define DTA_BASE_BYTES 2
#else
#define DTA_BASE_BYTES 3
#endif
// Primitive header sizes (net::DtaPrimitiveBytes).
#define DTA_KEY_WRITE_BYTES 9
#define DTA_APPEND_BYTES 8
#define DTA_KEY_INCREMENT_BYTES 13
#define DTA_POSTCARD_BYTES 9

#ifndef FLOW_INDEX_BITS
#define FLOW_INDEX_BITS 16
#endif
typedef bit<FLOW_INDEX_BITS> flow_index_t;
const bit<32> FLOW_SLOTS = 32w1 << FLOW_INDEX_BITS;

// softfino::pipe::DropReason codes, for the one drop this program makes.
typedef bit<8> drop_reason_t;
const drop_reason_t DROP_NO_ROUTE = 11;
const bit<32> DROP_REASON_COUNT = 12;

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
// which reproduces the bytes for every IHL. They are parsed only to reach
// the ports behind them and to verify the checksum.
header ipv4_opts16_h { bit<128> data; }
header ipv4_opts8_h  { bit<64> data; }
header ipv4_opts4_h  { bit<32> data; }
// The first 4 bytes of TCP and UDP: all the flow key needs (and all the C++
// program requires to be there).
header l4_ports_h { bit<16> src_port; bit<16> dst_port; }
header udp_h { bit<16> src_port; bit<16> dst_port; bit<16> len; bit<16> checksum; }

// What ingress hands egress in front of the packet (dta_reporter.cpp's
// Bridge, network order, after a kind byte).
header bridge_h {
    bit<8>  kind;     // KIND_BRIDGE
    bit<32> key;      // flow key
    bit<32> written;  // Key-Write value
    bit<64> count;    // Key-Increment counter
}
header mirror_h { bit<8> kind; }  // KIND_MIRROR

// DTA base header (include/softfino/net/dta.h).
#ifdef DTA_BASE_2B
header dta_base_h { bit<8> opcode; bit<1> immediate; bit<7> reserved; }
#else
header dta_base_h {
    bit<8> opcode; bit<8> seqnum; bit<1> immediate; bit<1> retransmitable; bit<6> reserved;
}
#endif
header dta_key_write_h { bit<8> redundancy; bit<32> key; bit<32> data; }
header dta_append_h { bit<32> list_id; bit<32> data; }
header dta_key_increment_h { bit<8> redundancy; bit<32> key; bit<64> counter; }
header dta_postcard_h { bit<32> key; bit<8> hop; bit<32> data; }

// Ingress: emitted in this order, the bridged header first.
struct ig_headers_t {
    bridge_h      bridge;
    ethernet_h    ethernet;
    ipv4_h        ipv4;
    ipv4_opts16_h opts16_a;
    ipv4_opts16_h opts16_b;
    ipv4_opts8_h  opts8;
    ipv4_opts4_h  opts4;
    l4_ports_h    ports;
}

// The flow table's slot in `flow_key`: the key and whether the slot is used.
struct flow_slot_t { bit<32> key; bit<32> used; }

struct ig_metadata_t {
    bool         checksum_err;  // written only when the parser reached the verify state
    bool         monitored;
    bit<16>      hdr_len;       // IHL * 4
    bit<16>      len_deficit;   // (IHL * 4) |-| total_len: non-zero iff total_len < IHL * 4
    PortId_t     out_port;
    bit<16>      group;         // multicast_group_base + 16 * out port index
    bit<16>      in_port_id;    // the ingress port's number in the config
    bit<16>      switch_id;
    bit<4>       enabled;       // report mask bits of the configured primitives
    bit<1>       count_bytes;
    bit<32>      every_minus_1;
    bit<32>      key;
    flow_index_t slot;
    bit<32>      written;       // switch_id << 16 | in_port_id
    bit<32>      amount;        // this packet's bytes or 1
    bit<32>      count_before;  // the slot's count before this packet
    bit<32>      count;         // Key-Increment counter
    bit<32>      restart_packets;
    bit<1>       restart_due;
    bit<1>       started;
    bit<1>       key_write_due;
    bit<1>       increment_due;
    bit<4>       mask;
}

// Egress: the bridged or mirror header is consumed and never emitted.
struct eg_headers_t {
    mirror_h            mirror;
    bridge_h            bridge;
    ethernet_h          ethernet;
    ipv4_h              ipv4;
    udp_h               udp;
    dta_base_h          base;
    dta_key_write_h     key_write;
    dta_append_h        append;
    dta_key_increment_h key_increment;
    dta_postcard_h      postcard;
}
struct eg_metadata_t {
    MirrorId_t session;
}

/* ---------------------------------------------------------------------------
 * Ingress parser: never rejects. Reading ig_prsr_md.parser_err in Ingress
 * keeps bf-p4c from dropping packets with parser errors (a packet too short
 * for its ports is forwarded unmonitored, as in softfino).
 * ------------------------------------------------------------------------- */

parser IngressParser(packet_in pkt, out ig_headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    Checksum() ck;  // the IPv4 header checksum, options included

    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);  // never resubmits
        md.checksum_err = false;
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;  // not monitored
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
            default : accept;  // bad version or IHL: not monitored
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
    // The second 16-byte chunk, only after the first one.
    state opts_24_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition opts_8; }
    state opts_20_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition opts_4; }
    state opts_16_b { pkt.extract(hdr.opts16_b); ck.add(hdr.opts16_b); transition ipv4_verify; }
    state opts_12 { pkt.extract(hdr.opts8); ck.add(hdr.opts8); transition opts_4; }
    state opts_8 { pkt.extract(hdr.opts8); ck.add(hdr.opts8); transition ipv4_verify; }
    state opts_4 { pkt.extract(hdr.opts4); ck.add(hdr.opts4); transition ipv4_verify; }

    // verify() is true when the ones' complement sum is wrong. Only TCP and
    // UDP with fragment offset 0 (a first fragment included, as in the C++
    // program) reach their ports.
    state ipv4_verify {
        md.checksum_err = ck.verify();
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, IP_PROTO_TCP) : parse_ports;
            (0, IP_PROTO_UDP) : parse_ports;
            default           : accept;
        }
    }
    state parse_ports { pkt.extract(hdr.ports); transition accept; }
}

/* ---------------------------------------------------------------------------
 * Ingress: forwarding, the flow table, the report decision
 * ------------------------------------------------------------------------- */

control Ingress(inout ig_headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;
    Counter<bit<32>, bit<1>>(1, CounterType_t.PACKETS) flow_starts;
    Counter<bit<32>, bit<1>>(1, CounterType_t.PACKETS) not_monitored;
    // By report mask; index 0: monitored packets that made no report.
    Counter<bit<32>, bit<4>>(16, CounterType_t.PACKETS) reports;

    // The flow key: standard CRC-32 (zlib's): reflected 0x04C11DB7, init and
    // final XOR 0xFFFFFFFF.
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false,
                           32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32) flow_hash;

    // The flow table, one register per FlowSlot field, indexed by the key's
    // low bits, one stateful ALU each in consecutive stages (Resources() of
    // the C++ program: flow_key, then last_written and packets, then count).
    // All start at 0, every slot unused: the control plane clears flow_key
    // when it loads the program (a register's initial value is undefined).
    Register<flow_slot_t, flow_index_t>(FLOW_SLOTS) flow_key;
    // Takes the slot for this packet's flow; 1 when the flow starts (the
    // slot held another flow or none).
    RegisterAction<flow_slot_t, flow_index_t, bit<1>>(flow_key) flow_claim = {
        void apply(inout flow_slot_t v, out bit<1> started) {
            if (v.used == 0 || v.key != md.key) { started = 1; } else { started = 0; }
            v.key = md.key;
            v.used = 1;
        }
    };

    // The Key-Write value last reported for the slot's flow.
    Register<bit<32>, flow_index_t>(FLOW_SLOTS, 0) last_written;
    RegisterAction<bit<32>, flow_index_t, bit<1>>(last_written) written_set = {
        void apply(inout bit<32> v) { v = md.written; }
    };
    RegisterAction<bit<32>, flow_index_t, bit<1>>(last_written) written_update = {
        void apply(inout bit<32> v, out bit<1> changed) {
            if (v != md.written) { changed = 1; } else { changed = 0; }
            v = md.written;
        }
    };

    // Packets of the flow since its last Key-Increment report. Holding the
    // count before this packet, a report is due when it reaches every - 1.
    Register<bit<32>, flow_index_t>(FLOW_SLOTS, 0) packets;
    RegisterAction<bit<32>, flow_index_t, bit<1>>(packets) packets_count = {
        void apply(inout bit<32> v, out bit<1> due) {
            if (v >= md.every_minus_1) { v = 0; due = 1; } else { v = v + 1; due = 0; }
        }
    };
    // A starting flow: this packet is its first (due when every is 1).
    RegisterAction<bit<32>, flow_index_t, bit<1>>(packets) packets_restart = {
        void apply(inout bit<32> v) { v = md.restart_packets; }
    };

    // Bytes or packets since the last Key-Increment report (32 bits: see the
    // top of this file).
    Register<bit<32>, flow_index_t>(FLOW_SLOTS, 0) count;
    RegisterAction<bit<32>, flow_index_t, bit<32>>(count) count_add = {
        void apply(inout bit<32> v) { v = v + md.amount; }
    };
    // The report takes the sum so far; this packet's amount is added outside.
    RegisterAction<bit<32>, flow_index_t, bit<32>>(count) count_take = {
        void apply(inout bit<32> v, out bit<32> before) { before = v; v = 0; }
    };
    RegisterAction<bit<32>, flow_index_t, bit<32>>(count) count_set = {
        void apply(inout bit<32> v) { v = md.amount; }
    };

    action forward_to(PortId_t port, bit<16> group, bit<16> in_port_id) {
        md.out_port = port;
        md.group = group;
        md.in_port_id = in_port_id;
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

    action configure(bit<16> switch_id, bit<4> enabled, bit<1> count_bytes,
                     bit<32> every_minus_1) {
        md.switch_id = switch_id;
        md.enabled = enabled;
        md.count_bytes = count_bytes;
        md.every_minus_1 = every_minus_1;
    }
    // No key: the control plane sets the default action (nothing reported
    // until it does).
    table reporter {
        actions = { configure; }
        default_action = configure(0, 0, 0, 0);
    }

    apply {
        md.monitored = false;
        md.started = 0; md.key_write_due = 0; md.increment_due = 0;
        md.count = 0;
        md.mask = 0;

        if (forward.apply().hit) {
            reporter.apply();

            // IPv4 TCP/UDP, not a later fragment, with its ports, a good
            // header checksum and a total length that covers the header.
            if (ig_prsr_md.parser_err == PARSER_ERROR_OK && hdr.ports.isValid() &&
                !md.checksum_err) {
                md.hdr_len = 10w0 ++ hdr.ipv4.ihl ++ 2w0;
                md.len_deficit = md.hdr_len |-| hdr.ipv4.total_len;
                if (md.len_deficit == 0) { md.monitored = true; }
            }

            if (md.monitored) {
                md.key = flow_hash.get({hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
                                        hdr.ipv4.protocol,
                                        hdr.ports.src_port, hdr.ports.dst_port});
                md.slot = (flow_index_t) md.key;  // the low bits
                md.written = md.switch_id ++ md.in_port_id;
                if (md.count_bytes == 1) {
                    md.amount = (bit<32>) hdr.ipv4.total_len;
                } else {
                    md.amount = 1;
                }
                // What `packets` holds after a flow's first packet.
                if (md.every_minus_1 == 0) {
                    md.restart_due = 1; md.restart_packets = 0;
                } else {
                    md.restart_due = 0; md.restart_packets = 1;
                }

                md.started = flow_claim.execute(md.slot);
                if (md.started == 1) {
                    // A new flow in the slot: forget the old one's state.
                    flow_starts.count(0);
                    written_set.execute(md.slot);
                    md.key_write_due = 1;  // nothing reported yet: any value is news
                    packets_restart.execute(md.slot);
                    md.increment_due = md.restart_due;
                } else {
                    md.key_write_due = written_update.execute(md.slot);
                    md.increment_due = packets_count.execute(md.slot);
                }

                if (md.increment_due == 1) {
                    md.count_before = count_take.execute(md.slot);
                    if (md.started == 1) { md.count_before = 0; }  // the evicted flow's
                    md.count = md.count_before + md.amount;
                } else if (md.started == 1) {
                    count_set.execute(md.slot);
                } else {
                    count_add.execute(md.slot);
                }

                // Bit opcode-1: Postcarding, Key-Increment, Append, Key-Write.
                md.mask = (md.started ++ md.increment_due ++ md.started ++ md.key_write_due) &
                          md.enabled;
                reports.count(md.mask);
            } else {
                not_monitored.count(0);  // forwarded, not reported on
            }

            if (md.mask == 0) {
                // Forwarded as it is; egress has nothing to do.
                ig_tm_md.ucast_egress_port = md.out_port;
                ig_tm_md.bypass_egress = 1w1;
            } else {
                hdr.bridge.setValid();
                hdr.bridge.kind = KIND_BRIDGE;
                hdr.bridge.key = md.key;
                hdr.bridge.written = md.written;
                hdr.bridge.count = 32w0 ++ md.count;
                ig_tm_md.mcast_grp_a = md.group + (12w0 ++ md.mask);
            }
        }
    }
}

control IngressDeparser(packet_out pkt, inout ig_headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    // Nothing parsed is changed: the headers go out as they came in, the
    // bridged header (when valid) in front.
    apply { pkt.emit(hdr); }
}

/* ---------------------------------------------------------------------------
 * Egress parser: only multicast copies (bridged header) and mirror copies
 * (mirror header) come here; the original packet behind either is never
 * parsed, so it follows whatever the deparser emits.
 * ------------------------------------------------------------------------- */

parser EgressParser(packet_in pkt, out eg_headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        md.session = 0;
        transition select(pkt.lookahead<bit<8>>()) {
            KIND_BRIDGE : parse_bridge;
            KIND_MIRROR : parse_mirror;
            default     : accept;
        }
    }
    state parse_bridge { pkt.extract(hdr.bridge); transition accept; }
    state parse_mirror { pkt.extract(hdr.mirror); transition accept; }
}

/* ---------------------------------------------------------------------------
 * Egress: the report port's copies become reports
 * ------------------------------------------------------------------------- */

control Egress(inout eg_headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {

    Counter<bit<32>, bit<8>>(5, CounterType_t.PACKETS) reports_built;  // by opcode

#ifndef DTA_BASE_2B
    // The reporter's sequence number, per report (the report port's pipe).
    Register<bit<8>, bit<1>>(1, 0) seqnum;
    RegisterAction<bit<8>, bit<1>, bit<8>>(seqnum) seqnum_next = {
        void apply(inout bit<8> v, out bit<8> old) { old = v; v = v + 1; }
    };
#endif

    // Ethernet/IPv4/UDP/base header of a report whose UDP payload (base and
    // primitive header) is `payload` bytes, as net::BuildDtaReport writes
    // them. The MACs and IPs come from `report_addresses`.
    action report_common(bit<8> opcode, bit<16> payload, MirrorId_t session) {
        hdr.ethernet.setValid();
        hdr.ethernet.ether_type = ETHERTYPE_IPV4;
        hdr.ipv4.setValid();
        hdr.ipv4.version = 4;
        hdr.ipv4.ihl = 5;
        hdr.ipv4.diffserv = 0;
        hdr.ipv4.total_len = 20 + 8 + payload;
        hdr.ipv4.identification = 0;  // ID 0 with DF: an atomic datagram
        hdr.ipv4.flags = 2;           // DF
        hdr.ipv4.frag_offset = 0;
        hdr.ipv4.ttl = 64;
        hdr.ipv4.protocol = IP_PROTO_UDP;
        hdr.ipv4.hdr_checksum = 0;    // the deparser computes it
        hdr.udp.setValid();
        hdr.udp.src_port = UDP_DTA_REPORT;
        hdr.udp.dst_port = UDP_DTA_REPORT;
        hdr.udp.len = 8 + payload;
        hdr.udp.checksum = 0;
        hdr.base.setValid();
        hdr.base.opcode = opcode;
        hdr.base.immediate = 0;
        hdr.base.reserved = 0;
#ifndef DTA_BASE_2B
        hdr.base.seqnum = 0;  // set from `seqnum` below
        hdr.base.retransmitable = 0;
#endif
        md.session = session;
    }

    action key_write_report(bit<8> redundancy, MirrorId_t session) {
        report_common(OP_KEY_WRITE, DTA_BASE_BYTES + DTA_KEY_WRITE_BYTES, session);
        hdr.key_write.setValid();
        hdr.key_write.redundancy = redundancy;
        hdr.key_write.key = hdr.bridge.key;
        hdr.key_write.data = hdr.bridge.written;
    }
    action append_report(bit<32> list, MirrorId_t session) {
        report_common(OP_APPEND, DTA_BASE_BYTES + DTA_APPEND_BYTES, session);
        hdr.append.setValid();
        hdr.append.list_id = list;
        hdr.append.data = hdr.bridge.key;
    }
    action key_increment_report(bit<8> redundancy, MirrorId_t session) {
        report_common(OP_KEY_INCREMENT, DTA_BASE_BYTES + DTA_KEY_INCREMENT_BYTES, session);
        hdr.key_increment.setValid();
        hdr.key_increment.redundancy = redundancy;
        hdr.key_increment.key = hdr.bridge.key;
        hdr.key_increment.counter = hdr.bridge.count;
    }
    action postcard_report(bit<8> hop, bit<16> switch_id, MirrorId_t session) {
        report_common(OP_POSTCARDING, DTA_BASE_BYTES + DTA_POSTCARD_BYTES, session);
        hdr.postcard.setValid();
        hdr.postcard.key = hdr.bridge.key;
        hdr.postcard.hop = hop;
        hdr.postcard.data = 16w0 ++ switch_id;
    }
    action not_a_report() {}

    // (report port, opcode) -> the primitive's report.
    table report {
        key = {
            eg_intr_md.egress_port : exact @name("egress_port");
            eg_intr_md.egress_rid  : exact @name("rid");
        }
        actions = { key_write_report; append_report; key_increment_report; postcard_report;
                    @defaultonly not_a_report; }
        const default_action = not_a_report();
        size = 4;
    }

    action set_addresses(mac_addr_t src_mac, mac_addr_t dst_mac,
                         ipv4_addr_t src_ip, ipv4_addr_t dst_ip) {
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ipv4.src_addr = src_ip;
        hdr.ipv4.dst_addr = dst_ip;
    }
    // No key: the control plane sets the default action from "report".
    table report_addresses {
        actions = { set_addresses; }
        default_action = set_addresses(0, 0, 0, 0);
    }

    apply {
        // A mirror copy (hdr.mirror valid) is a finished report: it passes.
        // A forwarding copy (rid 0x100) only loses its bridged header.
        if (hdr.bridge.isValid() && eg_intr_md.egress_rid != RID_FORWARD) {
            if (report.apply().hit) {
                report_addresses.apply();
#ifndef DTA_BASE_2B
                hdr.base.seqnum = seqnum_next.execute(0);
#endif
                reports_built.count(hdr.base.opcode);
#ifndef DTA_UNTRUNCATED
                // Out through the opcode's mirror session, cut to the
                // report's size; the full-length original is dropped
                // (drop_ctl bit 0 leaves the mirror copy alone).
                // (On Tofino-2, t2na, also set mirror_io_select = 1: mirror
                // the deparser's output, which Tofino-1 always does.)
                eg_dprsr_md.mirror_type = MIRROR_TYPE_E2E;
                eg_dprsr_md.drop_ctl = 1;
#endif
            }
        }
    }
}

control EgressDeparser(packet_out pkt, inout eg_headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Checksum() ipv4_checksum;
    Mirror() mirror;

    apply {
        if (hdr.ipv4.isValid()) {
            hdr.ipv4.hdr_checksum = ipv4_checksum.update({
                hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
                hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
                hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr});
        }
        if (eg_dprsr_md.mirror_type == MIRROR_TYPE_E2E) {
            mirror.emit<mirror_h>(md.session, {KIND_MIRROR});
        }
        // Not the bridged or mirror header: that is how they come off.
        pkt.emit(hdr.ethernet); pkt.emit(hdr.ipv4); pkt.emit(hdr.udp); pkt.emit(hdr.base);
        pkt.emit(hdr.key_write); pkt.emit(hdr.append);
        pkt.emit(hdr.key_increment); pkt.emit(hdr.postcard);
    }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

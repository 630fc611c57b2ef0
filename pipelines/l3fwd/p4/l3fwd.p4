/*
 * l3fwd: the TNA (Tofino-1) counterpart of pipelines/l3fwd/l3fwd.{h,cpp}.
 *
 * An IPv4/IPv6 router: parse Ethernet + IPv4 (options kept) or IPv6, drop
 * malformed headers, longest-prefix match the destination to a next hop,
 * rewrite the MACs, decrement TTL / hop limit. Every drop is counted by reason
 * in `drop_counter`, whose index is the software's DropReason code
 * (include/softfino/pipe/drop_reason.h), so both versions report the same
 * numbers under the same names.
 *
 * Build: bf-p4c --target tofino --arch tna -o l3fwd.tofino p4/l3fwd.p4
 * This file is not compiled in CI (no SDE there); keep it in step with the
 * C++ program by review. README.md lists what the two cannot share.
 */

#include <core.p4>
#include <tna.p4>

/* ---------------------------------------------------------------------------
 * Types and constants
 * ------------------------------------------------------------------------- */

typedef bit<48>  mac_addr_t;
typedef bit<32>  ipv4_addr_t;
typedef bit<128> ipv6_addr_t;
typedef bit<16>  nexthop_id_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_IPV6 = 0x86DD;

// Drop reasons: the same codes as softfino::pipe::DropReason, in the same
// order, so counter index N means the same thing in hardware and software.
typedef bit<8> drop_reason_t;
const drop_reason_t DROP_NONE                    = 0;
const drop_reason_t DROP_ETH_TRUNCATED           = 1;
const drop_reason_t DROP_UNKNOWN_ETHERTYPE       = 2;
const drop_reason_t DROP_IPV4_TRUNCATED          = 3;
const drop_reason_t DROP_IPV4_BAD_VERSION        = 4;
const drop_reason_t DROP_IPV4_BAD_IHL            = 5;
const drop_reason_t DROP_IPV4_BAD_TOTAL_LENGTH   = 6;
const drop_reason_t DROP_IPV4_BAD_CHECKSUM       = 7;
const drop_reason_t DROP_IPV6_TRUNCATED          = 8;
const drop_reason_t DROP_IPV6_BAD_VERSION        = 9;
const drop_reason_t DROP_IPV6_BAD_PAYLOAD_LENGTH = 10;  // never set here; see README
const drop_reason_t DROP_NO_ROUTE                = 11;
const drop_reason_t DROP_TTL_EXPIRED             = 12;
// 13..15 (program_drop, bad_egress_port, tx_full) belong to the software
// dataplane; on Tofino the traffic manager counts its own drops.
const bit<32> DROP_REASON_COUNT = 16;

/* ---------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------- */

header ethernet_h {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

header ipv4_h {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      diffserv;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

// IPv4 options (IHL 6..15: 4..40 bytes) are forwarded unchanged, so they are
// kept as raw bytes. Tofino has no native varbit; instead 4..40 bytes are
// covered by at most one each of 16 (a), 16 (b), 8 and 4 byte chunks, always
// extracted and emitted in the order a, b, 8, 4, which reproduces the bytes
// exactly for every IHL. No field is wider than an IPv6 address.
header ipv4_opts16_h { bit<128> data; }
header ipv4_opts8_h  { bit<64>  data; }
header ipv4_opts4_h  { bit<32>  data; }

header ipv6_h {
    bit<4>      version;
    bit<8>      traffic_class;
    bit<20>     flow_label;
    bit<16>     payload_len;
    bit<8>      next_hdr;
    bit<8>      hop_limit;
    ipv6_addr_t src_addr;
    ipv6_addr_t dst_addr;
}

struct ig_headers_t {
    ethernet_h    ethernet;
    ipv4_h        ipv4;
    ipv4_opts16_h ipv4_opts16_a;
    ipv4_opts16_h ipv4_opts16_b;
    ipv4_opts8_h  ipv4_opts8;
    ipv4_opts4_h  ipv4_opts4;
    ipv6_h        ipv6;
}

struct ig_metadata_t {
    drop_reason_t drop_reason;
    nexthop_id_t  nexthop_id;
    bool          ipv4_checksum_err;  // written only when the parser reached the verify state
    bit<16>       ipv4_hdr_len;       // IHL * 4
    bit<16>       ipv4_len_deficit;   // (IHL * 4) |-| total_len: non-zero iff total_len < IHL * 4
    bit<16>       ip_len;             // IPv4 total_len, or 40 + IPv6 payload_len
}

struct eg_headers_t {}
struct eg_metadata_t {}

/* ---------------------------------------------------------------------------
 * Tofino intrinsic parsing (the SDE's TofinoIngressParser/TofinoEgressParser
 * idiom, inlined so this file needs nothing outside the SDE's p4include)
 * ------------------------------------------------------------------------- */

parser TofinoIngressParser(packet_in pkt, out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        // l3fwd never resubmits, so every packet carries port metadata next.
        pkt.advance(PORT_METADATA_SIZE);
        transition accept;
    }
}

parser TofinoEgressParser(packet_in pkt, out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        transition accept;
    }
}

/* ---------------------------------------------------------------------------
 * Ingress parser
 *
 * The parser only extracts and verifies; it never rejects. Malformed headers
 * are accepted as they are and Ingress names the reason, so every drop reaches
 * the one place that counts it. Reading ig_prsr_md.parser_err in Ingress also
 * tells bf-p4c not to drop packets with parser errors (a truncated header)
 * silently in the parser.
 * ------------------------------------------------------------------------- */

parser IngressParser(packet_in pkt,
                     out ig_headers_t hdr,
                     out ig_metadata_t ig_md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    TofinoIngressParser() tofino_parser;
    Checksum() ipv4_checksum;

    state start {
        tofino_parser.apply(pkt, ig_intr_md);
        transition parse_ethernet;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            ETHERTYPE_IPV6 : parse_ipv6;
            default        : accept;  // unknown_ethertype
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ipv4_checksum.add(hdr.ipv4);
        // Options are parsed only for version 4 and IHL >= 5, as in the
        // software: a bad version or IHL is reported as such, never as a
        // truncation of options that do not exist.
        transition select(hdr.ipv4.version, hdr.ipv4.ihl) {
            (4, 5)  : parse_ipv4_verify;
            (4, 6)  : parse_ipv4_opts_4;
            (4, 7)  : parse_ipv4_opts_8;
            (4, 8)  : parse_ipv4_opts_12;
            (4, 9)  : parse_ipv4_opts_16;
            (4, 10) : parse_ipv4_opts_20;
            (4, 11) : parse_ipv4_opts_24;
            (4, 12) : parse_ipv4_opts_28;
            (4, 13) : parse_ipv4_opts_32;
            (4, 14) : parse_ipv4_opts_36;
            (4, 15) : parse_ipv4_opts_40;
            default : accept;  // ipv4_bad_version or ipv4_bad_ihl
        }
    }

    // parse_ipv4_opts_N extracts the N option bytes that remain.
    state parse_ipv4_opts_40 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_24_b;
    }

    state parse_ipv4_opts_36 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_20_b;
    }

    state parse_ipv4_opts_32 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_16_b;
    }

    state parse_ipv4_opts_28 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_12;
    }

    state parse_ipv4_opts_24 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_8;
    }

    state parse_ipv4_opts_20 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_opts_4;
    }

    state parse_ipv4_opts_16 {
        pkt.extract(hdr.ipv4_opts16_a);
        ipv4_checksum.add(hdr.ipv4_opts16_a);
        transition parse_ipv4_verify;
    }

    // The second 16-byte chunk, only after the first one.
    state parse_ipv4_opts_24_b {
        pkt.extract(hdr.ipv4_opts16_b);
        ipv4_checksum.add(hdr.ipv4_opts16_b);
        transition parse_ipv4_opts_8;
    }

    state parse_ipv4_opts_20_b {
        pkt.extract(hdr.ipv4_opts16_b);
        ipv4_checksum.add(hdr.ipv4_opts16_b);
        transition parse_ipv4_opts_4;
    }

    state parse_ipv4_opts_16_b {
        pkt.extract(hdr.ipv4_opts16_b);
        ipv4_checksum.add(hdr.ipv4_opts16_b);
        transition parse_ipv4_verify;
    }

    state parse_ipv4_opts_12 {
        pkt.extract(hdr.ipv4_opts8);
        ipv4_checksum.add(hdr.ipv4_opts8);
        transition parse_ipv4_opts_4;
    }

    state parse_ipv4_opts_8 {
        pkt.extract(hdr.ipv4_opts8);
        ipv4_checksum.add(hdr.ipv4_opts8);
        transition parse_ipv4_verify;
    }

    state parse_ipv4_opts_4 {
        pkt.extract(hdr.ipv4_opts4);
        ipv4_checksum.add(hdr.ipv4_opts4);
        transition parse_ipv4_verify;
    }

    // The whole header, options included, has been added: verify() is true
    // when the ones' complement sum is wrong (the checksum-error bit).
    state parse_ipv4_verify {
        ig_md.ipv4_checksum_err = ipv4_checksum.verify();
        transition accept;
    }

    state parse_ipv6 {
        pkt.extract(hdr.ipv6);
        transition accept;  // the version is checked in Ingress
    }
}

/* ---------------------------------------------------------------------------
 * Ingress
 * ------------------------------------------------------------------------- */

control Ingress(inout ig_headers_t hdr,
                inout ig_metadata_t ig_md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_intr_md_for_dprsr,
                inout ingress_intrinsic_metadata_for_tm_t ig_intr_md_for_tm) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;

    // Read and written by name from the control plane (bfrt; softfino-ctl
    // register_read / counter_read). Per pipe, as every Tofino register.
    // max_ip_len: the longest IP packet that parsed, per ingress port.
    Register<bit<16>, PortId_t>(512, 0) max_ip_len;
    RegisterAction<bit<16>, PortId_t, bit<16>>(max_ip_len) keep_max_ip_len = {
        void apply(inout bit<16> longest) {
            if (ig_md.ip_len > longest) {
                longest = ig_md.ip_len;
            }
        }
    };
    // Packets and bytes forwarded through each next hop (routed, TTL not expired).
    // One cell per nexthop_id value, so no two next hops share one.
    Counter<bit<64>, nexthop_id_t>(65536, CounterType_t.PACKETS_AND_BYTES) nexthop_counter;

    // Miss in a route table (or, P4 only, a nexthop_id the control plane has
    // not installed; the software refuses such a config before it starts).
    action drop() {
        ig_md.drop_reason = DROP_NO_ROUTE;
    }

    action set_nexthop(nexthop_id_t nexthop_id) {
        ig_md.nexthop_id = nexthop_id;
    }

    // The nexthop table's direct counter: packets and bytes of every hit, so
    // of every routed packet, TTL-expired ones included (the table applies
    // before the TTL check). Read and cleared per entry from the control
    // plane (bfrt $COUNTER_SPEC_PKTS/BYTES; softfino-ctl table_counter_read).
    DirectCounter<bit<64>>(CounterType_t.PACKETS_AND_BYTES) nexthop_hits;

    action forward(PortId_t port, mac_addr_t src_mac, mac_addr_t dst_mac) {
        ig_intr_md_for_tm.ucast_egress_port = port;
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
        nexthop_hits.count();
    }

    // The nexthop table's own miss action: drop() is shared with the route
    // tables, which have no direct counter to count into.
    action nexthop_miss() {
        ig_md.drop_reason = DROP_NO_ROUTE;
        nexthop_hits.count();
    }

    table ipv4_lpm {
        key = { hdr.ipv4.dst_addr : lpm @name("dst_addr"); }
        actions = { set_nexthop; @defaultonly drop; }
        const default_action = drop();
        size = 16384;
    }

    table ipv6_lpm {
        key = { hdr.ipv6.dst_addr : lpm @name("dst_addr"); }
        actions = { set_nexthop; @defaultonly drop; }
        const default_action = drop();
        size = 4096;
    }

    // idle_timeout: entries may take a TTL ($ENTRY_TTL; "ttl_ms" in the
    // software's config and table_add); one with no hit for that long is
    // reported to the control plane (notify mode: it stays installed).
    table nexthop {
        key = { ig_md.nexthop_id : exact @name("nexthop_id"); }
        actions = { forward; @defaultonly nexthop_miss; }
        const default_action = nexthop_miss();
        size = 1024;
        counters = nexthop_hits;
        idle_timeout = true;
    }

    apply {
        ig_md.drop_reason = DROP_NONE;

        // total_len < IHL * 4 without a field-to-field compare, which Tofino
        // gateways cannot do: a saturating subtract is non-zero exactly then.
        if (hdr.ipv4.isValid()) {
            ig_md.ipv4_hdr_len = (bit<16>)hdr.ipv4.ihl << 2;
            ig_md.ipv4_len_deficit = ig_md.ipv4_hdr_len |-| hdr.ipv4.total_len;
        }

        // Header checks, in the software parser's order (ParseL3): the first
        // one that fails is the reason.
        if (ig_prsr_md.parser_err != PARSER_ERROR_OK) {
            // An extract ran past the end of the frame (PARSER_ERROR_PARTIAL_HDR;
            // every select has a default, so there is no other parser error).
            // The MAC discards runts (< 64 bytes), so on hardware this is in
            // practice an IPv4 header whose IHL*4 bytes do not fit.
            if (!hdr.ethernet.isValid()) {
                ig_md.drop_reason = DROP_ETH_TRUNCATED;
            } else if (hdr.ethernet.ether_type == ETHERTYPE_IPV6) {
                ig_md.drop_reason = DROP_IPV6_TRUNCATED;
            } else {
                ig_md.drop_reason = DROP_IPV4_TRUNCATED;
            }
        } else if (hdr.ipv4.isValid()) {
            if (hdr.ipv4.version != 4) {
                ig_md.drop_reason = DROP_IPV4_BAD_VERSION;
            } else if (hdr.ipv4.ihl < 5) {
                ig_md.drop_reason = DROP_IPV4_BAD_IHL;
            } else if (ig_md.ipv4_len_deficit != 0) {
                ig_md.drop_reason = DROP_IPV4_BAD_TOTAL_LENGTH;
            } else if (ig_md.ipv4_checksum_err) {
                ig_md.drop_reason = DROP_IPV4_BAD_CHECKSUM;
            }
        } else if (hdr.ipv6.isValid()) {
            if (hdr.ipv6.version != 6) {
                ig_md.drop_reason = DROP_IPV6_BAD_VERSION;
            }
        } else {
            ig_md.drop_reason = DROP_UNKNOWN_ETHERTYPE;
        }

        if (ig_md.drop_reason == DROP_NONE) {
            if (hdr.ipv4.isValid()) {
                ig_md.ip_len = hdr.ipv4.total_len;
            } else {
                ig_md.ip_len = hdr.ipv6.payload_len + 40;
            }
            keep_max_ip_len.execute(ig_intr_md.ingress_port);
            if (hdr.ipv4.isValid()) {
                ipv4_lpm.apply();
            } else {
                ipv6_lpm.apply();
            }
        }

        // No route is decided before the TTL: a router that found no route
        // never looks at the TTL.
        if (ig_md.drop_reason == DROP_NONE) {
            if (nexthop.apply().hit) {
                if (hdr.ipv4.isValid()) {
                    if (hdr.ipv4.ttl <= 1) {
                        ig_md.drop_reason = DROP_TTL_EXPIRED;
                    } else {
                        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
                    }
                } else {
                    if (hdr.ipv6.hop_limit <= 1) {
                        ig_md.drop_reason = DROP_TTL_EXPIRED;
                    } else {
                        hdr.ipv6.hop_limit = hdr.ipv6.hop_limit - 1;
                    }
                }
            }
        }

        if (ig_md.drop_reason != DROP_NONE) {
            ig_intr_md_for_dprsr.drop_ctl = 1;
            drop_counter.count(ig_md.drop_reason);
        } else {
            nexthop_counter.count(ig_md.nexthop_id);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Ingress deparser
 * ------------------------------------------------------------------------- */

control IngressDeparser(packet_out pkt,
                        inout ig_headers_t hdr,
                        in ig_metadata_t ig_md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_intr_md_for_dprsr) {
    Checksum() ipv4_checksum;

    apply {
        // Full recomputation over the header and whichever option chunks are
        // valid (each field counts only when its header is valid). The
        // software updates the checksum incrementally for the TTL decrement
        // (RFC 1624, eqn. 3), which yields the same value.
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version,
            hdr.ipv4.ihl,
            hdr.ipv4.diffserv,
            hdr.ipv4.total_len,
            hdr.ipv4.identification,
            hdr.ipv4.flags,
            hdr.ipv4.frag_offset,
            hdr.ipv4.ttl,
            hdr.ipv4.protocol,
            hdr.ipv4.src_addr,
            hdr.ipv4.dst_addr,
            hdr.ipv4_opts16_a.data,
            hdr.ipv4_opts16_b.data,
            hdr.ipv4_opts8.data,
            hdr.ipv4_opts4.data
        });
        // Bytes past the parsed headers (payload, Ethernet padding) follow
        // unchanged.
        pkt.emit(hdr);
    }
}

/* ---------------------------------------------------------------------------
 * Egress: empty. Packets pass through unchanged.
 * ------------------------------------------------------------------------- */

parser EgressParser(packet_in pkt,
                    out eg_headers_t hdr,
                    out eg_metadata_t eg_md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    TofinoEgressParser() tofino_parser;

    state start {
        tofino_parser.apply(pkt, eg_intr_md);
        transition accept;
    }
}

control Egress(inout eg_headers_t hdr,
               inout eg_metadata_t eg_md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_intr_md_for_dprsr,
               inout egress_intrinsic_metadata_for_output_port_t eg_intr_md_for_oport) {
    apply {}
}

control EgressDeparser(packet_out pkt,
                       inout eg_headers_t hdr,
                       in eg_metadata_t eg_md,
                       in egress_intrinsic_metadata_for_deparser_t eg_intr_md_for_dprsr) {
    apply {
        pkt.emit(hdr);
    }
}

/* ---------------------------------------------------------------------------
 * Switch
 * ------------------------------------------------------------------------- */

Pipeline(IngressParser(),
         Ingress(),
         IngressDeparser(),
         EgressParser(),
         Egress(),
         EgressDeparser()) pipe;

Switch(pipe) main;

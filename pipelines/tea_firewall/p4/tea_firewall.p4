/*
 * tea_firewall: the TNA (Tofino-1) counterpart of
 * pipelines/tea_firewall/tea_firewall.{h,cpp}. A sketch in the form of
 * ../tea_nat/p4/tea_nat.p4, whose READ/response machinery it shares.
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler. It is kept
 * in step with the C++ program by review.
 * Build: bf-p4c --target tofino --arch tna -o tea_firewall.tofino p4/tea_firewall.p4
 *
 * What differs from the software program:
 * - Learning: the software pipe hands the reply key to its slow path through
 *   an rte_ring and puts it in its data-plane cache at once. Here an inside
 *   packet that misses `conn_cache` sends a digest (Digest<learn_t>, the
 *   reply's 5-tuple and the ingress port); the control plane (bfrt_python
 *   or a BF-RT gRPC client) inserts it into the collector's table (the
 *   handshake's {"tea": {"op": "insert"}} request) and adds it to
 *   `conn_cache`. Until it has, a reply misses the cache and is looked up
 *   by READ, which may deny it: the software's immediate cache fill closes
 *   that window, a Tofino cannot (a match table is written by the control
 *   plane only). A register-based cache (as the software's CLOCK cache)
 *   would close it at three stateful ALUs per way and word.
 * - Deferral: only TEA's `remote` deferral (shadow rows), as in tea_nat.p4;
 *   the software program builds `local` only.
 * - The response: as tea_nat.p4 (PSN-indexed in-flight register, window of
 *   slots = 1 compared in the pipeline, ICRC by the affine CRC), and the
 *   inner packet, found, goes to the inside port in the entry's value,
 *   unchanged; not found, it is dropped (firewall_denied).
 */

#include <core.p4>
#include <tna.p4>

#include "../../tea_common/p4/tea_headers.p4"

struct headers_t {
    ethernet_h ethernet;
    ipv4_h ipv4;
    ports_h ports;         // TCP/UDP ports of the packet (or RoCE's UDP)
    udp_rest_h roce_udp;
    bth_h bth;
    aeth_h aeth;
    tea_entry_h entry0;    // bucket h
    tea_entry_h entry1;    // bucket h + 1
    ethernet_h inner_ethernet;  // the deferred packet, from its shadow row
    ipv4_h inner_ipv4;
    ports_h inner_ports;
}

// What an inside packet's first sight tells the control plane.
struct learn_t {
    ipv4_addr_t src_addr;  // the reply's 5-tuple: the packet's, reversed
    ipv4_addr_t dst_addr;
    bit<16> src_port;
    bit<16> dst_port;
    bit<8> protocol;
    PortId_t inside_port;  // the value: inside port + 1
}

struct metadata_t {
    bit<1> is_response;
    bit<1> known;
    bit<1> found;
    bit<64> value;
    bit<1> inside;  // from port_role
}

parser SwitchIngressParser(packet_in pkt, out headers_t hdr, out metadata_t md,
                           out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        md = {0, 0, 0, 0, 0};
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) { 0x0800: parse_ipv4; default: reject; }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.protocol, hdr.ipv4.frag_offset) {
            (17, 0): parse_ports_udp;
            (6, 0): parse_ports;
            default: reject;  // tea_unsupported
        }
    }
    state parse_ports { pkt.extract(hdr.ports); transition accept; }
    state parse_ports_udp {
        pkt.extract(hdr.ports);
        transition select(hdr.ports.dst_port) { 4791: parse_roce; default: accept; }
    }
    state parse_roce {
        pkt.extract(hdr.roce_udp);
        pkt.extract(hdr.bth);
        md.is_response = 1;
        transition select(hdr.bth.opcode) { 0x10: parse_read_response_only; default: accept; }
    }
    state parse_read_response_only {
        pkt.extract(hdr.aeth);
        pkt.extract(hdr.entry0);
        pkt.extract(hdr.entry1);
        pkt.extract(hdr.inner_ethernet);
        pkt.extract(hdr.inner_ipv4);
        pkt.extract(hdr.inner_ports);
        transition accept;
    }
}

control SwitchIngress(inout headers_t hdr, inout metadata_t md,
                      in ingress_intrinsic_metadata_t ig_intr_md,
                      in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                      inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                      inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    Register<bit<32>, bit<8>>(256) in_flight;  // as tea_nat.p4: key hash at PSN % 256
    RegisterAction<bit<32>, bit<8>, bit<32>>(in_flight) claim = {
        void apply(inout bit<32> v, out bit<32> old) { old = v; v = 0; }
    };

    action set_role(bit<1> inside, PortId_t outside_port) {
        md.inside = inside;
        ig_tm_md.ucast_egress_port = outside_port;  // inside packets go out here
    }
    table port_role {
        key = { ig_intr_md.ingress_port: exact; }
        actions = { set_role; NoAction; }
        size = 64;
    }
    action known(PortId_t inside_port) { md.known = 1; ig_tm_md.ucast_egress_port = inside_port; }
    action unknown() { md.known = 0; }
    // Connections by their reply's 5-tuple; written by the control plane
    // from digests (see the header).
    table conn_cache {
        key = { hdr.ipv4.src_addr: exact; hdr.ipv4.dst_addr: exact;
                hdr.ports.src_port: exact; hdr.ports.dst_port: exact; hdr.ipv4.protocol: exact; }
        actions = { known; unknown; }
        default_action = unknown();
        size = 65536;
    }
    // The same key, the other way round: an inside packet asks whether its
    // reply is known (a second table: one lookup per table per packet).
    table conn_cache_reverse {
        key = { hdr.ipv4.dst_addr: exact; hdr.ipv4.src_addr: exact;
                hdr.ports.dst_port: exact; hdr.ports.src_port: exact; hdr.ipv4.protocol: exact; }
        actions = { known; unknown; }
        default_action = unknown();
        size = 65536;
    }

    apply {
        if (md.is_response == 1) {
            bit<32> waiting = claim.execute(hdr.bth.psn[7:0]);
            if (waiting == 0) { ig_dprsr_md.drop_ctl = 1; return; }  // tea_unexpected_psn
            if (hdr.entry0.state == 1) { md.found = 1; md.value = hdr.entry0.value; }
            else if (hdr.entry1.state == 1) { md.found = 1; md.value = hdr.entry1.value; }
            if (md.found == 0) { ig_dprsr_md.drop_ctl = 1; return; }  // firewall_denied
            ig_tm_md.ucast_egress_port = (PortId_t)(md.value[8:0] - 1);
            hdr.ethernet.setInvalid(); hdr.ipv4.setInvalid(); hdr.ports.setInvalid();
            hdr.roce_udp.setInvalid(); hdr.bth.setInvalid(); hdr.aeth.setInvalid();
            hdr.entry0.setInvalid(); hdr.entry1.setInvalid();
            return;
        }
        port_role.apply();
        if (md.inside == 1) {
            // Out it goes (set_role chose the port); a connection the cache
            // does not know yet is told to the control plane.
            PortId_t out_port = ig_tm_md.ucast_egress_port;
            conn_cache_reverse.apply();
            ig_tm_md.ucast_egress_port = out_port;
            if (md.known == 0) ig_dprsr_md.digest_type = 1;
            return;
        }
        conn_cache.apply();
        if (md.known == 0) {
            // Miss: the packet becomes the WRITE into its shadow row and a
            // mirror copy the READ, exactly as tea_nat.p4 does.
            ig_dprsr_md.mirror_type = 1;
        }
    }
}

control SwitchIngressDeparser(packet_out pkt, inout headers_t hdr, in metadata_t md,
                              in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Digest<learn_t>() learn;
    apply {
        if (ig_dprsr_md.digest_type == 1) {
            learn.pack({hdr.ipv4.dst_addr, hdr.ipv4.src_addr, hdr.ports.dst_port,
                        hdr.ports.src_port, hdr.ipv4.protocol, 0 /* ingress port, via md */});
        }
        pkt.emit(hdr);
    }
}

parser EmptyEgressParser(packet_in pkt, out headers_t hdr, out metadata_t md,
                         out egress_intrinsic_metadata_t eg_intr_md) {
    state start { pkt.extract(eg_intr_md); transition accept; }
}
control EmptyEgress(inout headers_t hdr, inout metadata_t md,
                    in egress_intrinsic_metadata_t eg_intr_md,
                    in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
                    inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
                    inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {
    apply { }
}
control EmptyEgressDeparser(packet_out pkt, inout headers_t hdr, in metadata_t md,
                            in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    apply { pkt.emit(hdr); }
}

Pipeline(SwitchIngressParser(), SwitchIngress(), SwitchIngressDeparser(),
         EmptyEgressParser(), EmptyEgress(), EmptyEgressDeparser()) pipe;
Switch(pipe) main;

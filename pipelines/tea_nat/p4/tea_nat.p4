/*
 * tea_nat: the TNA (Tofino-1) counterpart of pipelines/tea_nat/tea_nat.{h,cpp}.
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler. It is kept
 * in step with the C++ program by review.
 * Build: bf-p4c --target tofino --arch tna -o tea_nat.tofino p4/tea_nat.p4
 *
 * What differs from the software program:
 * - Deferral: a Tofino cannot hold a packet, so only TEA's `remote` deferral
 *   exists here: on a miss the packet becomes an RDMA WRITE of itself into
 *   the shadow row of (lane, h) at row + W, with an ingress-to-egress
 *   mirror; one of the two leaves as the WRITE and the other is rewritten
 *   in the egress of the collector's port into the READ of W + L bytes at
 *   row on the same queue pair (PSN + 1, vaddr - W, length W + L). The
 *   READ response's parser takes the two buckets as headers and the packet
 *   after them. The software program does the same (`remote` deferral):
 *   the mirror copy is the WRITE because softfino enqueues it ahead of its
 *   original. A Tofino does not promise that order between a mirror copy
 *   and its original, so this program rewrites the truncated mirror copy
 *   into the READ and must delay it behind the WRITE (e.g. through the
 *   recirculation port); not built here.
 * - Cache: an exact-match table `nat_cache` filled by the control plane
 *   (from digests of resolved misses), not the data-plane CLOCK cache of
 *   the software: a 104-bit key in registers takes three stateful ALUs per
 *   way and word, where a match table takes none.
 * - In-flight lookups: a register indexed by PSN % 256 holding the key's
 *   hash and the table (1 bit), set when the READ goes out; the response
 *   must find its PSN there (else dropped: tea_unexpected_psn). Timeouts:
 *   the entry's send time in a second register, checked by pktgen timer
 *   packets sweeping the index; the packet itself lives in server memory,
 *   so nothing is held on the switch.
 * - The window search: 2 * slots entries compared in parallel, one
 *   match per entry; slots = 1 (a 64-byte READ) is what this file builds.
 * - ICRC: as in rdma_probe.p4 (affine CRC with a per-QP seed); softfino
 *   computes it whole.
 * - Learning (`nat.learn`): an inside flow the out table lacks sends a
 *   digest (Digest<nat_learn_t>, its 5-tuple) as its packet is dropped;
 *   the control plane allocates the public endpoint and inserts both
 *   entries through the collector's handshake, as softfino's slow path does
 *   (tea_common/tea_learner.h). The software hands the flow over through a
 *   ring from the pipe instead of a digest.
 * - Several pipes: the software steers an answer that reaches a pipe other
 *   than its queue pair's to the owner's recirculation port (ucast_egress_port
 *   = 68 + 128 * pipe, found by destination QPN; tea_common/answer_steering.h),
 *   where it re-enters that pipe's ingress and is parsed as an answer. This
 *   file is one pipe's program and does not do it: on hardware a table keyed
 *   on bth.dst_qp would set that port, and the parser at port 68 would tell a
 *   recirculated answer (Ethernet/IPv4/UDP 4791) from a pktgen timer packet.
 */

#include <core.p4>
#include <tna.p4>

#include "../../tea_common/p4/tea_headers.p4"

header tcp_rest_h { bit<32> seq; bit<32> ack; bit<16> flags; bit<16> window; bit<16> checksum; bit<16> urgent; }

struct headers_t {
    ethernet_h ethernet;
    ipv4_h ipv4;
    udp_rest_h roce_udp;
    bth_h bth;
    aeth_h aeth;
    tea_entry_h entry0;  // bucket h
    tea_entry_h entry1;  // bucket h + 1
    // The deferred packet follows: its own headers, parsed again.
    ethernet_h inner_ethernet;
    ipv4_h inner_ipv4;
    ports_h ports;
    udp_rest_h udp;
    tcp_rest_h tcp;
}

struct nat_learn_t {  // an inside flow without an entry (learning)
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
    bit<16> src_port;
    bit<16> dst_port;
    bit<8> protocol;
}

struct metadata_t {
    bit<128> key;
    bit<32> hash;
    bit<1> is_response;
    bit<1> found;
    bit<64> value;
    bit<8> tag;  // 0: out table, 1: in table
}

parser SwitchIngressParser(packet_in pkt, out headers_t hdr, out metadata_t md,
                           out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        md = {0, 0, 0, 0, 0, 0};
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) { 0x0800: parse_ipv4; default: reject; }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.protocol, hdr.ipv4.frag_offset) {
            (17, 0): parse_udp_ports;
            (6, 0): parse_tcp;
            default: reject;  // tea_unsupported
        }
    }
    state parse_udp_ports {
        pkt.extract(hdr.ports);
        transition select(hdr.ports.dst_port) { 4791: parse_roce; default: parse_udp; }
    }
    state parse_udp { pkt.extract(hdr.udp); transition accept; }
    state parse_tcp { pkt.extract(hdr.ports); pkt.extract(hdr.tcp); transition accept; }
    state parse_roce {
        pkt.extract(hdr.roce_udp);
        pkt.extract(hdr.bth);
        md.is_response = 1;
        transition select(hdr.bth.opcode) {
            0x10: parse_read_response_only;  // READ Response Only
            default: accept;                 // ACK/NAK: the PSN register only
        }
    }
    state parse_read_response_only {
        pkt.extract(hdr.aeth);
        pkt.extract(hdr.entry0);
        pkt.extract(hdr.entry1);
        pkt.extract(hdr.inner_ethernet);
        pkt.extract(hdr.inner_ipv4);
        transition accept;  // the inner ports follow; parsed as in parse_udp/parse_tcp
    }
}

control SwitchIngress(inout headers_t hdr, inout metadata_t md,
                      in ingress_intrinsic_metadata_t ig_intr_md,
                      in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                      inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                      inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    Hash<bit<32>>(HashAlgorithm_t.CRC32) key_hash;
    // PSN of this pipe's queue pair per table, and the lookups in flight.
    Register<bit<32>, bit<1>>(2) next_psn;
    RegisterAction<bit<32>, bit<1>, bit<32>>(next_psn) take_psn = {
        void apply(inout bit<32> v, out bit<32> psn) { psn = v; v = (v + 2) & 0xffffff; }
    };
    Register<bit<32>, bit<8>>(256) in_flight;  // hash of the key waiting at PSN % 256
    RegisterAction<bit<32>, bit<8>, bit<32>>(in_flight) claim = {
        void apply(inout bit<32> v, out bit<32> old) { old = v; v = 0; }
    };

    action translate_out(ipv4_addr_t ip, bit<16> port, PortId_t egress) {
        hdr.ipv4.src_addr = ip; hdr.ports.src_port = port;
        ig_tm_md.ucast_egress_port = egress;
    }
    action translate_in(ipv4_addr_t ip, bit<16> port, PortId_t egress) {
        hdr.ipv4.dst_addr = ip; hdr.ports.dst_port = port;
        ig_tm_md.ucast_egress_port = egress;
    }
    action miss() { md.found = 0; }
    action drop_no_entry() { ig_dprsr_md.drop_ctl = 1; }

    // The cache: filled by the control plane (see the header).
    table nat_cache {
        key = { md.tag: exact; hdr.ipv4.src_addr: exact; hdr.ipv4.dst_addr: exact;
                hdr.ports.src_port: exact; hdr.ports.dst_port: exact; hdr.ipv4.protocol: exact; }
        actions = { translate_out; translate_in; miss; }
        default_action = miss();
        size = 65536;
    }
    // Which side a port is on (0: inside, 1: outside); the collector's port
    // and the queue pairs' parameters (QPN, rkey, iova, shadow offset).
    table port_role {
        key = { ig_intr_md.ingress_port: exact; }
        actions = { NoAction; }
        size = 64;
    }

    apply {
        if (md.is_response == 1) {
            // The answer must be for a lookup in flight at its PSN; then
            // the window's entries decide, and the inner packet goes on.
            bit<32> waiting = claim.execute(hdr.bth.psn[7:0]);
            if (waiting == 0) { ig_dprsr_md.drop_ctl = 1; return; }  // tea_unexpected_psn
            md.key = hdr.entry0.key;  // compared against the inner packet's 5-tuple
            if (hdr.entry0.state == 1) { md.found = 1; md.value = hdr.entry0.value; }
            else if (hdr.entry1.state == 1) { md.found = 1; md.value = hdr.entry1.value; }
            if (md.found == 0) {
                if (md.tag == 0) ig_dprsr_md.digest_type = 1;  // learn the flow
                drop_no_entry();
                return;
            }
            // Decapsulate: the buckets and the RoCE headers go, the inner
            // packet is translated by the value and sent on.
            hdr.ethernet.setInvalid(); hdr.ipv4.setInvalid(); hdr.roce_udp.setInvalid();
            hdr.bth.setInvalid(); hdr.aeth.setInvalid();
            hdr.entry0.setInvalid(); hdr.entry1.setInvalid();
            return;
        }
        nat_cache.apply();
        if (md.found == 0) {
            // Miss: the packet becomes the WRITE into its shadow row, a
            // mirror copy the READ (see the header).
            md.hash = key_hash.get({hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ports.src_port,
                                    hdr.ports.dst_port, hdr.ipv4.protocol, 24w0});
            bit<32> psn = take_psn.execute(md.tag);
            ig_dprsr_md.mirror_type = 1;
        }
    }
}

control SwitchIngressDeparser(packet_out pkt, inout headers_t hdr, in metadata_t md,
                              in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Checksum() ipv4_checksum;
    Digest<nat_learn_t>() learn;
    apply {
        if (ig_dprsr_md.digest_type == 1) {
            learn.pack({hdr.inner_ipv4.src_addr, hdr.inner_ipv4.dst_addr, hdr.ports.src_port,
                        hdr.ports.dst_port, hdr.inner_ipv4.protocol});
        }
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
            hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
            hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr});
        // TCP/UDP: incremental, as the software does (the payload is not
        // seen): the deparser's Checksum over the old residue and the new
        // address and port.
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

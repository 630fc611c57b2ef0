/* tm_probe: forward by ingress port to (port, qid); in egress, write the
 * traffic manager's queueing metadata into the first 24 bytes of the UDP
 * payload. The TNA counterpart of pipelines/tm_probe/tm_probe.cpp.
 *
 * Record (network order): enq_qdepth:32 deq_qdepth:32 deq_timedelta:32
 * enq_tstamp:32 egress_port:16 egress_qid:8 reserved:8 pkt_length:16
 * reserved:16. Tofino's fields are narrower (qdepth 19 bits, timedelta
 * 18 bits): they are zero-extended into the record. */
#include <core.p4>
#include <tna.p4>

header ethernet_h {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

header ipv4_h {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    bit<32> src_addr;
    bit<32> dst_addr;
}

header udp_h {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> len;
    bit<16> checksum;
}

header probe_h {
    bit<32> enq_qdepth;
    bit<32> deq_qdepth;
    bit<32> deq_timedelta;
    bit<32> enq_tstamp;
    bit<16> egress_port;
    bit<8>  egress_qid;
    bit<8>  reserved0;
    bit<16> pkt_length;
    bit<16> reserved1;
}

struct headers_t {
    ethernet_h ethernet;
    ipv4_h     ipv4;
    udp_h      udp;
    probe_h    probe;
}

struct ig_metadata_t {}
struct eg_metadata_t {}

parser IngressParser(packet_in pkt, out headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        transition accept;  // ingress forwards on the port alone
    }
}

control Ingress(inout headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    action send(PortId_t port, QueueId_t qid) {
        ig_tm_md.ucast_egress_port = port;
        ig_tm_md.qid = qid;
    }
    action drop() {
        ig_dprsr_md.drop_ctl = 1;
    }
    table port_map {
        key = { ig_intr_md.ingress_port : exact; }
        actions = { send; drop; }
        default_action = drop();
        size = 512;
    }
    apply {
        port_map.apply();
    }
}

control IngressDeparser(packet_out pkt, inout headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    apply {}
}

parser EgressParser(packet_in pkt, out headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x0800: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        // The software version also takes IPv4 options; a probe never has any.
        transition select(hdr.ipv4.ihl, hdr.ipv4.protocol) {
            (5, 17): parse_udp;
            default: accept;
        }
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        pkt.extract(hdr.probe);  // a packet too short for the record is not a probe
        transition accept;
    }
}

control Egress(inout headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {
    apply {
        if (hdr.probe.isValid()) {
            hdr.probe.enq_qdepth = (bit<32>) eg_intr_md.enq_qdepth;
            hdr.probe.deq_qdepth = (bit<32>) eg_intr_md.deq_qdepth;
            hdr.probe.deq_timedelta = (bit<32>) eg_intr_md.deq_timedelta;
            hdr.probe.enq_tstamp = eg_intr_md.enq_tstamp;
            hdr.probe.egress_port = (bit<16>) eg_intr_md.egress_port;
            hdr.probe.egress_qid = (bit<8>) eg_intr_md.egress_qid;
            hdr.probe.reserved0 = 0;
            hdr.probe.pkt_length = eg_intr_md.pkt_length;
            hdr.probe.reserved1 = 0;
            hdr.udp.checksum = 0;  // IPv4: "no checksum", as the payload changed
        }
    }
}

control EgressDeparser(packet_out pkt, inout headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    apply {
        pkt.emit(hdr);
    }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

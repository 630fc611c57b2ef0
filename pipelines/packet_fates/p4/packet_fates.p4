/* packet_fates: unicast, multicast, ingress-to-egress and egress-to-egress
 * mirroring, and drop, chosen by the UDP destination port. Egress writes an
 * 8-byte record into the UDP payload: instance type (0 normal, 1 i2e
 * mirror, 2 e2e mirror), egress_rid, egress_port, mirror session, 0.
 * The TNA counterpart of pipelines/packet_fates/packet_fates.cpp. */
#include <core.p4>
#include <tna.p4>

typedef bit<8> pkt_type_t;
const pkt_type_t PKT_NORMAL = 0;
const pkt_type_t PKT_I2E = 1;
const pkt_type_t PKT_E2E = 2;
const bit<3> MIRROR_TYPE_I2E = 1;
const bit<3> MIRROR_TYPE_E2E = 2;

header ethernet_h { bit<48> dst_addr; bit<48> src_addr; bit<16> ether_type; }
header ipv4_h {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> total_len;
    bit<16> identification; bit<3> flags; bit<13> frag_offset;
    bit<8> ttl; bit<8> protocol; bit<16> hdr_checksum;
    bit<32> src_addr; bit<32> dst_addr;
}
header udp_h { bit<16> src_port; bit<16> dst_port; bit<16> len; bit<16> checksum; }
header record_h {
    bit<8> instance_type; bit<16> rid; bit<16> egress_port; bit<16> session; bit<8> reserved;
}
/* Ingress -> egress: what kind of packet follows (Tofino's usual idiom: the
 * first byte egress parses says whether it is a bridged or a mirror header). */
header bridged_h { pkt_type_t pkt_type; }
header mirror_h { pkt_type_t pkt_type; bit<16> session; }

struct headers_t {
    bridged_h  bridged;
    ethernet_h ethernet;
    ipv4_h     ipv4;
    udp_h      udp;
    record_h   record;
}
struct ig_metadata_t { MirrorId_t session; }
struct eg_metadata_t { pkt_type_t pkt_type; bit<16> session; MirrorId_t e2e_session; }

parser IngressParser(packet_in pkt, out headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        md.session = 0;
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) { 0x0800: parse_ipv4; default: accept; }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl, hdr.ipv4.protocol) { (5, 17): parse_udp; default: accept; }
    }
    state parse_udp { pkt.extract(hdr.udp); transition accept; }
}

control Ingress(inout headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    action unicast(PortId_t port) { ig_tm_md.ucast_egress_port = port; }
    action multicast(MulticastGroupId_t group) { ig_tm_md.mcast_grp_a = group; }
    action mirror_and_forward(PortId_t port, MirrorId_t session) {
        ig_tm_md.ucast_egress_port = port;
        ig_dprsr_md.mirror_type = MIRROR_TYPE_I2E;
        md.session = session;
    }
    action mirror_and_drop(MirrorId_t session) {
        ig_dprsr_md.mirror_type = MIRROR_TYPE_I2E;
        md.session = session;
        ig_dprsr_md.drop_ctl = 1;
    }
    action drop() { ig_dprsr_md.drop_ctl = 1; }
    table fate {
        key = { hdr.udp.dst_port : exact; }
        actions = { unicast; multicast; mirror_and_forward; mirror_and_drop; drop; }
        default_action = drop();
        size = 1024;
    }
    apply {
        if (hdr.udp.isValid()) {
            fate.apply();
        } else {
            drop();
        }
        hdr.bridged.setValid();
        hdr.bridged.pkt_type = PKT_NORMAL;
    }
}

control IngressDeparser(packet_out pkt, inout headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Mirror() mirror;
    apply {
        if (ig_dprsr_md.mirror_type == MIRROR_TYPE_I2E) {
            mirror.emit<mirror_h>(md.session, {PKT_I2E, (bit<16>) md.session});
        }
        pkt.emit(hdr);
    }
}

parser EgressParser(packet_in pkt, out headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        md.session = 0;
        md.e2e_session = 0;
        transition select(pkt.lookahead<pkt_type_t>()) {
            PKT_NORMAL: parse_bridged;
            default: parse_mirror;
        }
    }
    state parse_bridged {
        pkt.extract(hdr.bridged);
        md.pkt_type = PKT_NORMAL;
        transition parse_ethernet;
    }
    state parse_mirror {
        mirror_h m;
        pkt.extract(m);
        md.pkt_type = m.pkt_type;
        md.session = m.session;
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) { 0x0800: parse_ipv4; default: accept; }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl, hdr.ipv4.protocol) { (5, 17): parse_udp; default: accept; }
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        pkt.extract(hdr.record);  // a packet too short for a record is left as it is
        transition accept;
    }
}

control Egress(inout headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {
    action mirror(MirrorId_t session) {
        eg_dprsr_md.mirror_type = MIRROR_TYPE_E2E;
        md.e2e_session = session;
    }
    table egress_mirror {
        key = { eg_intr_md.egress_port : exact; }
        actions = { mirror; NoAction; }
        default_action = NoAction();
        size = 512;
    }
    apply {
        hdr.bridged.setInvalid();
        if (md.pkt_type == PKT_NORMAL) {
            egress_mirror.apply();
        }
        if (hdr.record.isValid()) {
            hdr.record.instance_type = md.pkt_type;
            hdr.record.rid = eg_intr_md.egress_rid;
            hdr.record.egress_port = (bit<16>) eg_intr_md.egress_port;
            hdr.record.session = md.session;
            hdr.record.reserved = 0;
            hdr.udp.checksum = 0;
        }
    }
}

control EgressDeparser(packet_out pkt, inout headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Mirror() mirror;
    apply {
        if (eg_dprsr_md.mirror_type == MIRROR_TYPE_E2E) {
            mirror.emit<mirror_h>(md.e2e_session, {PKT_E2E, (bit<16>) md.e2e_session});
        }
        pkt.emit(hdr);
    }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

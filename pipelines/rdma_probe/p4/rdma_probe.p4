/*
 * rdma_probe: the TNA (Tofino-1) counterpart of pipelines/rdma_probe/rdma_probe.{h,cpp}.
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler. It is kept
 * in step with the C++ program by review; README.md says what differs.
 * Build: bf-p4c --target tofino --arch tna -o rdma_probe.tofino p4/rdma_probe.p4
 *
 * A command (IPv4/UDP to 4792 on the command port) becomes one WRITE Only
 * (8 bytes), READ Request or FETCH_ADD on this pipe's RC queue pair to the
 * collector. A READ Response Only or Atomic Acknowledge from the collector
 * becomes a result (UDP 4793) to the command port; a NAK moves the next PSN
 * back to the NAKed one, and a fatal NAK also becomes an error result.
 *
 * Out of scope: the window of resendable requests and go-back-N. That would
 * take register arrays of request descriptors indexed by PSN (opcode, vaddr,
 * length, data, cookie; one stateful ALU each), registers for the oldest
 * unacknowledged PSN, the resend pointer and the send time, and pktgen timer
 * packets rebuilt into the descriptor at the resend pointer. This program
 * runs DTA's resync mode: what is lost stays lost. Ticks and timer packets
 * carry nothing (timer_unused).
 *
 * ICRC: Tofino-1's deparser cannot CRC the whole packet, but the three
 * requests are fixed-size and a CRC is affine in its input, so
 *     ICRC = crc_raw(the bytes from the BTH's PSN to the end of the payload) ^ seed
 * with crc_raw the reflected CRC-32 from 0 without final XOR, and seed the
 * ICRC of the same request with all those bytes zero: a constant per queue
 * pair and opcode that the control plane installs in `qp` (README.md shows
 * how). That the hash unit feeds the field list to the reflected CRC in wire
 * bit order must be checked once on tofino-model against softfino's
 * rdma::IcrcOfIpv4Datagram (if not, byte-reverse the fields). softfino CRCs
 * every packet whole; answers' ICRCs are not checked here, softfino drops bad ones.
 */

#include <core.p4>
#include <tna.p4>

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> UDP_ROCE = 4791;
const bit<16> UDP_COMMAND = 4792;
const bit<16> UDP_RESULT = 4793;

// BTH opcodes (RC).
const bit<8> OP_WRITE_ONLY = 0x0a;
const bit<8> OP_READ_REQUEST = 0x0c;
const bit<8> OP_READ_RESPONSE_ONLY = 0x10;
const bit<8> OP_ACKNOWLEDGE = 0x11;
const bit<8> OP_ATOMIC_ACKNOWLEDGE = 0x12;
const bit<8> OP_FETCH_ADD = 0x14;

// Command ops and result kinds (RdmaProbe::Op, RdmaProbe::Result).
const bit<8> CMD_TICK = 0;
const bit<8> CMD_WRITE = 1;
const bit<8> CMD_READ = 2;
const bit<8> CMD_FETCH_ADD = 3;
const bit<8> RESULT_READ_DATA = 1;
const bit<8> RESULT_ATOMIC = 2;
const bit<8> RESULT_ERROR = 3;

// softfino::pipe::DropReason codes: drop_counter index N is the same reason
// in both versions. 24 (rdma_window_full) cannot happen here: no window.
typedef bit<8> drop_reason_t;
const drop_reason_t DROP_NONE = 0;
const drop_reason_t DROP_IPV4_BAD_CHECKSUM = 7;
const drop_reason_t DROP_RDMA_ANSWER_CONSUMED = 25;
const drop_reason_t DROP_RDMA_BAD_PACKET = 26;
const drop_reason_t DROP_INJECTED_LOSS = 27;
const drop_reason_t DROP_TIMER_UNUSED = 28;
const bit<32> DROP_REASON_COUNT = 29;

// softfino::rdma::RequesterEvent codes, for the events this program sees.
typedef bit<8> event_t;
const event_t EV_POSTED = 0;
const event_t EV_READ_RESPONSES = 6;
const event_t EV_ATOMIC_ACKS = 7;
const event_t EV_PSN_SEQUENCE_NAKS = 8;
const event_t EV_FATAL_NAKS = 9;
const event_t EV_RNR_NAKS = 10;
const bit<32> EVENT_COUNT = 19;

header ethernet_h { mac_addr_t dst_addr; mac_addr_t src_addr; bit<16> ether_type; }
header ipv4_h {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> total_len;
    bit<16> identification; bit<3> flags; bit<13> frag_offset;
    bit<8> ttl; bit<8> protocol; bit<16> hdr_checksum;
    ipv4_addr_t src_addr; ipv4_addr_t dst_addr;
}
header udp_h { bit<16> src_port; bit<16> dst_port; bit<16> len; bit<16> checksum; }
// CommandWire (28 bytes) and ResultWire (24 bytes) of rdma_probe.cpp.
header command_h {
    bit<8> op; bit<24> reserved; bit<32> cookie; bit<64> offset; bit<64> value; bit<32> length;
}
header result_h {
    bit<8> kind; bit<8> syndrome; bit<16> reserved; bit<32> cookie;
    bit<32> offset; bit<32> length; bit<64> value;
}
// RoCEv2 (InfiniBand transport headers).
header bth_h {
    bit<8> opcode; bit<1> se; bit<1> migreq; bit<2> pad_count; bit<4> tver; bit<16> pkey;
    bit<8> resv8a; bit<24> dst_qp; bit<1> ack_req; bit<7> resv7; bit<24> psn;
}
header reth_h { bit<64> vaddr; bit<32> rkey; bit<32> dma_length; }
header atomic_eth_h { bit<64> vaddr; bit<32> rkey; bit<64> swap_add; bit<64> compare; }
header aeth_h { bit<8> syndrome; bit<24> msn; }  // syndrome[6:5]: 0 ACK, 1 RNR NAK, 3 NAK
header atomic_ack_eth_h { bit<64> original; }
header write_data_h { bit<64> data; }
header icrc_h { bit<8> b0; bit<8> b1; bit<8> b2; bit<8> b3; }  // little-endian on the wire

// Emitted in this order: a result right after UDP; a request's BTH, RETH or
// AtomicETH, the WRITE's 8 bytes, then the ICRC.
struct headers_t {
    ethernet_h       ethernet;
    ipv4_h           ipv4;
    udp_h            udp;
    result_h         result;
    bth_h            bth;
    reth_h           reth;
    atomic_eth_h     atomic_eth;
    aeth_h           aeth;
    atomic_ack_eth_h atomic_ack;
    command_h        cmd;
    write_data_h     wdata;
    icrc_h           icrc;
}

struct ig_metadata_t {
    bool          checksum_err;
    drop_reason_t drop_reason;
    event_t       event;
    bool          count_event;  // `event` happened
    bit<24>       qpn;          // command port: the collector's QPN; collector port: ours
    bit<32>       rkey;
    bit<64>       base_addr;
    bit<32>       mtu;
    bit<32>       seed_write;   // ICRC seeds, per opcode
    bit<32>       seed_read;
    bit<32>       seed_fetch_add;
    bit<1>        loss_on;
    bit<32>       loss_reload;  // drop_every - 1
    bit<32>       loss_left;
    bit<32>       psn;
    bit<10>       slot;         // PSN mod 1024: where a request's cookie waits
    bit<64>       vaddr;
    bit<32>       read_excess;  // READ length beyond one MTU
    bit<24>       qpn_diff;
    bit<32>       icrc;
    bit<32>       icrc_seed;
    bit<16>       data_len;     // READ response payload bytes
}
struct eg_metadata_t {}

parser IngressParser(packet_in pkt, out headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    Checksum() ipv4_checksum;

    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        md.checksum_err = false;
        transition select(ig_intr_md.ingress_port) {
            9w68 &&& 9w0x7f : accept;  // the packet generator (port 68 of each pipe)
            default         : parse_ethernet;
        }
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ipv4_checksum.add(hdr.ipv4);
        md.checksum_err = ipv4_checksum.verify();
        transition select(hdr.ipv4.ihl, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (5, 0, 17) : parse_udp;  // RoCEv2 has no IPv4 options; see README for commands
            default    : accept;
        }
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        transition select(hdr.udp.dst_port) {
            UDP_COMMAND : parse_command;
            UDP_ROCE    : parse_bth;
            default     : accept;
        }
    }
    state parse_command { pkt.extract(hdr.cmd); transition accept; }
    state parse_bth {
        pkt.extract(hdr.bth);
        transition select(hdr.bth.opcode) {
            OP_ACKNOWLEDGE        : parse_ack;
            OP_ATOMIC_ACKNOWLEDGE : parse_atomic_ack;
            OP_READ_RESPONSE_ONLY : parse_aeth;  // the data follows, unparsed
            default               : accept;
        }
    }
    state parse_ack { pkt.extract(hdr.aeth); pkt.extract(hdr.icrc); transition accept; }
    state parse_atomic_ack {
        pkt.extract(hdr.aeth);
        pkt.extract(hdr.atomic_ack);
        pkt.extract(hdr.icrc);
        transition accept;
    }
    state parse_aeth { pkt.extract(hdr.aeth); transition accept; }
}

control Ingress(inout headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;
    Counter<bit<32>, event_t>(EVENT_COUNT, CounterType_t.PACKETS) events;

    // This pipe's next PSN; the control plane writes the PSN the collector
    // expects first (the handshake's reply).
    Register<bit<32>, bit<1>>(1) next_psn;
    RegisterAction<bit<32>, bit<1>, bit<32>>(next_psn) psn_take = {
        void apply(inout bit<32> v, out bit<32> rv) {
            rv = v;
            if (v == 0x00ffffff) { v = 0; } else { v = v + 1; }  // PSNs wrap at 24 bits
        }
    };
    RegisterAction<bit<32>, bit<1>, bit<32>>(next_psn) psn_resync = {
        void apply(inout bit<32> v) { v = (bit<32>) hdr.bth.psn; }
    };

    // Each request's cookie by PSN mod 1024, for the result of its answer.
    Register<bit<32>, bit<10>>(1024) cookies;
    RegisterAction<bit<32>, bit<10>, bit<32>>(cookies) cookie_put = {
        void apply(inout bit<32> v) { v = hdr.cmd.cookie; }
    };
    RegisterAction<bit<32>, bit<10>, bit<32>>(cookies) cookie_get = {
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; }
    };

    // drop_every: countdowns to the next injected loss (index 0: requests,
    // 1: answers), reloaded with drop_every - 1, which the control plane
    // also writes first.
    Register<bit<32>, bit<1>>(2) loss;
    RegisterAction<bit<32>, bit<1>, bit<32>>(loss) loss_next = {
        void apply(inout bit<32> v, out bit<32> rv) {
            rv = v;
            if (v == 0) { v = md.loss_reload; } else { v = v - 1; }
        }
    };

    // ICRC of the fixed-size requests (see the top of this file).
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false, 32w0, 32w0) crc32_raw;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_write;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_read;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_fetch_add;

    action drop(drop_reason_t reason) { md.drop_reason = reason; }
    action event(event_t e) { md.event = e; md.count_event = true; }

    // Entries per pipe, from the handshake (README.md). On the command port,
    // the addresses are written at once: anything that is not a request is
    // dropped anyway.
    action command_qp(PortId_t port, mac_addr_t src_mac, mac_addr_t dst_mac,
                      ipv4_addr_t src_ip, ipv4_addr_t dst_ip, bit<16> udp_src_port,
                      bit<24> dest_qpn, bit<32> rkey, bit<64> base_addr, bit<32> mtu,
                      bit<32> seed_write, bit<32> seed_read, bit<32> seed_fetch_add,
                      bit<1> loss_on, bit<32> loss_reload) {
        ig_tm_md.ucast_egress_port = port;
        hdr.ethernet.src_addr = src_mac; hdr.ethernet.dst_addr = dst_mac;
        hdr.ipv4.src_addr = src_ip; hdr.ipv4.dst_addr = dst_ip;
        hdr.udp.src_port = udp_src_port;
        md.qpn = dest_qpn; md.rkey = rkey; md.base_addr = base_addr; md.mtu = mtu;
        md.seed_write = seed_write; md.seed_read = seed_read; md.seed_fetch_add = seed_fetch_add;
        md.loss_on = loss_on; md.loss_reload = loss_reload;
    }
    // On the collector port: our QPN (answers carry it) and the command port.
    action answer_qp(bit<24> local_qpn, PortId_t command_port, bit<1> loss_on,
                     bit<32> loss_reload) {
        ig_tm_md.ucast_egress_port = command_port;
        md.qpn = local_qpn; md.loss_on = loss_on; md.loss_reload = loss_reload;
    }
    action no_qp() {}

    table qp {
        key = { ig_intr_md.ingress_port : exact @name("ingress_port"); }
        actions = { command_qp; answer_qp; @defaultonly no_qp; }
        const default_action = no_qp();
        size = 16;
    }

    // The command packet becomes the request: IPv4/UDP for RoCEv2, BTH and
    // ICRC added, the command removed (after the caller read it).
    action request(bit<8> opcode, bit<16> ip_len, bit<32> seed) {
        hdr.ipv4.diffserv = 0; hdr.ipv4.total_len = ip_len; hdr.ipv4.identification = 0;
        hdr.ipv4.flags = 2;  // DF: RoCE is never fragmented
        hdr.ipv4.ttl = 64;
        hdr.udp.dst_port = UDP_ROCE; hdr.udp.len = ip_len - 20;
        hdr.udp.checksum = 0;  // allowed for RoCEv2 over IPv4
        hdr.bth.setValid();
        hdr.bth.opcode = opcode;
        hdr.bth.se = 0; hdr.bth.migreq = 1; hdr.bth.pad_count = 0; hdr.bth.tver = 0;
        hdr.bth.pkey = 0xffff; hdr.bth.resv8a = 0; hdr.bth.dst_qp = md.qpn;
        hdr.bth.ack_req = 1; hdr.bth.resv7 = 0; hdr.bth.psn = md.psn[23:0];
        hdr.icrc.setValid();
        md.icrc_seed = seed;
        hdr.cmd.setInvalid();
    }
    action write_only() {
        hdr.reth.setValid();
        hdr.reth.vaddr = md.vaddr; hdr.reth.rkey = md.rkey; hdr.reth.dma_length = 8;
        hdr.wdata.setValid();
        hdr.wdata.data = hdr.cmd.value;  // the 8 bytes as given
        request(OP_WRITE_ONLY, 20 + 8 + 12 + 16 + 8 + 4, md.seed_write);
    }
    action read_request() {
        hdr.reth.setValid();
        hdr.reth.vaddr = md.vaddr; hdr.reth.rkey = md.rkey; hdr.reth.dma_length = hdr.cmd.length;
        request(OP_READ_REQUEST, 20 + 8 + 12 + 16 + 4, md.seed_read);
    }
    action fetch_add() {
        hdr.atomic_eth.setValid();
        hdr.atomic_eth.vaddr = md.vaddr; hdr.atomic_eth.rkey = md.rkey;
        hdr.atomic_eth.swap_add = hdr.cmd.value; hdr.atomic_eth.compare = 0;
        request(OP_FETCH_ADD, 20 + 8 + 12 + 28 + 4, md.seed_fetch_add);
    }

    // The answer becomes a result packet (addresses as in rdma_probe.cpp's
    // WriteResult) with `payload` bytes behind it. strip_answer() removes the
    // answer's headers once the result has what it needs from them.
    action result(bit<8> kind, bit<16> payload) {
        hdr.ethernet.dst_addr = 0xffffffffffff;
        hdr.ethernet.src_addr = 0x0250524f4245;  // "PROBE"
        hdr.ipv4.diffserv = 0; hdr.ipv4.total_len = 20 + 8 + 24 + payload;
        hdr.ipv4.identification = 0; hdr.ipv4.flags = 0; hdr.ipv4.ttl = 64;
        hdr.ipv4.src_addr = 0xc0a8ff01;  // 192.168.255.1 -> .2
        hdr.ipv4.dst_addr = 0xc0a8ff02;
        hdr.udp.src_port = UDP_RESULT; hdr.udp.dst_port = UDP_RESULT;
        hdr.udp.len = 8 + 24 + payload; hdr.udp.checksum = 0;
        hdr.result.setValid();
        hdr.result.kind = kind; hdr.result.syndrome = 0; hdr.result.reserved = 0;
        hdr.result.offset = 0;  // a READ is one response packet here
        hdr.result.length = (bit<32>) payload;
        hdr.result.value = 0;
    }
    action strip_answer() {
        hdr.bth.setInvalid(); hdr.aeth.setInvalid();
        hdr.atomic_ack.setInvalid(); hdr.icrc.setInvalid();
    }

    apply {
        md.drop_reason = DROP_NONE;
        md.count_event = false;
        if (ig_intr_md.ingress_port[6:0] == 68) {
            drop(DROP_TIMER_UNUSED);  // a timer packet: there is no resend for it to carry
        } else if (ig_prsr_md.parser_err != PARSER_ERROR_OK) {
            drop(DROP_RDMA_BAD_PACKET);  // e.g. a command shorter than 28 bytes
        } else {
            switch (qp.apply().action_run) {
                command_qp: {
                    md.vaddr = md.base_addr + hdr.cmd.offset;  // 64 bits: add with carry
                    md.read_excess = hdr.cmd.length |-| md.mtu;
                    if (md.checksum_err) {
                        drop(DROP_IPV4_BAD_CHECKSUM);
                    } else if (!hdr.cmd.isValid() || hdr.cmd.op > CMD_FETCH_ADD) {
                        drop(DROP_RDMA_BAD_PACKET);
                    } else if (hdr.cmd.op == CMD_TICK) {
                        drop(DROP_TIMER_UNUSED);
                    } else if (hdr.cmd.op == CMD_READ && md.read_excess != 0) {
                        drop(DROP_RDMA_BAD_PACKET);  // more than one response packet
                    } else {
                        md.psn = psn_take.execute(0);
                        md.slot = md.psn[9:0];
                        cookie_put.execute(md.slot);
                        event(EV_POSTED);
                        if (hdr.cmd.op == CMD_WRITE) {
                            write_only();
                            md.icrc = icrc_write.get({hdr.bth.psn, hdr.reth.vaddr,
                                hdr.reth.rkey, hdr.reth.dma_length, hdr.wdata.data});
                        } else if (hdr.cmd.op == CMD_READ) {
                            read_request();
                            md.icrc = icrc_read.get({hdr.bth.psn, hdr.reth.vaddr,
                                hdr.reth.rkey, hdr.reth.dma_length});
                        } else {
                            fetch_add();
                            md.icrc = icrc_fetch_add.get({hdr.bth.psn, hdr.atomic_eth.vaddr,
                                hdr.atomic_eth.rkey, hdr.atomic_eth.swap_add,
                                hdr.atomic_eth.compare});
                        }
                        md.icrc = md.icrc ^ md.icrc_seed;
                        hdr.icrc.b0 = md.icrc[7:0];
                        hdr.icrc.b1 = md.icrc[15:8];
                        hdr.icrc.b2 = md.icrc[23:16];
                        hdr.icrc.b3 = md.icrc[31:24];
                        // After the PSN is taken: a lost request leaves a gap
                        // for the collector to NAK, as on a lossy link.
                        if (md.loss_on == 1) {
                            md.loss_left = loss_next.execute(0);
                            if (md.loss_left == 0) { drop(DROP_INJECTED_LOSS); }
                        }
                    }
                }
                answer_qp: {
                    md.qpn_diff = hdr.bth.dst_qp ^ md.qpn;
                    md.slot = hdr.bth.psn[9:0];
                    if (md.loss_on == 1) {
                        md.loss_left = loss_next.execute(1);
                        if (md.loss_left == 0) { drop(DROP_INJECTED_LOSS); }
                    }
                    if (md.drop_reason != DROP_NONE) {
                        // lost on purpose
                    } else if (md.checksum_err || !hdr.bth.isValid() || md.qpn_diff != 0) {
                        drop(DROP_RDMA_BAD_PACKET);
                    } else if (hdr.bth.opcode == OP_ACKNOWLEDGE) {
                        if (hdr.aeth.syndrome[6:5] == 0) {
                            drop(DROP_RDMA_ANSWER_CONSUMED);  // an ACK: nothing to report
                        } else if (hdr.aeth.syndrome[6:5] == 1) {
                            event(EV_RNR_NAKS);
                            drop(DROP_RDMA_ANSWER_CONSUMED);
                        } else if (hdr.aeth.syndrome[6:5] == 3) {
                            // Resync (DTA's decision): go on at the PSN the
                            // collector expects. softfino's soft RNIC keeps a
                            // refused PSN expected, so a fatal NAK resyncs too.
                            psn_resync.execute(0);
                            if (hdr.aeth.syndrome[4:0] == 0) {
                                event(EV_PSN_SEQUENCE_NAKS);
                                drop(DROP_RDMA_ANSWER_CONSUMED);
                            } else {
                                event(EV_FATAL_NAKS);
                                result(RESULT_ERROR, 0);
                                hdr.result.syndrome = hdr.aeth.syndrome;
                                hdr.result.cookie = cookie_get.execute(md.slot);
                                strip_answer();
                            }
                        } else {
                            drop(DROP_RDMA_BAD_PACKET);
                        }
                    } else if (hdr.bth.opcode == OP_ATOMIC_ACKNOWLEDGE) {
                        event(EV_ATOMIC_ACKS);
                        result(RESULT_ATOMIC, 0);
                        hdr.result.value = hdr.atomic_ack.original;
                        hdr.result.cookie = cookie_get.execute(md.slot);
                        strip_answer();
                    } else if (hdr.bth.opcode == OP_READ_RESPONSE_ONLY) {
                        // UDP length = 8 + BTH 12 + AETH 4 + data + pad + ICRC 4.
                        // Pad and ICRC stay behind the data, past the IPv4
                        // total length, where they read as frame padding.
                        event(EV_READ_RESPONSES);
                        md.data_len = hdr.udp.len - 28;
                        md.data_len = md.data_len - (bit<16>) hdr.bth.pad_count;
                        result(RESULT_READ_DATA, md.data_len);
                        hdr.result.cookie = cookie_get.execute(md.slot);
                        strip_answer();
                    } else {
                        drop(DROP_RDMA_BAD_PACKET);  // incl. multi-packet READ responses
                    }
                }
                default: { drop(DROP_RDMA_BAD_PACKET); }  // not the command or collector port
            }
        }

        if (md.drop_reason != DROP_NONE) {
            ig_dprsr_md.drop_ctl = 1;
            drop_counter.count(md.drop_reason);
        }
        if (md.count_event) { events.count(md.event); }
    }
}

control IngressDeparser(packet_out pkt, inout headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Checksum() ipv4_checksum;

    apply {
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
            hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
            hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr});
        pkt.emit(hdr);
    }
}

// Egress: packets pass unchanged.
parser EgressParser(packet_in pkt, out headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    state start { pkt.extract(eg_intr_md); transition accept; }
}
control Egress(inout headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) { apply {} }
control EgressDeparser(packet_out pkt, inout headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    apply { pkt.emit(hdr); }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

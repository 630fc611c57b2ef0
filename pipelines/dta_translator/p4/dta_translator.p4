/*
 * dta_translator: the TNA (Tofino-1) counterpart of
 * pipelines/dta_translator/dta_translator.{h,cpp}: DTA's translator switch.
 *
 * NOT COMPILED: this repository and its CI have no Tofino SDE (no bf-p4c, no
 * tofino-model), so this file has never been through a compiler, and nobody
 * has checked that it fits the chip (stateful ALUs, stages, hash units). It
 * is kept in step with the C++ program by review.
 * Build: bf-p4c --target tofino --arch tna -o dta_translator.tofino p4/dta_translator.p4
 *        (add -DDTA_BASE_2B for the 2-byte base header, -DDTA_APPEND_BATCH=8 ...)
 *
 * Reports (IPv4/UDP to 40040, include/softfino/net/dta.h) become RoCEv2
 * requests into the collectors' memory, laid out as include/softfino/dta/
 * says, split as the C++ program splits it:
 *   ingress (any pipe)  parses and checks the report, picks the collector (a
 *       CRC-16/ARC of the key through the range table `collector_of_key`;
 *       Append: table `collector_of_list`, list % collectors) and sends it to
 *       the collector's port: unicast, or for N > 1 copies to PRE group
 *       base + 4 * collector + N - 1 (N copies, rid 0..N-1, to that port).
 *       RoCE answers arriving on a collector's port go to that port's egress;
 *       packet-generator timer packets (port 68) to every collector's egress.
 *   egress of the collector's port  holds all the state: per queue pair the
 *       PSN (`qp_psn`) and probe clock (`probe_clock`); the Append batches;
 *       the Postcarding cache. Each packet becomes one request:
 *         Key-Write      WRITE Only of the 8-byte slot [CRC-32(key) LE][data]
 *                        at copy rid's slot (rid selects the copy polynomial)
 *         Key-Increment  FETCH_ADD (0x14) of the counter at row rid
 *         Append         the B-th report of a list: WRITE of B * 4 bytes;
 *                        the others are dropped (dta_batched). Every
 *                        head_interval-th batch is cloned egress-to-egress and
 *                        the clone becomes the 8-byte WRITE of the list's head
 *         Postcarding    the cache keeps the path; a WRITE of 20 bytes when
 *                        it is whole or evicted (else dta_cached)
 *         answers        ACK/NAK update the queue pair's PSN (resync mode)
 *         timer packets  a probe of a queue pair that went quiet, or dropped
 *
 * What differs from the C++ program (all of it on purpose, for the chip):
 * - The base header form is chosen at compile time (DTA_BASE_2B), not by the
 *   config's "base_form": the two forms are different header types, so each
 *   needs its own parser state (see parse_dta_base). A `const bit<1>` could
 *   name the form as well, but the extracted header type would still differ,
 *   so #ifdef it is. (A runtime choice would take a parser value_set keyed
 *   on the ingress port, filled by the control plane.)
 * - IPv4 options: the parser takes IHL 5 only (softfino accepts options);
 *   a report with options is counted as not_dta. One 802.1Q tag is accepted,
 *   as in softfino. The report's Ethernet padding, if any, stays behind the
 *   request, past the IPv4 total length, where it reads as frame padding.
 * - Postcarding copies: softfino multicasts a postcard N times and keeps a
 *   16-entry table of pending paths that rid 1..N-1 search for the path rid 0
 *   emitted. Searching 16 entries is not possible in a pass, so here a
 *   postcard goes unicast, and the path WRITE (copy 0) is cloned
 *   egress-to-egress; each clone rewrites the address for the next copy
 *   (copy index in the mirror header) and clones itself again until the
 *   layout's `copies` are written. Same bytes in memory, fewer TM copies.
 * - The Postcarding cache needs postcarding_path_length >= 2 (a path of one
 *   hop would complete on its own first postcard; softfino handles it).
 *   Eviction needs no recirculation here: each hop-value register is read and
 *   rewritten in one access (old value out, the newcomer's blank in). Should
 *   bf-p4c refuse these actions, the fallback is the paper's: recirculate the
 *   evicting postcard, write the evicted path on the first pass and install
 *   the newcomer on the second. Rows are per pipe: collectors sharing a pipe
 *   get disjoint row ranges (row_base in table `collector`).
 * - Append: the list of a head clone travels in the mirror header (softfino
 *   decodes it from the WRITE's address). Positions are 32 bits (softfino: 64;
 *   the head WRITE's upper 4 bytes are 0), and batch * head_interval must be a
 *   power of two (it is a mask here). Lists at most 2^DTA_APPEND_LIST_BITS.
 * - The requester (rdma/rc_requester.h, resync mode) is two register pairs
 *   per queue pair, described at `qp_psn`. Like softfino: NAKs resync the
 *   next PSN, ACKs never let it fall behind what the collector expects, and
 *   timer packets carry the two probes of RcRequester::NextProbe (a
 *   zero-length WRITE with AckReq at the next PSN, then at the last ACKed
 *   PSN, a duplicate the collector re-ACKs, holding new requests until
 *   answered). Unlike it: the probe clock is only
 *   restarted by answers and probes, not when requests become outstanding
 *   (the PSN register, which knows, comes after the clock in the pipeline),
 *   so the first timeout after an idle spell may skip straight to the
 *   recovery probe, holding requests for one round trip; any answer ends a
 *   recovery; "is ahead" is a signed 32-bit compare of PSN << 8. A timer
 *   packet probes the queue pair its pktgen packet_id names (packet_id % 4 =
 *   structure), not the first due one in round robin.
 * - ICRC: softfino CRCs every packet whole and always sends a valid ICRC.
 *   Tofino-1 cannot CRC the masked headers and payload in the deparser, in
 *   general. As in rdma_probe.p4, each request here has a fixed shape (the
 *   shapes: WRITE of 8, 20 or B*4 bytes, FETCH_ADD, zero-length WRITE), so
 *       ICRC = crc_raw(bytes from the BTH's PSN to the end of the payload) ^ seed
 *   with crc_raw the reflected CRC-32 from 0 without final XOR, and seed the
 *   ICRC of the same request with those bytes zero: a constant per queue pair
 *   and shape that the control plane computes (rdma_probe/README.md shows
 *   how) and installs in table `qp`. Unverified: check it once on
 *   tofino-model against rdma::IcrcOfIpv4Datagram. An Append batch of 16
 *   feeds 83 bytes to one hash, which may not fit one stage's input
 *   crossbar; if it does not, build with -DDTA_ICRC_PLACEHOLDER, which sends
 *   ICRC 0 as DTA's published translator does (their collectors turn ICRC
 *   checking off; softfino's soft RNIC checks it and drops such requests).
 *   Answers' ICRCs are not checked here (softfino drops bad ones).
 * - Fitting the chip (unchecked): a register allows one RegisterAction per
 *   packet and sits in one stage, so all packets reach the registers in one
 *   order (append_count, batch_entry*; pc_key, pc_hops, pc_value*;
 *   probe_clock; then qp_psn). Hence one register per batch entry (the
 *   report that fills a batch reads them all), one access per hop-value
 *   register (fill, or swap), and the probe-clock approximation above. The
 *   longest chain (Postcarding: row hash, key, hops, values, slot hash, PSN,
 *   ICRC hash, XOR) is about 9 dependent stages of Tofino-1's 12 in egress;
 *   with B = 16 the program needs 26 stateful ALUs of the 48 there. Each
 *   RegisterAction is meant to fit one stateful ALU (two conditions, a pair
 *   of 32-bit words). If bf-p4c says no: a smaller DTA_APPEND_BATCH,
 *   DTA_ICRC_PLACEHOLDER, or Postcarding in its own build.
 * - drop_every (a test knob) is not in the P4. Counters are per pipe.
 *
 * Control plane (from the same handshake as softfino's rdma.connections):
 *   ingress: `primitive` (one entry per primitive the layout turns on),
 *     `collector_of_key` (collector c covers spread hashes
 *     [ceil(c * 65536 / n), ceil((c + 1) * 65536 / n) - 1], which is
 *     softfino's (hash * n) >> 16), `collector_of_list` (list -> list % n),
 *     `collector_port`, `timer_dest`; PRE groups base + 4c + N - 1 (N = 2..4
 *     copies, rid 0..N-1 to c's port) and the timer group (rid 0 to every
 *     collector's port); the pktgen timer app whose packet, after the 6-byte
 *     pktgen header, is a template Ethernet/IPv4/UDP(4791)/BTH(WRITE Only)/
 *     RETH (70 bytes).
 *   egress: `collector` (port -> index, mirror session, cache row range),
 *     `layout`, `qp` (port, structure), `answer_qp` (port, our QPN),
 *     `ki_row`, `append_ring`; an E2E mirror session per collector to its
 *     port (session ids are 10 bits: softfino's default base 0xd00 does not
 *     fit, pick one below 1024 - collectors); qp_psn[i] = {start_psn << 8,
 *     start_psn << 8} for every queue pair.
 */

#include <core.p4>
#include <tna.p4>

/* ---------------------------------------------------------------------------
 * Compile-time choices
 * ------------------------------------------------------------------------- */

#ifdef DTA_BASE_2B
#define DTA_BASE_BYTES 2    // opcode, immediate: DTA's reporter P4
#else
#define DTA_BASE_BYTES 3    // opcode, seqnum, flags: softfino's default form
#endif
#ifndef DTA_APPEND_BATCH
#define DTA_APPEND_BATCH 16        // the layout's append_batch: 1, 2, 4, 8 or 16
#endif
#ifndef DTA_APPEND_LIST_BITS
#define DTA_APPEND_LIST_BITS 10    // lists per pipe: 2^bits
#endif
#define DTA_APPEND_LISTS (1 << DTA_APPEND_LIST_BITS)
#ifndef DTA_CACHE_ROWS
#define DTA_CACHE_ROWS 65536       // Postcarding cache rows per pipe, all its collectors
#endif
#ifndef DTA_QP_COUNT
#define DTA_QP_COUNT 64            // queue pairs per pipe: 4 per collector port
#endif
#ifndef DTA_PROBE_TIMEOUT
#define DTA_PROBE_TIMEOUT 977      // probe_timeout_us in 1.024 us units (1 ms)
#endif

// One X(j) per Append batch entry: registers, header fields, hash inputs.
#if DTA_APPEND_BATCH == 1
#define FOR_EACH_ENTRY(X) X(0)
#elif DTA_APPEND_BATCH == 2
#define FOR_EACH_ENTRY(X) X(0) X(1)
#elif DTA_APPEND_BATCH == 4
#define FOR_EACH_ENTRY(X) X(0) X(1) X(2) X(3)
#elif DTA_APPEND_BATCH == 8
#define FOR_EACH_ENTRY(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif DTA_APPEND_BATCH == 16
#define FOR_EACH_ENTRY(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
                          X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#else
#error "DTA_APPEND_BATCH must be 1, 2, 4, 8 or 16 (include/softfino/dta/append.h)"
#endif
#define FOR_EACH_HOP(X) X(1) X(2) X(3) X(4) X(5)

// A 32-bit key as 4 little-endian bytes, as every DTA hash takes it
// (dta/key_hash.h): the hash unit reads fields in wire (big-endian) order.
#define LE_BYTES(x) x[7:0], x[15:8], x[23:16], x[31:24]
#define BSWAP32(x) (x[7:0] ++ x[15:8] ++ x[23:16] ++ x[31:24])

/* ---------------------------------------------------------------------------
 * Types and constants
 * ------------------------------------------------------------------------- */

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<16> UDP_DTA = 40040;
const bit<16> UDP_ROCE = 4791;

// DTA opcodes, and the structures (queue pairs) of a collector.
const bit<8> DTA_KEY_WRITE = 0x01;
const bit<8> DTA_APPEND = 0x02;
const bit<8> DTA_KEY_INCREMENT = 0x03;
const bit<8> DTA_POSTCARDING = 0x04;
const bit<8> STRUCT_KEY_WRITE = 0;
const bit<8> STRUCT_KEY_INCREMENT = 1;
const bit<8> STRUCT_APPEND = 2;
const bit<8> STRUCT_POSTCARDING = 3;

// BTH opcodes (RC).
const bit<8> OP_WRITE_ONLY = 0x0a;
const bit<8> OP_ACKNOWLEDGE = 0x11;
const bit<8> OP_ATOMIC_ACKNOWLEDGE = 0x12;
const bit<8> OP_FETCH_ADD = 0x14;

// First byte of what egress parses: who made the packet.
const bit<8> SRC_NONE = 0;
const bit<8> SRC_REPORT = 1;       // bridged from ingress
const bit<8> SRC_ANSWER = 2;
const bit<8> SRC_TIMER = 3;
const bit<8> SRC_MIRROR_HEAD = 4;  // E2E clone of an Append batch WRITE
const bit<8> SRC_MIRROR_PATH = 5;  // E2E clone of a Postcarding path WRITE
const bit<3> MIRROR_TYPE_E2E = 1;

// Request shapes: each has its own ICRC hash and seed.
const bit<8> SHAPE_NONE = 0;
const bit<8> SHAPE_WRITE8 = 1;     // Key-Write slot, Append head
const bit<8> SHAPE_FETCH_ADD = 2;
const bit<8> SHAPE_PATH = 3;
const bit<8> SHAPE_BATCH = 4;
const bit<8> SHAPE_PROBE = 5;      // zero-length WRITE, AckReq

// softfino::pipe::DropReason codes: drop_counter index N is the same reason
// in both versions.
typedef bit<8> drop_reason_t;
const drop_reason_t DROP_NONE = 0;
const drop_reason_t DROP_PROGRAM = 13;
const drop_reason_t DROP_BAD_EGRESS_PORT = 14;
const drop_reason_t DROP_RDMA_ANSWER_CONSUMED = 25;
const drop_reason_t DROP_RDMA_BAD_PACKET = 26;
const drop_reason_t DROP_TIMER_UNUSED = 28;
const drop_reason_t DROP_DTA_BAD_REPORT = 30;
const drop_reason_t DROP_DTA_BATCHED = 31;
const drop_reason_t DROP_DTA_CACHED = 32;
const drop_reason_t DROP_RDMA_RECOVERING = 34;
const bit<32> DROP_REASON_COUNT = 35;

// Why a report was refused: `report_drops` index. 0..15 are
// net::DtaParseError (those the P4 can tell), 16 + TranslatorRefusal.
const bit<8> WHY_OK = 0;
const bit<8> WHY_NOT_DTA = 1;
const bit<8> WHY_BAD_IPV4_CHECKSUM = 5;
const bit<8> WHY_BAD_UDP_LENGTH = 8;
const bit<8> WHY_BAD_OPCODE = 10;
const bit<8> WHY_TRUNCATED_PRIMITIVE = 11;
const bit<8> WHY_TRAILING_BYTES = 12;
const bit<8> WHY_BAD_REDUNDANCY = 13;
const bit<8> WHY_BAD_HOP = 14;
const bit<8> WHY_PRIMITIVE_OFF = 16;
const bit<8> WHY_UNKNOWN_LIST = 17;
const bit<8> WHY_REDUNDANCY_ABOVE_ROWS = 18;
const bit<8> WHY_HOP_BEYOND_PATH = 19;

// Ingress events (`ingress_events`): 1..4 reports by opcode, then these.
const bit<8> IEV_ACK = 5;
const bit<8> IEV_NAK = 6;
const bit<8> IEV_BAD_ANSWER = 7;
const bit<8> IEV_TIMER = 8;
// Egress events, per collector (`collector_events[collector ++ event]`),
// softfino's per-collector counters.
const bit<8> EV_NONE = 0xff;
const bit<8> EV_REQUEST = 0;
const bit<8> EV_HEAD_WRITE = 1;
const bit<8> EV_PATH_COMPLETE = 2;
const bit<8> EV_PATH_EVICTED = 3;
const bit<8> EV_PATH_COPY = 4;
const bit<8> EV_ANSWER = 5;
const bit<8> EV_PROBE = 6;
const bit<8> EV_RECOVERY = 7;

// qp_psn holds PSN << 8, so adding 256 wraps at 2^24 PSNs for free and
// "a is ahead of b" is (int<32>)(a - b) > 0. No PSN << 8 has these values:
const bit<32> PSN_NONE = 0xffffffff;        // nothing to send
const bit<32> PSN_RECOVERING = 0x000000ff;  // a recovery probe is unanswered

const bit<32> APPEND_SLOT_MASK = DTA_APPEND_BATCH - 1;
const bit<32> PC_CACHED = 0;
const bit<32> PC_COMPLETE = 1;
const bit<32> PC_FRESH = 2;

/* ---------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------- */

header ethernet_h { mac_addr_t dst_addr; mac_addr_t src_addr; bit<16> ether_type; }
header vlan_h { bit<3> pcp; bit<1> dei; bit<12> vid; bit<16> ether_type; }
header ipv4_h {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> total_len;
    bit<16> identification; bit<3> flags; bit<13> frag_offset;
    bit<8> ttl; bit<8> protocol; bit<16> hdr_checksum;
    ipv4_addr_t src_addr; ipv4_addr_t dst_addr;
}
header udp_h { bit<16> src_port; bit<16> dst_port; bit<16> len; bit<16> checksum; }

// DTA base headers (net/dta.h): one of the two is used, by DTA_BASE_2B.
header dta_base2_h { bit<8> opcode; bit<1> immediate; bit<7> reserved; }
header dta_base3_h {
    bit<8> opcode; bit<8> seqnum; bit<1> immediate; bit<1> retransmitable; bit<6> reserved;
}
header dta_key_write_h { bit<8> redundancy; bit<32> key; bit<32> data; }
header dta_append_h { bit<32> list_id; bit<32> data; }
header dta_key_increment_h { bit<8> redundancy; bit<32> key; bit<64> counter; }
header dta_postcard_h { bit<32> key; bit<8> hop; bit<32> data; }

// RoCEv2 (net/roce.h).
header bth_h {
    bit<8> opcode; bit<1> se; bit<1> migreq; bit<2> pad_count; bit<4> tver; bit<16> pkey;
    bit<8> resv8a; bit<24> dst_qp; bit<1> ack_req; bit<7> resv7; bit<24> psn;
}
header reth_h { bit<64> vaddr; bit<32> rkey; bit<32> dma_length; }
header atomic_eth_h { bit<64> vaddr; bit<32> rkey; bit<64> swap_add; bit<64> compare; }
header aeth_h { bit<8> syndrome; bit<24> msn; }  // syndrome[6:5]: 0 ACK, 1 RNR NAK, 3 NAK
// Payloads: a Key-Write slot or an Append head (8 bytes), a path (5 hops),
// an Append batch (B entries, network order as the reports carried them).
header data8_h { bit<32> w0; bit<32> w1; }
header path_h { bit<32> hop1; bit<32> hop2; bit<32> hop3; bit<32> hop4; bit<32> hop5; }
#define BATCH_FIELD(j) bit<32> e##j;
header append_batch_h { FOR_EACH_ENTRY(BATCH_FIELD) }
header icrc_h { bit<8> b0; bit<8> b1; bit<8> b2; bit<8> b3; }  // little-endian on the wire

// Ingress -> egress, in front of the packet: what it is, the report's
// opcode, the structure whose queue pair it is for. The collector is not
// bridged: egress finds it by its port (table `collector`), as softfino does.
header bridged_h { bit<8> src; bit<8> opcode; bit<8> structure; }
// Egress -> egress clone, in front of the WRITE it copies.
header mirror_h { bit<8> src; bit<8> copy; bit<32> key; }  // key: path key, or list

// Emitted in this order.
struct headers_t {
    bridged_h           bridged;
    ethernet_h          ethernet;
    vlan_h              vlan;
    ipv4_h              ipv4;
    udp_h               udp;
    dta_base2_h         dta_base2;
    dta_base3_h         dta_base3;
    dta_key_write_h     dta_kw;
    dta_append_h        dta_append;
    dta_key_increment_h dta_ki;
    dta_postcard_h      dta_pc;
    bth_h               bth;
    reth_h              reth;
    atomic_eth_h        atomic_eth;
    aeth_h              aeth;
    data8_h             data8;
    path_h              path;
    append_batch_h      batch;
    icrc_h              icrc;
}

struct ig_metadata_t {
    pktgen_timer_header_t pktgen;  // extracted, never emitted
    bool          checksum_err;
    drop_reason_t drop_reason;
    bit<8>        why;
    bit<8>        opcode; bit<8> structure; bit<8> copies; bit<8> redundancy; bit<8> hop;
    bit<8>        limit;          // Key-Increment rows, Postcarding path length
    bit<32>       lists;
    bit<32>       key;
    bit<16>       spread;
    bit<16>       expected_len;   // UDP length of a well-formed report
    PortId_t      port;
    bit<16>       group_base;     // multicast_group_base + 4 * collector - 1
}

struct eg_metadata_t {
    bridged_h     bridged;
    mirror_h      mirror;
    bit<8>        src;
    drop_reason_t drop_reason;
    bit<8>        event;
    bit<8>        collector;
    MirrorId_t    mirror_session;
    bit<8>        mirror_src;     // SRC_NONE: no clone
    bit<8>        mirror_copy;
    bit<32>       mirror_key;
    // The layout (table `layout`; masks are sizes - 1) and the cache rows.
    bit<32>       kw_mask; bit<32> ki_mask; bit<32> pc_mask;
    bit<32>       entries_mask;   // Append ring entries - 1
    bit<32>       head_mask;      // batch * head_interval - 1
    bit<32>       path_full;      // (1 << path_length) - 1
    bit<8>        pc_copies;
    bit<32>       row_base; bit<32> row_mask;
    // The queue pair (table `qp`), with its ICRC seeds: the structure's
    // request, the Append head, the probe.
    bit<8>        structure;
    bit<32>       qp_index;
    bit<24>       dest_qpn;
    bit<32>       rkey;
    bit<64>       base;           // the region's iova
    bit<32>       seed; bit<32> seed_head; bit<32> seed_probe;
    // The request.
    bit<8>        shape;
    bit<32>       icrc_seed; bit<32> icrc;
    bit<32>       now;            // global_tstamp in 1.024 us units
    bit<32>       step;           // probe: 0 none, 1 ask, 2+ recover
    bit<32>       psn8;           // PSN << 8
    bit<1>        psn_taken;
    bit<32>       answer_psn8; bit<32> answer_next8;
    bit<8>        copy;           // copy / Count-Min row
    bit<8>        next_copy;
    bit<1>        need_slot;
    bit<32>       slot_key; bit<32> slot_mask; bit<32> slot_hash;
    bit<32>       checksum;
    bit<64>       offset;         // in the region
    bit<64>       row_offset;     // Key-Increment: row * slots * 8
    // Append.
    bit<32>       list;
    bit<32>       count;          // entries ever added to the list, before this one
    bit<32>       batch_slot; bit<32> position; bit<32> head_test;
    bit<64>       ring_offset;
    // Postcarding.
    bit<32>       key;
    bit<8>        hop;
    bit<32>       row; bit<32> old_key; bit<32> hop_bit; bit<32> path_key;
    bit<1>        same_key;
    bit<32>       outcome;        // pc_hops_same: PC_CACHED, PC_COMPLETE, PC_FRESH
    bit<32>       old_hops;       // pc_hops_other: the evicted flow's hops (0: none)
    bit<32>       need;           // path_full ^ hop_bit: the bitmap that this hop completes
    bit<32>       enc;            // the hop's value, encoded: data ^ CRC_hop(key)
    bit<32>       mask1; bit<32> mask2; bit<32> mask3; bit<32> mask4; bit<32> mask5;
}

/* ---------------------------------------------------------------------------
 * Ingress
 * ------------------------------------------------------------------------- */

parser IngressParser(packet_in pkt, out headers_t hdr, out ig_metadata_t md,
                     out ingress_intrinsic_metadata_t ig_intr_md) {
    Checksum() ipv4_checksum;

    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        md.checksum_err = false;
        md.opcode = 0;
        transition select(ig_intr_md.ingress_port) {
            9w68 &&& 9w0x7f : parse_pktgen;  // the packet generator (port 68 of each pipe)
            default         : parse_ethernet;
        }
    }
    state parse_pktgen {
        pkt.extract(md.pktgen);
        transition parse_ethernet;  // the probe template
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN : parse_vlan;
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;
        }
    }
    state parse_vlan {
        pkt.extract(hdr.vlan);
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ipv4_checksum.add(hdr.ipv4);
        md.checksum_err = ipv4_checksum.verify();
        // No options, not a fragment (MF clear, offset 0), UDP.
        transition select(hdr.ipv4.ihl, hdr.ipv4.flags[0:0], hdr.ipv4.frag_offset,
                          hdr.ipv4.protocol) {
            (5, 0, 0, 17) : parse_udp;
            default       : accept;
        }
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        transition select(hdr.udp.dst_port) {
            UDP_DTA  : parse_dta_base;
            UDP_ROCE : parse_bth;
            default  : accept;
        }
    }
    // The two base forms are different headers, hence different states;
    // nothing on the wire tells them apart, so DTA_BASE_2B picks one.
#ifdef DTA_BASE_2B
    state parse_dta_base {
        pkt.extract(hdr.dta_base2);
        md.opcode = hdr.dta_base2.opcode;
        transition select(hdr.dta_base2.opcode) {
            DTA_KEY_WRITE     : parse_key_write;
            DTA_APPEND        : parse_append;
            DTA_KEY_INCREMENT : parse_key_increment;
            DTA_POSTCARDING   : parse_postcard;
            default           : accept;  // bad_opcode, found by the control
        }
    }
#else
    state parse_dta_base {
        pkt.extract(hdr.dta_base3);
        md.opcode = hdr.dta_base3.opcode;
        transition select(hdr.dta_base3.opcode) {
            DTA_KEY_WRITE     : parse_key_write;
            DTA_APPEND        : parse_append;
            DTA_KEY_INCREMENT : parse_key_increment;
            DTA_POSTCARDING   : parse_postcard;
            default           : accept;  // bad_opcode, found by the control
        }
    }
#endif
    state parse_key_write { pkt.extract(hdr.dta_kw); transition accept; }
    state parse_append { pkt.extract(hdr.dta_append); transition accept; }
    state parse_key_increment { pkt.extract(hdr.dta_ki); transition accept; }
    state parse_postcard { pkt.extract(hdr.dta_pc); transition accept; }
    state parse_bth {
        pkt.extract(hdr.bth);
        transition select(hdr.bth.opcode) {
            OP_ACKNOWLEDGE        : parse_aeth;
            OP_ATOMIC_ACKNOWLEDGE : parse_aeth;
            OP_WRITE_ONLY         : parse_reth;  // the timer packet's template
            default               : accept;
        }
    }
    state parse_aeth { pkt.extract(hdr.aeth); transition accept; }
    state parse_reth { pkt.extract(hdr.reth); transition accept; }
}

control Ingress(inout headers_t hdr, inout ig_metadata_t md,
                in ingress_intrinsic_metadata_t ig_intr_md,
                in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    // Every drop by reason; a report's drop (dta_bad_report) also by why,
    // as softfino's "parse" and "refused" counters; reports by opcode,
    // acks, naks, bad answers and timer packets in ingress_events.
    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;
    Counter<bit<32>, bit<8>>(32, CounterType_t.PACKETS) report_drops;
    Counter<bit<32>, bit<8>>(16, CounterType_t.PACKETS) ingress_events;

    // The collector of a key: CRC-16/ARC of its 4 little-endian bytes, a
    // polynomial no slot hash uses.
    CRCPolynomial<bit<16>>(16w0x8005, true, false, false, 16w0, 16w0) crc16_arc;
    Hash<bit<16>>(HashAlgorithm_t.CUSTOM, crc16_arc) spread_hash;

    action drop(drop_reason_t reason) { md.drop_reason = reason; }
    action refuse(bit<8> why) { md.why = why; }

    // A collector's port: what arrives there is an answer, for the queue
    // pairs in that port's egress.
    action answer_to_egress() { ig_tm_md.ucast_egress_port = ig_intr_md.ingress_port; }
    table collector_port {
        key = { ig_intr_md.ingress_port : exact @name("ingress_port"); }
        actions = { answer_to_egress; @defaultonly NoAction; }
        const default_action = NoAction();
        size = 64;
    }

    // Timer packets: to the one collector's port, or the group that has a
    // copy (rid 0) for each.
    action timer_ucast(PortId_t port) { ig_tm_md.ucast_egress_port = port; }
    action timer_mcast(MulticastGroupId_t group) { ig_tm_md.mcast_grp_a = group; }
    table timer_dest {
        actions = { timer_ucast; timer_mcast; @defaultonly NoAction; }
        default_action = NoAction();  // the control plane sets one of the two
        size = 1;
    }

    // The primitives the layout turns on, with their limits.
    action allow_key_write() { md.structure = STRUCT_KEY_WRITE; md.copies = md.redundancy; }
    action allow_key_increment(bit<8> rows) {
        md.structure = STRUCT_KEY_INCREMENT; md.copies = md.redundancy; md.limit = rows;
    }
    action allow_append(bit<32> lists) { md.structure = STRUCT_APPEND; md.lists = lists; }
    action allow_postcarding(bit<8> path_length) {
        md.structure = STRUCT_POSTCARDING; md.limit = path_length;
        md.copies = 1;  // the path's copies are egress clones
    }
    action primitive_off() { md.why = WHY_PRIMITIVE_OFF; }
    table primitive {
        key = { md.opcode : exact; }
        actions = { allow_key_write; allow_key_increment; allow_append; allow_postcarding;
                    @defaultonly primitive_off; }
        const default_action = primitive_off();
        size = 4;
    }

    action to_collector(PortId_t port, bit<16> group_base) {
        md.port = port; md.group_base = group_base;
    }
    action no_collector() { md.drop_reason = DROP_PROGRAM; }
    table collector_of_key {
        key = { md.spread : range; }
        actions = { to_collector; @defaultonly no_collector; }
        const default_action = no_collector();
        size = 64;
    }
    table collector_of_list {
        key = { hdr.dta_append.list_id[DTA_APPEND_LIST_BITS - 1:0] : exact @name("list_id"); }
        actions = { to_collector; @defaultonly no_collector; }
        const default_action = no_collector();
        size = DTA_APPEND_LISTS;
    }

    apply {
        md.drop_reason = DROP_NONE;
        md.why = WHY_OK;
        md.copies = 1;
        md.redundancy = 1;
        md.hop = 1;
        md.structure = 0;
        hdr.bridged.setValid();
        hdr.bridged.src = SRC_REPORT;
        hdr.bridged.opcode = md.opcode;
        hdr.bridged.structure = 0;

        if (ig_intr_md.ingress_port[6:0] == 68) {
            // A timer packet: for the queue pair packet_id % 4 of every collector.
            hdr.bridged.src = SRC_TIMER;
            hdr.bridged.structure = (bit<8>) md.pktgen.packet_id[1:0];
            timer_dest.apply();
            ingress_events.count(IEV_TIMER);
        } else if (collector_port.apply().hit) {
            hdr.bridged.src = SRC_ANSWER;
            if (ig_prsr_md.parser_err != PARSER_ERROR_OK || md.checksum_err ||
                !hdr.bth.isValid()) {
                drop(DROP_RDMA_BAD_PACKET);
                ingress_events.count(IEV_BAD_ANSWER);
            } else if (hdr.aeth.isValid() && hdr.bth.opcode == OP_ACKNOWLEDGE &&
                       hdr.aeth.syndrome[6:5] == 3) {
                ingress_events.count(IEV_NAK);
            } else {
                ingress_events.count(IEV_ACK);
            }
        } else {
            // A report. The checks of net::ParseDtaReport, outside in.
            if (hdr.dta_kw.isValid()) {
                md.expected_len = 8 + DTA_BASE_BYTES + 9;
                md.redundancy = hdr.dta_kw.redundancy; md.key = hdr.dta_kw.key;
            } else if (hdr.dta_ki.isValid()) {
                md.expected_len = 8 + DTA_BASE_BYTES + 13;
                md.redundancy = hdr.dta_ki.redundancy; md.key = hdr.dta_ki.key;
            } else if (hdr.dta_append.isValid()) {
                md.expected_len = 8 + DTA_BASE_BYTES + 8;
            } else if (hdr.dta_pc.isValid()) {
                md.expected_len = 8 + DTA_BASE_BYTES + 9;
                md.hop = hdr.dta_pc.hop; md.key = hdr.dta_pc.key;
            }
            if (ig_prsr_md.parser_err != PARSER_ERROR_OK) {
                refuse(WHY_TRUNCATED_PRIMITIVE);  // the frame ends inside a header
            } else if (!hdr.udp.isValid() || hdr.udp.dst_port != UDP_DTA) {
                refuse(WHY_NOT_DTA);
            } else if (md.checksum_err) {
                refuse(WHY_BAD_IPV4_CHECKSUM);
            } else if (hdr.ipv4.total_len != hdr.udp.len + 20) {
                refuse(WHY_BAD_UDP_LENGTH);
            } else if (!hdr.dta_kw.isValid() && !hdr.dta_ki.isValid() &&
                       !hdr.dta_append.isValid() && !hdr.dta_pc.isValid()) {
                refuse(WHY_BAD_OPCODE);
            } else if (hdr.udp.len < md.expected_len) {
                refuse(WHY_TRUNCATED_PRIMITIVE);  // read from Ethernet padding
            } else if (hdr.udp.len > md.expected_len) {
                refuse(WHY_TRAILING_BYTES);  // also: a report of the other base form
            } else if (md.redundancy == 0 || md.redundancy > 4) {
                refuse(WHY_BAD_REDUNDANCY);
            } else if (md.hop == 0 || md.hop > 5) {
                refuse(WHY_BAD_HOP);
            } else {
                // The translator's own refusals (TranslatorRefusal).
                switch (primitive.apply().action_run) {
                    allow_key_increment: {
                        if (md.redundancy > md.limit) { refuse(WHY_REDUNDANCY_ABOVE_ROWS); }
                    }
                    allow_append: {
                        if (hdr.dta_append.list_id >= md.lists) { refuse(WHY_UNKNOWN_LIST); }
                    }
                    allow_postcarding: {
                        if (md.hop > md.limit) { refuse(WHY_HOP_BEYOND_PATH); }
                    }
                    default: {}
                }
            }

            if (md.why != WHY_OK) {
                drop(DROP_DTA_BAD_REPORT);
                report_drops.count(md.why);
            } else {
                if (md.structure == STRUCT_APPEND) {
                    collector_of_list.apply();  // a list lives on one collector, whole
                } else {
                    md.spread = spread_hash.get({LE_BYTES(md.key)});
                    collector_of_key.apply();
                }
                if (md.copies > 1) {
                    ig_tm_md.mcast_grp_a = md.group_base + (bit<16>) md.copies;
                } else {
                    ig_tm_md.ucast_egress_port = md.port;
                }
                hdr.bridged.structure = md.structure;
                ingress_events.count(md.opcode);
            }
        }

        if (md.drop_reason != DROP_NONE) {
            ig_dprsr_md.drop_ctl = 1;
            drop_counter.count(md.drop_reason);
        }
    }
}

control IngressDeparser(packet_out pkt, inout headers_t hdr, in ig_metadata_t md,
                        in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    apply { pkt.emit(hdr); }  // bridged_h first, then the packet as it came
}

/* ---------------------------------------------------------------------------
 * Egress: the collector port's pipe, where the state lives
 * ------------------------------------------------------------------------- */

parser EgressParser(packet_in pkt, out headers_t hdr, out eg_metadata_t md,
                    out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        transition select(pkt.lookahead<bit<8>>()) {
            SRC_MIRROR_HEAD : parse_mirror;
            SRC_MIRROR_PATH : parse_mirror;
            default         : parse_bridged;
        }
    }
    state parse_bridged {
        pkt.extract(md.bridged);
        md.src = md.bridged.src;
        transition parse_ethernet;
    }
    // A clone is our own WRITE: no VLAN, a known payload, then its ICRC.
    state parse_mirror {
        pkt.extract(md.mirror);
        md.src = md.mirror.src;
        pkt.extract(hdr.ethernet);
        pkt.extract(hdr.ipv4);
        pkt.extract(hdr.udp);
        pkt.extract(hdr.bth);
        pkt.extract(hdr.reth);
        transition select(md.mirror.src) {
            SRC_MIRROR_HEAD : parse_batch_clone;
            default         : parse_path_clone;
        }
    }
    state parse_batch_clone { pkt.extract(hdr.batch); pkt.extract(hdr.icrc); transition accept; }
    state parse_path_clone { pkt.extract(hdr.path); pkt.extract(hdr.icrc); transition accept; }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN : parse_vlan;
            default        : parse_ipv4;  // ingress let only IPv4 through
        }
    }
    state parse_vlan { pkt.extract(hdr.vlan); transition parse_ipv4; }
    state parse_ipv4 { pkt.extract(hdr.ipv4); transition parse_udp; }
    state parse_udp {
        pkt.extract(hdr.udp);
        transition select(hdr.udp.dst_port) {
            UDP_DTA  : parse_dta_base;
            UDP_ROCE : parse_bth;
            default  : accept;
        }
    }
    // The opcode is in the bridged header: no need to read the base form.
    state parse_dta_base {
        pkt.advance(DTA_BASE_BYTES * 8);
        transition select(md.bridged.opcode) {
            DTA_KEY_WRITE     : parse_key_write;
            DTA_APPEND        : parse_append;
            DTA_KEY_INCREMENT : parse_key_increment;
            default           : parse_postcard;  // ingress let only the four through
        }
    }
    state parse_key_write { pkt.extract(hdr.dta_kw); transition accept; }
    state parse_append { pkt.extract(hdr.dta_append); transition accept; }
    state parse_key_increment { pkt.extract(hdr.dta_ki); transition accept; }
    state parse_postcard { pkt.extract(hdr.dta_pc); transition accept; }
    state parse_bth {
        pkt.extract(hdr.bth);
        transition select(hdr.bth.opcode) {
            OP_ACKNOWLEDGE        : parse_aeth;
            OP_ATOMIC_ACKNOWLEDGE : parse_aeth;
            OP_WRITE_ONLY         : parse_reth;
            default               : accept;
        }
    }
    state parse_aeth { pkt.extract(hdr.aeth); transition accept; }
    state parse_reth { pkt.extract(hdr.reth); transition accept; }
}

// Register declarations repeated per batch entry and per hop.
#define BATCH_REGISTER(j)                                                            \
    Register<bit<32>, bit<32>>(DTA_APPEND_LISTS) batch_entry##j;                     \
    RegisterAction<bit<32>, bit<32>, bit<32>>(batch_entry##j) batch_access##j = {    \
        void apply(inout bit<32> v, out bit<32> rv) {                                \
            if (md.batch_slot == j) { v = hdr.dta_append.data; }                     \
            rv = v;                                                                  \
        }                                                                            \
    };
#define BATCH_EXECUTE(j) hdr.batch.e##j = batch_access##j.execute(md.list);
#define BATCH_HASH_FIELD(j) , hdr.batch.e##j
// Hop h's cached value, encoded. pc_fill: the row's flow, hop h stored,
// the new value out (for a complete path). pc_reset: a new flow in the row,
// the old value out (for an evicted path), hop h or the blank stored.
#define PC_VALUE_REGISTER(h)                                                         \
    Register<bit<32>, bit<32>>(DTA_CACHE_ROWS) pc_value##h;                          \
    RegisterAction<bit<32>, bit<32>, bit<32>>(pc_value##h) pc_fill##h = {            \
        void apply(inout bit<32> v, out bit<32> rv) {                                \
            if (md.hop == h) { v = md.enc; }                                         \
            rv = v;                                                                  \
        }                                                                            \
    };                                                                               \
    RegisterAction<bit<32>, bit<32>, bit<32>>(pc_value##h) pc_reset##h = {           \
        void apply(inout bit<32> v, out bit<32> rv) {                                \
            rv = v;                                                                  \
            if (md.hop == h) { v = md.enc; } else { v = ~md.mask##h; }               \
        }                                                                            \
    };
#define PC_FILL(h) hdr.path.hop##h = pc_fill##h.execute(md.row);
#define PC_RESET(h) hdr.path.hop##h = pc_reset##h.execute(md.row);

struct qp_psn_t { bit<32> next; bit<32> expected; }     // PSN << 8 each
struct probe_clock_t { bit<32> heard; bit<32> ticks; }

control Egress(inout headers_t hdr, inout eg_metadata_t md,
               in egress_intrinsic_metadata_t eg_intr_md,
               in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
               inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
               inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {

    Counter<bit<32>, drop_reason_t>(DROP_REASON_COUNT, CounterType_t.PACKETS) drop_counter;
    Counter<bit<32>, bit<11>>(2048, CounterType_t.PACKETS) collector_events;

    // ---- The requester of each queue pair (rc_requester.h, resync mode) ----
    // qp_psn: {next PSN, expected = last ACKed + 1}, both << 8; requests are
    // outstanding while they differ. next = PSN_RECOVERING while a recovery
    // probe is unanswered: requests are held (rdma_recovering).
    // probe_clock: {when last heard (answer or probe), timeouts since}.
    // Every path reaches probe_clock before qp_psn: a register sits in one
    // stage, so all packets must use them in the same order.
    Register<qp_psn_t, bit<32>>(DTA_QP_COUNT) qp_psn;
    RegisterAction<qp_psn_t, bit<32>, bit<32>>(qp_psn) psn_take = {
        void apply(inout qp_psn_t v, out bit<32> rv) {
            if (v.next == PSN_RECOVERING) {
                rv = PSN_NONE;
            } else {
                rv = v.next;
                v.next = v.next + 256;  // 24-bit wrap for free
            }
        }
    };
    // A NAK: the collector expects the NAK's PSN (softfino's RNIC keeps a
    // refused PSN expected, so fatal NAKs resync too).
    RegisterAction<qp_psn_t, bit<32>, bit<32>>(qp_psn) psn_on_nak = {
        void apply(inout qp_psn_t v) {
            v.next = md.answer_psn8;
            v.expected = md.answer_psn8;
        }
    };
    // An ACK of PSN p: p + 1 is expected. Never send below it; after a
    // recovery probe, send exactly there.
    RegisterAction<qp_psn_t, bit<32>, bit<32>>(qp_psn) psn_on_ack = {
        void apply(inout qp_psn_t v) {
            v.expected = md.answer_next8;
            if (v.next == PSN_RECOVERING || (int<32>) (md.answer_next8 - v.next) > 0) {
                v.next = md.answer_next8;
            }
        }
    };
    // A timer packet, md.step timeouts after the last answer: step 1 asks
    // for an ACK at the next PSN; later steps probe the last ACKed PSN (a
    // duplicate: its ACK names the PSN expected) and hold requests until the
    // answer (RcRequester::NextProbe).
    RegisterAction<qp_psn_t, bit<32>, bit<32>>(qp_psn) psn_on_timer = {
        void apply(inout qp_psn_t v, out bit<32> rv) {
            if (v.next == v.expected) {
                rv = PSN_NONE;  // nothing outstanding
            } else if (md.step == 1) {
                rv = v.next;
                v.next = v.next + 256;
            } else {
                rv = v.expected - 256;
                v.next = PSN_RECOVERING;
            }
        }
    };
    Register<probe_clock_t, bit<32>>(DTA_QP_COUNT) probe_clock;
    RegisterAction<probe_clock_t, bit<32>, bit<32>>(probe_clock) clock_on_answer = {
        void apply(inout probe_clock_t v) { v.heard = md.now; v.ticks = 0; }
    };
    RegisterAction<probe_clock_t, bit<32>, bit<32>>(probe_clock) clock_on_timer = {
        void apply(inout probe_clock_t v, out bit<32> rv) {
            rv = 0;
            if (md.now - v.heard >= DTA_PROBE_TIMEOUT) {
                v.heard = md.now;  // another timeout before the next step
                v.ticks = v.ticks + 1;
                rv = v.ticks;
            }
        }
    };

    // ---- Append: per list, the entries ever added, and the batch ----
    Register<bit<32>, bit<32>>(DTA_APPEND_LISTS) append_count;
    RegisterAction<bit<32>, bit<32>, bit<32>>(append_count) count_add = {
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; v = v + 1; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(append_count) count_read = {
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; }
    };
    // Entry j of each list's batch: one register each, so that the report
    // that fills a batch reads all B in one pass.
    FOR_EACH_ENTRY(BATCH_REGISTER)

    // ---- Postcarding cache (dta/postcard_cache.h) ----
    Register<bit<32>, bit<32>>(DTA_CACHE_ROWS) pc_key;
    RegisterAction<bit<32>, bit<32>, bit<32>>(pc_key) pc_key_swap = {
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; v = md.key; }
    };
    // Hops in (bit h-1 for hop h; 0: the row is free).
    Register<bit<32>, bit<32>>(DTA_CACHE_ROWS) pc_hops;
    RegisterAction<bit<32>, bit<32>, bit<32>>(pc_hops) pc_hops_same = {
        void apply(inout bit<32> v, out bit<32> rv) {
            if (v == md.need) {
                v = 0;  // whole: emitted, the row is free
                rv = PC_COMPLETE;
            } else if (v == 0) {
                v = md.hop_bit;
                rv = PC_FRESH;  // free row, same key by chance: start over
            } else {
                v = v | md.hop_bit;
                rv = PC_CACHED;
            }
        }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pc_hops) pc_hops_other = {
        void apply(inout bit<32> v, out bit<32> rv) { rv = v; v = md.hop_bit; }
    };
    FOR_EACH_HOP(PC_VALUE_REGISTER)

    // ---- Hashes ----
    // Copy (or row) n's slot: CRC_n(key LE ++ n), dta/key_hash.h.
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32;
    CRCPolynomial<bit<32>>(32w0x1EDC6F41, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32c;
    CRCPolynomial<bit<32>>(32w0xA833982B, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32d;
    CRCPolynomial<bit<32>>(32w0xF4ACFB13, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32_autosar;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32) copy_hash0;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32c) copy_hash1;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32d) copy_hash2;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_autosar) copy_hash3;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32) key_checksum;  // Key-Write: CRC-32(key LE)
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32c) row_hash;     // the cache row
    // Hop h's mask CRC_h(key LE); Tofino adds the x^0 term (net/crc.h).
    CRCPolynomial<bit<32>>(32w0x1e12a700, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) hop_poly1;
    CRCPolynomial<bit<32>>(32w0x65b96595, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) hop_poly2;
    CRCPolynomial<bit<32>>(32w0x49cf878b, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) hop_poly3;
    CRCPolynomial<bit<32>>(32w0x36518f0d, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) hop_poly4;
    CRCPolynomial<bit<32>>(32w0x7a40a908, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) hop_poly5;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, hop_poly1) hop_hash1;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, hop_poly2) hop_hash2;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, hop_poly3) hop_hash3;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, hop_poly4) hop_hash4;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, hop_poly5) hop_hash5;
#ifndef DTA_ICRC_PLACEHOLDER
    // ICRC of each request shape (see the top of this file).
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false, 32w0, 32w0) crc32_raw;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_write8;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_fetch_add;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_path;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_batch;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_raw) icrc_probe;
#endif

    action drop(drop_reason_t reason) { md.drop_reason = reason; }

    // ---- Tables ----
    action collector_of_port(bit<8> index, MirrorId_t session, bit<32> row_base,
                             bit<32> row_mask) {
        md.collector = index; md.mirror_session = session;
        md.row_base = row_base; md.row_mask = row_mask;
    }
    table collector {
        key = { eg_intr_md.egress_port : exact @name("egress_port"); }
        actions = { collector_of_port; @defaultonly NoAction; }
        const default_action = NoAction();
        size = 64;
    }
    // The translator's dta::Layout, the same on every collector.
    action set_layout(bit<32> kw_mask, bit<32> ki_mask, bit<32> pc_mask, bit<32> entries_mask,
                      bit<32> head_mask, bit<32> path_full, bit<8> pc_copies) {
        md.kw_mask = kw_mask; md.ki_mask = ki_mask; md.pc_mask = pc_mask;
        md.entries_mask = entries_mask; md.head_mask = head_mask;
        md.path_full = path_full; md.pc_copies = pc_copies;
    }
    table layout {
        actions = { set_layout; }
        default_action = set_layout(0, 0, 0, 0, 0, 0, 1);  // the control plane sets it
        size = 1;
    }
    // The queue pair of a collector's structure: "<c>/keywrite" etc.
    action queue_pair(bit<32> index, mac_addr_t src_mac, mac_addr_t dst_mac,
                      ipv4_addr_t src_ip, ipv4_addr_t dst_ip, bit<16> udp_src_port,
                      bit<24> dest_qpn, bit<32> rkey, bit<64> base,
                      bit<32> seed, bit<32> seed_head, bit<32> seed_probe) {
        md.qp_index = index;
        hdr.ethernet.src_addr = src_mac; hdr.ethernet.dst_addr = dst_mac;
        hdr.ipv4.src_addr = src_ip; hdr.ipv4.dst_addr = dst_ip;
        hdr.udp.src_port = udp_src_port;
        md.dest_qpn = dest_qpn; md.rkey = rkey; md.base = base;
        md.seed = seed; md.seed_head = seed_head; md.seed_probe = seed_probe;
    }
    table qp {
        key = { eg_intr_md.egress_port : exact @name("egress_port"); md.structure : exact; }
        actions = { queue_pair; @defaultonly NoAction; }
        const default_action = NoAction();
        size = DTA_QP_COUNT;
    }
    action answer_for(bit<32> index) { md.qp_index = index; }
    table answer_qp {
        key = { eg_intr_md.egress_port : exact @name("egress_port");
                hdr.bth.dst_qp : exact @name("local_qpn"); }
        actions = { answer_for; @defaultonly NoAction; }
        const default_action = NoAction();
        size = DTA_QP_COUNT;
    }
    action row_offset(bit<64> offset) { md.row_offset = offset; }  // row * slots * 8
    table ki_row {
        key = { md.copy : exact @name("row"); }
        actions = { row_offset; }
        default_action = row_offset(0);
        size = 4;
    }
    action ring(bit<64> offset) { md.ring_offset = offset; }  // heads_bytes + list * ring_bytes
    table append_ring {
        key = { md.list : exact @name("list"); }
        actions = { ring; }
        default_action = ring(0);
        size = DTA_APPEND_LISTS;
    }

    // ---- Building a request ----
    // IPv4/UDP for RoCEv2, the BTH at md.psn8, the DTA headers removed.
    action request(bit<8> opcode, bit<16> ip_len, bit<1> ack_req) {
        hdr.vlan.setInvalid();
        hdr.ethernet.ether_type = ETHERTYPE_IPV4;
        hdr.ipv4.version = 4; hdr.ipv4.ihl = 5; hdr.ipv4.diffserv = 0;
        hdr.ipv4.total_len = ip_len; hdr.ipv4.identification = 0;
        hdr.ipv4.flags = 2;  // DF: RoCE is never fragmented
        hdr.ipv4.frag_offset = 0; hdr.ipv4.ttl = 64; hdr.ipv4.protocol = 17;
        hdr.udp.dst_port = UDP_ROCE; hdr.udp.len = ip_len - 20;
        hdr.udp.checksum = 0;  // allowed for RoCEv2 over IPv4
        hdr.dta_base2.setInvalid(); hdr.dta_base3.setInvalid();
        hdr.dta_kw.setInvalid(); hdr.dta_append.setInvalid();
        hdr.dta_ki.setInvalid(); hdr.dta_pc.setInvalid();
        hdr.bth.setValid();
        hdr.bth.opcode = opcode;
        hdr.bth.se = 0; hdr.bth.migreq = 1; hdr.bth.pad_count = 0; hdr.bth.tver = 0;
        hdr.bth.pkey = 0xffff; hdr.bth.resv8a = 0; hdr.bth.dst_qp = md.dest_qpn;
        hdr.bth.ack_req = ack_req; hdr.bth.resv7 = 0; hdr.bth.psn = md.psn8[31:8];
        hdr.icrc.setValid();
    }
    action write_reth(bit<32> length) {
        hdr.reth.setValid();
        hdr.reth.vaddr = md.base + md.offset;  // 64 bits: add with carry
        hdr.reth.rkey = md.rkey;
        hdr.reth.dma_length = length;
    }

    apply {
        md.drop_reason = DROP_NONE;
        md.event = EV_NONE;
        md.shape = SHAPE_NONE;
        md.mirror_src = SRC_NONE;
        md.need_slot = 0;
        md.psn_taken = 0;
        md.offset = 0;
        md.now = eg_prsr_md.global_tstamp[41:10];

        if (!collector.apply().hit) {
            drop(DROP_BAD_EGRESS_PORT);
        } else if (md.src == SRC_ANSWER) {
            // An answer for one of this port's queue pairs.
            if (!hdr.bth.isValid()) {
                drop(DROP_RDMA_BAD_PACKET);
            } else if (!answer_qp.apply().hit) {
                drop(DROP_RDMA_BAD_PACKET);  // not one of our queue pairs
            } else {
                clock_on_answer.execute(md.qp_index);
                md.answer_psn8 = hdr.bth.psn ++ 8w0;
                if (hdr.aeth.isValid() && hdr.bth.opcode == OP_ACKNOWLEDGE &&
                    hdr.aeth.syndrome[6:5] == 3) {
                    psn_on_nak.execute(md.qp_index);
                } else {
                    // ACK, atomic ACK (and, as in softfino, an RNR NAK).
                    md.answer_next8 = md.answer_psn8 + 256;
                    psn_on_ack.execute(md.qp_index);
                }
                md.event = EV_ANSWER;
                drop(DROP_RDMA_ANSWER_CONSUMED);
            }
        } else {
            layout.apply();
            if (md.src == SRC_MIRROR_HEAD) {
                md.structure = STRUCT_APPEND;
            } else if (md.src == SRC_MIRROR_PATH) {
                md.structure = STRUCT_POSTCARDING;
            } else {
                md.structure = md.bridged.structure;
            }

            if (!qp.apply().hit) {
                // No queue pair for it: a timer for a structure that is off.
                if (md.src == SRC_TIMER) {
                    drop(DROP_TIMER_UNUSED);
                } else {
                    drop(DROP_DTA_BAD_REPORT);
                }
            } else if (md.src == SRC_TIMER) {
                md.step = clock_on_timer.execute(md.qp_index);
                if (md.step == 0) {
                    drop(DROP_TIMER_UNUSED);
                } else {
                    md.psn8 = psn_on_timer.execute(md.qp_index);
                    md.psn_taken = 1;
                    if (md.psn8 == PSN_NONE) {
                        drop(DROP_TIMER_UNUSED);
                    } else {
                        md.shape = SHAPE_PROBE;  // vaddr: the region's start, touches nothing
                        md.icrc_seed = md.seed_probe;
                        if (md.step == 1) {
                            md.event = EV_PROBE;
                        } else {
                            md.event = EV_RECOVERY;
                        }
                    }
                }
            } else if (md.src == SRC_MIRROR_HEAD) {
                // The clone of a batch WRITE: the list's head, as it is now
                // (batches sent since went out before this on the queue pair).
                md.list = md.mirror.key;
                md.count = count_read.execute(md.list);
                md.position = md.count & ~APPEND_SLOT_MASK;
                md.offset = ((bit<64>) md.list) << 3;
                hdr.batch.setInvalid();
                hdr.data8.setValid();
                hdr.data8.w0 = BSWAP32(md.position);  // uint64 little-endian
                hdr.data8.w1 = 0;
                md.shape = SHAPE_WRITE8;
                md.icrc_seed = md.seed_head;
                md.event = EV_HEAD_WRITE;
            } else if (md.src == SRC_MIRROR_PATH) {
                // The clone of a path WRITE: the same 20 bytes at the next copy.
                md.copy = md.mirror.copy;
                md.slot_key = md.mirror.key;
                md.slot_mask = md.pc_mask;
                md.need_slot = 1;
                md.shape = SHAPE_PATH;
                md.icrc_seed = md.seed;
                md.event = EV_PATH_COPY;
                md.next_copy = md.copy + 1;
                if (md.next_copy < md.pc_copies) {
                    md.mirror_src = SRC_MIRROR_PATH;
                    md.mirror_copy = md.next_copy;
                    md.mirror_key = md.slot_key;
                }
            } else if (md.bridged.opcode == DTA_KEY_WRITE) {
                md.copy = eg_intr_md.egress_rid[7:0];
                md.slot_key = hdr.dta_kw.key;
                md.slot_mask = md.kw_mask;
                md.need_slot = 1;
                md.checksum = key_checksum.get({LE_BYTES(hdr.dta_kw.key)});
                hdr.data8.setValid();
                hdr.data8.w0 = BSWAP32(md.checksum);  // stored little-endian
                hdr.data8.w1 = hdr.dta_kw.data;       // as the report carries it
                md.shape = SHAPE_WRITE8;
                md.icrc_seed = md.seed;
                md.event = EV_REQUEST;
            } else if (md.bridged.opcode == DTA_KEY_INCREMENT) {
                md.copy = eg_intr_md.egress_rid[7:0];  // the Count-Min row
                md.slot_key = hdr.dta_ki.key;
                md.slot_mask = md.ki_mask;
                md.need_slot = 1;
                ki_row.apply();
                hdr.atomic_eth.setValid();
                hdr.atomic_eth.swap_add = hdr.dta_ki.counter;
                hdr.atomic_eth.compare = 0;
                md.shape = SHAPE_FETCH_ADD;
                md.icrc_seed = md.seed;
                md.event = EV_REQUEST;
            } else if (md.bridged.opcode == DTA_APPEND) {
                md.list = hdr.dta_append.list_id;
                md.count = count_add.execute(md.list);
                md.batch_slot = md.count & APPEND_SLOT_MASK;
                hdr.batch.setValid();
                FOR_EACH_ENTRY(BATCH_EXECUTE)
                if (md.batch_slot != APPEND_SLOT_MASK) {
                    drop(DROP_DTA_BATCHED);  // waits in the registers for its batch
                } else {
                    md.position = md.count & ~APPEND_SLOT_MASK;  // the batch's first entry
                    append_ring.apply();
                    md.offset = md.ring_offset +
                                (((bit<64>) (md.position & md.entries_mask)) << 2);
                    md.shape = SHAPE_BATCH;
                    md.icrc_seed = md.seed;
                    md.event = EV_REQUEST;
                    md.head_test = (md.count + 1) & md.head_mask;
                    if (md.head_test == 0) {
                        md.mirror_src = SRC_MIRROR_HEAD;
                        md.mirror_copy = 0;
                        md.mirror_key = md.list;
                    }
                }
            } else {
                // Postcarding (dta/postcard_cache.h).
                md.key = hdr.dta_pc.key;
                md.hop = hdr.dta_pc.hop;
                md.row = (row_hash.get({LE_BYTES(md.key)}) & md.row_mask) | md.row_base;
                md.mask1 = hop_hash1.get({LE_BYTES(md.key)});
                md.mask2 = hop_hash2.get({LE_BYTES(md.key)});
                md.mask3 = hop_hash3.get({LE_BYTES(md.key)});
                md.mask4 = hop_hash4.get({LE_BYTES(md.key)});
                md.mask5 = hop_hash5.get({LE_BYTES(md.key)});
                if (md.hop == 1) {
                    md.enc = hdr.dta_pc.data ^ md.mask1; md.hop_bit = 1;
                } else if (md.hop == 2) {
                    md.enc = hdr.dta_pc.data ^ md.mask2; md.hop_bit = 2;
                } else if (md.hop == 3) {
                    md.enc = hdr.dta_pc.data ^ md.mask3; md.hop_bit = 4;
                } else if (md.hop == 4) {
                    md.enc = hdr.dta_pc.data ^ md.mask4; md.hop_bit = 8;
                } else {
                    md.enc = hdr.dta_pc.data ^ md.mask5; md.hop_bit = 16;
                }
                md.need = md.path_full ^ md.hop_bit;
                md.old_key = pc_key_swap.execute(md.row);
                md.outcome = PC_CACHED;
                md.old_hops = 0;
                if (md.old_key == md.key) {
                    md.same_key = 1;
                    md.outcome = pc_hops_same.execute(md.row);
                } else {
                    md.same_key = 0;
                    md.old_hops = pc_hops_other.execute(md.row);  // the old flow's hops
                }
                // One access per value register: the row's flow stores its
                // hop; a new flow (or a fresh start) swaps all five.
                hdr.path.setValid();
                if (md.same_key == 0 || md.outcome == PC_FRESH) {
                    FOR_EACH_HOP(PC_RESET)
                } else {
                    FOR_EACH_HOP(PC_FILL)
                }
                if (md.outcome == PC_COMPLETE) {
                    md.path_key = md.key;  // whole: the values just stored
                    md.event = EV_PATH_COMPLETE;
                } else if (md.old_hops != 0) {
                    md.path_key = md.old_key;  // evicted: its partial path, blanks encoded
                    md.event = EV_PATH_EVICTED;
                } else {
                    drop(DROP_DTA_CACHED);
                }
                if (md.drop_reason == DROP_NONE) {
                    md.copy = 0;
                    md.slot_key = md.path_key;
                    md.slot_mask = md.pc_mask;
                    md.need_slot = 1;
                    md.shape = SHAPE_PATH;
                    md.icrc_seed = md.seed;
                    if (md.pc_copies > 1) {
                        md.mirror_src = SRC_MIRROR_PATH;
                        md.mirror_copy = 1;
                        md.mirror_key = md.path_key;
                    }
                }
            }

            // Where copy md.copy goes: the copy's own polynomial (key_hash.h).
            if (md.drop_reason == DROP_NONE && md.need_slot == 1) {
                if (md.copy == 0) {
                    md.slot_hash = copy_hash0.get({LE_BYTES(md.slot_key), md.copy});
                } else if (md.copy == 1) {
                    md.slot_hash = copy_hash1.get({LE_BYTES(md.slot_key), md.copy});
                } else if (md.copy == 2) {
                    md.slot_hash = copy_hash2.get({LE_BYTES(md.slot_key), md.copy});
                } else {
                    md.slot_hash = copy_hash3.get({LE_BYTES(md.slot_key), md.copy});
                }
                md.slot_hash = md.slot_hash & md.slot_mask;
                if (md.shape == SHAPE_WRITE8) {
                    md.offset = ((bit<64>) md.slot_hash) << 3;               // 8-byte slots
                } else if (md.shape == SHAPE_FETCH_ADD) {
                    md.offset = md.row_offset + (((bit<64>) md.slot_hash) << 3);
                } else {
                    md.offset = ((bit<64>) md.slot_hash) << 5;               // 32-byte paths
                }
            }

            // Post it on the queue pair: its PSN.
            if (md.drop_reason == DROP_NONE && md.psn_taken == 0) {
                md.psn8 = psn_take.execute(md.qp_index);
                if (md.psn8 == PSN_NONE) {
                    drop(DROP_RDMA_RECOVERING);  // lost, as in softfino
                }
            }

            if (md.drop_reason == DROP_NONE) {
                if (md.shape == SHAPE_WRITE8) {
                    request(OP_WRITE_ONLY, 20 + 8 + 12 + 16 + 8 + 4, 0);
                    write_reth(8);
                } else if (md.shape == SHAPE_FETCH_ADD) {
                    request(OP_FETCH_ADD, 20 + 8 + 12 + 28 + 4, 0);
                    hdr.atomic_eth.vaddr = md.base + md.offset;
                    hdr.atomic_eth.rkey = md.rkey;
                } else if (md.shape == SHAPE_PATH) {
                    request(OP_WRITE_ONLY, 20 + 8 + 12 + 16 + 20 + 4, 0);
                    write_reth(20);
                } else if (md.shape == SHAPE_BATCH) {
                    request(OP_WRITE_ONLY, 20 + 8 + 12 + 16 + 4 * DTA_APPEND_BATCH + 4, 0);
                    write_reth(4 * DTA_APPEND_BATCH);
                } else {
                    request(OP_WRITE_ONLY, 20 + 8 + 12 + 16 + 4, 1);  // probe: AckReq
                    write_reth(0);
                }
#ifdef DTA_ICRC_PLACEHOLDER
                md.icrc = 0;
#else
                if (md.shape == SHAPE_WRITE8) {
                    md.icrc = icrc_write8.get({hdr.bth.psn, hdr.reth.vaddr, hdr.reth.rkey,
                        hdr.reth.dma_length, hdr.data8.w0, hdr.data8.w1});
                } else if (md.shape == SHAPE_FETCH_ADD) {
                    md.icrc = icrc_fetch_add.get({hdr.bth.psn, hdr.atomic_eth.vaddr,
                        hdr.atomic_eth.rkey, hdr.atomic_eth.swap_add, hdr.atomic_eth.compare});
                } else if (md.shape == SHAPE_PATH) {
                    md.icrc = icrc_path.get({hdr.bth.psn, hdr.reth.vaddr, hdr.reth.rkey,
                        hdr.reth.dma_length, hdr.path.hop1, hdr.path.hop2, hdr.path.hop3,
                        hdr.path.hop4, hdr.path.hop5});
                } else if (md.shape == SHAPE_BATCH) {
                    md.icrc = icrc_batch.get({hdr.bth.psn, hdr.reth.vaddr, hdr.reth.rkey,
                        hdr.reth.dma_length FOR_EACH_ENTRY(BATCH_HASH_FIELD)});
                } else {
                    md.icrc = icrc_probe.get({hdr.bth.psn, hdr.reth.vaddr, hdr.reth.rkey,
                        hdr.reth.dma_length});
                }
                md.icrc = md.icrc ^ md.icrc_seed;
#endif
                hdr.icrc.b0 = md.icrc[7:0];
                hdr.icrc.b1 = md.icrc[15:8];
                hdr.icrc.b2 = md.icrc[23:16];
                hdr.icrc.b3 = md.icrc[31:24];
                if (md.mirror_src != SRC_NONE) {
                    eg_dprsr_md.mirror_type = MIRROR_TYPE_E2E;  // head publication / next copy
                }
            }
        }

        if (md.event != EV_NONE) {
            collector_events.count(md.collector ++ md.event[2:0]);
        }
        if (md.drop_reason != DROP_NONE) {
            eg_dprsr_md.drop_ctl = 1;
            drop_counter.count(md.drop_reason);
        }
    }
}

control EgressDeparser(packet_out pkt, inout headers_t hdr, in eg_metadata_t md,
                       in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    Checksum() ipv4_checksum;
    Mirror() mirror;

    apply {
        // The clone is this packet as deparsed, behind a mirror_h; it comes
        // back through this port's egress (session -> the collector's port).
        if (eg_dprsr_md.mirror_type == MIRROR_TYPE_E2E) {
            mirror.emit<mirror_h>(md.mirror_session,
                                  {md.mirror_src, md.mirror_copy, md.mirror_key});
        }
        hdr.ipv4.hdr_checksum = ipv4_checksum.update({
            hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
            hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
            hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr});
        pkt.emit(hdr);
    }
}

Pipeline(IngressParser(), Ingress(), IngressDeparser(),
         EgressParser(), Egress(), EgressDeparser()) pipe;

Switch(pipe) main;

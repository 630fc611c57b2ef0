/*
 * The headers the TEA programs' TNA counterparts share (tea_nat.p4,
 * tea_firewall.p4): Ethernet, IPv4, L4 ports, the RoCEv2 BTH and AETH of a
 * READ response, and one 32-byte TEA entry (include/softfino/tea/layout.h).
 * Included by both; not a program of its own.
 */
#ifndef TEA_HEADERS_P4
#define TEA_HEADERS_P4

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;

header ethernet_h { mac_addr_t dst; mac_addr_t src; bit<16> ether_type; }
header ipv4_h {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> total_len;
    bit<16> identification; bit<3> flags; bit<13> frag_offset;
    bit<8> ttl; bit<8> protocol; bit<16> hdr_checksum;
    ipv4_addr_t src_addr; ipv4_addr_t dst_addr;
}
header ports_h { bit<16> src_port; bit<16> dst_port; }
header udp_rest_h { bit<16> len; bit<16> checksum; }
header bth_h {
    bit<8> opcode; bit<1> se; bit<1> migreq; bit<2> pad; bit<4> tver;
    bit<16> pkey; bit<8> reserved; bit<24> dqpn; bit<1> ackreq; bit<7> reserved2; bit<24> psn;
}
header aeth_h { bit<8> syndrome; bit<24> msn; }
// One 32-byte TEA entry (tea/layout.h): key, value, state.
header tea_entry_h { bit<128> key; bit<64> value; bit<8> state; bit<56> zero; }

#endif  // TEA_HEADERS_P4

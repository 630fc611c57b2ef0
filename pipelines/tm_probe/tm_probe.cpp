#include "pipelines/tm_probe/tm_probe.h"

#include <rte_byteorder.h>
#include <rte_udp.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/pipe/parser.h"
#include "softfino/pipe/table_config.h"

namespace softfino::pipelines {

using pipe::DropReason;

std::unique_ptr<pipe::Program> TmProbe::Create() { return std::make_unique<TmProbe>(); }

absl::Status TmProbe::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (auto s = pipe::CheckTableNames(config, {"port_map"}); !s.ok()) return s;
  std::array<Destination, kPortKeys> map{};
  absl::Status s = pipe::ForEachEntry(config, "port_map", [&](const pipe::TableEntry& e) {
    if (auto shape = e.CheckShape({"ingress_port"}, {"send"}, {"port", "qid"}); !shape.ok()) {
      return shape;
    }
    auto in = e.KeyUint("ingress_port", kPortKeys - 1);
    auto out = e.DataUint("port", pipe::kInvalidPort - 1u);
    auto qid = e.DataUint("qid", 31);
    for (const absl::Status& field : {in.status(), out.status(), qid.status()}) {
      if (!field.ok()) return field;
    }
    if (*in >= info.port_count && !pipe::IsRecirculationPort(static_cast<pipe::PortId>(*in))) {
      return e.Error("key.ingress_port",
                     absl::StrCat("ingress_port ", *in, " is neither a port of this switch (0..",
                                  info.port_count - 1, ") nor a pipe's port 68 (68, 196, ...)"));
    }
    if (*out >= info.port_count && !pipe::IsRecirculationPort(static_cast<pipe::PortId>(*out))) {
      // Any pipe's port 68: to another pipe's, the packet crosses the TM to
      // that pipe and re-enters its ingress (one the switch lacks drops,
      // bad_egress_port).
      return e.Error("data.port",
                     absl::StrCat("port ", *out, " is neither a port of this switch (0..",
                                  info.port_count - 1, ") nor a pipe's port 68 (68, 196, ...)"));
    }
    if (map[*in].valid) {
      return e.Error("key.ingress_port", absl::StrCat("ingress_port ", *in, " is mapped twice"));
    }
    map[*in] = {true, static_cast<pipe::PortId>(*out), static_cast<uint8_t>(*qid)};
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  port_map_ = map;
  return absl::OkStatus();
}

void TmProbe::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    const Destination& d = port_map_[md.ig_intr_md.ingress_port & (kPortKeys - 1)];
    if (!d.valid) {
      md.Drop(DropReason::kNoRoute);
      continue;
    }
    md.ig_intr_md_for_tm.ucast_egress_port = d.port;
    md.ig_intr_md_for_tm.qid = d.qid;
  }
}

namespace {

void Put32(uint8_t* p, uint32_t v) {
  const uint32_t be = rte_cpu_to_be_32(v);
  std::memcpy(p, &be, 4);
}
void Put16(uint8_t* p, uint16_t v) {
  const uint16_t be = rte_cpu_to_be_16(v);
  std::memcpy(p, &be, 2);
}

}  // namespace

void TmProbe::Egress(pipe::EgressBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    rte_mbuf* m = burst.pkts[i];
    pipe::ParsedHeaders hdr;
    if (pipe::ParseL3(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, m->pkt_len, hdr) !=
            DropReason::kNone ||
        hdr.l3_type != pipe::L3Type::kIpv4 || hdr.ipv4->next_proto_id != IPPROTO_UDP) {
      continue;  // not a probe: forwarded untouched
    }
    const uint32_t ihl = (hdr.ipv4->version_ihl & 0x0f) * 4u;
    auto* l4 = reinterpret_cast<uint8_t*>(hdr.ipv4) + ihl;
    const uint32_t l4_offset = static_cast<uint32_t>(l4 - rte_pktmbuf_mtod(m, uint8_t*));
    if (hdr.l3_length < ihl + sizeof(rte_udp_hdr) + kRecordBytes ||
        m->data_len < l4_offset + sizeof(rte_udp_hdr) + kRecordBytes) {
      continue;
    }
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    udp->dgram_cksum = 0;  // "no checksum" in IPv4: the record changed the payload
    uint8_t* r = l4 + sizeof(rte_udp_hdr);
    const pipe::EgressIntrinsicMetadata& md = burst.eg_intr_md[i];
    Put32(r + 0, md.enq_qdepth);
    Put32(r + 4, md.deq_qdepth);
    Put32(r + 8, md.deq_timedelta);
    Put32(r + 12, md.enq_tstamp);
    Put16(r + 16, md.egress_port);
    r[18] = md.egress_qid;
    r[19] = 0;
    Put16(r + 20, md.pkt_length);
    Put16(r + 22, 0);
  }
}

std::vector<pipe::ResourceUse> TmProbe::Resources() const {
  return {{"port_map", pipe::ResourceKind::kExactTable, 0, 512, 9, 9 + 7}};
}

}  // namespace softfino::pipelines

#include "softfino/net/crc.h"

#include <rte_net_crc.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::net {
namespace {

struct CatalogueEntry {
  // The first name is the primary (bf-utils) one; the rest are aliases:
  // TNA's HashAlgorithm_t names and the RevEng catalogue's.
  const char* names[4];  // unused slots are null
  CrcSpec spec;
};

constexpr uint64_t kOnes32 = 0xffffffff;
constexpr uint64_t kOnes64 = ~uint64_t{0};

// Parameters as published in the CRC RevEng catalogue
// (https://reveng.sourceforge.io/crc-catalogue/). bf-utils' crc_8_itu and
// crc_64_jones are left out: their parameters differ from the catalogue's
// entries of those names, so no published check value covers them.
constexpr CatalogueEntry kCatalogue[] = {
    {{"crc_8", "CRC8", "CRC-8/SMBUS", "CRC-8"}, {8, 0x07, 0x00, false, false, 0x00}},
    {{"crc_8_darc", "CRC-8/DARC"}, {8, 0x39, 0x00, true, true, 0x00}},
    {{"crc_8_i_code", "CRC-8/I-CODE"}, {8, 0x1d, 0xfd, false, false, 0x00}},
    {{"crc_8_maxim", "CRC-8/MAXIM-DOW", "CRC-8/MAXIM"}, {8, 0x31, 0x00, true, true, 0x00}},
    {{"crc_8_rohc", "CRC-8/ROHC"}, {8, 0x07, 0xff, true, true, 0x00}},
    {{"crc_8_wcdma", "CRC-8/WCDMA"}, {8, 0x9b, 0x00, true, true, 0x00}},
    {{"crc_16", "CRC16", "CRC-16/ARC", "ARC"}, {16, 0x8005, 0x0000, true, true, 0x0000}},
    {{"crc_16_bypass", "CRC-16/UMTS", "CRC-16/BUYPASS"}, {16, 0x8005, 0, false, false, 0}},
    {{"crc_16_dds_110", "CRC-16/DDS-110"}, {16, 0x8005, 0x800d, false, false, 0x0000}},
    {{"crc_16_dect_r", "CRC-16/DECT-R"}, {16, 0x0589, 0x0000, false, false, 0x0001}},
    {{"crc_16_dect_x", "CRC-16/DECT-X"}, {16, 0x0589, 0x0000, false, false, 0x0000}},
    {{"crc_16_dnp", "CRC-16/DNP"}, {16, 0x3d65, 0x0000, true, true, 0xffff}},
    {{"crc_16_en_13757", "CRC-16/EN-13757"}, {16, 0x3d65, 0x0000, false, false, 0xffff}},
    {{"crc_16_genibus", "CRC-16/GENIBUS"}, {16, 0x1021, 0xffff, false, false, 0xffff}},
    {{"crc_16_maxim", "CRC-16/MAXIM-DOW", "CRC-16/MAXIM"}, {16, 0x8005, 0, true, true, 0xffff}},
    {{"crc_16_mcrf4xx", "CRC-16/MCRF4XX"}, {16, 0x1021, 0xffff, true, true, 0x0000}},
    {{"crc_16_riello", "CRC-16/RIELLO"}, {16, 0x1021, 0xb2aa, true, true, 0x0000}},
    {{"crc_16_t10_dif", "CRC-16/T10-DIF"}, {16, 0x8bb7, 0x0000, false, false, 0x0000}},
    {{"crc_16_teledisk", "CRC-16/TELEDISK"}, {16, 0xa097, 0x0000, false, false, 0x0000}},
    {{"crc_16_usb", "CRC-16/USB"}, {16, 0x8005, 0xffff, true, true, 0xffff}},
    {{"crc_16_x_25", "x_25", "CRC-16/IBM-SDLC", "CRC-16/X-25"},
     {16, 0x1021, 0xffff, true, true, 0xffff}},
    {{"crc_16_xmodem", "xmodem", "CRC-16/XMODEM"}, {16, 0x1021, 0x0000, false, false, 0x0000}},
    {{"crc_16_modbus", "modbus", "CRC-16/MODBUS"}, {16, 0x8005, 0xffff, true, true, 0x0000}},
    {{"crc_16_kermit", "kermit", "CRC-16/KERMIT", "CRC-16/CCITT"},
     {16, 0x1021, 0x0000, true, true, 0x0000}},
    {{"crc_16_ccitt_false", "crc_ccitt_false", "CRC-16/IBM-3740", "CRC-16/CCITT-FALSE"},
     {16, 0x1021, 0xffff, false, false, 0x0000}},
    {{"crc_16_aug_ccitt", "crc_aug_ccitt", "CRC-16/SPI-FUJITSU", "CRC-16/AUG-CCITT"},
     {16, 0x1021, 0x1d0f, false, false, 0x0000}},
    {{"crc_32", "CRC32", "CRC-32/ISO-HDLC", "CRC-32"},
     {32, 0x04c11db7, kOnes32, true, true, kOnes32}},
    {{"crc_32_bzip2", "CRC-32/BZIP2"}, {32, 0x04c11db7, kOnes32, false, false, kOnes32}},
    {{"crc_32c", "CRC-32/ISCSI", "CRC-32C"}, {32, kCrc32cPoly, kOnes32, true, true, kOnes32}},
    {{"crc_32d", "CRC-32/BASE91-D", "CRC-32D"}, {32, 0xa833982b, kOnes32, true, true, kOnes32}},
    {{"crc_32_mpeg", "CRC-32/MPEG-2"}, {32, 0x04c11db7, kOnes32, false, false, 0}},
    {{"crc_32_posix", "posix", "CRC-32/CKSUM", "CKSUM"},
     {32, 0x04c11db7, 0, false, false, kOnes32}},
    {{"crc_32q", "CRC-32/AIXM", "CRC-32Q"}, {32, 0x814141ab, 0, false, false, 0}},
    {{"crc_32_jamcrc", "jamcrc", "CRC-32/JAMCRC"}, {32, 0x04c11db7, kOnes32, true, true, 0}},
    {{"crc_32_xfer", "xfer", "CRC-32/XFER"}, {32, 0x000000af, 0, false, false, 0}},
    {{"crc_64", "CRC64", "CRC-64/ECMA-182"}, {64, 0x42f0e1eba9ea3693, 0, false, false, 0}},
    {{"crc_64_go_iso", "CRC-64/GO-ISO"}, {64, 0x1b, kOnes64, true, true, kOnes64}},
    {{"crc_64_we", "CRC-64/WE"}, {64, 0x42f0e1eba9ea3693, kOnes64, false, false, kOnes64}},
    {{"crc_64_xz", "CRC-64/XZ", "CRC-64/GO-ECMA"},
     {64, 0x42f0e1eba9ea3693, kOnes64, true, true, kOnes64}},
};

uint64_t WidthMask(int width) { return width == 64 ? kOnes64 : (uint64_t{1} << width) - 1; }

absl::Status CheckFits(absl::string_view field, uint64_t value, int width) {
  if ((value & ~WidthMask(width)) == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("CRC ", field, " 0x", absl::Hex(value),
                                                 " does not fit in the CRC width of ", width,
                                                 " bits; give at most ", width, " bits"));
}

}  // namespace

absl::Status ValidateCrcSpec(const CrcSpec& spec) {
  const int w = spec.width;
  if (w != 8 && w != 16 && w != 32 && w != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRC width ", w, " is not supported; use 8, 16, 32 or 64"));
  }
  if (spec.poly == 0) {
    return absl::InvalidArgumentError(
        "CRC poly 0 is not a polynomial; give it in normal form without the x^width term "
        "(e.g. 0x04c11db7 for CRC-32)");
  }
  if (absl::Status s = CheckFits("poly", spec.poly, w); !s.ok()) return s;
  if (absl::Status s = CheckFits("init", spec.init, w); !s.ok()) return s;
  return CheckFits("xor_out", spec.xor_out, w);
}

absl::StatusOr<CrcSpec> CrcSpecByName(absl::string_view name) {
  for (const CatalogueEntry& e : kCatalogue) {
    for (const char* n : e.names) {
      if (n != nullptr && absl::EqualsIgnoreCase(name, n)) return e.spec;
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "unknown CRC algorithm '", name, "'; valid names: ", absl::StrJoin(CrcNames(), ", "),
      " (TNA's CRC8/CRC16/CRC32/CRC64 and RevEng catalogue names such as CRC-32/ISO-HDLC "
      "are accepted too)"));
}

std::vector<std::string> CrcNames() {
  std::vector<std::string> names;
  for (const CatalogueEntry& e : kCatalogue) names.emplace_back(e.names[0]);
  return names;
}

absl::StatusOr<Crc> Crc::Create(const CrcSpec& spec, Engine engine) {
  if (absl::Status s = ValidateCrcSpec(spec); !s.ok()) return s;
  Crc crc;
  crc.spec_ = spec;
  const int w = spec.width;
  crc.mask_ = WidthMask(w);
  crc.top_shift_ = static_cast<uint8_t>(w - 8);
  crc.register_init_ = spec.reflect_in ? ReflectBits(spec.init, w) : spec.init;
  crc.hw_crc32c_ =
      engine == Engine::kAuto && w == 32 && spec.poly == kCrc32cPoly && spec.reflect_in;
  auto tables = std::make_shared<Tables>();
  uint64_t(&t)[8][256] = tables->t;
  if (spec.reflect_in) {
    // The register holds the CRC bit-reversed, so it shifts right and uses
    // the reversed polynomial.
    const uint64_t rpoly = ReflectBits(spec.poly, w);
    for (uint64_t byte = 0; byte < 256; ++byte) {
      uint64_t r = byte;
      for (int bit = 0; bit < 8; ++bit) r = (r & 1) ? (r >> 1) ^ rpoly : r >> 1;
      t[0][byte] = r;
    }
    for (int k = 1; k < 8; ++k) {
      for (int b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  } else {
    const uint64_t top = uint64_t{1} << (w - 1);
    for (uint64_t byte = 0; byte < 256; ++byte) {
      uint64_t r = byte << (w - 8);
      for (int bit = 0; bit < 8; ++bit) r = ((r & top) ? (r << 1) ^ spec.poly : r << 1) & crc.mask_;
      t[0][byte] = r;
    }
    for (int k = 1; k < 8; ++k) {
      for (int b = 0; b < 256; ++b) {
        t[k][b] = ((t[k - 1][b] << 8) & crc.mask_) ^ t[0][(t[k - 1][b] >> (w - 8)) & 0xff];
      }
    }
  }
  crc.tables_ = std::move(tables);
  return crc;
}

void UseFastestCrc32() {
  // DPDK falls back to its tables when the CPU (or EAL's SIMD limit) does
  // not allow PCLMULQDQ.
  rte_net_crc_set_alg(RTE_NET_CRC_SSE42);
}

}  // namespace softfino::net

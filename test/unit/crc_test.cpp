// Crc and HashUnit against two independent truths: the check values the CRC
// RevEng catalogue publishes (the CRC of ASCII "123456789", copied here by
// hand), and a bit-at-a-time shift register written straight from the
// Rocksoft model, too slow to ship and too simple to be wrong.
#include "softfino/pipe/hash_unit.h"

#include <array>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "softfino/net/crc32_fold.h"

namespace softfino::pipe {
namespace {

const uint8_t* Check9() { return reinterpret_cast<const uint8_t*>("123456789"); }

uint64_t Reverse(uint64_t v, int width) {
  uint64_t out = 0;
  for (int i = 0; i < width; ++i) {
    out = (out << 1) | (v & 1);
    v >>= 1;
  }
  return out;
}

// The Rocksoft model as a shift register: each input bit (LSB first when
// reflect_in) is xored with the register's top bit, which decides whether
// the polynomial is subtracted after the shift.
uint64_t NaiveCrc(const CrcSpec& s, const uint8_t* data, size_t len) {
  const uint64_t top = uint64_t{1} << (s.width - 1);
  const uint64_t mask = s.width == 64 ? ~uint64_t{0} : (uint64_t{1} << s.width) - 1;
  uint64_t reg = s.init;
  for (size_t i = 0; i < len; ++i) {
    const uint8_t in = s.reflect_in ? static_cast<uint8_t>(Reverse(data[i], 8)) : data[i];
    for (int bit = 7; bit >= 0; --bit) {
      const bool feedback = ((reg & top) != 0) != (((in >> bit) & 1) != 0);
      reg = (reg << 1) & mask;
      if (feedback) reg ^= s.poly;
    }
  }
  if (s.reflect_out) reg = Reverse(reg, s.width);
  return reg ^ s.xor_out;
}

// Published check values, from https://reveng.sourceforge.io/crc-catalogue/.
const std::map<std::string, uint64_t>& CheckValues() {
  static const std::map<std::string, uint64_t> kChecks = {
      {"crc_8", 0xf4},                        // CRC-8/SMBUS
      {"crc_8_darc", 0x15},                   // CRC-8/DARC
      {"crc_8_i_code", 0x7e},                 // CRC-8/I-CODE
      {"crc_8_maxim", 0xa1},                  // CRC-8/MAXIM-DOW
      {"crc_8_rohc", 0xd0},                   // CRC-8/ROHC
      {"crc_8_wcdma", 0x25},                  // CRC-8/WCDMA
      {"crc_16", 0xbb3d},                     // CRC-16/ARC
      {"crc_16_bypass", 0xfee8},              // CRC-16/UMTS
      {"crc_16_dds_110", 0x9ecf},             // CRC-16/DDS-110
      {"crc_16_dect_r", 0x007e},              // CRC-16/DECT-R
      {"crc_16_dect_x", 0x007f},              // CRC-16/DECT-X
      {"crc_16_dnp", 0xea82},                 // CRC-16/DNP
      {"crc_16_en_13757", 0xc2b7},            // CRC-16/EN-13757
      {"crc_16_genibus", 0xd64e},             // CRC-16/GENIBUS
      {"crc_16_maxim", 0x44c2},               // CRC-16/MAXIM-DOW
      {"crc_16_mcrf4xx", 0x6f91},             // CRC-16/MCRF4XX
      {"crc_16_riello", 0x63d0},              // CRC-16/RIELLO
      {"crc_16_t10_dif", 0xd0db},             // CRC-16/T10-DIF
      {"crc_16_teledisk", 0x0fb3},            // CRC-16/TELEDISK
      {"crc_16_usb", 0xb4c8},                 // CRC-16/USB
      {"crc_16_x_25", 0x906e},                // CRC-16/IBM-SDLC
      {"crc_16_xmodem", 0x31c3},              // CRC-16/XMODEM
      {"crc_16_modbus", 0x4b37},              // CRC-16/MODBUS
      {"crc_16_kermit", 0x2189},              // CRC-16/KERMIT
      {"crc_16_ccitt_false", 0x29b1},         // CRC-16/IBM-3740
      {"crc_16_aug_ccitt", 0xe5cc},           // CRC-16/SPI-FUJITSU
      {"crc_32", 0xcbf43926},                 // CRC-32/ISO-HDLC
      {"crc_32_bzip2", 0xfc891918},           // CRC-32/BZIP2
      {"crc_32c", 0xe3069283},                // CRC-32/ISCSI
      {"crc_32d", 0x87315576},                // CRC-32/BASE91-D
      {"crc_32_mpeg", 0x0376e6e7},            // CRC-32/MPEG-2
      {"crc_32_posix", 0x765e7680},           // CRC-32/CKSUM
      {"crc_32q", 0x3010bf7f},                // CRC-32/AIXM
      {"crc_32_jamcrc", 0x340bc6d9},          // CRC-32/JAMCRC
      {"crc_32_xfer", 0xbd0be338},            // CRC-32/XFER
      {"crc_64", 0x6c40df5f0b497347},         // CRC-64/ECMA-182
      {"crc_64_go_iso", 0xb90956c775a41001},  // CRC-64/GO-ISO
      {"crc_64_we", 0x62ec59e3f1a4f00a},      // CRC-64/WE
      {"crc_64_xz", 0x995dc9bbdf1939fa},      // CRC-64/XZ
  };
  return kChecks;
}

Crc MakeCrc(const CrcSpec& spec, Crc::Engine engine = Crc::Engine::kAuto) {
  absl::StatusOr<Crc> crc = Crc::Create(spec, engine);
  EXPECT_TRUE(crc.ok()) << crc.status();
  return *crc;
}

CrcSpec Named(const char* name) {
  absl::StatusOr<CrcSpec> spec = CrcSpecByName(name);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

TEST(Crc, EveryCatalogueEntryGivesItsPublishedCheckValue) {
  const std::vector<std::string> names = CrcNames();
  ASSERT_EQ(names.size(), CheckValues().size());
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    auto check = CheckValues().find(name);
    ASSERT_NE(check, CheckValues().end()) << "no published check value in this test";
    const CrcSpec spec = Named(name.c_str());
    EXPECT_EQ(MakeCrc(spec).Compute(Check9(), 9), check->second);
    EXPECT_EQ(MakeCrc(spec, Crc::Engine::kTable).Compute(Check9(), 9), check->second);
    EXPECT_EQ(NaiveCrc(spec, Check9(), 9), check->second);  // the naive model itself is right
  }
}

TEST(Crc, NamesAreCaseInsensitiveAndIncludeTnaAndRevEngAliases) {
  EXPECT_EQ(Named("CRC-32/ISO-HDLC"), Named("crc_32"));
  EXPECT_EQ(Named("CRC32"), Named("crc_32"));
  EXPECT_EQ(Named("Crc_32C"), Named("CRC-32/ISCSI"));
  EXPECT_EQ(Named("CRC16"), Named("CRC-16/ARC"));
  EXPECT_EQ(Named("CRC8"), Named("CRC-8/SMBUS"));
  EXPECT_EQ(Named("CRC64"), Named("CRC-64/ECMA-182"));
  EXPECT_EQ(Named("CRC-16/IBM-3740"), Named("crc_16_ccitt_false"));
  EXPECT_EQ(Named("CRC-32/CKSUM"), Named("crc_32_posix"));
  EXPECT_EQ(Named("CRC-32/MPEG-2"), Named("crc_32_mpeg"));
  EXPECT_EQ(Named("xmodem"), Named("crc_16_xmodem"));
}

TEST(Crc, UnknownNameListsTheValidOnes) {
  absl::StatusOr<CrcSpec> spec = CrcSpecByName("crc_33");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("crc_33"), absl::string_view::npos);
  EXPECT_NE(spec.status().message().find("crc_32c"), absl::string_view::npos);
  EXPECT_NE(spec.status().message().find("crc_16_xmodem"), absl::string_view::npos);
}

TEST(Crc, RejectsSpecsThatDoNotFitTheirWidth) {
  EXPECT_FALSE(Crc::Create({12, 0x80f, 0, false, false, 0}).ok());
  EXPECT_FALSE(Crc::Create({8, 0x107, 0, false, false, 0}).ok());
  EXPECT_FALSE(Crc::Create({16, 0x1021, 0x10000, false, false, 0}).ok());
  EXPECT_FALSE(Crc::Create({16, 0x1021, 0, false, false, 0x1ffff}).ok());
  EXPECT_FALSE(Crc::Create({32, 0, 0, false, false, 0}).ok());
  absl::StatusOr<Crc> crc = Crc::Create({8, 0x107, 0, false, false, 0});
  EXPECT_NE(crc.status().message().find("poly"), absl::string_view::npos) << crc.status();
}

TEST(Crc, Crc32cUsesTheCrc32InstructionAndAgreesWithTheTable) {
  const CrcSpec spec = Named("crc_32c");
  const Crc hw = MakeCrc(spec);
  const Crc table = MakeCrc(spec, Crc::Engine::kTable);
  ASSERT_TRUE(hw.uses_crc32_instruction());
  ASSERT_FALSE(table.uses_crc32_instruction());
  EXPECT_EQ(hw.Compute(Check9(), 9), 0xe3069283u);
  EXPECT_EQ(table.Compute(Check9(), 9), 0xe3069283u);
  EXPECT_FALSE(MakeCrc(Named("crc_32")).uses_crc32_instruction());

  // Any init and xor_out over the CRC-32C polynomial takes the instruction.
  std::mt19937_64 rng(7);
  std::vector<uint8_t> data(100);
  for (int round = 0; round < 500; ++round) {
    CrcSpec s = spec;
    s.init = rng() & 0xffffffff;
    s.xor_out = rng() & 0xffffffff;
    s.reflect_out = rng() & 1;
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const size_t len = rng() % (data.size() + 1);
    const Crc fast = MakeCrc(s);
    ASSERT_TRUE(fast.uses_crc32_instruction());
    ASSERT_EQ(fast.Compute(data.data(), len), NaiveCrc(s, data.data(), len)) << "len " << len;
  }
}

TEST(Crc, RandomSpecsAndInputsAgreeWithTheShiftRegister) {
  std::mt19937_64 rng(42);
  const uint8_t widths[] = {8, 16, 32, 64};
  std::vector<uint8_t> data(100);
  for (int round = 0; round < 4000; ++round) {
    CrcSpec s;
    s.width = widths[rng() % 4];
    const uint64_t mask = s.width == 64 ? ~uint64_t{0} : (uint64_t{1} << s.width) - 1;
    do s.poly = rng() & mask;
    while (s.poly == 0);
    s.init = rng() & mask;
    s.xor_out = rng() & mask;
    s.reflect_in = rng() & 1;
    s.reflect_out = rng() & 1;
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const size_t len = rng() % (data.size() + 1);
    const Crc crc = MakeCrc(s, rng() & 1 ? Crc::Engine::kAuto : Crc::Engine::kTable);
    const uint64_t want = NaiveCrc(s, data.data(), len);
    ASSERT_EQ(crc.Compute(data.data(), len), want)
        << "width " << int{s.width} << " poly " << std::hex << s.poly << " len " << std::dec << len;
    // In two pieces, as a caller gathering fields would.
    const size_t cut = len == 0 ? 0 : rng() % len;
    ASSERT_EQ(crc.Finish(crc.Update(crc.Update(crc.Start(), data.data(), cut), data.data() + cut,
                                    len - cut)),
              want);
  }
}

// The fold (TEA's key hash) against the shift register on random keys, and
// against zlib.crc32 for three fixed ones (computed in Python).
TEST(Crc, Crc32Of16BytesIsCrc32IsoHdlc) {
#if defined(__x86_64__)
  ASSERT_TRUE(net::Crc32FoldAvailable());
#endif
  const CrcSpec iso_hdlc{32, 0x04c11db7, 0xffffffff, true, true, 0xffffffff};
  std::mt19937 gen(19);
  for (int i = 0; i < 10000; ++i) {
    uint8_t key[16];
    for (auto& b : key) b = static_cast<uint8_t>(gen());
    ASSERT_EQ(net::Crc32Of16Bytes(key), NaiveCrc(iso_hdlc, key, 16)) << i;
  }
  uint8_t zeros[16] = {}, counting[16], ones[16];
  for (int i = 0; i < 16; ++i) counting[i] = static_cast<uint8_t>(i);
  std::memset(ones, 0xff, sizeof(ones));
  EXPECT_EQ(net::Crc32Of16Bytes(zeros), 0xecbb4b55u);
  EXPECT_EQ(net::Crc32Of16Bytes(counting), 0xcecee288u);
  EXPECT_EQ(net::Crc32Of16Bytes(ones), 0x3fb3c61au);
}

// The burst form: every block's CRC in its place, for bursts of 0 to 40
// blocks (each block a separate allocation, in no order in memory).
TEST(Crc, Crc32Of16ByteBlocksIsEachBlocksCrc) {
  const CrcSpec iso_hdlc{32, 0x04c11db7, 0xffffffff, true, true, 0xffffffff};
  std::mt19937 gen(23);
  for (uint32_t n = 0; n <= 40; ++n) {
    std::vector<std::array<uint8_t, 16>> keys(n);
    std::vector<const uint8_t*> blocks;
    for (auto& key : keys) {
      for (auto& b : key) b = static_cast<uint8_t>(gen());
    }
    for (uint32_t i = 0; i < n; ++i) blocks.push_back(keys[(i * 7) % n].data());
    std::vector<uint32_t> out(n + 1, 0x5a5a5a5a);
    net::Crc32Of16ByteBlocks(blocks.data(), n, out.data());
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], NaiveCrc(iso_hdlc, blocks[i], 16)) << "block " << i << " of " << n;
    }
    EXPECT_EQ(out[n], 0x5a5a5a5au) << "nothing written past the last block";
  }
}

// Messages of 4..16 bytes at the start of 16-byte blocks whose other bytes
// are random (they must not count), against the shift register.
TEST(Crc, Crc32OfShortBlocksIsEachMessagesCrc) {
  const CrcSpec iso_hdlc{32, 0x04c11db7, 0xffffffff, true, true, 0xffffffff};
  std::mt19937 gen(29);
  for (uint32_t len = 4; len <= 16; ++len) {
    for (uint32_t n : {0u, 1u, 7u, 32u}) {
      std::vector<std::array<uint8_t, 16>> msgs(n);
      std::vector<const uint8_t*> blocks;
      for (auto& msg : msgs) {
        for (auto& b : msg) b = static_cast<uint8_t>(gen());
        blocks.push_back(msg.data());
      }
      std::vector<uint32_t> out(n + 1, 0x5a5a5a5a);
      net::Crc32OfShortBlocks(blocks.data(), n, len, out.data());
      for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], NaiveCrc(iso_hdlc, blocks[i], len)) << "len " << len << " block " << i;
      }
      EXPECT_EQ(out[n], 0x5a5a5a5au) << "nothing written past the last block";
    }
  }
  // zlib.crc32 of bytes(range(13)) (computed in Python).
  uint8_t counting[16];
  for (int i = 0; i < 16; ++i) counting[i] = static_cast<uint8_t>(i);
  const uint8_t* one[1] = {counting};
  uint32_t crc = 0;
  net::Crc32OfShortBlocks(one, 1, 13, &crc);
  EXPECT_EQ(crc, 0xe6fe46b8u);
}

TEST(Crc, TnaPolynomialMapping) {
  // CRCPolynomial<bit<32>>(0x04c11db7, true, false, false, ~0, ~0) is CRC-32.
  EXPECT_EQ(*CrcSpecFromTna(32, 0x04c11db7, true, 0xffffffff, 0xffffffff), Named("crc_32"));
  EXPECT_EQ(*CrcSpecFromTna(16, 0x1021, false, 0xffff, 0), Named("crc_16_ccitt_false"));
  // The compiler's Koopman form has no x^0 bit: even coefficients turn odd.
  EXPECT_EQ(CrcSpecFromTna(32, 0x1e12a700, true, 0, 0)->poly, 0x1e12a701u);
  // Tofino applies xor before reversing the output, so a reversed CRC's
  // xor_out is the mirror image of TNA's.
  EXPECT_EQ(CrcSpecFromTna(16, 0x8005, true, 0, 0x00ff)->xor_out, 0xff00u);
  EXPECT_EQ(CrcSpecFromTna(16, 0x8005, false, 0, 0x00ff)->xor_out, 0x00ffu);
  EXPECT_FALSE(CrcSpecFromTna(24, 0x864cfb, false, 0, 0).ok());
  EXPECT_FALSE(CrcSpecFromTna(8, 0x107, false, 0, 0).ok());
}

// DTA hashes a 32-bit key stored little-endian followed by a one-byte
// redundancy index with standard CRC-32 (their P4: hash.get({key[7:0] ++
// key[15:8] ++ key[23:16] ++ key[31:24], n})). Expected values from
// Python's zlib.crc32(struct.pack('<I', key) + bytes([n])).
TEST(Crc, DtaSlotHash) {
  struct Case {
    uint32_t key;
    uint8_t n;
    uint32_t crc;
  };
  const Case cases[] = {
      {0x12345678, 0, 0xba7031f2}, {0x12345678, 1, 0xcd770164}, {0x12345678, 2, 0x547e50de},
      {0x0a000001, 0, 0x01ad3627}, {0x0a000001, 1, 0x76aa06b1}, {0x0a000001, 2, 0xefa3570b},
      {0xdeadbeef, 0, 0x5f10b818}, {0xdeadbeef, 1, 0x2817888e}, {0xdeadbeef, 2, 0xb11ed934},
  };
  const Crc crc = MakeCrc(Named("crc_32"));
  absl::StatusOr<HashUnit> hash = HashUnit::Create(Named("crc_32"), 32);
  ASSERT_TRUE(hash.ok()) << hash.status();
  for (const Case& c : cases) {
    const uint8_t bytes[5] = {uint8_t(c.key), uint8_t(c.key >> 8), uint8_t(c.key >> 16),
                              uint8_t(c.key >> 24), c.n};
    EXPECT_EQ(crc.Compute(bytes, 5), c.crc);
    EXPECT_EQ(NaiveCrc(crc.spec(), bytes, 5), c.crc);
    EXPECT_EQ(hash->Get({{__builtin_bswap32(c.key), 32}, {c.n, 8}}), c.crc);
  }
}

// DTA's postcarder encodes each hop's value with a different polynomial:
// CRCPolynomial<bit<32>>(poly, true, false, false, ~0, ~0).
TEST(Crc, DtaPerHopPolynomials) {
  const uint64_t polys[] = {0x1e12a700, 0x65b96595, 0x49cf878b, 0x36518f0d, 0x7a40a908};
  std::mt19937 rng(5);
  for (uint64_t poly : polys) {
    SCOPED_TRACE(poly);
    // Both the coefficient as written and as a Tofino computes it (odd).
    const CrcSpec written{32, poly, 0xffffffff, true, true, 0xffffffff};
    const CrcSpec tofino = *CrcSpecFromTna(32, poly, true, 0xffffffff, 0xffffffff);
    for (const CrcSpec& spec : {written, tofino}) {
      const Crc crc = MakeCrc(spec);
      for (int i = 0; i < 200; ++i) {
        uint8_t key[4];
        for (auto& b : key) b = static_cast<uint8_t>(rng());
        ASSERT_EQ(crc.Compute(key, 4), NaiveCrc(spec, key, 4));
      }
    }
  }
}

TEST(HashUnit, FitsTheCrcToTheOutputWidth) {
  const CrcSpec spec = Named("crc_32");
  const uint64_t full = 0xcbf43926;
  auto get = [&](int bits, bool msb, bool extend) {
    absl::StatusOr<HashUnit> h = HashUnit::Create(spec, bits, msb, extend);
    EXPECT_TRUE(h.ok()) << h.status();
    return h->Get(Check9(), 9);
  };
  EXPECT_EQ(get(32, false, false), full);
  EXPECT_EQ(get(16, false, false), full & 0xffff);
  EXPECT_EQ(get(16, true, false), full >> 16);
  EXPECT_EQ(get(10, false, false), full & 0x3ff);
  EXPECT_EQ(get(48, false, false), full);
  EXPECT_EQ(get(48, false, true), (full | full << 32) & 0xffffffffffff);
  EXPECT_FALSE(HashUnit::Create(spec, 0).ok());
  EXPECT_FALSE(HashUnit::Create(spec, 65).ok());
}

TEST(HashUnit, FieldsConcatenateBitByBitInNetworkOrder) {
  absl::StatusOr<HashUnit> h = HashUnit::Create(Named("crc_32"), 32);
  ASSERT_TRUE(h.ok());
  // A 5-tuple as the input crossbar would see it.
  const uint8_t tuple[13] = {10, 0, 0, 1, 192, 168, 1, 2, 0x30, 0x39, 0x00, 0x50, 6};
  const uint64_t want = h->Get(tuple, 13);
  EXPECT_EQ(h->Get({{0x0a000001, 32}, {0xc0a80102, 32}, {12345, 16}, {80, 16}, {6, 8}}), want);
  EXPECT_EQ(h->Get({HashField::Bytes(tuple, 8), {12345, 16}, {80, 16}, {6, 8}}), want);
  EXPECT_EQ(
      h->Get(Bits<32>{0x0a000001}, Bits<32>{0xc0a80102}, Bits<16>{12345}, Bits<16>{80}, Bits<8>{6}),
      want);
  // Bits above a field's width are not part of it.
  EXPECT_EQ(h->Get({{0xff0a000001, 32}, {0xc0a80102, 32}, {12345, 16}, {80, 16}, {0x106, 8}}),
            want);
  // Fields that are not whole bytes pack together: bit<9> ++ bit<7>.
  const uint8_t packed[2] = {0xa5, 0x3c};  // 1010 0101 0|011 1100
  EXPECT_EQ(h->Get({{0x14a, 9}, {0x3c, 7}}), h->Get(packed, 2));
  EXPECT_EQ(h->Get(Bits<9>{0x14a}, Bits<7>{0x3c}), h->Get(packed, 2));
  // A byte string after an odd field lands shifted: bit<4> ++ 2 bytes ++ bit<4>.
  const uint8_t two[2] = {0x12, 0x34};
  const uint8_t shifted[3] = {0xa1, 0x23, 0x4b};
  EXPECT_EQ(h->Get({{0xa, 4}, HashField::Bytes(two, 2), {0xb, 4}}), h->Get(shifted, 3));
  // 64-bit fields.
  const uint8_t wide[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(h->Get({{0x0102030405060708, 64}}), h->Get(wide, 8));
}

// Random field lists, many words long, against bytes packed by the obvious
// bit-by-bit method: a vector of bits, zeros in front to a whole byte.
TEST(HashUnit, RandomFieldListsMatchBitByBitPacking) {
  std::mt19937_64 rng(8);
  for (const char* name : {"crc_32", "crc_32c", "crc_16_xmodem", "crc_64_xz"}) {
    absl::StatusOr<HashUnit> h = HashUnit::Create(Named(name), 32);
    ASSERT_TRUE(h.ok());
    for (int round = 0; round < 300; ++round) {
      std::vector<HashField> fields(1 + rng() % 12);
      std::vector<bool> bits;
      for (HashField& f : fields) {
        f.bits = static_cast<uint16_t>(1 + rng() % 64);
        f.value = rng();  // bits above the width must be ignored
        for (int i = f.bits - 1; i >= 0; --i) bits.push_back((f.value >> i) & 1);
      }
      bits.insert(bits.begin(), (8 - bits.size() % 8) % 8, false);
      std::vector<uint8_t> bytes(bits.size() / 8);
      for (size_t i = 0; i < bits.size(); ++i) bytes[i / 8] |= bits[i] << (7 - i % 8);
      ASSERT_EQ(h->GetFields(fields), h->Get(bytes.data(), bytes.size()))
          << name << " round " << round;
    }
  }
  // Compile-time widths agree with runtime ones.
  absl::StatusOr<HashUnit> h = HashUnit::Create(Named("crc_32"), 32);
  for (int round = 0; round < 100; ++round) {
    const uint64_t a = rng(), b = rng(), c = rng(), d = rng(), e = rng();
    ASSERT_EQ(h->Get(Bits<3>{a}, Bits<13>{b}, Bits<64>{c}, Bits<1>{d}, Bits<47>{e}),
              h->Get({{a, 3}, {b, 13}, {c, 64}, {d, 1}, {e, 47}}));
  }
}

// Tofino zero-extends an input that is not a whole number of bytes at the
// front (bf-utils dynamic_hash). With init 0 and no reflection, leading
// zeros do not change a CRC, so the result must equal a bit-serial CRC of
// just the input bits.
TEST(HashUnit, PartialByteInputIsZeroExtendedAtTheFront) {
  const CrcSpec spec = Named("crc_16_xmodem");  // init 0, not reflected
  absl::StatusOr<HashUnit> h = HashUnit::Create(spec, 16);
  ASSERT_TRUE(h.ok());
  auto bit_serial = [&](uint64_t value, int bits) {
    uint64_t reg = 0;
    for (int i = bits - 1; i >= 0; --i) {
      const bool feedback = ((reg >> 15) & 1) != ((value >> i) & 1);
      reg = (reg << 1) & 0xffff;
      if (feedback) reg ^= spec.poly;
    }
    return reg;
  };
  std::mt19937_64 rng(3);
  for (int round = 0; round < 500; ++round) {
    const int a = 1 + rng() % 20, b = 1 + rng() % 20;
    const uint64_t va = rng() & ((uint64_t{1} << a) - 1), vb = rng() & ((uint64_t{1} << b) - 1);
    ASSERT_EQ(h->Get({{va, static_cast<uint16_t>(a)}, {vb, static_cast<uint16_t>(b)}}),
              bit_serial(va << b | vb, a + b))
        << a << "+" << b << " bits";
  }
}

}  // namespace
}  // namespace softfino::pipe

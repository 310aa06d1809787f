#include "common/ml/envelope.h"

#include <array>
#include <bit>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ml/av.h"

namespace recstack::ml {

static_assert(std::endian::native == std::endian::little,
              "model records are little-endian; add byte swaps for this platform");

namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

constexpr size_t kHeaderBytes = 4 + 4 + 8;
constexpr size_t kTrailerBytes = 4;

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

uint32_t Crc32(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string Seal(std::string_view magic, uint32_t version, std::string_view payload) {
  ByteWriter w;
  w.out().append(magic.substr(0, 4));
  w.U32(version);
  w.Bytes(payload);
  const uint32_t crc = Crc32(w.out());
  w.U32(crc);
  return std::move(w.out());
}

std::string_view MagicOf(std::string_view bytes) {
  return bytes.size() < 4 ? std::string_view() : bytes.substr(0, 4);
}

absl::StatusOr<std::string_view> Unseal(std::string_view bytes, std::string_view magic,
                                        uint32_t version, std::string_view what) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": record truncated (", bytes.size(),
                                                   " bytes, a header alone is ",
                                                   kHeaderBytes + kTrailerBytes, ")"));
  }
  if (bytes.substr(0, 4) != magic) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": not a ", Av(what), " record (magic '",
                     absl::CEscape(Av(bytes.substr(0, 4))), "', expected '", Av(magic), "')"));
  }
  const uint32_t got_version = Load<uint32_t>(bytes.data() + 4);
  if (got_version != version) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": format version ", got_version,
                                                   ", this build reads version ", version));
  }
  const uint64_t payload_len = Load<uint64_t>(bytes.data() + 8);
  const uint64_t available = bytes.size() - kHeaderBytes - kTrailerBytes;
  if (payload_len != available) {
    return absl::InvalidArgumentError(absl::StrCat(
        Av(what), ": record ", payload_len > available ? "truncated" : "has trailing bytes",
        " (header says ", payload_len, " payload bytes, record holds ", available, ")"));
  }
  const size_t body = kHeaderBytes + payload_len;
  const uint32_t stored = Load<uint32_t>(bytes.data() + body);
  const uint32_t computed = Crc32(bytes.substr(0, body));
  if (stored != computed) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": checksum mismatch (stored ", absl::Hex(stored, absl::kZeroPad8),
                     ", computed ", absl::Hex(computed, absl::kZeroPad8), "): record corrupt"));
  }
  return bytes.substr(kHeaderBytes, payload_len);
}

absl::Status ByteReader::Need(size_t n) const {
  if (in_.size() - pos_ < n) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what_), ": payload ends early (need ", n,
                                                   " bytes at offset ", pos_, ", have ",
                                                   in_.size() - pos_, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint8_t> ByteReader::U8() {
  if (auto s = Need(1); !s.ok()) return s;
  return static_cast<uint8_t>(in_[pos_++]);
}

absl::StatusOr<uint32_t> ByteReader::U32() {
  if (auto s = Need(4); !s.ok()) return s;
  pos_ += 4;
  return Load<uint32_t>(in_.data() + pos_ - 4);
}

absl::StatusOr<uint64_t> ByteReader::U64() {
  if (auto s = Need(8); !s.ok()) return s;
  pos_ += 8;
  return Load<uint64_t>(in_.data() + pos_ - 8);
}

absl::StatusOr<double> ByteReader::F64() {
  if (auto s = Need(8); !s.ok()) return s;
  pos_ += 8;
  return Load<double>(in_.data() + pos_ - 8);
}

absl::StatusOr<std::string_view> ByteReader::Str() {
  auto n = U32();
  if (!n.ok()) return n.status();
  if (auto s = Need(*n); !s.ok()) return s;
  pos_ += *n;
  return in_.substr(pos_ - *n, *n);
}

absl::StatusOr<std::string_view> ByteReader::Bytes() {
  auto n = U64();
  if (!n.ok()) return n.status();
  if (auto s = Need(*n); !s.ok()) return s;
  pos_ += *n;
  return in_.substr(pos_ - *n, *n);
}

absl::Status ByteReader::ExpectEnd() const {
  if (pos_ != in_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what_), ": ", in_.size() - pos_, " unexpected bytes after the model"));
  }
  return absl::OkStatus();
}

}  // namespace recstack::ml

#pragma once

// The byte layout every serialized learned model shares, so a truncated or
// corrupted record (a partial Redis write, a flipped bit) is refused with a
// clear error instead of being parsed:
//
//   char[4]  magic        names the model kind ("RSLR" logistic, "RSGB" gbdt)
//   uint32   version      the payload's format version
//   uint64   payload_len
//   payload_len bytes     the model (layout owned by the model's .cc)
//   uint32   crc32        CRC-32 (IEEE 802.3) of every byte before it
//
// All integers and floats little-endian. ByteWriter/ByteReader build and read
// payloads; every read is bounds-checked and returns a Status.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recstack::ml {

// CRC-32 as zlib computes it (crc32("123456789") == 0xCBF43926).
uint32_t Crc32(std::string_view bytes);

std::string Seal(std::string_view magic, uint32_t version, std::string_view payload);

// The payload of a sealed record, after checking magic, version (must equal
// `version`), length and checksum. Errors are INVALID_ARGUMENT naming `what`.
absl::StatusOr<std::string_view> Unseal(std::string_view bytes, std::string_view magic,
                                        uint32_t version, std::string_view what);

// The magic of a sealed record ("" if it is shorter than one).
std::string_view MagicOf(std::string_view bytes);

class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, sizeof v); }
  void U64(uint64_t v) { Raw(&v, sizeof v); }
  void F64(double v) { Raw(&v, sizeof v); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Bytes(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(std::string_view in, std::string_view what) : in_(in), what_(what) {}
  absl::StatusOr<uint8_t> U8();
  absl::StatusOr<uint32_t> U32();
  absl::StatusOr<uint64_t> U64();
  absl::StatusOr<double> F64();
  absl::StatusOr<std::string_view> Str();    // u32 length + bytes
  absl::StatusOr<std::string_view> Bytes();  // u64 length + bytes
  // OK only if every byte was consumed.
  absl::Status ExpectEnd() const;
  size_t remaining() const { return in_.size() - pos_; }

 private:
  absl::Status Need(size_t n) const;
  std::string_view in_;
  std::string_view what_;
  size_t pos_ = 0;
};

}  // namespace recstack::ml

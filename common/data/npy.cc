#include "common/data/npy.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace recstack::data {
namespace {

static_assert(std::endian::native == std::endian::little, ".npy writer assumes little-endian");

absl::Status Write(const std::string& path, const std::string& descr, const std::string& shape,
                   const void* data, size_t bytes) {
  std::string header =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
  // Magic (6) + version (2) + header length (2) + header, padded with spaces
  // to a multiple of 64 and ended with '\n'.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

std::string Shape1(int64_t n) { return absl::StrCat("(", n, ",)"); }

}  // namespace

absl::Status WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  const std::string shape = cols == 0 ? Shape1(rows) : absl::StrCat("(", rows, ", ", cols, ")");
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols == 0 ? 1 : cols);
  return Write(path, "<f4", shape, data, n * sizeof(float));
}

absl::Status WriteNpy(const std::string& path, const std::vector<int32_t>& data) {
  return Write(path, "<i4", Shape1(static_cast<int64_t>(data.size())), data.data(),
               data.size() * sizeof(int32_t));
}

absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& data) {
  return Write(path, "<i8", Shape1(static_cast<int64_t>(data.size())), data.data(),
               data.size() * sizeof(int64_t));
}

absl::StatusOr<NpyArray> ReadNpyFloat(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  char magic[8];
  uint16_t len = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY\x01", 7) != 0 ||
      !in.read(reinterpret_cast<char*>(&len), 2)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a version 1 .npy file"));
  }
  std::string header(len, '\0');
  if (!in.read(header.data(), len))
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
  if (header.find("'descr': '<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a C-order '<f4' array"));
  }
  NpyArray arr;
  size_t open = header.find('('), close = header.find(')');
  if (open == std::string::npos || close == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no shape"));
  }
  std::string dims = header.substr(open + 1, close - open - 1);
  size_t total = 1;
  for (size_t p = 0; p < dims.size();) {
    size_t comma = dims.find(',', p);
    std::string part = dims.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
    const size_t b = part.find_first_not_of(' ');
    if (b != std::string::npos) {
      const size_t e = part.find_last_not_of(' ') + 1;
      int64_t d = 0;
      auto [ptr, err] = std::from_chars(part.data() + b, part.data() + e, d);
      if (err != std::errc() || ptr != part.data() + e || d < 0) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": bad shape '", dims, "'"));
      }
      arr.shape.push_back(d);
      total *= static_cast<size_t>(d);
    }
    if (comma == std::string::npos) break;
    p = comma + 1;
  }
  arr.data.resize(total);
  if (!in.read(reinterpret_cast<char*>(arr.data.data()),
               static_cast<std::streamsize>(total * sizeof(float)))) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated data"));
  }
  return arr;
}

}  // namespace recstack::data

#pragma once

// NumPy .npy files (format 1.0, little-endian, C order), so exported models
// and ground truth load with numpy.load.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recstack::data {

// rows x cols float32 ('<f4'); cols == 0 writes a 1-D array of `rows`.
absl::Status WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols);
absl::Status WriteNpy(const std::string& path, const std::vector<int32_t>& data);
absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& data);

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
// Reads a '<f4' C-order array.
absl::StatusOr<NpyArray> ReadNpyFloat(const std::string& path);

}  // namespace recstack::data

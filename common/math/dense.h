#pragma once

// Row-major contiguous float matrix, 64-byte aligned (STYLE rule 9): an
// n x d matrix is n * d floats, row i at data() + i * d.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace recstack::math {

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};

class Matrix {
 public:
  Matrix() = default;
  Matrix(int64_t rows, int64_t cols) { Resize(rows, cols); }
  Matrix(Matrix&&) noexcept = default;
  Matrix& operator=(Matrix&&) noexcept = default;
  Matrix(const Matrix& other) { *this = other; }
  Matrix& operator=(const Matrix& other) {
    if (this != &other) {
      Resize(other.rows_, other.cols_);
      if (size() > 0) std::memcpy(data(), other.data(), size() * sizeof(float));
    }
    return *this;
  }

  // Zero-filled.
  void Resize(int64_t rows, int64_t cols) {
    rows_ = rows;
    cols_ = cols;
    const size_t bytes = ((static_cast<size_t>(rows * cols) * sizeof(float) + 63) / 64) * 64;
    data_.reset(bytes == 0 ? nullptr : static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (bytes != 0 && data_ == nullptr) throw std::bad_alloc();
    if (bytes != 0) std::memset(data_.get(), 0, bytes);
  }

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  size_t size() const { return static_cast<size_t>(rows_ * cols_); }
  size_t bytes() const { return size() * sizeof(float); }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float* row(int64_t i) { return data_.get() + i * cols_; }
  const float* row(int64_t i) const { return data_.get() + i * cols_; }
  float& at(int64_t i, int64_t j) { return data_[i * cols_ + j]; }
  float at(int64_t i, int64_t j) const { return data_[i * cols_ + j]; }

 private:
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::unique_ptr<float[], AlignedFree> data_;
};

}  // namespace recstack::math

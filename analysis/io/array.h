// A torch-free n-dimensional array: dtype, shape and little-endian C-order
// bytes. The exchange type of the file formats (safetensors, npz) so that
// readers and writers never need torch headers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace hs::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

size_t DTypeSize(DType t);
const char* DTypeName(DType t);  // safetensors spelling: "F32", "I64", ...

struct Array {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string bytes;  // numel * DTypeSize(dtype) bytes, C order, little-endian

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  template <class T>
  T* mutable_data() { return reinterpret_cast<T*>(bytes.data()); }

  // Copies `values` (numel(shape) of them) into a new float32 array.
  static Array F32(std::vector<int64_t> shape, const float* values);
  static Array F32(std::vector<int64_t> shape, const std::vector<float>& values);
  static Array I64(std::vector<int64_t> shape, const std::vector<int64_t>& values);
  // Zero-filled array.
  static Array Zeros(DType dtype, std::vector<int64_t> shape);

  // Values converted to float (F32, F64, F16, BF16, integer types).
  std::vector<float> ToFloat() const;
};

std::string ShapeString(const std::vector<int64_t>& shape);  // "(4, 3, 3)"

}  // namespace hs::io

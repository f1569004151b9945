// Array helpers (see array.h).
#include "io/array.h"

#include <sstream>
#include <stdexcept>

namespace hs::io {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 1;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

static int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Array Array::F32(std::vector<int64_t> shape, const float* values) {
  Array a;
  a.dtype = DType::F32;
  a.shape = std::move(shape);
  a.bytes.assign(reinterpret_cast<const char*>(values), Numel(a.shape) * sizeof(float));
  return a;
}

Array Array::F32(std::vector<int64_t> shape, const std::vector<float>& values) {
  if (static_cast<int64_t>(values.size()) != Numel(shape))
    throw std::invalid_argument("Array::F32: " + std::to_string(values.size()) +
                                " values for shape " + ShapeString(shape));
  return F32(std::move(shape), values.data());
}

Array Array::I64(std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  if (static_cast<int64_t>(values.size()) != Numel(shape))
    throw std::invalid_argument("Array::I64: value count does not match shape " + ShapeString(shape));
  Array a;
  a.dtype = DType::I64;
  a.shape = std::move(shape);
  a.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t));
  return a;
}

Array Array::Zeros(DType dtype, std::vector<int64_t> shape) {
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.assign(Numel(a.shape) * DTypeSize(dtype), '\0');
  return a;
}

static float HalfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> Array::ToFloat() const {
  const int64_t n = numel();
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::F32: out[i] = data<float>()[i]; break;
      case DType::F64: out[i] = static_cast<float>(data<double>()[i]); break;
      case DType::F16: out[i] = HalfToFloat(data<uint16_t>()[i]); break;
      case DType::BF16: {
        uint32_t bits = static_cast<uint32_t>(data<uint16_t>()[i]) << 16;
        std::memcpy(&out[i], &bits, 4);
        break;
      }
      case DType::I64: out[i] = static_cast<float>(data<int64_t>()[i]); break;
      case DType::I32: out[i] = static_cast<float>(data<int32_t>()[i]); break;
      case DType::I16: out[i] = static_cast<float>(data<int16_t>()[i]); break;
      case DType::I8: out[i] = static_cast<float>(data<int8_t>()[i]); break;
      case DType::U8: case DType::Bool: out[i] = static_cast<float>(data<uint8_t>()[i]); break;
    }
  }
  return out;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

}  // namespace hs::io

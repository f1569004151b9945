// torch <-> io::Array and checkpoint files (see tensor_io.h).
#include "model/tensor_io.h"

#include "model/hooked_transformer.h"

namespace hs::model {

static io::DType ToDType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return io::DType::F32;
    case torch::kFloat64: return io::DType::F64;
    case torch::kFloat16: return io::DType::F16;
    case torch::kBFloat16: return io::DType::BF16;
    case torch::kInt64: return io::DType::I64;
    case torch::kInt32: return io::DType::I32;
    case torch::kInt16: return io::DType::I16;
    case torch::kInt8: return io::DType::I8;
    case torch::kUInt8: return io::DType::U8;
    case torch::kBool: return io::DType::Bool;
    default: throw std::invalid_argument("tensor dtype has no file representation");
  }
}

static torch::ScalarType ToScalar(io::DType t) {
  switch (t) {
    case io::DType::F32: return torch::kFloat32;
    case io::DType::F64: return torch::kFloat64;
    case io::DType::F16: return torch::kFloat16;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::I64: return torch::kInt64;
    case io::DType::I32: return torch::kInt32;
    case io::DType::I16: return torch::kInt16;
    case io::DType::I8: return torch::kInt8;
    case io::DType::U8: return torch::kUInt8;
    case io::DType::Bool: return torch::kBool;
  }
  return torch::kFloat32;
}

io::Array ToArray(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  io::Array a;
  a.dtype = ToDType(c.scalar_type());
  a.shape.assign(c.sizes().begin(), c.sizes().end());
  a.bytes.assign(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return a;
}

torch::Tensor FromArray(const io::Array& a) {
  torch::Tensor t = torch::empty(a.shape, torch::TensorOptions().dtype(ToScalar(a.dtype)));
  std::memcpy(t.data_ptr(), a.bytes.data(), a.bytes.size());
  return t;
}

void SaveCheckpoint(const std::filesystem::path& path, const HookedTransformerImpl& model,
                    const std::map<std::string, std::string>& metadata) {
  io::SafetensorsFile f;
  f.metadata = metadata;
  f.metadata["format"] = "pt";
  for (const auto& [name, t] : model.StateDict()) f.tensors[name] = ToArray(t.to(torch::kFloat32));
  io::WriteSafetensors(path, f);
}

std::map<std::string, std::string> LoadCheckpoint(const std::filesystem::path& path, HookedTransformerImpl& model) {
  io::SafetensorsFile f = io::ReadSafetensors(path);
  std::map<std::string, torch::Tensor> sd;
  try {
    for (const auto& [name, a] : f.tensors) sd[name] = FromArray(a);
    model.LoadStateDict(sd);
  } catch (const io::IoError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw io::IoError(path.string() + ": " + e.what());
  } catch (const std::exception& e) {
    throw io::IoError(path.string() + ": cannot load checkpoint (" + e.what() + ")");
  }
  return f.metadata;
}

}  // namespace hs::model

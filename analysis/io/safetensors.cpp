// safetensors parser and writer (see safetensors.h).
#include "io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/json_text.h"

namespace hs::io {
using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit

bool ParseDType(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::Bool}};
  for (auto& [name, t] : kNames)
    if (s == name) { *out = t; return true; }
  return false;
}

[[noreturn]] void Fail(const std::string& source, const std::string& what) {
  throw IoError(source + ": not a valid safetensors file: " + what);
}

}  // namespace

SafetensorsHeader ParseSafetensorsHeader(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    Fail(source, "only " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length (truncated?)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[i]);
  if (header_len > kMaxHeaderBytes)
    Fail(source, "header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
  if (header_len > bytes.size() - 8)
    Fail(source, "header length " + std::to_string(header_len) + " runs past the end of the " +
                     std::to_string(bytes.size()) + "-byte file (truncated?)");
  std::string_view header = bytes.substr(8, header_len);
  if (JsonNestsDeeperThan(header, kMaxJsonDepth))
    Fail(source, "header is not valid JSON (nested deeper than " + std::to_string(kMaxJsonDepth) + " levels)");
  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    Fail(source, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) Fail(source, "header is not a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + header_len;
  const uint64_t buffer_len = bytes.size() - 8 - header_len;
  struct Range {
    uint64_t begin, end;
    const std::string* name;
    bool operator<(const Range& o) const { return begin != o.begin ? begin < o.begin : end < o.end; }
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) Fail(source, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) Fail(source, "__metadata__ value '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    // Names appear in every later message about the tensor; a newline in one would split the
    // one-line error. No real checkpoint has control characters in a name.
    if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      Fail(source, "tensor name " + BriefJson(json(name)) + " contains a control character");
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      Fail(source, where + " lacks dtype, shape or data_offsets");
    if (!v["dtype"].is_string()) Fail(source, where + ": dtype is not a string");
    SafetensorsEntry e;
    if (!ParseDType(v["dtype"].get<std::string>(), &e.dtype))
      Fail(source, where + ": unsupported dtype " + v["dtype"].get<std::string>());
    if (!v["shape"].is_array()) Fail(source, where + ": shape is not a list");
    uint64_t numel = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) Fail(source, where + ": shape has a non-integer or negative entry");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (1ull << 50) / dim) Fail(source, where + ": shape is absurdly large");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      Fail(source, where + ": data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) Fail(source, where + ": data_offsets begin after they end");
    if (e.end > buffer_len)
      Fail(source, where + ": data ends at byte " + std::to_string(e.end) + " of a " + std::to_string(buffer_len) +
                       "-byte buffer (truncated?)");
    if (e.end - e.begin != numel * DTypeSize(e.dtype))
      Fail(source, where + ": " + std::to_string(e.end - e.begin) + " bytes do not hold shape " +
                       ShapeString(e.shape) + " of " + DTypeName(e.dtype));
    ranges.push_back({e.begin, e.end, &it.key()});
    out.tensors.emplace(name, std::move(e));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      Fail(source, "tensors '" + *ranges[i - 1].name + "' and '" + *ranges[i].name + "': data ranges overlap");
  return out;
}

SafetensorsFile ParseSafetensors(std::string_view bytes, const std::string& source) {
  SafetensorsHeader h = ParseSafetensorsHeader(bytes, source);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  for (auto& [name, e] : h.tensors) {
    Array a;
    a.dtype = e.dtype;
    a.shape = std::move(e.shape);
    a.bytes.assign(bytes.data() + h.data_start + e.begin, e.end - e.begin);
    out.tensors.emplace(name, std::move(a));
  }
  return out;
}

SafetensorsFile ReadSafetensors(const std::filesystem::path& path) {
  std::string bytes = ReadFile(path);
  return ParseSafetensors(bytes, path.string());
}

std::string SerializeSafetensors(const SafetensorsFile& file) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, a] : file.tensors) {
    if (a.bytes.size() != a.numel() * DTypeSize(a.dtype))
      throw IoError("tensor '" + name + "' has " + std::to_string(a.bytes.size()) +
                    " bytes for shape " + ShapeString(a.shape));
    header[name] = {{"dtype", DTypeName(a.dtype)},
                    {"shape", a.shape},
                    {"data_offsets", {offset, offset + a.bytes.size()}}};
    offset += a.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the buffer to 8 bytes
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (const auto& [name, a] : file.tensors) out += a.bytes;
  return out;
}

void WriteSafetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  WriteFileAtomic(path, SerializeSafetensors(file));
}

}  // namespace hs::io

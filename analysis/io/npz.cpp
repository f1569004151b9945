// .npy / .npz reading and writing (see npz.h).
#include "io/npz.h"

#include <zip.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <sstream>

namespace hs::io {
namespace fs = std::filesystem;

namespace {

const char* NpyDescr(DType t) {
  switch (t) {
    case DType::F64: return "<f8";
    case DType::F32: return "<f4";
    case DType::F16: return "<f2";
    case DType::I64: return "<i8";
    case DType::I32: return "<i4";
    case DType::I16: return "<i2";
    case DType::I8: return "|i1";
    case DType::U8: return "|u1";
    case DType::Bool: return "|b1";
    case DType::BF16: break;
  }
  throw IoError("npy has no bfloat16 dtype; convert to float32 first");
}

bool DTypeFromDescr(const std::string& d, DType* out) {
  static const std::pair<const char*, DType> kMap[] = {
      {"<f8", DType::F64}, {"<f4", DType::F32}, {"<f2", DType::F16}, {"<i8", DType::I64},
      {"<i4", DType::I32}, {"<i2", DType::I16}, {"|i1", DType::I8},  {"|u1", DType::U8},
      {"|b1", DType::Bool}};
  for (auto& [s, t] : kMap)
    if (d == s) { *out = t; return true; }
  return false;
}

struct ZipCloser {
  void operator()(zip_t* z) const { if (z) zip_discard(z); }
};

}  // namespace

namespace {
std::string NpyHeader(DType dtype, const std::vector<int64_t>& shape) {
  std::ostringstream h;
  h << "{'descr': '" << NpyDescr(dtype) << "', 'fortran_order': False, 'shape': " << ShapeString(shape) << ", }";
  std::string header = h.str();
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  return out + header;
}
}  // namespace

NpyFileWriter::NpyFileWriter(fs::path path, DType dtype, std::vector<int64_t> shape) : m_path(std::move(path)) {
  Array probe;
  probe.shape = shape;
  m_left = uint64_t(probe.numel()) * DTypeSize(dtype);
  m_file = std::fopen(m_path.c_str(), "wb");
  if (!m_file) throw IoError("cannot create " + m_path.string() + ": " + ErrnoText());
  const std::string header = NpyHeader(dtype, shape);
  if (std::fwrite(header.data(), 1, header.size(), m_file) != header.size())
    throw IoError("cannot write " + m_path.string() + ": " + ErrnoText());
}

NpyFileWriter::~NpyFileWriter() {
  if (m_file) std::fclose(m_file);
  std::error_code ec;
  fs::remove(m_path, ec);  // a temporary: the archive holds the copy
}

void NpyFileWriter::Append(const void* data, size_t bytes) {
  if (!m_file || bytes > m_left)
    throw IoError(m_path.string() + ": more data than the array's shape holds (internal error)");
  if (std::fwrite(data, 1, bytes, m_file) != bytes) throw IoError("cannot write " + m_path.string() + ": " + ErrnoText());
  m_left -= bytes;
}

void NpyFileWriter::Finish() {
  if (m_left != 0) throw IoError(m_path.string() + ": " + std::to_string(m_left) + " bytes short of the array's shape");
  if (std::fclose(m_file) != 0) {
    m_file = nullptr;
    throw IoError("cannot write " + m_path.string() + ": " + ErrnoText());
  }
  m_file = nullptr;
  m_done = true;
}

std::string SerializeNpy(const Array& a) { return NpyHeader(a.dtype, a.shape) + a.bytes; }

Array ParseNpy(const std::string& bytes, const std::string& source) {
  auto fail = [&](const std::string& what) -> IoError {
    return IoError(source + ": not a valid .npy array: " + what);
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw fail("bad magic bytes");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw fail("truncated header");
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[8 + i]);
    start = 12;
  } else {
    throw fail("unknown version " + std::to_string(major));
  }
  if (start + header_len > bytes.size()) throw fail("header runs past the end (truncated?)");
  const std::string header = bytes.substr(start, header_len);
  std::smatch m;
  static const std::regex kDescr("'descr':\\s*'([^']*)'");
  static const std::regex kFortran("'fortran_order':\\s*(True|False)");
  static const std::regex kShape("'shape':\\s*\\(([^)]*)\\)");
  Array a;
  if (!std::regex_search(header, m, kDescr)) throw fail("no descr in header");
  if (!DTypeFromDescr(m[1].str(), &a.dtype)) throw fail("unsupported dtype " + m[1].str());
  if (!std::regex_search(header, m, kFortran)) throw fail("no fortran_order in header");
  if (m[1].str() == "True") throw fail("Fortran-order arrays are not supported");
  if (!std::regex_search(header, m, kShape)) throw fail("no shape in header");
  std::stringstream dims(m[1].str());
  std::string tok;
  while (std::getline(dims, tok, ',')) {
    if (tok.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      a.shape.push_back(std::stoll(tok));
    } catch (...) {
      throw fail("bad shape entry '" + tok + "'");
    }
    if (a.shape.back() < 0) throw fail("negative dimension");
  }
  const size_t data_start = start + header_len;
  const size_t need = static_cast<size_t>(a.numel()) * DTypeSize(a.dtype);
  if (bytes.size() - data_start != need)
    throw fail("expected " + std::to_string(need) + " data bytes for shape " + ShapeString(a.shape) +
               ", found " + std::to_string(bytes.size() - data_start) + " (truncated?)");
  a.bytes = bytes.substr(data_start);
  return a;
}

namespace {
void WriteZipFrom(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members,
                  const std::vector<std::pair<std::string, fs::path>>& files, const NpzWriteOptions& opt) {
  if (members.empty() && files.empty()) {
    // libzip writes nothing for an empty archive; write an empty zip by hand.
    static const char kEmptyZip[22] = {'P', 'K', 5, 6};
    WriteFileAtomic(path, std::string_view(kEmptyZip, 22));
    return;
  }
  const fs::path tmp = TempPathFor(path);
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err));
  if (!z) throw IoError("cannot create " + path.string() + " (libzip error " + std::to_string(err) + ")");
  // Adds `src` as member `name` with the archive's compression.
  auto add = [&](const std::string& name, zip_source_t* src, const std::string& what) {
    if (!src) throw IoError("cannot add " + what + " to " + path.string() + ": " + zip_strerror(z.get()));
    const zip_int64_t idx = zip_file_add(z.get(), name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      throw IoError("cannot add " + name + " to " + path.string() + ": " + zip_strerror(z.get()));
    }
    if (zip_set_file_compression(z.get(), idx, opt.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 opt.deflate ? zip_uint32_t(std::clamp(opt.level, 1, 9)) : 0) != 0)
      throw IoError("cannot set compression for " + name + " in " + path.string() + ": " + zip_strerror(z.get()));
  };
  for (const auto& [name, p] : members)  // the caller's bytes outlive zip_close
    add(name, zip_source_buffer(z.get(), p.data(), p.size(), 0), name);
  for (const auto& [name, file] : files)  // read by libzip at zip_close, in pieces
    add(name, zip_source_file(z.get(), file.c_str(), 0, -1), file.string());
  zip_t* raw = z.release();
  if (zip_close(raw) != 0) {
    std::string msg = zip_strerror(raw);
    zip_discard(raw);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw IoError("cannot write " + path.string() + ": " + msg);
  }
  CommitTempFile(tmp, path);
}
}  // namespace

void WriteZip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members,
              const NpzWriteOptions& opt) {
  WriteZipFrom(path, members, {}, opt);
}

void WriteNpz(const fs::path& path, const NpzArchive& arrays,
              const std::vector<std::pair<std::string, fs::path>>& npy_files, const NpzWriteOptions& opt) {
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& [name, a] : arrays) members.emplace_back(name + ".npy", SerializeNpy(a));
  std::vector<std::pair<std::string, fs::path>> files;
  for (const auto& [name, f] : npy_files) files.emplace_back(name + ".npy", f);
  WriteZipFrom(path, members, files, opt);
}

void WriteNpz(const fs::path& path, const NpzArchive& arrays, const NpzWriteOptions& opt) {
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& [name, a] : arrays) members.emplace_back(name + ".npy", SerializeNpy(a));
  WriteZip(path, members, opt);
}

NpzArchive ReadNpz(const fs::path& path) {
  if (!fs::exists(path)) throw IoError(path.string() + ": file not found");
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw IoError(path.string() + ": not a readable .npz archive (" + msg + "; truncated or corrupt?)");
  }
  NpzArchive out;
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z.get(), i, 0, &st) != 0) throw IoError(path.string() + ": cannot stat member");
    std::string name = st.name;
    const std::string source = path.string() + ":" + name;
    zip_file_t* f = zip_fopen_index(z.get(), i, 0);
    if (!f) throw IoError(source + ": cannot open member (" + zip_strerror(z.get()) + ")");
    // Read one byte past the end: libzip verifies the CRC only on reaching EOF.
    std::string bytes(st.size + 1, '\0');
    zip_uint64_t total = 0;
    zip_int64_t got = 0;
    while (total < bytes.size() && (got = zip_fread(f, bytes.data() + total, bytes.size() - total)) > 0) total += got;
    zip_fclose(f);
    if (got < 0 || total != st.size)
      throw IoError(source + ": member is truncated or fails its checksum (corrupt file?)");
    bytes.resize(st.size);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    out.emplace(name, ParseNpy(bytes, source));
  }
  return out;
}

}  // namespace hs::io

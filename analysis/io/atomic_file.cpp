// Atomic writes via temp file + fsync + rename (see atomic_file.h).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace hs::io {
namespace fs = std::filesystem;

std::string ErrnoText() { return std::strerror(errno); }

namespace {

void FsyncPath(const fs::path& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) {
    if (directory) return;  // best effort on filesystems that refuse
    throw IoError("cannot open " + p.string() + " to sync it: " + ErrnoText());
  }
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

fs::path TempPathFor(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  std::ostringstream name;
  name << "." << path.filename().string() << ".tmp." << ::getpid() << "."
       << std::hash<std::thread::id>{}(std::this_thread::get_id()) % 100000 << "."
       << counter++;
  return path.parent_path() / name.str();
}

void CommitTempFile(const fs::path& tmp, const fs::path& path) {
  FsyncPath(tmp, false);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();  // before remove() reuses ec
    fs::remove(tmp, ec);
    throw IoError("cannot write " + path.string() + " (moving " + tmp.filename().string() + " into place: " + why + ")");
  }
  FsyncPath(path.parent_path().empty() ? fs::path(".") : path.parent_path(), true);
}

void WriteFileAtomic(const fs::path& path, std::string_view bytes) {
  const fs::path tmp = TempPathFor(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    throw IoError("cannot write " + path.string() + ": " + ErrnoText() +
                  " (is the folder writable?)");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = ErrnoText();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError("cannot write " + path.string() + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  CommitTempFile(tmp, path);  // fsync, rename, fsync the folder
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path.string() + ": " + ErrnoText());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError("error reading " + path.string());
  return ss.str();
}

}  // namespace hs::io

// LoadSentencePieceTokenizer: opens the headscope_sentencepiece module on first use (see
// sentencepiece_module.h for why it is not linked in) and builds the tokenizer with it.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "tokenizers/loaders.h"
#include "tokenizers/sentencepiece_module.h"

namespace hs::tok {

namespace {
using CreateFn = decltype(&HsCreateSentencePieceTokenizer);

// AddressSanitizer refuses RTLD_DEEPBIND (it aborts the process: google/sanitizers#611), so a
// sanitizer build opens the module without it. Programs without torch (test_tokenizers) are fine;
// in one with torch the two protobufs may then clash, which only a sanitizer build can meet.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

// Where the module may be: $HEADSCOPE_SENTENCEPIECE_MODULE, where the build put it, and beside the
// running executable.
std::vector<std::string> ModuleCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("HEADSCOPE_SENTENCEPIECE_MODULE")) out.emplace_back(env);
#ifdef HS_SENTENCEPIECE_MODULE
  out.emplace_back(HS_SENTENCEPIECE_MODULE);
#endif
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    const std::filesystem::path dir = std::filesystem::path(exe).parent_path();
    for (const auto& d : {dir, dir.parent_path()}) out.push_back((d / "libheadscope_sentencepiece.so").string());
  }
  return out;
}

// The factory, or nullptr with *error saying what was tried.
CreateFn OpenModule(std::string* error) {
  static std::once_flag once;
  static CreateFn create = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    for (const std::string& path : ModuleCandidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        tried += " " + path + " (missing)";
        continue;
      }
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
      if (!handle) {
        tried += " " + path + " (" + ::dlerror() + ")";
        continue;
      }
      create = reinterpret_cast<CreateFn>(::dlsym(handle, kHsCreateSentencePieceTokenizer));
      if (create) return;  // stays loaded for the life of the process
      tried += " " + path + " (no " + kHsCreateSentencePieceTokenizer + ")";
    }
    failure = "cannot load the SentencePiece module libheadscope_sentencepiece.so; tried" + tried;
  });
  if (!create) *error = failure;
  return create;
}
}  // namespace

std::unique_ptr<Tokenizer> LoadSentencePieceTokenizer(const std::filesystem::path& model_file) {
  const std::string bytes = ReadWholeFile(model_file);  // a missing or unreadable file reads as such
  std::string error;
  const CreateFn create = OpenModule(&error);
  if (!create) throw io::IoError(model_file.string() + ": " + error);
  std::unique_ptr<Tokenizer> tok(create(bytes.data(), bytes.size(), &error));
  if (!tok) throw io::IoError(model_file.string() + ": " + error);
  return tok;
}

}  // namespace hs::tok

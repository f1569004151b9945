// Hugging Face hub cache look-ups (see hub_cache.h). Read-only: nothing here
// writes into the cache or reaches the network.
#include "io/hub_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "io/atomic_file.h"
#include "io/json_text.h"

namespace hs::io {
namespace fs = std::filesystem;

namespace {

constexpr size_t kHubMaxPart = 96;                       // huggingface_hub's validate_repo_id
constexpr size_t kHubShortCommit = 10;                   // commits shown in messages and lists
constexpr std::uintmax_t kHubMaxConfigBytes = 16 << 20;  // a config.json larger than this is not read

std::string HubEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// $HOME, else the password database's home, else the working directory.
fs::path HubUserHome() {
  const std::string home = HubEnv("HOME");
  if (!home.empty()) return home;
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && pw.pw_dir && *pw.pw_dir)
    return pw.pw_dir;
  return ".";
}

// Python's os.path.expanduser for "~" and "~/...", which huggingface_hub
// applies to $HF_HOME and $HF_HUB_CACHE.
fs::path HubExpandUser(const std::string& s) {
  if (s == "~") return HubUserHome();
  if (s.rfind("~/", 0) == 0) return HubUserHome() / s.substr(2);
  return s;
}

bool HubIsHex(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
bool HubIsFullCommit(const std::string& s) { return s.size() == 40 && HubIsHex(s); }

std::string HubLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string HubTrim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool HubChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// One part of a repo id or revision: hub-legal characters, not starting or
// ending with '.' or '-', no "..", at most 96 characters; `allow_dashes`
// permits "--" (git allows it in branch names, the hub not in repo ids).
bool HubPartOk(const std::string& s, bool allow_dashes) {
  if (s.empty() || s.size() > kHubMaxPart) return false;
  if (!std::all_of(s.begin(), s.end(), HubChar)) return false;
  if (s.front() == '.' || s.front() == '-' || s.back() == '.' || s.back() == '-') return false;
  if (s.find("..") != std::string::npos) return false;
  return allow_dashes || s.find("--") == std::string::npos;
}

// "models--ORG--NAME" (huggingface_hub's repo_folder_name).
std::string HubRepoFolder(const std::string& repo_id) {
  std::string folder = "models";
  size_t start = 0;
  for (;;) {
    const size_t slash = repo_id.find('/', start);
    folder += "--" + repo_id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) return folder;
    start = slash + 1;
  }
}

// The repo id a "models--..." folder stands for ("" when it is not one).
std::string HubRepoIdOfFolder(const std::string& folder) {
  const std::string prefix = "models--";
  if (folder.rfind(prefix, 0) != 0 || folder.size() == prefix.size()) return "";
  std::string id = folder.substr(prefix.size());
  const size_t sep = id.find("--");
  if (sep != std::string::npos) id.replace(sep, 2, "/");
  return id;
}

std::string HubIdText(const HubRef& ref) {
  return ref.revision == "main" ? ref.repo_id : ref.repo_id + "@" + ref.revision;
}

std::string HubDownloadCommand(const HubRef& ref) {
  return "hf download " + ref.repo_id + (ref.revision == "main" ? "" : " --revision " + ref.revision);
}

std::string HubShort(const std::string& commit) { return commit.substr(0, kHubShortCommit); }

// The commit a ref file holds ("" when unreadable or not a commit hash).
std::string HubReadRef(const fs::path& ref_file) {
  std::error_code ec;
  if (!fs::is_regular_file(ref_file, ec)) return "";
  const std::uintmax_t size = fs::file_size(ref_file, ec);
  if (ec || size > 4096) return "";  // a commit hash is 40 bytes; never read a huge file
  try {
    const std::string commit = HubTrim(ReadFile(ref_file));
    return HubIsHex(commit) ? commit : "";
  } catch (const IoError&) {
    return "";
  }
}

// Snapshot folder names under repo/snapshots, sorted.
std::vector<std::string> HubSnapshotNames(const fs::path& repo) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(repo / "snapshots", fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code dir_ec;
    if (it->is_directory(dir_ec)) names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// "main (0123456789), v1 (...)": every ref file under repo/refs, nested ones
// by their revision name (refs/pr/1).
std::string HubRefsText(const fs::path& repo) {
  std::vector<std::string> refs;
  std::error_code ec;
  const fs::path root = repo / "refs";
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const std::string commit = HubReadRef(it->path());
    refs.push_back(it->path().lexically_relative(root).generic_string() + " (" +
                   (commit.empty() ? "unreadable" : HubShort(commit)) + ")");
  }
  std::sort(refs.begin(), refs.end());
  std::string text;
  for (const auto& r : refs) text += (text.empty() ? "" : ", ") + r;
  return text;
}

// Cached repos whose id matches `repo_id` but for letter case, or whose name
// matches its name (gpt2 is cached as openai-community/gpt2): "a/b, c/d".
std::string HubSimilarRepos(const fs::path& cache, const std::string& repo_id) {
  const std::string want = HubLower(repo_id);
  const std::string want_name = want.substr(want.find('/') + 1);  // npos + 1 == 0: the whole id
  std::vector<std::string> found;
  std::error_code ec;
  fs::directory_iterator it(cache, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string id = HubRepoIdOfFolder(it->path().filename().string());
    if (id.empty() || id == repo_id) continue;
    const std::string low = HubLower(id);
    if (low == want || low.substr(low.find('/') + 1) == want_name) found.push_back(id);
  }
  std::sort(found.begin(), found.end());
  if (found.size() > 5) found.resize(5);
  std::string text;
  for (const auto& f : found) text += (text.empty() ? "" : ", ") + f;
  return text;
}

fs::path HubResolve(const HubRef& ref, const fs::path& cache, const std::string& cache_how, bool not_a_folder) {
  const std::string id = HubIdText(ref);
  const std::string download = " Download it with: " + HubDownloadCommand(ref);
  const std::string chosen = cache_how.empty() ? "" : " (chosen by " + cache_how + ")";
  const fs::path repo = cache / HubRepoFolder(ref.repo_id);
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) {
    std::string msg = id + ": " + (not_a_folder ? "no such folder, and " : "") + "not in the Hugging Face cache " +
                      cache.string() + chosen + ", which has no " + repo.filename().string() + ".";
    const std::string similar = HubSimilarRepos(cache, ref.repo_id);
    if (!similar.empty()) msg += " Cached with a similar name: " + similar + ".";
    throw IoError(msg + download);
  }

  // The revision: a ref, a full commit, or an abbreviation of one snapshot's commit.
  const fs::path snapshots = repo / "snapshots";
  std::string commit;
  const fs::path ref_file = repo / "refs" / ref.revision;
  if (fs::is_regular_file(ref_file, ec)) {
    commit = HubReadRef(ref_file);
    if (commit.empty())
      throw IoError(id + ": " + ref_file.string() + " does not hold a commit hash (a damaged cache)." + download);
    if (!fs::is_directory(snapshots / commit, ec))
      throw IoError(id + ": refs/" + ref.revision + " in " + repo.string() + " points to commit " + commit +
                    ", whose snapshot folder is missing." + download);
  } else {
    const std::string rev = HubLower(ref.revision);
    if (HubIsFullCommit(rev) && fs::is_directory(snapshots / rev, ec)) {
      commit = rev;
    } else if (rev.size() >= 7 && HubIsHex(rev)) {
      std::vector<std::string> matches;
      for (const auto& name : HubSnapshotNames(repo))
        if (name.rfind(rev, 0) == 0) matches.push_back(name);
      if (matches.size() > 1) {
        std::string list;
        for (const auto& m : matches) list += (list.empty() ? "" : ", ") + m;
        throw IoError(id + ": " + ref.revision + " abbreviates more than one cached commit of " + repo.string() + " (" +
                      list + "); give more digits.");
      }
      if (matches.size() == 1) commit = matches[0];
    }
  }
  if (commit.empty()) {
    std::string there;
    const std::string refs = HubRefsText(repo);
    if (!refs.empty()) there += " refs: " + refs + ";";
    std::string snaps;
    for (const auto& s : HubSnapshotNames(repo)) snaps += (snaps.empty() ? "" : ", ") + HubShort(s);
    there += snaps.empty() ? " no snapshots." : " snapshots: " + snaps + ".";
    throw IoError(id + ": revision " + ref.revision + " is not in the Hugging Face cache " + repo.string() + chosen +
                  ". Cached there:" + there + download);
  }

  const fs::path snapshot = snapshots / commit;
  const fs::path config = snapshot / "config.json";
  if (!fs::is_regular_file(config, ec)) {
    std::string why = "it has no config.json";
    if (fs::is_symlink(config, ec)) {
      why = "its config.json links to a blob that is missing";
    } else if (fs::exists(repo / ".no_exist" / commit / "config.json", ec)) {
      why = "the hub reported no config.json at this commit (not a transformers model?)";
    }
    throw IoError(id + ": the snapshot " + snapshot.string() + " is incomplete: " + why + "." + download);
  }
  return snapshot;
}

// The snapshot ListHubModels shows for a repo: refs/main's, else the newest.
void HubPickSnapshot(const fs::path& repo, CachedModel* m) {
  std::error_code ec;
  const std::string main_commit = HubReadRef(repo / "refs" / "main");
  if (!main_commit.empty() && fs::is_directory(repo / "snapshots" / main_commit, ec)) {
    m->commit = main_commit;
    m->revision = "main";
  } else {
    fs::file_time_type newest{};
    for (const auto& name : HubSnapshotNames(repo)) {
      std::error_code time_ec;
      const fs::file_time_type t = fs::last_write_time(repo / "snapshots" / name, time_ec);
      if (m->commit.empty() || (!time_ec && t > newest)) {
        m->commit = name;
        newest = time_ec ? newest : t;
      }
    }
    m->revision = HubShort(m->commit);
  }
  if (!m->commit.empty()) m->snapshot = repo / "snapshots" / m->commit;
}

// Sizes of the distinct files the snapshot's entries resolve to; broken links named in `broken`.
std::int64_t HubSnapshotBytes(const fs::path& snapshot, std::vector<std::string>* broken) {
  std::int64_t bytes = 0;
  std::set<fs::path> seen;
  std::error_code ec;
  fs::recursive_directory_iterator it(snapshot, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code st_ec;
    const fs::file_status st = fs::status(it->path(), st_ec);  // follows the link to its blob
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) {
      broken->push_back(it->path().lexically_relative(snapshot).generic_string());
      continue;
    }
    const fs::path target = fs::canonical(it->path(), st_ec);
    if (st_ec) {
      broken->push_back(it->path().lexically_relative(snapshot).generic_string());
      continue;
    }
    if (!seen.insert(target).second) continue;
    const std::uintmax_t size = fs::file_size(target, st_ec);
    if (!st_ec) bytes += static_cast<std::int64_t>(size);
  }
  return bytes;
}

void HubAddProblem(CachedModel* m, const std::string& p) { m->problem += (m->problem.empty() ? "" : "; ") + p; }

void HubDescribe(const fs::path& repo, CachedModel* m) {
  HubPickSnapshot(repo, m);
  if (m->commit.empty()) {
    HubAddProblem(m, "no snapshot (nothing downloaded, or the download was interrupted)");
    return;
  }
  std::vector<std::string> broken;
  m->bytes = HubSnapshotBytes(m->snapshot, &broken);
  if (!broken.empty())
    HubAddProblem(m, std::to_string(broken.size()) + " file(s) link to missing blobs (" + broken.front() +
                         (broken.size() > 1 ? ", ..." : "") + ")");

  const fs::path config = m->snapshot / "config.json";
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) {
    HubAddProblem(m, fs::is_symlink(config, ec) ? "config.json links to a missing blob" : "no config.json");
    return;
  }
  const std::uintmax_t size = fs::file_size(config, ec);
  if (ec || size > kHubMaxConfigBytes) {
    HubAddProblem(m, ec ? "config.json: " + ec.message() : "config.json is " + std::to_string(size) + " bytes");
    return;
  }
  std::string text;
  try {
    text = ReadFile(config);
  } catch (const IoError&) {
    HubAddProblem(m, "config.json is not readable");
    return;
  }
  m->has_config = true;
  try {
    const nlohmann::json j = ParseJson(text, "config.json");
    if (j.is_object() && j.contains("model_type") && j["model_type"].is_string()) {
      m->model_type = j["model_type"].get<std::string>();
    } else {
      HubAddProblem(m, "config.json has no \"model_type\"");
    }
  } catch (const IoError& e) {
    std::string what = e.what();  // "config.json: not valid JSON ([json.exception.parse_error.101] parse error ...)"
    const size_t tag = what.find("[json.exception.");
    const size_t tag_end = tag == std::string::npos ? tag : what.find("] ", tag);
    if (tag_end != std::string::npos) what.erase(tag, tag_end + 2 - tag);
    if (what.size() > 120) what = what.substr(0, 117) + "...";
    HubAddProblem(m, what);
  }
}

}  // namespace

fs::path HubCacheDir(std::string* how) {
  auto chose = [&](const char* rule, fs::path p) {
    if (how) *how = rule;
    return p;
  };
  if (const std::string v = HubEnv("HF_HUB_CACHE"); !v.empty()) return chose("$HF_HUB_CACHE", HubExpandUser(v));
  if (const std::string v = HubEnv("HUGGINGFACE_HUB_CACHE"); !v.empty())
    return chose("$HUGGINGFACE_HUB_CACHE", HubExpandUser(v));
  if (const std::string v = HubEnv("HF_HOME"); !v.empty()) return chose("$HF_HOME/hub", HubExpandUser(v) / "hub");
  if (const std::string v = HubEnv("XDG_CACHE_HOME"); !v.empty())
    return chose("$XDG_CACHE_HOME/huggingface/hub", HubExpandUser(v) / "huggingface" / "hub");
  return chose("~/.cache/huggingface/hub; none of $HF_HUB_CACHE, $HF_HOME, $XDG_CACHE_HOME is set",
               HubUserHome() / ".cache" / "huggingface" / "hub");
}

fs::path HeadscopeCacheDir() {
  if (const std::string v = HubEnv("XDG_CACHE_HOME"); !v.empty()) return HubExpandUser(v) / "headscope";
  return HubUserHome() / ".cache" / "headscope";
}

bool ParseHubId(const std::string& arg, HubRef* out) {
  const size_t at = arg.find('@');
  const std::string id = arg.substr(0, at);
  const std::string rev = at == std::string::npos ? "main" : arg.substr(at + 1);
  const size_t slash = id.find('/');
  const std::string name = slash == std::string::npos ? id : id.substr(slash + 1);
  if (slash != std::string::npos && !HubPartOk(id.substr(0, slash), false)) return false;
  if (!HubPartOk(name, false)) return false;  // also rejects a second '/'
  if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".git") == 0) return false;
  // The revision: parts separated by single '/' (refs/pr/1).
  size_t start = 0;
  for (;;) {
    const size_t next = rev.find('/', start);
    if (!HubPartOk(rev.substr(start, next == std::string::npos ? std::string::npos : next - start), true)) return false;
    if (next == std::string::npos) break;
    start = next + 1;
  }
  if (out) *out = HubRef{id, rev};
  return true;
}

fs::path ResolveHubModel(const HubRef& ref, const fs::path& cache, const std::string& cache_how) {
  return HubResolve(ref, cache, cache_how, false);
}

fs::path ResolveModelArg(const std::string& arg) {
  std::error_code ec;
  if (!arg.empty() && fs::exists(arg, ec)) return arg;
  HubRef ref;
  if (!ParseHubId(arg, &ref)) throw IoError("no such folder: " + arg);
  std::string how;
  const fs::path cache = HubCacheDir(&how);
  return HubResolve(ref, cache, how, true);
}

std::vector<CachedModel> ListHubModels(const fs::path& cache) {
  std::vector<CachedModel> models;
  std::error_code ec;
  fs::directory_iterator it(cache, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    CachedModel m;
    m.repo_id = HubRepoIdOfFolder(it->path().filename().string());
    std::error_code dir_ec;
    if (m.repo_id.empty() || !it->is_directory(dir_ec)) continue;
    try {
      HubDescribe(it->path(), &m);
    } catch (const std::exception& e) {  // a filesystem error in one repo: listed, not thrown
      HubAddProblem(&m, e.what());
    }
    models.push_back(std::move(m));
  }
  std::sort(models.begin(), models.end(),
            [](const CachedModel& a, const CachedModel& b) { return a.repo_id < b.repo_id; });
  return models;
}

namespace {
bool HubSnapshotPath(fs::path p, HubRef* out, fs::path* repo_root) {
  p = p.lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "…/<commit>/"
  const std::string commit = p.filename().string();
  const fs::path snapshots = p.parent_path();
  const fs::path repo = snapshots.parent_path();
  if (!HubIsFullCommit(commit) || snapshots.filename() != "snapshots") return false;
  const std::string repo_id = HubRepoIdOfFolder(repo.filename().string());
  HubRef ref;
  if (repo_id.empty() || !ParseHubId(repo_id, &ref)) return false;
  if (out) *out = HubRef{repo_id, commit};
  if (repo_root) *repo_root = repo;
  return true;
}
}  // namespace

bool HubModelOf(const fs::path& dir, HubRef* out, fs::path* repo_root) {
  std::error_code ec;
  const fs::path p = fs::absolute(dir, ec);
  if (ec) return false;
  if (HubSnapshotPath(p, out, repo_root)) return true;
  // A link to a snapshot (models/gemma -> .../snapshots/<commit>): the
  // snapshot folder itself is a real folder, so its canonical path names it.
  const fs::path real = fs::canonical(p, ec);
  return !ec && real != p && HubSnapshotPath(real, out, repo_root);
}

}  // namespace hs::io

// Tests: Hugging Face hub ids resolved offline from the local hub cache
// (io/hub_cache). hub_cache_tree.py lays out HF_HOME/hub/models--ORG--NAME as
// huggingface_hub does (content-addressed blobs, snapshots of relative
// symlinks, refs, .no_exist) with two revisions made from hf_reference.py's
// fixtures; the resolved snapshots must load through the links and match the
// reference forward, and every miss must say where we looked and how to fetch.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/hub_cache.h"
#include "lm/categorize.h"
#include "lm/language_model.h"
#include "io/json_text.h"
#include "io/npz.h"
#include "model/hf_loader.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;

namespace hub_test {

// Environment variables changed for one test and put back at scope exit.
struct EnvGuard {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  void Set(const char* name, const std::string& value) {
    Save(name);
    setenv(name, value.c_str(), 1);
  }
  void Unset(const char* name) {
    Save(name);
    unsetenv(name);
  }
  void Save(const char* name) {
    for (const auto& s : saved)
      if (s.first == name) return;
    const char* v = std::getenv(name);
    saved.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
  }
  ~EnvGuard() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second) {
        setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        unsetenv(it->first.c_str());
      }
    }
  }
};

// The working directory, put back at scope exit.
struct CwdGuard {
  fs::path old = fs::current_path();
  ~CwdGuard() {
    std::error_code ec;
    fs::current_path(old, ec);
  }
};

// Every hub-cache variable unset, HF_HOME = `hf_home`: the cache is hf_home/hub.
void UseHfHome(EnvGuard* env, const fs::path& hf_home) {
  env->Unset("HF_HUB_CACHE");
  env->Unset("HUGGINGFACE_HUB_CACHE");
  env->Set("HF_HOME", hf_home.string());
}

// hf_reference.py's fixtures `names` under `dir`.
void MakeHubFixtures(const fs::path& dir, const std::vector<std::string>& names) {
  const int rc = test::WriteHfFixtures(dir, names);
  INFO(io::ReadFile(dir / "hf_reference.log"));
  REQUIRE(rc == 0);
}

struct HubTree {
  fs::path repo;  // <hf_home>/hub/models--ORG--NAME
  std::string commit_a, commit_b;
};

// hub_cache_tree.py: revision A (refs/v1, refs/refs/pr/1) from `dir_a`, B (refs/main) from `dir_b`.
HubTree MakeHubTree(const fs::path& hf_home, const fs::path& dir_a, const fs::path& dir_b, const std::string& id) {
  const fs::path out = hf_home.parent_path() / "hub_cache_tree.json";
  const std::string cmd = test::Python() + " " + std::string(HS_SOURCE_DIR) + "/tests/analysis/hub_cache_tree.py " +
                          hf_home.string() + " " + dir_a.string() + " " + dir_b.string() + " " + id + " > " +
                          out.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string text = io::ReadFile(out);
  INFO("command: " << cmd << "\n" << text);
  REQUIRE(rc == 0);
  const nlohmann::json j = io::ParseJson(text, out.string());
  return {j.at("repo").get<std::string>(), j.at("commit_a").get<std::string>(), j.at("commit_b").get<std::string>()};
}

// The IoError message `f` throws ("" when it does not throw).
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const io::IoError& e) {
    return e.what();
  }
  return "";
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

torch::Tensor HubLogits(const fs::path& folder, const torch::Tensor& tokens) {  // [batch, pos] -> [batch, pos, d_vocab]
  model::LoadedModel lm = model::LoadHFModel(folder);
  model::HookedTransformer net(lm.model);
  torch::NoGradGuard no_grad;
  model::ActivationCache cache;
  return net->forward_with_cache(tokens, cache);
}

// max |a - b| / max |b|
double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return (a64 - b64).abs().max().item<double>() / std::max(b64.abs().max().item<double>(), 1e-12);
}

// The bytes of a fixture folder's model files (what the hub would store), summed from the folder itself.
std::int64_t FixtureModelBytes(const fs::path& folder) {
  std::int64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("reference", 0) == 0) continue;  // hf_reference.py's outputs, not model files
    bytes += static_cast<std::int64_t>(fs::file_size(e.path()));
  }
  return bytes;
}

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  io::WriteFileAtomic(path, text);
}

}  // namespace hub_test

TEST_CASE("hub cache folder: huggingface_hub's precedence of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME", "[hub]") {
  using hub_test::EnvGuard;
  EnvGuard env;
  for (const char* v : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) env.Unset(v);
  env.Set("HOME", "/home/someone");
  std::string how;
  CHECK(io::HubCacheDir(&how) == fs::path("/home/someone/.cache/huggingface/hub"));
  CHECK(hub_test::Has(how, "~/.cache/huggingface/hub"));
  CHECK(io::HeadscopeCacheDir() == fs::path("/home/someone/.cache/headscope"));

  env.Set("XDG_CACHE_HOME", "/xdg");
  CHECK(io::HubCacheDir(&how) == fs::path("/xdg/huggingface/hub"));
  CHECK(how == "$XDG_CACHE_HOME/huggingface/hub");
  CHECK(io::HeadscopeCacheDir() == fs::path("/xdg/headscope"));

  env.Set("HF_HOME", "/hf");
  CHECK(io::HubCacheDir(&how) == fs::path("/hf/hub"));
  CHECK(how == "$HF_HOME/hub");
  CHECK(io::HeadscopeCacheDir() == fs::path("/xdg/headscope"));  // not the hub's business
  env.Set("HF_HOME", "~/hf");                                    // expanded as Python's expanduser does
  CHECK(io::HubCacheDir() == fs::path("/home/someone/hf/hub"));
  env.Set("HF_HOME", "");  // empty counts as unset
  CHECK(io::HubCacheDir() == fs::path("/xdg/huggingface/hub"));
  env.Set("HF_HOME", "/hf");

  env.Set("HUGGINGFACE_HUB_CACHE", "/legacy");
  CHECK(io::HubCacheDir(&how) == fs::path("/legacy"));
  CHECK(how == "$HUGGINGFACE_HUB_CACHE");
  env.Set("HF_HUB_CACHE", "/direct");
  CHECK(io::HubCacheDir(&how) == fs::path("/direct"));
  CHECK(how == "$HF_HUB_CACHE");
}

TEST_CASE("hub ids: ParseHubId accepts NAME, ORG/NAME, @REV and nothing else", "[hub]") {
  struct Row {
    const char* arg;
    bool ok;
    const char* repo_id;
    const char* revision;
  };
  const Row rows[] = {
      {"gpt2", true, "gpt2", "main"},
      {"openai-community/gpt2", true, "openai-community/gpt2", "main"},
      {"Qwen/Qwen2.5-0.5B@v1.0", true, "Qwen/Qwen2.5-0.5B", "v1.0"},
      {"gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e", true, "gpt2", "607a30d783dfa663caf39e06633721c8d4cfcd7e"},
      {"EleutherAI/pythia-70m@refs/pr/1", true, "EleutherAI/pythia-70m", "refs/pr/1"},
      {"my_org/model_1.5", true, "my_org/model_1.5", "main"},
      {"_x/y_", true, "_x/y_", "main"},
      {"", false, "", ""},
      {"./x", false, "", ""},
      {"../x", false, "", ""},
      {"/abs/model", false, "", ""},
      {"~/model", false, "", ""},
      {"a/b/c", false, "", ""},
      {"a//b", false, "", ""},
      {"/b", false, "", ""},
      {"a/", false, "", ""},
      {"-a/b", false, "", ""},
      {"a/b.", false, "", ""},
      {".hidden", false, "", ""},
      {"a--b/c", false, "", ""},
      {"a/b..c", false, "", ""},
      {"a/b.git", false, "", ""},
      {"a b", false, "", ""},
      {"a/b@", false, "", ""},
      {"@v1", false, "", ""},
      {"a/b@v1@v2", false, "", ""},
      {"a/b@../x", false, "", ""},
      {"a/b@refs//x", false, "", ""},
      {"a/b@/x", false, "", ""},
      {"a/b@-rf", false, "", ""},
      {"C:\\models\\x", false, "", ""},
  };
  for (const Row& r : rows) {
    INFO("'" << r.arg << "'");
    io::HubRef ref;
    CHECK(io::ParseHubId(r.arg, &ref) == r.ok);
    if (r.ok) {
      CHECK(ref.repo_id == r.repo_id);
      CHECK(ref.revision == r.revision);
    }
  }
  const std::string long_name(96, 'a');
  CHECK(io::ParseHubId("org/" + long_name, nullptr));
  CHECK_FALSE(io::ParseHubId("org/" + long_name + "a", nullptr));
}

TEST_CASE("hub ids resolve to cached snapshots that load through the blob links", "[hub]") {
  test::TempDir dir("hub_cache");
  hub_test::MakeHubFixtures(dir.path, {"gpt2", "gpt2_prefix"});
  const fs::path hf_home = dir.path / "hf_home";
  const std::string id = "hs-test/tiny-gpt2";
  const hub_test::HubTree tree = hub_test::MakeHubTree(hf_home, dir.path / "gpt2_prefix", dir.path / "gpt2", id);
  const fs::path hub = hf_home / "hub";
  const fs::path snapshots = hub / "models--hs-test--tiny-gpt2" / "snapshots";
  REQUIRE(tree.repo == hub / "models--hs-test--tiny-gpt2");
  const fs::path snap_a = snapshots / tree.commit_a, snap_b = snapshots / tree.commit_b;
  REQUIRE(fs::is_symlink(snap_b / "model.safetensors"));

  hub_test::EnvGuard env;
  hub_test::UseHfHome(&env, hf_home);
  std::string how;
  CHECK(io::HubCacheDir(&how) == hub);
  CHECK(hub_test::Has(how, "HF_HOME"));

  // Every way of naming a revision.
  CHECK(io::ResolveModelArg(id) == snap_b);
  CHECK(io::ResolveModelArg(id + "@main") == snap_b);
  CHECK(io::ResolveModelArg(id + "@v1") == snap_a);
  CHECK(io::ResolveModelArg(id + "@refs/pr/1") == snap_a);
  CHECK(io::ResolveModelArg(id + "@" + tree.commit_a.substr(0, 10)) == snap_a);
  CHECK(io::ResolveModelArg(id + "@" + tree.commit_a.substr(0, 7)) == snap_a);
  CHECK(io::ResolveModelArg(id + "@" + tree.commit_a) == snap_a);
  CHECK(io::ResolveModelArg(id + "@" + tree.commit_b) == snap_b);
  CHECK(io::ResolveHubModel({id, "v1"}, hub) == snap_a);

  // Both snapshots load through the links; main is fixture B and matches its reference forward.
  {
    const io::NpzArchive ref = io::ReadNpz(dir.path / "gpt2" / "reference.npz");
    const torch::Tensor tokens = model::FromArray(ref.at("tokens"));  // [batch, pos]
    const torch::Tensor logits_b = hub_test::HubLogits(io::ResolveModelArg(id), tokens);
    const torch::Tensor logits_a = hub_test::HubLogits(io::ResolveModelArg(id + "@v1"), tokens);
    const double err_b = hub_test::RelativeError(logits_b, model::FromArray(ref.at("logits")));
    const double a_vs_b = hub_test::RelativeError(logits_a, logits_b);
    std::printf("hub %s: main's logits vs reference %.1e, v1's vs main's %.1e\n", id.c_str(), err_b, a_vs_b);
    CHECK(err_b < 1e-4);
    CHECK(a_vs_b > 0.1);  // a different model, not the same snapshot twice
  }

  // Not cached: where we looked, which rule chose it, the download command.
  const std::string uncached = hub_test::ErrorOf([] { io::ResolveModelArg("nobody/nothing"); });
  std::printf("hub uncached: %s\n", uncached.c_str());
  CHECK(hub_test::Has(uncached, hub.string()));
  CHECK(hub_test::Has(uncached, "HF_HOME"));
  CHECK(hub_test::Has(uncached, "hf download nobody/nothing"));
  CHECK_FALSE(hub_test::Has(uncached, "--revision"));
  const std::string similar = hub_test::ErrorOf([] { io::ResolveModelArg("tiny-gpt2"); });
  CHECK(hub_test::Has(similar, "hs-test/tiny-gpt2"));  // the same name under an org

  // A revision that is not cached: the refs and snapshots that are.
  const std::string v9 = hub_test::ErrorOf([&] { io::ResolveModelArg(id + "@v9"); });
  std::printf("hub unknown revision: %s\n", v9.c_str());
  CHECK(hub_test::Has(v9, "main (" + tree.commit_b.substr(0, 10) + ")"));
  CHECK(hub_test::Has(v9, "v1 (" + tree.commit_a.substr(0, 10) + ")"));
  CHECK(hub_test::Has(v9, "refs/pr/1"));
  CHECK(hub_test::Has(v9, "hf download " + id + " --revision v9"));
  CHECK(hub_test::Has(hub_test::ErrorOf([&] { io::ResolveModelArg(id + "@" + tree.commit_a.substr(0, 6)); }),
                      "is not in the Hugging Face cache"));  // 6 digits: too short to abbreviate

  // An abbreviation of two snapshots, an incomplete snapshot, a ref to a missing snapshot.
  const std::string twins =
      tree.commit_a.substr(0, 8) + (tree.commit_a[8] == 'f' ? "0" : "f");  // not commit_a's 9 digits
  const std::string twin_1 = twins + std::string(31, '1'), twin_2 = twins + std::string(31, '2');
  fs::create_directories(snapshots / twin_1);
  fs::create_directories(snapshots / twin_2);
  CHECK(
      hub_test::Has(hub_test::ErrorOf([&] { io::ResolveModelArg(id + "@" + twin_1.substr(0, 9)); }), "more than one"));
  CHECK(io::ResolveModelArg(id + "@" + tree.commit_a.substr(0, 9)) == snap_a);  // still unique
  fs::create_symlink(fs::read_symlink(snap_a / "model.safetensors"), snapshots / twin_1 / "model.safetensors");
  hub_test::WriteText(tree.repo / "refs" / "partial", twin_1);
  const std::string partial = hub_test::ErrorOf([&] { io::ResolveModelArg(id + "@partial"); });
  CHECK(hub_test::Has(partial, "incomplete"));
  CHECK(hub_test::Has(partial, (snapshots / twin_1).string()));
  CHECK(hub_test::Has(partial, "hf download " + id + " --revision partial"));
  hub_test::WriteText(tree.repo / "refs" / "gone", std::string(40, 'e'));
  CHECK(hub_test::Has(hub_test::ErrorOf([&] { io::ResolveModelArg(id + "@gone"); }), "missing"));

  // A folder of the same spelling wins; paths are returned unchanged; a non-id, non-path is named.
  {
    hub_test::CwdGuard cwd;
    fs::current_path(dir.path);  // holds the fixture folder gpt2
    CHECK(io::ResolveModelArg("gpt2") == fs::path("gpt2"));
    CHECK(io::ResolveModelArg((dir.path / "gpt2").string()) == dir.path / "gpt2");
    CHECK(io::ResolveModelArg("gpt2/config.json") == fs::path("gpt2/config.json"));
    CHECK(hub_test::ErrorOf([] { io::ResolveModelArg("./missing"); }) == "no such folder: ./missing");
    CHECK(hub_test::ErrorOf([] { io::ResolveModelArg("a/b/c"); }) == "no such folder: a/b/c");
    fs::current_path(snapshots);
    io::HubRef rel;
    CHECK(io::HubModelOf(tree.commit_b, &rel));  // relative to the working directory
    CHECK(rel.revision == tree.commit_b);
  }

  // HubModelOf: a snapshot folder (with or without a trailing slash), nothing else.
  io::HubRef of;
  fs::path root;
  REQUIRE(io::HubModelOf(snap_b, &of, &root));
  CHECK(of.repo_id == id);
  CHECK(of.revision == tree.commit_b);
  CHECK(root == tree.repo);
  CHECK(io::HubModelOf(snap_a.string() + "/", &of));
  CHECK(of.revision == tree.commit_a);
  CHECK(io::HubModelOf(snap_a / "sub" / "..", &of));
  CHECK_FALSE(io::HubModelOf(dir.path / "gpt2", &of));
  CHECK_FALSE(io::HubModelOf(snap_b / "config.json", &of));
  CHECK_FALSE(io::HubModelOf(snapshots, &of));
  CHECK_FALSE(io::HubModelOf(hub / "datasets--a--b" / "snapshots" / tree.commit_b, &of));
}

TEST_CASE("hub cache listing: sizes of distinct blobs, model_type, broken repos listed not thrown", "[hub]") {
  test::TempDir dir("hub_list");
  hub_test::MakeHubFixtures(dir.path, {"gpt2", "gpt2_prefix"});
  const fs::path hf_home = dir.path / "hf_home";
  const hub_test::HubTree tree =
      hub_test::MakeHubTree(hf_home, dir.path / "gpt2_prefix", dir.path / "gpt2", "hs-test/tiny-gpt2");
  const fs::path hub = hf_home / "hub";
  const fs::path snap_a = tree.repo / "snapshots" / tree.commit_a, snap_b = tree.repo / "snapshots" / tree.commit_b;
  const std::int64_t bytes_a = hub_test::FixtureModelBytes(dir.path / "gpt2_prefix");
  const std::int64_t bytes_b = hub_test::FixtureModelBytes(dir.path / "gpt2");

  // A repo whose config.json is not JSON, one with nothing downloaded, and what the listing skips.
  const std::string bad_commit(40, 'b');
  hub_test::WriteText(hub / "models--hs-test--broken-config" / "refs" / "main", bad_commit);
  hub_test::WriteText(hub / "models--hs-test--broken-config" / "snapshots" / bad_commit / "config.json",
                      "{\"model_type\": ");
  fs::create_directories(hub / "models--hs-test--empty");
  hub_test::WriteText(hub / "datasets--hs-test--data" / "snapshots" / bad_commit / "config.json", "{}");
  hub_test::WriteText(hub / "version.txt", "1");
  fs::create_directories(hub / ".locks" / "models--hs-test--tiny-gpt2");

  std::vector<io::CachedModel> list;
  REQUIRE_NOTHROW(list = io::ListHubModels(hub));
  REQUIRE(list.size() == 3);
  CHECK(list[0].repo_id == "hs-test/broken-config");
  CHECK(list[1].repo_id == "hs-test/empty");
  const io::CachedModel& tiny = list[2];
  CHECK(tiny.repo_id == "hs-test/tiny-gpt2");
  CHECK(tiny.revision == "main");
  CHECK(tiny.commit == tree.commit_b);
  CHECK(tiny.snapshot == snap_b);
  CHECK(tiny.bytes == bytes_b);
  CHECK(tiny.has_config);
  CHECK(tiny.model_type == "gpt2");
  CHECK(tiny.problem.empty());

  INFO("broken-config: " << list[0].problem);
  CHECK(list[0].has_config);
  CHECK(list[0].model_type.empty());
  CHECK(hub_test::Has(list[0].problem, "config.json"));
  CHECK(hub_test::Has(list[0].problem, "not valid JSON"));
  CHECK(hub_test::Has(list[1].problem, "no snapshot"));
  CHECK(list[1].snapshot.empty());
  std::printf("hub list: %s %s %lld bytes; %s: %s; %s: %s\n", tiny.repo_id.c_str(), tiny.model_type.c_str(),
              static_cast<long long>(tiny.bytes), list[0].repo_id.c_str(), list[0].problem.c_str(),
              list[1].repo_id.c_str(), list[1].problem.c_str());

  // Two names for one blob count once; a dangling link is a problem, not a crash.
  fs::create_symlink(fs::read_symlink(snap_b / "model.safetensors"), snap_b / "model_copy.safetensors");
  fs::create_symlink("../../blobs/" + std::string(64, '0'), snap_b / "lost.safetensors");
  REQUIRE_NOTHROW(list = io::ListHubModels(hub));
  REQUIRE(list.size() == 3);
  CHECK(list[2].bytes == bytes_b);
  CHECK(list[2].model_type == "gpt2");
  CHECK(hub_test::Has(list[2].problem, "lost.safetensors"));

  // Without refs/main: the newest snapshot, named by its short commit.
  fs::remove(tree.repo / "refs" / "main");
  fs::last_write_time(snap_a, fs::last_write_time(snap_b) + std::chrono::hours(1));
  list = io::ListHubModels(hub);
  REQUIRE(list.size() == 3);
  CHECK(list[2].commit == tree.commit_a);
  CHECK(list[2].revision == tree.commit_a.substr(0, 10));
  CHECK(list[2].bytes == bytes_a);
  CHECK(list[2].problem.empty());

  CHECK(io::ListHubModels(dir.path / "no-such-cache").empty());
}

TEST_CASE("what the model picker says of cached folders, and where derived files of a snapshot go", "[hub]") {
  test::TempDir dir("hub_picker");
  hub_test::MakeHubFixtures(dir.path, {"gpt2", "gpt2_prefix"});
  hub_test::EnvGuard env;
  hub_test::UseHfHome(&env, dir.path / "hf_home");
  env.Set("XDG_CACHE_HOME", (dir.path / "xdg").string());
  const hub_test::HubTree tree =
      hub_test::MakeHubTree(dir.path / "hf_home", dir.path / "gpt2_prefix", dir.path / "gpt2", "hs-test/tiny-gpt2");
  const fs::path snap_a = tree.repo / "snapshots" / tree.commit_a, snap_b = tree.repo / "snapshots" / tree.commit_b;

  CHECK(lm::ModelFolderProblem(snap_b).empty());
  const fs::path t5 = dir.path / "t5", bin = dir.path / "bin";
  fs::create_directories(t5), fs::create_directories(bin);
  hub_test::WriteText(t5 / "config.json", "{\"model_type\": \"t5\"}");
  fs::copy_file(dir.path / "gpt2" / "config.json", bin / "config.json");
  hub_test::WriteText(bin / "pytorch_model.bin", "x");
  const std::string t5_why = lm::ModelFolderProblem(t5), bin_why = lm::ModelFolderProblem(bin);
  INFO(t5_why << "\n" << bin_why);
  CHECK(hub_test::Has(t5_why, "model_type \"t5\" is not supported"));
  CHECK(hub_test::Has(t5_why, "gemma2"));
  CHECK(hub_test::Has(bin_why, "pytorch_model.bin"));

  // A plain folder keeps its derived files; a snapshot's go to
  // $XDG_CACHE_HOME/headscope/models--ORG--NAME/<key of the weight blobs>.
  CHECK(lm::DerivedDir(dir.path / "gpt2") == dir.path / "gpt2");
  const fs::path da = lm::DerivedDir(snap_a), db = lm::DerivedDir(snap_b);
  CHECK(da.parent_path() == dir.path / "xdg" / "headscope" / "models--hs-test--tiny-gpt2");
  CHECK(fs::is_directory(db));
  CHECK(da != db);  // other weights, another folder
  CHECK(lm::CategoriesPath(snap_b) == db / "head_categories.json");
  CHECK(lm::FormationTaskPath(snap_b, 7).parent_path() == db / "role_formation.d");
  CHECK(lm::ModelName(snap_b) == "hs-test/tiny-gpt2@" + tree.commit_b.substr(0, 10));
  // A link to a snapshot is the snapshot: nothing is written into the hub cache through it.
  fs::create_directory_symlink(snap_b, dir.path / "linked");
  CHECK(lm::DerivedDir(dir.path / "linked") == db);
}

// Hugging Face hub ids resolved offline, from the local hub cache that
// `hf download` / huggingface_hub fill, so that `headscope ... gpt2` or
// `Qwen/Qwen2.5-0.5B@v1` opens a downloaded model without copying it.
// Nothing here touches the network; a model that is not cached is an IoError
// that says where we looked and the one command that downloads it.
//
// The cache layout (huggingface_hub's file_download.py):
//   <cache>/models--ORG--NAME/refs/<revision>        the commit a branch/tag points to
//                                                     (nested: refs/refs/pr/1 for revision refs/pr/1)
//   <cache>/models--ORG--NAME/snapshots/<commit>/...  files, relative symlinks ../../blobs/<etag>
//   <cache>/models--ORG--NAME/blobs/<etag>            contents (sha256 for LFS files, git sha1 otherwise)
//   <cache>/models--ORG--NAME/.no_exist/<commit>/<f>  files known to be absent at that commit
//
//   fs::path dir = io::ResolveModelArg(arg);   // a folder as given, or a cached hub id's snapshot
//   model::LoadedModel m = model::LoadHFModel(dir);
//   std::vector<io::CachedModel> all = io::ListHubModels(io::HubCacheDir());
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hs::io {

// The hub cache folder, by huggingface_hub's rules (constants.py), first that
// is set and not empty: $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE (its legacy
// name), $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub
// (a leading ~ in a variable is expanded, as Python's expanduser does). `how`
// receives the rule that chose it, e.g. "$HF_HOME/hub", for messages.
std::filesystem::path HubCacheDir(std::string* how = nullptr);

// Where headscope writes files derived from models it must not write into
// (hub snapshots are shared, read-only by convention): $XDG_CACHE_HOME/headscope,
// else ~/.cache/headscope. Not created here.
std::filesystem::path HeadscopeCacheDir();

struct HubRef {
  std::string repo_id;            // "ORG/NAME" or "NAME"
  std::string revision = "main";  // branch, tag, full or abbreviated commit, or refs/pr/N
};

// Parses NAME, ORG/NAME, NAME@REV or ORG/NAME@REV. ORG and NAME use hub-legal
// characters only ([A-Za-z0-9._-], not starting or ending with . or -, no
// "--" or "..", at most 96 characters, NAME not ending in .git); REV the same
// plus '/' between parts (refs/pr/1). False for anything else: paths such as
// ./x, /abs or a/b/c, an empty string, an empty part.
bool ParseHubId(const std::string& arg, HubRef* out);

// The snapshot folder of `ref` in the hub cache `cache`. The revision is
// looked up in this order: refs/<rev> (the commit it holds); a full 40-hex
// commit with a snapshot; an abbreviation (7 or more hex digits) of exactly
// one snapshot's commit. IoError when the repo or revision is not cached
// (naming the id, the cache and `cache_how` — the rule that chose it, see
// HubCacheDir — the refs and snapshots that are there, and the `hf download`
// command that fetches it) or when the snapshot has no config.json.
std::filesystem::path ResolveHubModel(const HubRef& ref, const std::filesystem::path& cache,
                                      const std::string& cache_how = {});

// A model argument from the command line or the UI: an existing path (file or
// folder) is returned unchanged; otherwise a hub id (ParseHubId) is resolved
// in HubCacheDir(). A folder wins over a hub id of the same spelling: with a
// folder ./gpt2 in the working directory, "gpt2" is that folder. IoError
// "no such folder: ARG" when `arg` is neither; ResolveHubModel's errors for
// a hub id that is not cached.
std::filesystem::path ResolveModelArg(const std::string& arg);

// One cached model repo, as ListHubModels sees it.
struct CachedModel {
  std::string repo_id;             // "ORG/NAME" or "NAME"
  std::string revision;            // "main" (its ref), else the snapshot's short commit
  std::string commit;              // the snapshot folder's name (empty when there is none)
  std::filesystem::path snapshot;  // <cache>/models--.../snapshots/<commit> (empty when there is none)
  std::int64_t bytes = 0;          // the distinct blobs the snapshot's files link to, summed
  bool has_config = false;         // snapshot/config.json is readable
  std::string model_type;          // config.json "model_type" ("" when unknown)
  std::string problem;             // why it cannot be opened, "" when it looks complete
};

// Every models--* repo under `cache` (datasets and spaces are skipped), sorted
// by repo_id: its refs/main snapshot when cached, else its newest snapshot.
// A repo that is broken (no snapshot, dangling links, bad config.json) is
// listed with a `problem`; nothing here throws for one bad repo, and a cache
// folder that does not exist gives an empty list.
std::vector<CachedModel> ListHubModels(const std::filesystem::path& cache);

// True when `dir` is a snapshot folder .../models--ORG--NAME/snapshots/<commit>
// of a hub cache: compared lexically after making `dir` absolute, else (a
// link to a snapshot, models/gemma -> .../snapshots/<commit>) on its
// canonical path; the snapshot folder itself is a real folder. Fills out->repo_id and out->revision = the commit, and
// `repo_root` (.../models--ORG--NAME) when given.
bool HubModelOf(const std::filesystem::path& dir, HubRef* out, std::filesystem::path* repo_root = nullptr);

}  // namespace hs::io

// Tests: safetensors and npz round trips, malformed files, atomic writes.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "io/atomic_file.h"
#include "io/npz.h"
#include "io/run_dir.h"
#include "io/safetensors.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {
io::SafetensorsFile Sample() {
  io::SafetensorsFile f;
  std::vector<float> w(2 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.5f * float(i) - 1.0f;
  f.tensors["blocks.0.attn.W_Q"] = io::Array::F32({2, 3}, w);
  f.tensors["ids"] = io::Array::I64({4}, {1, -2, 3, 1LL << 40});
  f.tensors["scalar"] = io::Array::F32({}, std::vector<float>{3.25f});
  f.metadata["epoch"] = "42";
  return f;
}
void Spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, dtypes, bytes and metadata", "[io][safetensors]") {
  test::TempDir dir("st");
  const auto f = Sample();
  io::WriteSafetensors(dir.path / "a.safetensors", f);
  const auto g = io::ReadSafetensors(dir.path / "a.safetensors");
  REQUIRE(g.tensors.size() == 3);
  for (const auto& [name, a] : f.tensors) {
    INFO("tensor " << name);
    const auto& b = g.tensors.at(name);
    CHECK(b.dtype == a.dtype);
    CHECK(b.shape == a.shape);
    CHECK(b.bytes == a.bytes);
  }
  CHECK(g.metadata.at("epoch") == "42");
  // The data buffer starts 8-byte aligned, as the reference writer does.
  const std::string raw = io::ReadFile(dir.path / "a.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  CHECK((8 + n) % 8 == 0);
  // No temporary files are left behind.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path)) (void)e, ++files;
  CHECK(files == 1);
}

TEST_CASE("malformed safetensors files give errors naming the file and problem", "[io][safetensors]") {
  test::TempDir dir("stbad");
  const std::string good = io::SerializeSafetensors(Sample());
  const fs::path p = dir.path / "bad.safetensors";
  auto expect_error = [&](const std::string& bytes, const std::string& needle) {
    Spit(p, bytes);
    try {
      io::ReadSafetensors(p);
      FAIL("no error for case expecting '" << needle << "'");
    } catch (const io::IoError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(p.string()) != std::string::npos);
      CHECK(msg.find(needle) != std::string::npos);
    }
  };
  expect_error("", "shorter than the 8-byte header");
  expect_error(good.substr(0, good.size() - 5), "truncated");              // data cut short
  expect_error(good.substr(0, 20), "runs past the end");                   // header cut short
  std::string huge = good;
  huge[7] = '\x7f';
  expect_error(huge, "exceeds");
  std::string badjson = good;
  badjson[8] = 'x';
  expect_error(badjson, "not valid JSON");
  // A header whose byte count does not match the shape.
  std::string h = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})";
  std::string bytes(8, '\0');
  bytes[0] = char(h.size());
  expect_error(bytes + h + std::string(12, '\0'), "do not hold shape (2, 2)");
  h = R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})";
  bytes.assign(8, '\0');
  bytes[0] = char(h.size());
  expect_error(bytes + h + std::string(4, '\0'), "unsupported dtype Q7");
  h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  bytes.assign(8, '\0');
  bytes[0] = char(h.size());
  expect_error(bytes + h + std::string(12, '\0'), "overlap");
  // From the corruption pass (tests/analysis/corrupt_inputs.py): a newline in a tensor name split
  // the one-line error that later named it; JSON nested deeper than 256 levels is refused, as by
  // every reader (copying or printing such a value overflows the stack).
  h = "{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  bytes.assign(8, '\0');
  bytes[0] = char(h.size());
  expect_error(bytes + h + std::string(4, '\0'), "tensor name \"a\\nb\" contains a control character");
  h = "{\"__metadata__\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  bytes.assign(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
  expect_error(bytes + h, "nested deeper than 256 levels");
  CHECK_THROWS_AS(io::ReadSafetensors(dir.path / "missing.safetensors"), io::IoError);
}

TEST_CASE("npz round trip and numpy.load compatibility", "[io][npz]") {
  test::TempDir dir("npz");
  io::NpzArchive a;
  std::vector<float> grid(4 * 3 * 2);
  for (size_t i = 0; i < grid.size(); ++i) grid[i] = float(i) * 0.25f;
  a["freq_matrix"] = io::Array::F32({4, 3, 2}, grid);
  a["epochs"] = io::Array::I64({3}, {0, 50, 100});
  const fs::path p = dir.path / "epoch_00050.npz";
  io::WriteNpz(p, a);
  const auto b = io::ReadNpz(p);
  REQUIRE(b.size() == 2);
  CHECK(b.at("freq_matrix").shape == std::vector<int64_t>{4, 3, 2});
  CHECK(b.at("freq_matrix").bytes == a["freq_matrix"].bytes);
  CHECK(b.at("epochs").dtype == io::DType::I64);

  // numpy opens it with the same keys, shapes, dtypes and values.
  const std::string script = "import numpy as np,sys; z=np.load(sys.argv[1]); "
                             "assert sorted(z.files)==['epochs','freq_matrix'], z.files; "
                             "f=z['freq_matrix']; assert f.shape==(4,3,2) and f.dtype==np.float32; "
                             "assert abs(float(f[3,2,1])-5.75)<1e-6; assert list(z['epochs'])==[0,50,100]; "
                             "np.savez(sys.argv[2], back=np.arange(6,dtype=np.float32).reshape(2,3))";
  const fs::path from_numpy = dir.path / "from_numpy.npz";
  const std::string cmd = "/usr/bin/python3 -c \"" + script + "\" " + p.string() + " " + from_numpy.string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  // And we read what numpy writes.
  const auto c = io::ReadNpz(from_numpy);
  REQUIRE(c.count("back"));
  CHECK(c.at("back").shape == std::vector<int64_t>{2, 3});
  CHECK(c.at("back").data<float>()[5] == 5.0f);
}

TEST_CASE("truncated or corrupt npz files are reported with the file name", "[io][npz]") {
  test::TempDir dir("npzbad");
  io::NpzArchive a;
  a["x"] = io::Array::F32({100}, std::vector<float>(100, 1.5f));
  const fs::path p = dir.path / "a.npz";
  io::WriteNpz(p, a);
  const std::string good = io::ReadFile(p);
  const fs::path bad = dir.path / "bad.npz";
  Spit(bad, good.substr(0, good.size() / 2));
  try {
    io::ReadNpz(bad);
    FAIL("truncated npz was accepted");
  } catch (const io::IoError& e) {
    CHECK(std::string(e.what()).find(bad.string()) != std::string::npos);
  }
  Spit(bad, "hello, not a zip");
  CHECK_THROWS_AS(io::ReadNpz(bad), io::IoError);
  // A flipped data byte fails the zip checksum.
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  Spit(bad, flipped);
  CHECK_THROWS_AS(io::ReadNpz(bad), io::IoError);
  CHECK_THROWS_AS(io::ReadNpz(dir.path / "missing.npz"), io::IoError);
}

TEST_CASE("atomic writes replace whole files and report unwritable folders", "[io]") {
  test::TempDir dir("atomic");
  const fs::path p = dir.path / "f.txt";
  io::WriteFileAtomic(p, "first");
  io::WriteFileAtomic(p, "second version");
  CHECK(io::ReadFile(p) == "second version");
  CHECK_THROWS_AS(io::WriteFileAtomic(dir.path / "no_such_dir" / "f.txt", "x"), io::IoError);
}

TEST_CASE("metrics.csv round trip and malformed lines", "[io][run_dir]") {
  test::TempDir dir("metrics");
  std::vector<io::MetricsRow> rows = {{0, 4.7, 4.8, 0.01, 0.009, 0}, {1, 4.5, 4.8, 0.05, 0.009, 0}};
  io::WriteFileAtomic(dir.path / "metrics.csv", io::FormatMetricsCsv(rows));
  const auto back = io::ReadMetricsCsv(dir.path / "metrics.csv");
  REQUIRE(back.size() == 2);
  CHECK(back[1].epoch == 1);
  CHECK(back[1].test_loss == Approx(4.8));
  CHECK(back[1].test_epoch == 0);  // measured at epoch 0, repeated
  CHECK(io::FormatMetricsCsv(rows).find("test_acc,test_epoch\n0,4.7,4.8,0.010000,0.009000,0\n") != std::string::npos);
  // Files from before the test_epoch column: every row was evaluated.
  io::WriteFileAtomic(dir.path / "metrics.csv", "epoch,train_loss,test_loss,train_acc,test_acc\n0,1,2,0.5,0.25\n7,1,2,0.5,0.5\n");
  const auto old = io::ReadMetricsCsv(dir.path / "metrics.csv");
  REQUIRE(old.size() == 2);
  CHECK(old[1].test_epoch == 7);
  io::WriteFileAtomic(dir.path / "metrics.csv", "epoch,train_loss,test_loss,train_acc,test_acc\n0,1,2\n");
  CHECK_THROWS_WITH(io::ReadMetricsCsv(dir.path / "metrics.csv"), Catch::Contains("metrics.csv:2"));
  io::WriteFileAtomic(dir.path / "metrics.csv", "epoch,train_loss,test_loss,train_acc,test_acc,test_epoch\n5,1,2,1,1,6\n");
  CHECK_THROWS_WITH(io::ReadMetricsCsv(dir.path / "metrics.csv"), Catch::Contains("test_epoch 6"));
  io::WriteFileAtomic(dir.path / "metrics.csv", "step,loss\n5,1\n");
  CHECK_THROWS_WITH(io::ReadMetricsCsv(dir.path / "metrics.csv"), Catch::Contains("not a metrics.csv header"));
  CHECK(io::EpochStem(42) == "epoch_00042");
}

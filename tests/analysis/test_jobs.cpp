// Tests: latest-wins job slots, cancellation, the LRU artifact store.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "jobs/artifact_store.h"
#include "jobs/job_system.h"

using namespace hs;

TEST_CASE("dragging across 100 epochs does not run 100 jobs: the newest per slot wins", "[jobs]") {
  jobs::JobSystem js(1);
  std::atomic<int> ran{0}, last{-1}, cancelled{0};
  for (int epoch = 0; epoch < 100; ++epoch) {
    js.Submit("attention_grid", jobs::Lane::Model, [&, epoch](const jobs::CancelToken& t) {
      for (int i = 0; i < 20 && !t.cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (t.cancelled()) {
        ++cancelled;
        return;
      }
      ++ran;
      last = epoch;
    });
    CHECK(js.Pending() <= 1);  // at most one queued job for the slot
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  js.WaitIdle();
  CHECK(last == 99);  // the final position is always computed
  CHECK(js.Submitted() == 100);
  INFO("ran " << ran << ", cancelled " << cancelled << ", started " << js.Executed());
  CHECK(js.Executed() < 60);  // most were replaced before they started
  CHECK(ran <= 5);            // and the ones that started were cancelled, not finished
  CHECK(ran + cancelled == int(js.Executed()));
}

TEST_CASE("different slots do not cancel each other, and the pool runs beside the model lane", "[jobs]") {
  jobs::JobSystem js(2);
  std::atomic<int> a{0}, b{0}, c{0};
  js.Submit("grid", jobs::Lane::Model, [&](const jobs::CancelToken&) { ++a; });
  js.Submit("freq", jobs::Lane::Pool, [&](const jobs::CancelToken&) { ++b; });
  js.Submit("neurons", jobs::Lane::Pool, [&](const jobs::CancelToken&) { throw std::runtime_error("bad file"); });
  js.Submit("loss", jobs::Lane::Pool, [&](const jobs::CancelToken&) { ++c; });
  js.WaitIdle();
  CHECK(a == 1);
  CHECK(b == 1);
  CHECK(c == 1);  // a throwing job does not kill its worker
}

TEST_CASE("the artifact store evicts least recently used entries by bytes", "[jobs]") {
  auto make = [](size_t floats) {
    io::NpzArchive a;
    a["x"] = io::Array::F32({int64_t(floats)}, std::vector<float>(floats, 1.0f));
    return std::make_shared<const io::NpzArchive>(std::move(a));
  };
  const size_t one = jobs::ArtifactStore::SizeOf(*make(1000));
  jobs::ArtifactStore store(3 * one);
  store.Put("a", make(1000));
  store.Put("b", make(1000));
  store.Put("c", make(1000));
  CHECK(store.Get("a"));  // a becomes most recent
  store.Put("d", make(1000));
  CHECK(store.Get("b") == nullptr);  // b was least recent
  CHECK(store.Get("a"));
  CHECK(store.Get("c"));
  CHECK(store.Get("d"));
  CHECK(store.bytes() <= 3 * one);
  store.Put("huge", make(100000));  // larger than the budget: kept alone
  CHECK(store.Get("huge"));
  CHECK(store.size() == 1);
}

TEST_CASE("Submit after Shutdown queues nothing and WaitIdle returns", "[jobs]") {
  jobs::JobSystem js(1);
  js.Shutdown();
  std::atomic<int> ran{0};
  CHECK_FALSE(js.Submit("late", jobs::Lane::Model, [&](const jobs::CancelToken&) { ++ran; }));
  CHECK(js.Pending() == 0);  // before the fix: 1, forever
  js.WaitIdle();             // and this never returned
  CHECK(ran == 0);
}

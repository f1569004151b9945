// Background jobs for the explorer. Four lanes: a serial model lane for the
// grokking panels' forward passes (an epoch's artifact), a worker pool for
// file reads and pure analyses over immutable arrays, a serial interactive
// lane for what the user is typing (a prompt through a language model), and
// a serial long lane for work that takes seconds to minutes (opening and
// categorising a language model, attention plasticity over a corpus), so
// that it never holds up a panel's next request. The model lane and the pool
// run at the lowered priority (they yield to a training run); the
// interactive and long lanes at the process's own, as a user waits on them. Jobs are submitted under a slot (one per panel):
// a newer job for the same slot replaces a pending one (latest wins) and
// cancels a running one, so dragging a slider across 100 epochs queues at
// most one job per panel. The UI thread never waits on a job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hs::jobs {

// Polled by long jobs; set when a newer job for the same slot arrives.
class CancelToken {
 public:
  CancelToken() : m_flag(std::make_shared<std::atomic<bool>>(false)) {}
  bool cancelled() const { return m_flag->load(); }
  void cancel() const { m_flag->store(true); }

 private:
  std::shared_ptr<std::atomic<bool>> m_flag;
};

enum class Lane { Model, Pool, Interactive, Long };

class JobSystem {
 public:
  using Task = std::function<void(const CancelToken&)>;

  // `nice_increment` > 0 lowers the model lane's and the pool's scheduling
  // priority (Linux nice), so that they take the cores only when a training
  // run leaves them.
  explicit JobSystem(int pool_threads = 1, int nice_increment = 0);
  ~JobSystem();  // Shutdown()
  // Cancels running jobs, drops pending ones and joins the workers. Call it
  // before destroying anything a job's closure refers to. Idempotent.
  void Shutdown();
  JobSystem(const JobSystem&) = delete;
  JobSystem& operator=(const JobSystem&) = delete;

  // Queues `task` under `slot` (latest wins). Returns false, and queues
  // nothing, after Shutdown(): the task would never run.
  bool Submit(const std::string& slot, Lane lane, Task task);
  void CancelSlot(const std::string& slot);

  bool ShutDown() const;
  int Pending() const;         // queued, not started
  int Running() const;
  uint64_t Submitted() const;  // since start
  uint64_t Executed() const;   // jobs that actually ran
  uint64_t Executed(const std::string& slot) const;  // jobs of `slot` that actually ran
  // Blocks until nothing is queued or running (tests, benchmarks, shutdown).
  void WaitIdle() const;

 private:
  struct Job {
    Task task;
    CancelToken token;
  };
  struct LaneState {
    std::deque<std::string> order;  // slots with a pending job, oldest first
    std::map<std::string, Job> pending;
    std::vector<std::thread> threads;
  };
  void Worker(LaneState& lane);
  // Drops the slot's pending job (either lane) and cancels its running one. Needs m_mu.
  void DropLocked(const std::string& slot);

  mutable std::mutex m_mu;
  mutable std::condition_variable m_cv, m_idle_cv;
  bool m_stop = false;
  LaneState m_model, m_pool, m_interactive, m_long;
  LaneState& LaneOf(Lane lane) {
    return lane == Lane::Model ? m_model : lane == Lane::Pool ? m_pool : lane == Lane::Interactive ? m_interactive : m_long;
  }
  std::map<std::string, CancelToken> m_running;  // slot -> token of its running job
  int m_running_count = 0;
  uint64_t m_submitted = 0, m_executed = 0;
  std::map<std::string, uint64_t> m_executed_by_slot;
};

}  // namespace hs::jobs

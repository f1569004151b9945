// Job system (see job_system.h).
#include "jobs/job_system.h"

#include <algorithm>

#include "jobs/thread_policy.h"

namespace hs::jobs {

JobSystem::JobSystem(int pool_threads, int nice_increment) {
  m_model.threads.emplace_back([this, nice_increment] {
    LowerThreadPriority(nice_increment);
    Worker(m_model);
  });
  for (LaneState* lane : {&m_interactive, &m_long}) lane->threads.emplace_back([this, lane] { Worker(*lane); });
  for (int i = 0; i < std::max(1, pool_threads); ++i)
    m_pool.threads.emplace_back([this, nice_increment] {
      LowerThreadPriority(nice_increment);
      Worker(m_pool);
    });
}

JobSystem::~JobSystem() { Shutdown(); }

void JobSystem::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_stop = true;
    for (auto& kv : m_running) kv.second.cancel();
    for (auto* lane : {&m_model, &m_pool, &m_interactive, &m_long}) {
      lane->pending.clear();
      lane->order.clear();
    }
  }
  m_cv.notify_all();
  m_idle_cv.notify_all();
  for (auto* lane : {&m_model, &m_pool, &m_interactive, &m_long}) {
    for (auto& t : lane->threads)
      if (t.joinable()) t.join();
    lane->threads.clear();
  }
}

bool JobSystem::Submit(const std::string& slot, Lane lane_id, Task task) {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    if (m_stop) return false;
    ++m_submitted;
    LaneState& lane = LaneOf(lane_id);
    DropLocked(slot);  // latest wins
    lane.pending[slot] = Job{std::move(task), CancelToken()};
    lane.order.push_back(slot);
  }
  m_cv.notify_all();
  return true;
}

bool JobSystem::ShutDown() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_stop;
}

void JobSystem::CancelSlot(const std::string& slot) {
  std::lock_guard<std::mutex> lock(m_mu);
  DropLocked(slot);
}

void JobSystem::DropLocked(const std::string& slot) {
  for (auto* l : {&m_model, &m_pool, &m_interactive, &m_long})
    if (l->pending.erase(slot)) l->order.erase(std::find(l->order.begin(), l->order.end(), slot));
  auto r = m_running.find(slot);
  if (r != m_running.end()) r->second.cancel();
}

void JobSystem::Worker(LaneState& lane) {
  for (;;) {
    std::string slot;
    Job job;
    bool run = false;  // decided once, under the lock: counted exactly when called
    {
      std::unique_lock<std::mutex> lock(m_mu);
      m_cv.wait(lock, [&] { return m_stop || !lane.order.empty(); });
      if (m_stop) return;
      // A slot already running on another worker waits its turn, so one
      // panel's results arrive in order.
      auto it = lane.order.begin();
      while (it != lane.order.end() && m_running.count(*it)) ++it;
      if (it == lane.order.end()) {
        m_cv.wait_for(lock, std::chrono::milliseconds(5));
        continue;
      }
      slot = *it;
      lane.order.erase(it);
      job = std::move(lane.pending.at(slot));
      lane.pending.erase(slot);
      m_running[slot] = job.token;
      ++m_running_count;
      // Counted as executed only when its task is called: a job cancelled
      // between leaving the queue and here never runs.
      run = !job.token.cancelled();
      if (run) ++m_executed, ++m_executed_by_slot[slot];
    }
    try {
      if (run) job.task(job.token);
    } catch (...) {
      // A job reports its own errors through its result; never kill the worker.
    }
    {
      std::lock_guard<std::mutex> lock(m_mu);
      m_running.erase(slot);
      --m_running_count;
    }
    m_cv.notify_all();
    m_idle_cv.notify_all();
  }
}

int JobSystem::Pending() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return int(m_model.pending.size() + m_pool.pending.size() + m_interactive.pending.size() + m_long.pending.size());
}
int JobSystem::Running() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_running_count;
}
uint64_t JobSystem::Submitted() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_submitted;
}
uint64_t JobSystem::Executed() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_executed;
}
uint64_t JobSystem::Executed(const std::string& slot) const {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_executed_by_slot.find(slot);
  return it == m_executed_by_slot.end() ? 0 : it->second;
}
void JobSystem::WaitIdle() const {
  std::unique_lock<std::mutex> lock(m_mu);
  m_idle_cv.wait(lock, [&] {
    return m_running_count == 0 && ((m_model.pending.empty() && m_pool.pending.empty() && m_interactive.pending.empty() &&
                                        m_long.pending.empty()) || m_stop);
  });
}

}  // namespace hs::jobs

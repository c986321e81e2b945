#include "store/writer.h"

#include <spdlog/spdlog.h>

#include "util/error.h"

namespace scalelock {
namespace {

std::string Describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

StoreWriter::StoreWriter(std::unique_ptr<Store> store) : store_(std::move(store)) {
  if (!store_) Fail(ErrorCode::kInternal, "StoreWriter needs an open store");
  thread_ = std::thread([this] { Loop(); });
}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  thread_.join();
  if (sticky_error_ && !sticky_reported_) {
    spdlog::error("store writer: closing '{}' with an unreported write error: {}",
                  store_->path(), Describe(sticky_error_));
  }
}

void StoreWriter::Post(Task task) {
  Enqueue(std::move(task), nullptr);
}

void StoreWriter::Flush() {
  uint64_t sequence;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sequence = posted_;
  }
  WaitFor(sequence);
  std::lock_guard<std::mutex> lock(mutex_);
  if (sticky_error_) {
    sticky_reported_ = true;
    std::rethrow_exception(sticky_error_);
  }
}

int64_t StoreWriter::commits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return commits_;
}

void StoreWriter::RunAndWait(Task task) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    task(*store_);
    return;
  }
  auto call = std::make_shared<CallState>();
  WaitFor(Enqueue(std::move(task), call));
  if (call->error) std::rethrow_exception(call->error);
}

uint64_t StoreWriter::Enqueue(Task task, std::shared_ptr<CallState> call) {
  uint64_t sequence;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) Fail(ErrorCode::kInternal, "StoreWriter: task posted after shutdown");
    sequence = ++posted_;
    queue_.push_back(Item{std::move(task), sequence, std::move(call)});
  }
  work_ready_.notify_one();
  return sequence;
}

void StoreWriter::WaitFor(uint64_t sequence) {
  std::unique_lock<std::mutex> lock(mutex_);
  work_done_.wait(lock, [&] { return finished_ >= sequence; });
}

void StoreWriter::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping and drained

    // Take everything queued so far; later posts wait for the next batch.
    std::deque<Item> batch;
    batch.swap(queue_);
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    finished_ = batch.back().sequence;
    work_done_.notify_all();
  }
}

void StoreWriter::RunBatch(std::deque<Item>& batch) {
  try {
    store_->Begin();
    for (Item& item : batch)
      item.task(*store_);
    store_->Commit();
    std::lock_guard<std::mutex> lock(mutex_);
    ++commits_;
    return;
  } catch (...) {
    spdlog::warn(
        "store writer: batch of {} tasks (sequence {}..{}) failed, retrying one by "
        "one: {}",
        batch.size(), batch.front().sequence, batch.back().sequence,
        Describe(std::current_exception()));
    RollbackQuietly();
  }
  for (Item& item : batch)
    RunAlone(item);
}

void StoreWriter::RunAlone(Item& item) {
  try {
    store_->Begin();
    item.task(*store_);
    store_->Commit();
    std::lock_guard<std::mutex> lock(mutex_);
    ++commits_;
    return;
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    RollbackQuietly();
    if (item.call) {
      item.call->error = error;
      return;
    }
    spdlog::error("store writer: task {} failed on '{}': {}", item.sequence,
                  store_->path(), Describe(error));
    std::lock_guard<std::mutex> lock(mutex_);
    if (!sticky_error_) sticky_error_ = error;
  }
}

void StoreWriter::RollbackQuietly() {
  if (!store_->InTransaction()) return;
  try {
    store_->Rollback();
  } catch (const std::exception& e) {
    spdlog::error("store writer: rollback on '{}' failed: {}", store_->path(), e.what());
  }
}

}  // namespace scalelock

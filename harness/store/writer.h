// StoreWriter: the one thread per process that writes to a read-write Store.
//
// Any thread may Post() a task. The writer thread takes every task queued so
// far and runs them in one BEGIN IMMEDIATE ... COMMIT, so many small writes
// share one fsync. When a task throws or the commit fails, the whole batch is
// rolled back, the error is logged, and each task is rerun alone in its own
// transaction, so one bad task cannot lose the others. A task may therefore run
// twice and must only touch the Store it is given.
//
// The first error of a posted task is kept (sticky) and rethrown by every later
// Flush(). Call() runs a task synchronously and returns its result or rethrows
// its own error to the caller instead; that error does not become sticky.
// All public methods are thread-safe. The destructor flushes and joins; it logs
// a sticky error that no Flush() has reported.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "store/store.h"

namespace scalelock {

class StoreWriter {
 public:
  using Task = std::function<void(Store&)>;

  // Takes ownership of a read-write store and starts the writer thread.
  explicit StoreWriter(std::unique_ptr<Store> store);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues a task and returns at once.
  void Post(Task task);

  // Blocks until every task posted before the call is committed or has failed,
  // then rethrows the sticky error, if any.
  void Flush();

  // Runs f(store) on the writer thread, waits until its batch is committed and
  // returns f's result; rethrows f's exception (or the commit's) here. Called on
  // the writer thread itself (from inside a task), it runs f directly.
  template <class F>
  auto Call(F f) -> std::invoke_result_t<F&, Store&> {
    using Result = std::invoke_result_t<F&, Store&>;
    if constexpr (std::is_void_v<Result>) {
      RunAndWait([&f](Store& store) { f(store); });
    } else {
      std::optional<Result> result;
      RunAndWait([&f, &result](Store& store) { result = f(store); });
      return std::move(*result);
    }
  }

  // Number of transactions committed so far (batches and single retries).
  int64_t commits() const;

 private:
  // A synchronous call's outcome, filled by the writer thread.
  struct CallState {
    std::exception_ptr error;
  };
  struct Item {
    Task task;
    uint64_t sequence = 0;            // position in posting order, from 1
    std::shared_ptr<CallState> call;  // null for Post()
  };

  void RunAndWait(Task task);
  uint64_t Enqueue(Task task, std::shared_ptr<CallState> call);
  void WaitFor(uint64_t sequence);
  void Loop();
  void RunBatch(std::deque<Item>& batch);
  void RunAlone(Item& item);
  void RollbackQuietly();

  std::unique_ptr<Store> store_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // signalled on Post and stop
  std::condition_variable work_done_;   // signalled after each batch
  std::deque<Item> queue_;
  uint64_t posted_ = 0;    // sequence of the last queued item
  uint64_t finished_ = 0;  // every item with sequence <= finished_ is done
  int64_t commits_ = 0;
  bool stopping_ = false;
  std::exception_ptr sticky_error_;
  bool sticky_reported_ = false;
  std::thread thread_;
};

}  // namespace scalelock

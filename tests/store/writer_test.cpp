#include "store/writer.h"

#include <catch2/catch.hpp>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/statement.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::MakeRecord;
using testing::TempDir;

struct Fixture {
  Fixture() {
    auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("writer", nlohmann::json::object());
    run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
    writer = std::make_unique<StoreWriter>(std::move(store));
  }

  // Posts a task that blocks the writer thread until Release(). Returns once
  // the writer runs it, so every later Post lands in the next batch.
  void HoldWriter() {
    std::promise<void> entered;
    std::future<void> entered_future = entered.get_future();
    std::shared_future<void> release = release_.get_future().share();
    writer->Post([entered = std::make_shared<std::promise<void>>(std::move(entered)),
                  release](Store&) mutable {
      if (entered) {
        entered->set_value();
        entered.reset();
      }
      release.wait();
    });
    entered_future.wait();
  }
  void Release() { release_.set_value(); }

  int64_t CountMetrics() {
    return writer->Call([](Store& store) {
      Statement count(store.handle(), "SELECT count(*) FROM metrics");
      count.Step();
      return count.ColumnInt(0);
    });
  }

  TempDir dir;
  int64_t run = 0;
  std::unique_ptr<StoreWriter> writer;
  std::promise<void> release_;
};

TEST_CASE("writer batches posts from 4 threads", "[store]") {
  Fixture fixture;
  fixture.HoldWriter();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&fixture, t] {
      for (int i = 0; i < 250; ++i) {
        MetricPoint point{"train_loss", t * 1000 + i, 1.0};
        int64_t run = fixture.run;
        fixture.writer->Post(
            [run, point](Store& store) { store.WriteMetrics(run, {point}); });
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  fixture.Release();
  fixture.writer->Flush();
  // One commit for the held batch and one for the 1000 queued posts.
  CHECK(fixture.writer->commits() == 2);
  CHECK(fixture.CountMetrics() == 1000);
}

TEST_CASE("writer keeps sticky error", "[store]") {
  Fixture fixture;
  int64_t run = fixture.run;
  fixture.HoldWriter();
  fixture.writer->Post([run](Store& store) { store.WriteMetrics(run, {{"a", 1, 1.0}}); });
  fixture.writer->Post([](Store&) { throw std::runtime_error("disk on fire"); });
  fixture.writer->Post([run](Store& store) { store.WriteMetrics(run, {{"a", 2, 1.0}}); });
  fixture.Release();
  CHECK_THROWS_WITH(fixture.writer->Flush(), "disk on fire");
  CHECK(fixture.CountMetrics() == 2);
  fixture.writer->Post([run](Store& store) { store.WriteMetrics(run, {{"a", 3, 1.0}}); });
  CHECK_THROWS_WITH(fixture.writer->Flush(), "disk on fire");
  CHECK(fixture.CountMetrics() == 3);
}

TEST_CASE("writer rolls back a failed task", "[store]") {
  Fixture fixture;
  int64_t run = fixture.run;
  fixture.writer->Post([run](Store& store) {
    store.WriteMetrics(run, {{"a", 1, 1.0}});
    throw std::runtime_error("after write");
  });
  CHECK_THROWS(fixture.writer->Flush());
  CHECK(fixture.CountMetrics() == 0);
}

TEST_CASE("writer Call returns and rethrows", "[store]") {
  Fixture fixture;
  int64_t run = fixture.run;
  CHECK(fixture.writer->Call(
      [run](Store& store) { return store.ClaimRun(run, "h", "v"); }));
  CHECK_FALSE(fixture.writer->Call(
      [run](Store& store) { return store.ClaimRun(run, "h", "v"); }));
  CHECK_THROWS_AS(fixture.writer->Call(
                      [](Store&) -> int { Fail(ErrorCode::kNotFound, "no such run"); }),
                  Error);
  CHECK_NOTHROW(fixture.writer->Flush());
}

TEST_CASE("writer destructor flushes", "[store]") {
  TempDir dir;
  std::string path = dir.File("db.sqlite");
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("d", nlohmann::json::object());
    int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
    StoreWriter writer(std::move(store));
    for (int64_t step = 0; step < 100; ++step) {
      writer.Post([run, step](Store& s) { s.WriteMetrics(run, {{"m", step, 0.5}}); });
    }
  }
  auto store = Store::Open(path, Store::Mode::kReadOnly);
  Statement count(store->handle(), "SELECT count(*) FROM metrics");
  REQUIRE(count.Step());
  CHECK(count.ColumnInt(0) == 100);
}

TEST_CASE("writers on two connections interleave", "[store]") {
  // Two writers on one file stand in for two processes: BEGIN IMMEDIATE and
  // the busy timeout must serialize them without losing a row.
  TempDir dir;
  std::string path = dir.File("db.sqlite");
  int64_t run = 0;
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("two", nlohmann::json::object());
    run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&path, run, w] {
      StoreWriter writer(Store::Open(path, Store::Mode::kReadWrite));
      for (int64_t step = 0; step < 300; ++step) {
        writer.Post([run, w, step](Store& s) {
          s.WriteMetrics(run, {{"m" + std::to_string(w), step, 1.0}});
        });
      }
      writer.Flush();
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  auto store = Store::Open(path, Store::Mode::kReadOnly);
  Statement count(store->handle(), "SELECT count(*) FROM metrics");
  REQUIRE(count.Step());
  CHECK(count.ColumnInt(0) == 600);
}

}  // namespace
}  // namespace scalelock

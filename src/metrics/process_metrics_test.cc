#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"

namespace ptserve::metrics {
namespace {

namespace fs = std::filesystem;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(ProcessMetricsTest, RealProcessIsPlausible) {
  // Burn a little CPU so cpu_seconds is above zero at 10 ms tick resolution.
  volatile double x = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  while (std::chrono::steady_clock::now() < until) x = x + 1;
  std::thread idle([] { std::this_thread::sleep_for(std::chrono::milliseconds(200)); });

  absl::StatusOr<ProcessStats> s = ReadProcessStats();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->cpu_seconds, 0);
  EXPECT_LT(s->cpu_seconds, 3600);
  EXPECT_GT(s->resident_memory_bytes, 1 << 20);
  EXPECT_LT(s->resident_memory_bytes, 16.0 * (1ull << 30));
  EXPECT_GE(s->virtual_memory_bytes, s->resident_memory_bytes);
  EXPECT_GE(s->threads, 2);  // this one and `idle`
  EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr (when run by ctest)
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur != RLIM_INFINITY) {
    EXPECT_EQ(s->max_fds, static_cast<double>(limit.rlim_cur));
  }
  // Started within the last hour, not in the future (1 s slack for tick rounding).
  EXPECT_LE(s->start_time_seconds, Now() + 1);
  EXPECT_GT(s->start_time_seconds, Now() - 3600);
  idle.join();
}

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ptserve-proc-" + std::to_string(getpid()));
    fs::create_directories(root_ / "self" / "fd");
    for (const char* fd : {"0", "1", "2", "7"}) std::ofstream(root_ / "self" / "fd" / fd) << "";
    paths_.self = (root_ / "self").string();
    paths_.stat = (root_ / "stat").string();
    std::ofstream(root_ / "stat") << "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
    std::ofstream(root_ / "self" / "limits")
        << "Limit                     Soft Limit           Hard Limit           Units\n"
           "Max open files            1024                 4096                 files\n";
  }
  void TearDown() override { fs::remove_all(root_); }
  void WriteStat(const std::string& text) { std::ofstream(root_ / "self" / "stat") << text; }

  fs::path root_;
  ProcPaths paths_;
};

TEST_F(FakeProc, ParsesStatFieldsEvenWithAWeirdCommandName) {
  const double ticks = sysconf(_SC_CLK_TCK);
  const double page = sysconf(_SC_PAGESIZE);
  // Fields: 1 pid, 2 comm, 3 state, 4..13, 14 utime, 15 stime, 16..19, 20 threads, 21,
  // 22 starttime, 23 vsize, 24 rss.
  WriteStat("42 (a b) (c)) S 1 2 3 4 5 6 7 8 9 10 " + std::to_string(int(3 * ticks)) + " " +
            std::to_string(int(ticks / 2)) + " 0 0 20 0 9 0 " + std::to_string(int(100 * ticks)) +
            " 123456789 1000 18446744073709551615\n");
  absl::StatusOr<ProcessStats> s = ReadProcessStats(paths_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.5);
  EXPECT_EQ(s->threads, 9);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700000100);
  EXPECT_EQ(s->virtual_memory_bytes, 123456789);
  EXPECT_EQ(s->resident_memory_bytes, 1000 * page);
  EXPECT_EQ(s->open_fds, 4);
  EXPECT_EQ(s->max_fds, 1024);
}

TEST_F(FakeProc, ErrorsNameTheFile) {
  absl::StatusOr<ProcessStats> s = ReadProcessStats(paths_);  // no stat file
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("/self/stat"), std::string::npos);
  WriteStat("42 (x) S 1 2\n");
  s = ReadProcessStats(paths_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("cannot parse"), std::string::npos);
}

TEST(ProcessMetricsTest, RegistersTheStandardNames) {
  Registry registry;
  {
    std::unique_ptr<ProcessMetrics> m = ProcessMetrics::Register(registry);
    const std::string text = registry.Scrape();
    for (const char* line :
         {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
          "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
          "# TYPE process_max_fds gauge\n", "# TYPE process_threads gauge\n",
          "# TYPE process_start_time_seconds gauge\n"}) {
      EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    }
    EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  }
  EXPECT_EQ(registry.Scrape(), "");  // gone with the ProcessMetrics
}

}  // namespace
}  // namespace ptserve::metrics

// CgroupCpuLimit parses the CFS quota files of cgroup v2 and v1 (written here
// into a scratch directory shaped like /sys/fs/cgroup); AvailableCpus stays
// within what the machine has.
#include "core/util/cpu.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace llm {
namespace {

namespace fs = std::filesystem;

class CgroupDir {
 public:
  CgroupDir() {
    path_ = fs::temp_directory_path() / ("llm_cpu_test_" + std::to_string(getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~CgroupDir() { fs::remove_all(path_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(CgroupCpuLimitTest, V2QuotaIsRoundedUp) {
  CgroupDir d;
  d.Write("cpu.max", "200000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), 2);
  d.Write("cpu.max", "150000 100000\n");  // 1.5 CPUs: 2 threads can use them
  EXPECT_EQ(CgroupCpuLimit(d.path()), 2);
  d.Write("cpu.max", "50000 100000\n");  // half a CPU: still one thread
  EXPECT_EQ(CgroupCpuLimit(d.path()), 1);
}

TEST(CgroupCpuLimitTest, V2WithoutLimitOrBadContentIsNoLimit) {
  CgroupDir d;
  d.Write("cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
  d.Write("cpu.max", "abc 100000\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
  d.Write("cpu.max", "200000\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
  d.Write("cpu.max", "200000 0\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
}

TEST(CgroupCpuLimitTest, V1QuotaAndPeriodFiles) {
  CgroupDir d;
  d.Write("cpu/cpu.cfs_quota_us", "300000\n");
  d.Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuLimit(d.path()), 3);
  d.Write("cpu/cpu.cfs_quota_us", "-1\n");  // no quota
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
}

TEST(CgroupCpuLimitTest, MissingFilesAreNoLimit) {
  CgroupDir d;
  EXPECT_EQ(CgroupCpuLimit(d.path()), std::nullopt);
  EXPECT_EQ(CgroupCpuLimit(d.path() + "/does_not_exist"), std::nullopt);
}

TEST(AvailableCpusTest, AtLeastOneAndAtMostTheMachine) {
  const int cpus = AvailableCpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  // This machine's own limit, when it has one, is respected.
  if (const auto limit = CgroupCpuLimit(); limit.has_value()) {
    EXPECT_LE(cpus, *limit);
  }
}

}  // namespace
}  // namespace llm

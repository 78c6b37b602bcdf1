#include "core/util/cpu.h"

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <thread>

namespace llm {
namespace {

// ceil(quota / period) when both are positive.
std::optional<int> CpusFromQuota(int64_t quota, int64_t period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<int>(std::max<int64_t>(1, (quota + period - 1) / period));
}

}  // namespace

std::optional<int> CgroupCpuLimit(const std::string& cgroup_root) {
  // cgroup v2: one file, "<quota|max> <period>".
  if (std::ifstream v2(cgroup_root + "/cpu.max"); v2) {
    std::string quota;
    int64_t period = 0;
    if (!(v2 >> quota >> period) || quota == "max") return std::nullopt;
    int64_t q = 0;
    std::istringstream qs(quota);
    if (!(qs >> q) || !qs.eof()) return std::nullopt;
    return CpusFromQuota(q, period);
  }
  // cgroup v1: separate quota and period files under the cpu controller.
  std::ifstream quota_file(cgroup_root + "/cpu/cpu.cfs_quota_us");
  std::ifstream period_file(cgroup_root + "/cpu/cpu.cfs_period_us");
  int64_t quota = 0, period = 0;
  if (!(quota_file >> quota) || !(period_file >> period)) return std::nullopt;
  return CpusFromQuota(quota, period);
}

int AvailableCpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (const std::optional<int> limit = CgroupCpuLimit(); limit.has_value()) cpus = std::min(cpus, *limit);
  return std::max(cpus, 1);
}

}  // namespace llm

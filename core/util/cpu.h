// How many CPUs this process may actually use.
//
// std::thread::hardware_concurrency() counts the machine's CPUs. In a
// container limited with `cpus: "2"` (docker/compose) or a Kubernetes CPU
// limit, the kernel enforces a CFS quota instead, and a server that sizes its
// thread pools by the host's 64 cores oversubscribes its 2 CPUs.
#ifndef LLM_CORE_UTIL_CPU_H_
#define LLM_CORE_UTIL_CPU_H_

#include <optional>
#include <string>

namespace llm {

// CPUs allowed by the CFS quota of the cgroup mounted at `cgroup_root`
// (normally /sys/fs/cgroup), rounded up: cgroup v2 `cpu.max` ("200000 100000"
// = 2; "max 100000" = no limit) or cgroup v1 `cpu/cpu.cfs_quota_us` /
// `cpu/cpu.cfs_period_us` (quota -1 = no limit). nullopt when there is no
// limit or the files are missing or unreadable.
std::optional<int> CgroupCpuLimit(const std::string& cgroup_root = "/sys/fs/cgroup");

// min(CPUs in this thread's affinity mask, CgroupCpuLimit()), at least 1.
// Falls back to hardware_concurrency() when the affinity cannot be read.
int AvailableCpus();

}  // namespace llm

#endif  // LLM_CORE_UTIL_CPU_H_

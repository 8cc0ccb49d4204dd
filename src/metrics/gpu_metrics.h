// GPU metrics through NVML, loaded at run time with dlopen: no link
// dependency, and on a machine without libnvidia-ml.so.1 (or without a GPU)
// there are simply no GPU metrics.
//
//   ptserve_gpu_utilization_ratio{gpu="0",uuid="GPU-..."}    0..1, busy time
//   ptserve_gpu_memory_used_bytes{gpu="0",uuid="GPU-..."}
//   ptserve_gpu_memory_total_bytes{gpu="0",uuid="GPU-..."}
//
//   auto gpus = metrics::GpuMetrics::Register(registry);  // null: no NVML / no GPU
//
// (Triton's nv_gpu_utilization and nv_gpu_memory_used_bytes, in base units.)
#ifndef PTSERVE_METRICS_GPU_METRICS_H_
#define PTSERVE_METRICS_GPU_METRICS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"

namespace ptserve::metrics {

// A dlopen'ed NVML. Thread-safe (NVML is).
class Nvml {
 public:
  // Null when the library is absent, lacks a symbol, or nvmlInit fails.
  static std::unique_ptr<Nvml> Load(const char* library = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose

  struct Device {
    int index;
    std::string uuid;
  };
  const std::vector<Device>& devices() const { return devices_; }

  struct Sample {
    double utilization_ratio = 0;
    double memory_used_bytes = 0;
    double memory_total_bytes = 0;
  };
  // Empty when NVML answers with an error (e.g. the GPU fell off the bus).
  std::optional<Sample> Read(int index) const;

 private:
  struct Api;
  Nvml(void* handle, std::unique_ptr<Api> api);

  void* handle_;
  std::unique_ptr<Api> api_;
  std::vector<Device> devices_;
};

// Owns the ptserve_gpu_* series; they disappear when it is destroyed.
class GpuMetrics {
 public:
  // Null (and nothing registered) when NVML is unavailable or sees no GPU.
  // `registry` must outlive the returned object; call at most once per registry.
  static std::unique_ptr<GpuMetrics> Register(Registry& registry,
                                              const char* library = "libnvidia-ml.so.1");
  size_t gpu_count() const { return nvml_->devices().size(); }

 private:
  explicit GpuMetrics(std::unique_ptr<Nvml> nvml) : nvml_(std::move(nvml)) {}
  std::unique_ptr<Nvml> nvml_;
  std::vector<Registration> registrations_;  // destroyed before nvml_
};

}  // namespace ptserve::metrics

#endif  // PTSERVE_METRICS_GPU_METRICS_H_

#include "metrics/gpu_metrics.h"

#include <dlfcn.h>

#include <cmath>

namespace ptserve::metrics {
namespace {

// The few NVML declarations used (nvml.h is not installed on CPU machines).
// These signatures are stable across NVML versions.
using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of time a kernel was running
  unsigned int memory;  // percent of time memory was read or written
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned int kUuidBytes = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  nvmlReturn_t (*device_count)(unsigned int*);
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int);
};

std::unique_ptr<Nvml> Nvml::Load(const char* library) {
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return nullptr;
  auto api = std::make_unique<Api>();
  bool ok = true;
  auto bind = [&](auto& fn, const char* name) {
    void* sym = dlsym(handle, name);
    if (sym == nullptr) ok = false;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
  };
  bind(api->init, "nvmlInit_v2");
  bind(api->shutdown, "nvmlShutdown");
  bind(api->device_count, "nvmlDeviceGetCount_v2");
  bind(api->handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
  bind(api->utilization, "nvmlDeviceGetUtilizationRates");
  bind(api->memory, "nvmlDeviceGetMemoryInfo");
  bind(api->uuid, "nvmlDeviceGetUUID");
  if (!ok || api->init() != kNvmlSuccess) {
    dlclose(handle);
    return nullptr;
  }
  std::unique_ptr<Nvml> nvml(new Nvml(handle, std::move(api)));
  unsigned int count = 0;
  if (nvml->api_->device_count(&count) != kNvmlSuccess) count = 0;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device;
    char uuid[kUuidBytes] = {0};
    if (nvml->api_->handle_by_index(i, &device) != kNvmlSuccess) continue;
    if (nvml->api_->uuid(device, uuid, kUuidBytes) != kNvmlSuccess) uuid[0] = '\0';
    nvml->devices_.push_back({static_cast<int>(i), uuid});
  }
  return nvml;
}

Nvml::Nvml(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  api_->shutdown();
  dlclose(handle_);
}

std::optional<Nvml::Sample> Nvml::Read(int index) const {
  nvmlDevice_t device;
  nvmlUtilization_t utilization;
  nvmlMemory_t memory;
  if (api_->handle_by_index(static_cast<unsigned int>(index), &device) != kNvmlSuccess ||
      api_->utilization(device, &utilization) != kNvmlSuccess ||
      api_->memory(device, &memory) != kNvmlSuccess) {
    return std::nullopt;
  }
  return Sample{utilization.gpu / 100.0, static_cast<double>(memory.used),
                static_cast<double>(memory.total)};
}

std::unique_ptr<GpuMetrics> GpuMetrics::Register(Registry& registry, const char* library) {
  std::unique_ptr<Nvml> nvml = Nvml::Load(library);
  if (nvml == nullptr || nvml->devices().empty()) return nullptr;
  std::unique_ptr<GpuMetrics> m(new GpuMetrics(std::move(nvml)));
  const Nvml* n = m->nvml_.get();
  GaugeFamily& utilization = registry.AddGauge(
      "ptserve_gpu_utilization_ratio",
      "Fraction of the last sample period (NVML, about 1 s) during which a kernel ran on the GPU.",
      {"gpu", "uuid"});
  GaugeFamily& used = registry.AddGauge("ptserve_gpu_memory_used_bytes",
                                        "GPU memory in use, by every process.", {"gpu", "uuid"});
  GaugeFamily& total =
      registry.AddGauge("ptserve_gpu_memory_total_bytes", "GPU memory in total.", {"gpu", "uuid"});
  for (const Nvml::Device& d : n->devices()) {
    const std::vector<std::string> labels = {std::to_string(d.index), d.uuid};
    auto read = [n, index = d.index](double Nvml::Sample::*field) {
      return [n, index, field] {
        std::optional<Nvml::Sample> s = n->Read(index);
        return s ? (*s).*field : std::nan("");
      };
    };
    m->registrations_.push_back(
        utilization.AddCallback(labels, read(&Nvml::Sample::utilization_ratio)));
    m->registrations_.push_back(used.AddCallback(labels, read(&Nvml::Sample::memory_used_bytes)));
    m->registrations_.push_back(
        total.AddCallback(labels, read(&Nvml::Sample::memory_total_bytes)));
  }
  return m;
}

}  // namespace ptserve::metrics

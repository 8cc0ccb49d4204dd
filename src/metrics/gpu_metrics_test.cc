#include "metrics/gpu_metrics.h"

#include "gtest/gtest.h"

namespace ptserve::metrics {
namespace {

TEST(GpuMetricsTest, AbsentLibraryMeansNoGpuMetrics) {
  EXPECT_EQ(Nvml::Load("libptserve-no-such-nvml.so.1"), nullptr);
  Registry registry;
  EXPECT_EQ(GpuMetrics::Register(registry, "libptserve-no-such-nvml.so.1"), nullptr);
  EXPECT_EQ(registry.Scrape(), "");
}

TEST(GpuMetricsTest, ALibraryWithoutNvmlSymbolsIsRejected) {
  // libm loads but has no nvmlInit_v2.
  EXPECT_EQ(Nvml::Load("libm.so.6"), nullptr);
}

// Runs only where a GPU and its driver are present (skipped on CPU machines).
TEST(GpuMetricsTest, RealNvmlWhenPresent) {
  std::unique_ptr<Nvml> nvml = Nvml::Load();
  if (nvml == nullptr || nvml->devices().empty()) GTEST_SKIP() << "no NVML or no GPU here";
  for (const Nvml::Device& d : nvml->devices()) {
    std::optional<Nvml::Sample> s = nvml->Read(d.index);
    ASSERT_TRUE(s.has_value()) << d.index;
    EXPECT_GE(s->utilization_ratio, 0);
    EXPECT_LE(s->utilization_ratio, 1);
    EXPECT_GT(s->memory_total_bytes, 0);
    EXPECT_LE(s->memory_used_bytes, s->memory_total_bytes);
    EXPECT_EQ(d.uuid.rfind("GPU-", 0), 0u) << d.uuid;
  }
  nvml.reset();
  Registry registry;
  std::unique_ptr<GpuMetrics> gpus = GpuMetrics::Register(registry);
  ASSERT_NE(gpus, nullptr);
  const std::string text = registry.Scrape();
  EXPECT_NE(text.find("ptserve_gpu_utilization_ratio{gpu=\"0\",uuid=\"GPU-"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ptserve_gpu_memory_used_bytes{gpu=\"0\""), std::string::npos);
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  std::printf("%s", text.c_str());
}

}  // namespace
}  // namespace ptserve::metrics

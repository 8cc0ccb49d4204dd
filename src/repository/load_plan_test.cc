// LoadPlan: the version policies, the config's translation into scheduler
// options and instance placements, and PlanModel's errors; no backend.
#include "repository/load_plan.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::ModelVersionPolicy Policy(const std::string& text) {
  config::ModelConfig c = ParseModelConfig(text, "test").value().config;
  return c.version_policy();
}

TEST(SelectVersionsTest, LatestByDefault) {
  EXPECT_THAT(SelectVersions(config::ModelVersionPolicy(), {1, 2, 7}, "f").value(), ElementsAre(7));
  EXPECT_TRUE(SelectVersions(config::ModelVersionPolicy(), {}, "f").value().empty());
}

TEST(SelectVersionsTest, LatestN) {
  const auto two = Policy("version_policy { latest { num_versions: 2 } }");
  EXPECT_THAT(SelectVersions(two, {1, 2, 7}, "f").value(), ElementsAre(2, 7));
  EXPECT_THAT(SelectVersions(two, {3}, "f").value(), ElementsAre(3));
  const auto zero = Policy("version_policy { latest { num_versions: 0 } }");
  EXPECT_THAT(SelectVersions(zero, {1, 2}, "f").value(), ElementsAre(2));  // at least one
}

TEST(SelectVersionsTest, All) {
  EXPECT_THAT(SelectVersions(Policy("version_policy { all { } }"), {1, 2, 7}, "f").value(),
              ElementsAre(1, 2, 7));
}

TEST(SelectVersionsTest, SpecificVersionsMustExist) {
  const auto specific = Policy("version_policy { specific { versions: [7, 1, 7] } }");
  EXPECT_THAT(SelectVersions(specific, {1, 2, 7}, "f").value(), ElementsAre(1, 7));
  auto missing = SelectVersions(specific, {1, 2}, "models/m/config.pbtxt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("models/m/config.pbtxt"));
  EXPECT_THAT(missing.status().message(), HasSubstr("version 7"));
}

class PlanModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ptserve-plan-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  fs::path root_;
};

TEST_F(PlanModelTest, VersionDirectoriesAreNumbersAboveZero) {
  for (const char* d : {"1", "10", "2", "0", "-3", "x", "003"})
    fs::create_directories(root_ / "m" / d);
  Write(root_ / "m" / "5", "a file, not a directory");
  EXPECT_THAT(VersionDirs((root_ / "m").string()), ElementsAre(1, 2, 3, 10));
  EXPECT_TRUE(VersionDirs((root_ / "absent").string()).empty());
}

TEST_F(PlanModelTest, NoConfigMeansTritonsDefaults) {
  fs::create_directories(root_ / "m" / "1");
  fs::create_directories(root_ / "m" / "2");
  LoadPlan plan = PlanModel(root_.string(), "m", std::nullopt).value();
  EXPECT_EQ(plan.config.name(), "m");
  EXPECT_THAT(plan.versions, ElementsAre(2));
  EXPECT_TRUE(plan.inputs.empty());
  ASSERT_FALSE(plan.warnings.empty());
  EXPECT_THAT(plan.warnings[0], HasSubstr("no config.pbtxt"));
}

TEST_F(PlanModelTest, Errors) {
  EXPECT_EQ(PlanModel(root_.string(), "absent", std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
  fs::create_directories(root_ / "empty");
  auto no_version = PlanModel(root_.string(), "empty", std::nullopt);
  EXPECT_EQ(no_version.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_version.status().message(), HasSubstr("no version directory"));
  Write(root_ / "named" / "config.pbtxt", "name: \"other\"");
  fs::create_directories(root_ / "named" / "1");
  auto mismatch = PlanModel(root_.string(), "named", std::nullopt);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not match the directory"));
  Write(root_ / "bad" / "config.pbtxt", "max_batch_size: -4");
  fs::create_directories(root_ / "bad" / "1");
  auto bad = PlanModel(root_.string(), "bad", std::nullopt);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("config.pbtxt"));
}

TEST_F(PlanModelTest, AnOverrideReplacesTheFile) {
  Write(root_ / "m" / "config.pbtxt", "max_batch_size: 4");
  fs::create_directories(root_ / "m" / "1");
  config::ModelConfig override_config;
  override_config.set_max_batch_size(16);
  LoadPlan plan = PlanModel(root_.string(), "m", override_config).value();
  EXPECT_EQ(plan.config.max_batch_size(), 16);
  EXPECT_EQ(plan.config_file, "config override for 'm'");
}

TEST_F(PlanModelTest, ARouterHasNoVersions) {
  Write(root_ / "ab" / "config.pbtxt", R"pb(
    routing {
      variant { name: "a" model: "a" weight: 1 }
      variant { name: "b" model: "b" weight: 1 }
    }
  )pb");
  auto plan = PlanModel(root_.string(), "ab", std::nullopt);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->versions.empty());
}

TensorSpec Named(const std::string& name) {
  TensorSpec spec;
  spec.name = name;
  return spec;
}

LoadPlan PlanOf(const std::string& text) {
  LoadPlan plan;
  plan.config = ParseModelConfig(text, "test").value().config;
  plan.params = ParseModelParameters(plan.config).value();
  return plan;
}

TEST(MakeSchedulerOptionsTest, DynamicBatchingAndQueuePolicy) {
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    max_batch_size: 8
    dynamic_batching {
      preferred_batch_size: [ 4, 8 ]
      max_queue_delay_microseconds: 250
      preserve_ordering: true
      priority_levels: 2
      default_priority_level: 1
      default_queue_policy {
        max_queue_size: 7
        default_timeout_microseconds: 900
        timeout_action: DELAY
      }
    }
  )pb");
  const std::vector<TensorSpec> in{Named("a"), Named("b")};
  SchedulerOptions o = MakeSchedulerOptions(plan, in, {Named("y")}, 1024);
  EXPECT_EQ(o.name, "m");
  EXPECT_EQ(o.max_batch_size, 8);
  EXPECT_TRUE(o.dynamic_batching);
  EXPECT_THAT(o.preferred_batch_sizes, ElementsAre(4, 8));
  EXPECT_EQ(o.max_queue_delay_us, 250);
  EXPECT_TRUE(o.preserve_ordering);
  EXPECT_EQ(o.priority_levels, 2);
  EXPECT_EQ(o.default_priority_level, 1);
  EXPECT_EQ(o.max_queue_size, 7u);
  EXPECT_EQ(o.default_timeout_us, 900);
  EXPECT_FALSE(o.allow_timeout_override);
  EXPECT_TRUE(o.timeout_delays);
  EXPECT_THAT(o.input_names, ElementsAre("a", "b"));
}

TEST(MakeSchedulerOptionsTest, Defaults) {
  SchedulerOptions o = MakeSchedulerOptions(PlanOf("name: \"m\""), {Named("x")}, {}, 1024);
  EXPECT_FALSE(o.dynamic_batching);
  EXPECT_EQ(o.max_batch_size, 0);
  EXPECT_EQ(o.max_queue_size, 1024u);
  EXPECT_EQ(o.default_timeout_us, 0);
  ASSERT_EQ(o.padding.size(), 1u);
  EXPECT_FALSE(o.padding[0].enabled);
}

TEST(MakeSchedulerOptionsTest, PaddingAndTrimmingByName) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "protobuf map fields under TSan (see model_repository_test.cc)";
#endif
  LoadPlan plan = PlanOf(R"pb(
    name: "m"
    max_batch_size: 4
    input {
      name: "ids"
      data_type: TYPE_INT64
      dims: [ -1 ]
    }
    input {
      name: "other"
      data_type: TYPE_FP32
      dims: [ 2 ]
    }
    input {
      name: "mask"
      data_type: TYPE_INT64
      dims: [ -1 ]
    }
    output {
      name: "pooled"
      data_type: TYPE_FP32
      dims: [ 2 ]
    }
    output {
      name: "logits"
      data_type: TYPE_FP32
      dims: [ -1 ]
    }
    parameters {
      key: "PAD_INPUTS"
      value: { string_value: "mask:0,ids:1" }
    }
    parameters {
      key: "TRIM_OUTPUTS"
      value: { string_value: "logits" }
    }
  )pb");
  const std::vector<TensorSpec> in{Named("ids"), Named("other"), Named("mask")};
  const std::vector<TensorSpec> out{Named("pooled"), Named("logits")};
  SchedulerOptions o = MakeSchedulerOptions(plan, in, out, 1024);
  ASSERT_EQ(o.padding.size(), 3u);
  EXPECT_TRUE(o.padding[0].enabled);
  EXPECT_EQ(o.padding[0].value, 1);
  EXPECT_FALSE(o.padding[1].enabled);
  EXPECT_TRUE(o.padding[2].enabled);
  EXPECT_EQ(o.padding[2].value, 0);
  EXPECT_THAT(o.trim_outputs, ElementsAre(1));
}

TEST(InstancePlacementsTest, OneCpuInstanceByDefault) {
  auto p = InstancePlacements(PlanOf("name: \"m\""), 4);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].device, "cpu");
  EXPECT_EQ(p[0].intra_op_threads, 4);
}

TEST(InstancePlacementsTest, GroupsShareTheCpus) {
  auto p = InstancePlacements(PlanOf(R"pb(
                                name: "m"
                                instance_group { count: 2 kind: KIND_CPU }
                                instance_group {
                                  count: 0
                                  kind: KIND_GPU
                                  gpus: [ 1, 3 ]
                                }
                              )pb"),
                              8);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].device, "cpu");
  EXPECT_EQ(p[1].device, "cpu");
  EXPECT_EQ(p[2].device, "cuda:1");
  EXPECT_EQ(p[3].device, "cuda:3");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(p[i].index, i);
    EXPECT_EQ(p[i].intra_op_threads, 2);
  }
  EXPECT_EQ(
      InstancePlacements(PlanOf("name: \"m\" instance_group { count: 3 }"), 2)[0].intra_op_threads,
      1);  // at least one each
  auto gpu = InstancePlacements(PlanOf("name: \"m\" instance_group { kind: KIND_GPU }"), 2);
  ASSERT_EQ(gpu.size(), 1u);
  EXPECT_EQ(gpu[0].device, "cuda:0");
}

TEST(InstancePlacementsTest, IntraOpThreadCountParameter) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "protobuf map fields under TSan (see model_repository_test.cc)";
#endif
  auto p = InstancePlacements(PlanOf(R"pb(
                                name: "m"
                                instance_group { count: 2 }
                                parameters {
                                  key: "INTRA_OP_THREAD_COUNT"
                                  value: { string_value: "3" }
                                }
                              )pb"),
                              2);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].intra_op_threads, 3);
}

}  // namespace
}  // namespace ptserve

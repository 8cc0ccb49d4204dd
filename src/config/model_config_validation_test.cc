#include "config/model_config_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/model_config.h"
#include "config/test_configs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::ptserve::testing::kTritonPytorchConfig;
using ::testing::HasSubstr;

constexpr char kFile[] = "models/mlp/config.pbtxt";

ParsedModelConfig MustParse(std::string_view text) {
  absl::StatusOr<ParsedModelConfig> parsed = ParseModelConfig(text, kFile);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : ParsedModelConfig{};
}

// Parses `text` (which must parse) and validates it.
absl::Status Validate(std::string_view text) {
  return ValidateModelConfig(MustParse(text).config, kFile);
}

// The realistic config with `from` replaced by `to` (which must occur).
std::string Edit(absl::string_view from, absl::string_view to) {
  std::string text(kTritonPytorchConfig);
  EXPECT_THAT(text, HasSubstr(from));
  return absl::StrReplaceAll(text, {{from, to}});
}

MATCHER_P(IsInvalidArgument, substring, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         ::testing::ExplainMatchResult(HasSubstr(substring), std::string(arg.message()),
                                       result_listener);
}

TEST(ValidateModelConfigTest, TritonPytorchConfigIsValid) {
  EXPECT_TRUE(Validate(kTritonPytorchConfig).ok()) << Validate(kTritonPytorchConfig);
}

// Proto3 enums are open: the text format takes an integer outside the enum.
// Validation must catch it.
TEST(ValidateModelConfigTest, OutOfRangeEnumNumberParsesButFailsValidation) {
  EXPECT_THAT(Validate(Edit("data_type: TYPE_FP32\n    dims: [ -1, 784 ]",
                            "data_type: 99\n    dims: [ -1, 784 ]")),
              IsInvalidArgument("input[0].data_type: input 'INPUT__0': unknown data_type 99"));
  EXPECT_THAT(Validate(Edit("kind: KIND_GPU", "kind: 7")),
              IsInvalidArgument("instance_group[0].kind"));
}


TEST(ValidateModelConfigTest, EmptyConfigIsValid) {
  EXPECT_TRUE(ValidateModelConfig(config::ModelConfig(), kFile).ok());
}

TEST(ValidateModelConfigTest, Platform) {
  EXPECT_TRUE(Validate("platform: \"torchscript\"").ok());
  EXPECT_THAT(Validate("platform: \"onnxruntime_onnx\""),
              IsInvalidArgument("models/mlp/config.pbtxt: platform: 'onnxruntime_onnx'"));
  EXPECT_THAT(Validate("backend: \"python\""), IsInvalidArgument("backend: 'python'"));
}

TEST(ValidateModelConfigTest, MaxBatchSize) {
  EXPECT_THAT(Validate("max_batch_size: -1"), IsInvalidArgument("max_batch_size: must be >= 0"));
}

TEST(ValidateModelConfigTest, Dims) {
  EXPECT_THAT(Validate(Edit("dims: [ -1, 784 ]", "dims: [ 0, 784 ]")),
              IsInvalidArgument("models/mlp/config.pbtxt: input[0].dims[0]: input 'INPUT__0': "
                                "dimension must be >= 1 or -1, got 0"));
  EXPECT_THAT(Validate(Edit("dims: [ -1, 784 ]", "dims: [ -1, -2 ]")),
              IsInvalidArgument("input[0].dims[1]: input 'INPUT__0'"));
  EXPECT_THAT(Validate(Edit("dims: [ -1, 10 ]", "dims: [ 10, 0 ]")),
              IsInvalidArgument("output[0].dims[1]: output 'OUTPUT__0'"));
  EXPECT_THAT(Validate(Edit("dims: [ -1, 784 ]", "dims: []")),
              IsInvalidArgument("input[0].dims: input 'INPUT__0': must specify dims"));
}

TEST(ValidateModelConfigTest, Names) {
  EXPECT_THAT(Validate(Edit("name: \"INPUT__0\"", "name: \"\"")),
              IsInvalidArgument("input[0].name: must not be empty"));
  EXPECT_THAT(Validate(Edit("name: \"OUTPUT__0\"", "name: \"\"")),
              IsInvalidArgument("output[0].name: must not be empty"));
  EXPECT_THAT(Validate(absl::StrCat(
                  kTritonPytorchConfig,
                  "input { name: \"INPUT__0\" data_type: TYPE_FP32 dims: [1] }")),
              IsInvalidArgument("input[1].name: duplicate input name 'INPUT__0'"));
  EXPECT_THAT(Validate(absl::StrCat(
                  kTritonPytorchConfig,
                  "output { name: \"OUTPUT__0\" data_type: TYPE_FP32 dims: [1] }")),
              IsInvalidArgument("output[1].name: duplicate output name"));
}

TEST(ValidateModelConfigTest, DataTypeMustBeSet) {
  EXPECT_THAT(Validate("output { name: \"y\" dims: [1] }"),
              IsInvalidArgument("output[0].data_type: output 'y': data_type must be set"));
  EXPECT_THAT(Validate("input { name: \"x\" data_type: TYPE_INVALID dims: [1] }"),
              IsInvalidArgument("input[0].data_type"));
}

TEST(ValidateModelConfigTest, Reshape) {
  auto with_reshape = [](absl::string_view dims, absl::string_view shape) {
    return Validate(absl::StrCat("input { name: \"x\" data_type: TYPE_FP32 dims: ", dims,
                                 " reshape { shape: ", shape, " } }"));
  };
  EXPECT_TRUE(with_reshape("[2, 6]", "[3, 4]").ok());
  EXPECT_TRUE(with_reshape("[1]", "[]").ok());
  EXPECT_TRUE(with_reshape("[-1, 6]", "[3, 4]").ok());  // not fully known: not checked
  EXPECT_THAT(with_reshape("[2, 6]", "[5, 2]"),
              IsInvalidArgument("input[0].reshape: input 'x': reshape [5,2] has 10 elements "
                                "but dims [2,6] has 12"));
  EXPECT_THAT(with_reshape("[2, 6]", "[12, 0]"), IsInvalidArgument("input[0].reshape.shape[1]"));
  EXPECT_THAT(with_reshape("[4294967296, 4294967296]", "[1]"),
              IsInvalidArgument("input[0].dims: input 'x'"));
  EXPECT_THAT(Validate("output { name: \"y\" data_type: TYPE_FP32 dims: [4] "
                       "reshape { shape: [2, 3] } }"),
              IsInvalidArgument("output[0].reshape"));
}

TEST(ValidateModelConfigTest, VersionPolicy) {
  EXPECT_TRUE(Validate("version_policy { all {} }").ok());
  EXPECT_TRUE(Validate("version_policy { specific { versions: [1, 7] } }").ok());
  EXPECT_THAT(Validate("version_policy { specific { versions: [1, 0] } }"),
              IsInvalidArgument("version_policy.specific.versions[1]: versions are >= 1, got 0"));
  EXPECT_THAT(Validate("version_policy { specific { versions: [-3] } }"),
              IsInvalidArgument("version_policy.specific.versions[0]"));
  EXPECT_THAT(Validate("version_policy { specific {} }"),
              IsInvalidArgument("version_policy.specific.versions: must list at least one"));
  EXPECT_THAT(Validate("version_policy { latest {} }"),
              IsInvalidArgument("version_policy.latest.num_versions: must be >= 1"));
}

TEST(ValidateModelConfigTest, InstanceGroup) {
  EXPECT_TRUE(Validate(Edit("count: 2", "count: 0")).ok());  // 0 means 1
  EXPECT_THAT(Validate(Edit("count: 2", "count: -1")),
              IsInvalidArgument("instance_group[0].count: must be >= 0, got -1"));
  EXPECT_THAT(Validate(Edit("gpus: [ 0, 1 ]", "gpus: [ 0, -1 ]")),
              IsInvalidArgument("instance_group[0].gpus[1]"));
  EXPECT_THAT(Validate(Edit("kind: KIND_GPU", "kind: KIND_CPU")),
              IsInvalidArgument("instance_group[0].gpus: must not be set for kind KIND_CPU"));
  EXPECT_TRUE(Validate(Edit("kind: KIND_GPU", "kind: KIND_AUTO")).ok());
}

TEST(ValidateModelConfigTest, DynamicBatching) {
  EXPECT_THAT(Validate(Edit("max_batch_size: 32", "max_batch_size: 0")),
              IsInvalidArgument("dynamic_batching: requires max_batch_size > 0"));
  EXPECT_THAT(Validate(Edit("preferred_batch_size: [ 8, 16 ]", "preferred_batch_size: [ 8, 64 ]")),
              IsInvalidArgument("dynamic_batching.preferred_batch_size[1]: must be in "
                                "[1, max_batch_size=32], got 64"));
  EXPECT_THAT(Validate(Edit("preferred_batch_size: [ 8, 16 ]", "preferred_batch_size: [ 0 ]")),
              IsInvalidArgument("dynamic_batching.preferred_batch_size[0]"));
  EXPECT_TRUE(Validate(Edit("max_queue_delay_microseconds: 100",
                            "max_queue_delay_microseconds: 60000000"))
                  .ok());
  EXPECT_THAT(Validate(Edit("max_queue_delay_microseconds: 100",
                            "max_queue_delay_microseconds: 60000001")),
              IsInvalidArgument("dynamic_batching.max_queue_delay_microseconds"));
  EXPECT_THAT(Validate(Edit("default_priority_level: 2", "default_priority_level: 3")),
              IsInvalidArgument("dynamic_batching.default_priority_level: must be in "
                                "[1, priority_levels=2], got 3"));
  EXPECT_THAT(Validate(Edit("default_priority_level: 2", "default_priority_level: 0")),
              IsInvalidArgument("dynamic_batching.default_priority_level"));
  EXPECT_THAT(Validate(Edit("priority_levels: 2", "priority_levels: 0")),
              IsInvalidArgument("dynamic_batching.default_priority_level: must not be set"));
  EXPECT_THAT(Validate(Edit("key: 1\n", "key: 5\n")),
              IsInvalidArgument("dynamic_batching.priority_queue_policy[5]: priority level"));
  EXPECT_THAT(Validate(Edit("default_timeout_microseconds: 5000000",
                            "default_timeout_microseconds: 18446744073709551615")),
              IsInvalidArgument("dynamic_batching.default_queue_policy.default_timeout"));
  EXPECT_THAT(Validate(Edit("timeout_action: DELAY", "timeout_action: 9")),
              IsInvalidArgument("dynamic_batching.priority_queue_policy[1].timeout_action"));
}

TEST(ValidateModelConfigTest, ModelWarmup) {
  EXPECT_THAT(Validate(Edit("batch_size: 4", "batch_size: 33")),
              IsInvalidArgument("model_warmup[0].batch_size: warmup 'zeros': must be in "
                                "[1, 32]"));
  EXPECT_THAT(Validate(Edit("batch_size: 4", "batch_size: 0")),
              IsInvalidArgument("model_warmup[0].batch_size"));
  EXPECT_THAT(Validate(Edit("name: \"zeros\"", "name: \"\"")),
              IsInvalidArgument("model_warmup[0].name"));
  EXPECT_THAT(Validate(Edit("key: \"INPUT__0\"", "key: \"INPUT__9\"")),
              IsInvalidArgument("model_warmup[0].inputs['INPUT__9']: warmup 'zeros' input "
                                "'INPUT__9': the model has no input named 'INPUT__9'"));
  EXPECT_THAT(Validate(Edit("data_type: TYPE_FP32 dims: [ 3, 784 ]",
                            "data_type: TYPE_FP16 dims: [ 3, 784 ]")),
              IsInvalidArgument("model_warmup[0].inputs['INPUT__0'].data_type"));
  EXPECT_THAT(Validate(Edit("dims: [ 3, 784 ]", "dims: [ -1, 784 ]")),
              IsInvalidArgument("model_warmup[0].inputs['INPUT__0'].dims[0]"));
  EXPECT_THAT(Validate(Edit("dims: [ 3, 784 ]", "dims: [ 3, 785 ]")),
              IsInvalidArgument("model_warmup[0].inputs['INPUT__0'].dims: warmup 'zeros' input "
                                "'INPUT__0': shape [3,785] does not fit the declared dims "
                                "[-1,784]"));
  EXPECT_THAT(Validate(Edit(" zero_data: true", "")),
              IsInvalidArgument("set one of zero_data, random_data, input_data_file"));
  EXPECT_TRUE(Validate(Edit("zero_data: true", "input_data_file: \"raw\"")).ok());

  // Without max_batch_size only batch_size 1 fits; without declared inputs any
  // name goes (the model's own signature decides later).
  const std::string unbatched = R"pb(
    model_warmup { name: "w" batch_size: 1
                   inputs { key: "anything" value { data_type: TYPE_INT64 dims: [2] random_data: true } } }
  )pb";
  EXPECT_TRUE(Validate(unbatched).ok());
  EXPECT_THAT(Validate(absl::StrReplaceAll(unbatched, {{"batch_size: 1", "batch_size: 2"}})),
              IsInvalidArgument("must be in [1, 1]"));
}

TEST(ValidateModelConfigTest, Routing) {
  EXPECT_THAT(Validate("routing { variant { name: \"a\" model: \"m\" weight: -0.5 } }"),
              IsInvalidArgument("routing.variant[0].weight: variant 'a': must be finite and >= 0"));
  EXPECT_THAT(Validate("routing { variant { name: \"a\" weight: inf } }"),
              IsInvalidArgument("routing.variant[0].weight"));
  EXPECT_THAT(Validate("routing { variant { name: \"a\" } variant { name: \"b\" } }"),
              IsInvalidArgument("routing.variant: weights are all zero"));
  EXPECT_THAT(Validate("routing { variant { name: \"a\" weight: 1 } variant { name: \"a\" weight: 1 } }"),
              IsInvalidArgument("routing.variant[1].name: duplicate variant name 'a'"));
  EXPECT_THAT(Validate("routing { variant { weight: 1 } }"),
              IsInvalidArgument("routing.variant[0].name: must not be empty"));
  EXPECT_TRUE(Validate("routing { sticky_header: \"x-user\" }").ok());
}

}  // namespace
}  // namespace ptserve

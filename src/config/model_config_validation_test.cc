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
  EXPECT_TRUE(Validate("platform: \"torch_aoti\"").ok());
  EXPECT_THAT(Validate("platform: \"onnxruntime_onnx\""),
              IsInvalidArgument("models/mlp/config.pbtxt: platform: 'onnxruntime_onnx'"));
  EXPECT_THAT(Validate("backend: \"python\""), IsInvalidArgument("backend: 'python'"));
}

TEST(ValidateModelConfigTest, MaxBatchSize) {
  EXPECT_THAT(Validate("max_batch_size: -1"), IsInvalidArgument("max_batch_size: must be in [0, 65536], got -1"));
}

TEST(ValidateModelConfigTest, Dims) {
  EXPECT_THAT(Validate(Edit("dims: [ -1, 784 ]", "dims: [ 0, 784 ]")),
              IsInvalidArgument("models/mlp/config.pbtxt: input[0].dims[0]: input 'INPUT__0': "
                                "dimension must be -1 or in [1, 2147483647], got 0"));
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
              IsInvalidArgument("input[0].dims[0]: input 'x': dimension must be -1 or in "
                                "[1, 2147483647], got 4294967296"));
  EXPECT_THAT(with_reshape("[2, 6]", "[12, 4294967296]"),
              IsInvalidArgument("input[0].reshape.shape[1]"));
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
              IsInvalidArgument("version_policy.latest.num_versions: must be in [1, 1024], got 0"));
}

TEST(ValidateModelConfigTest, InstanceGroup) {
  EXPECT_TRUE(Validate(Edit("count: 2", "count: 0")).ok());  // 0 means 1
  EXPECT_THAT(Validate(Edit("count: 2", "count: -1")),
              IsInvalidArgument("instance_group[0].count: must be in [0, 256] (0 means 1), got -1"));
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
              IsInvalidArgument("dynamic_batching.default_priority_level: must be 0 (unset) when "
                                "priority_levels is 0, got 2"));
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

// Every size a config chooses has a range, and the message names the field
// and the range: nothing is allocated in proportion to an unchecked number.
TEST(ValidateModelConfigTest, SizesAreRangeChecked) {
  EXPECT_TRUE(Validate("max_batch_size: 65536").ok());
  EXPECT_THAT(Validate("max_batch_size: 2147483647"),
              IsInvalidArgument("max_batch_size: must be in [0, 65536], got 2147483647"));
  // Dimensions: per dimension, per item (elements and bytes), and the rank.
  EXPECT_THAT(Validate("input { name: \"x\" data_type: TYPE_FP32 dims: [9223372036854775807] }"),
              IsInvalidArgument("input[0].dims[0]: input 'x': dimension must be -1 or in "
                                "[1, 2147483647], got 9223372036854775807"));
  EXPECT_THAT(Validate("input { name: \"x\" data_type: TYPE_FP32 dims: [65536, 65536] }"),
              IsInvalidArgument("input[0].dims: input 'x': one item of dims [65536,65536] holds "
                                "more than 268435456 elements (allowed: [1, 268435456])"));
  EXPECT_THAT(Validate("input { name: \"x\" data_type: TYPE_FP32 dims: [-1, 2147483647, 2147483647, "
                       "2147483647] }"),
              IsInvalidArgument("more than 268435456 elements"));
  EXPECT_THAT(Validate("input { name: \"x\" data_type: TYPE_FP64 dims: [16384, 16384] }"),
              IsInvalidArgument("input[0].dims: input 'x': one item of dims [16384,16384] is "
                                "2147483648 bytes; at most 1073741824 bytes allowed"));
  EXPECT_TRUE(Validate("input { name: \"x\" data_type: TYPE_FP32 dims: [16384, 16384] }").ok());
  EXPECT_TRUE(Validate("input { name: \"x\" data_type: TYPE_FP32 dims: [-1, -1, 65536] }")
                  .ok());  // variable sizes are bounded per request
  EXPECT_THAT(Validate("output { name: \"y\" data_type: TYPE_FP32 dims: [1000000, 1000000] }"),
              IsInvalidArgument("output[0].dims: output 'y': one item"));
  std::string rank = "input { name: \"x\" data_type: TYPE_FP32 dims: [";
  for (int i = 0; i < 33; ++i) absl::StrAppend(&rank, i ? ", " : "", "1");
  EXPECT_THAT(Validate(rank + "] }"),
              IsInvalidArgument("input[0].dims: input 'x': at most 32 dimensions, got 33"));
}

TEST(ValidateModelConfigTest, InstanceCountsAreBounded) {
  EXPECT_TRUE(Validate("instance_group { count: 256 kind: KIND_CPU }").ok());
  EXPECT_THAT(Validate("instance_group { count: 1000000 kind: KIND_CPU }"),
              IsInvalidArgument("instance_group[0].count: must be in [0, 256] (0 means 1), "
                                "got 1000000"));
  EXPECT_THAT(Validate("instance_group { count: 200 kind: KIND_CPU } "
                       "instance_group { count: 100 kind: KIND_CPU }"),
              IsInvalidArgument("instance_group[1].count: the model would have 300 instances in "
                                "total (count x gpus over all instance groups); allowed: [1, 256]"));
  EXPECT_THAT(Validate("instance_group { count: 100 kind: KIND_GPU gpus: [0, 1, 2] }"),
              IsInvalidArgument("300 instances in total"));
  EXPECT_THAT(Validate("instance_group { count: 1 kind: KIND_GPU gpus: [5000] }"),
              IsInvalidArgument("instance_group[0].gpus[0]: must be in [0, 1023], got 5000"));
  std::string many = "instance_group [";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&many, i ? ", " : "", "{ count: 1 }");
  EXPECT_THAT(Validate(many + "]"), IsInvalidArgument("instance_group[256].count"));
}

TEST(ValidateModelConfigTest, QueueAndPrioritySizesAreBounded) {
  const std::string base = "max_batch_size: 8 dynamic_batching { ";
  EXPECT_TRUE(Validate(base + "priority_levels: 1024 default_priority_level: 1024 }").ok());
  EXPECT_THAT(Validate(base + "priority_levels: 2000000000 default_priority_level: 1 }"),
              IsInvalidArgument("dynamic_batching.priority_levels: must be in [0, 1024], "
                                "got 2000000000"));
  EXPECT_THAT(Validate(base + "priority_levels: 18446744073709551615 default_priority_level: 1 }"),
              IsInvalidArgument("dynamic_batching.priority_levels"));
  EXPECT_THAT(Validate(base + "default_queue_policy { max_queue_size: 4294967295 } }"),
              IsInvalidArgument("dynamic_batching.default_queue_policy.max_queue_size: must be in "
                                "[0, 1048576]"));
  EXPECT_THAT(Validate(base + "priority_levels: 2 default_priority_level: 1 "
                       "priority_queue_policy { key: 2 value { max_queue_size: 2000000 } } }"),
              IsInvalidArgument("dynamic_batching.priority_queue_policy[2].max_queue_size"));
  EXPECT_THAT(Validate(base + "priority_levels: 2 default_priority_level: 1 "
                       "priority_queue_policy { key: 18446744073709551615 value { } } }"),
              IsInvalidArgument("priority level must be in [1, priority_levels=2]"));
  EXPECT_THAT(Validate(base + "default_queue_policy { default_timeout_microseconds: "
                       "9223372036854775807 } }"),
              IsInvalidArgument("default_timeout_microseconds: must be in [0, 31536000000000]"));
  EXPECT_THAT(Validate(base + "max_queue_delay_microseconds: 18446744073709551615 }"),
              IsInvalidArgument("max_queue_delay_microseconds: must be in [0, 60000000]"));
  std::string preferred = base + "preferred_batch_size: [";
  for (int i = 0; i < 65; ++i) absl::StrAppend(&preferred, i ? ", " : "", "1");
  EXPECT_THAT(Validate(preferred + "] }"),
              IsInvalidArgument("dynamic_batching.preferred_batch_size: lists 65 sizes; at most "
                                "64 allowed"));
}

TEST(ValidateModelConfigTest, VersionPolicyIsBounded) {
  EXPECT_TRUE(Validate("version_policy { latest { num_versions: 1024 } }").ok());
  EXPECT_THAT(Validate("version_policy { latest { num_versions: 4294967295 } }"),
              IsInvalidArgument("version_policy.latest.num_versions: must be in [1, 1024], "
                                "got 4294967295"));
  std::string specific = "version_policy { specific { versions: [";
  for (int i = 1; i <= 1025; ++i) absl::StrAppend(&specific, i > 1 ? ", " : "", i);
  EXPECT_THAT(Validate(specific + "] } }"),
              IsInvalidArgument("version_policy.specific.versions: must list 1 to 1024 versions, "
                                "got 1025"));
}

TEST(ValidateModelConfigTest, WarmupSizesAreBounded) {
  const std::string head =
      "max_batch_size: 8 input { name: \"x\" data_type: TYPE_FP32 dims: [-1] } ";
  auto warmup = [&](absl::string_view body) {
    return Validate(absl::StrCat(head, "model_warmup { name: \"w\" ", body, " }"));
  };
  EXPECT_TRUE(warmup("batch_size: 8 count: 100 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [1000] random_data: true } }")
                  .ok());
  EXPECT_THAT(warmup("batch_size: 1 count: 4294967295 inputs { key: \"x\" value { data_type: "
                     "TYPE_FP32 dims: [1] zero_data: true } }"),
              IsInvalidArgument("model_warmup[0].count: warmup 'w': must be in [0, 100] "
                                "(0 means 1), got 4294967295"));
  EXPECT_THAT(warmup("batch_size: 4294967295 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [1] zero_data: true } }"),
              IsInvalidArgument("model_warmup[0].batch_size: warmup 'w': must be in [1, 8]"));
  EXPECT_THAT(warmup("batch_size: 1 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [9223372036854775807] zero_data: true } }"),
              IsInvalidArgument("model_warmup[0].inputs['x'].dims[0]: warmup 'w' input 'x': "
                                "warmup dimensions must be in [1, 2147483647]"));
  EXPECT_THAT(warmup("batch_size: 1 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [2147483647] zero_data: true } }"),
              IsInvalidArgument("model_warmup[0].inputs['x'].dims: warmup 'w' input 'x': one item"));
  // Within the item limits, but the batch of 8 is 8 x 512 MiB.
  EXPECT_THAT(warmup("batch_size: 8 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [134217728] zero_data: true } }"),
              IsInvalidArgument("would take more than 67108864 bytes in all; allowed: "
                                "[0, 67108864]"));
  EXPECT_TRUE(warmup("batch_size: 8 inputs { key: \"x\" value { data_type: TYPE_FP32 "
                     "dims: [2097152] zero_data: true } }")
                  .ok());  // exactly 64 MiB
  std::string many = head;
  for (int i = 0; i < 65; ++i) {
    absl::StrAppend(&many, "model_warmup { name: \"w", i, "\" batch_size: 1 }");
  }
  EXPECT_THAT(Validate(many), IsInvalidArgument("model_warmup: lists 65 warm-ups; at most 64"));
}

TEST(ValidateModelConfigTest, FileNamesStayInsideTheModelDirectory) {
  EXPECT_TRUE(Validate("default_model_filename: \"model.pt\"").ok());
  EXPECT_TRUE(Validate("default_model_filename: \"sub/model.pt\"").ok());
  EXPECT_THAT(Validate("default_model_filename: \"/etc/passwd\""),
              IsInvalidArgument("models/mlp/config.pbtxt: default_model_filename: '/etc/passwd' "
                                "is an absolute path"));
  for (const char* name : {"../../secret.pt", "..", "a/../../b", "a/..", "./model.pt", "a//b",
                           "dir/", "a\\\\b"}) {
    EXPECT_THAT(Validate(absl::StrCat("default_model_filename: \"", name, "\"")),
                IsInvalidArgument("default_model_filename: '"))
        << name;
  }
  const std::string head =
      "max_batch_size: 8 input { name: \"x\" data_type: TYPE_FP32 dims: [4] } model_warmup { "
      "name: \"w\" batch_size: 1 inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [4] ";
  EXPECT_TRUE(Validate(head + "input_data_file: \"x.bin\" } } }").ok());
  EXPECT_THAT(Validate(head + "input_data_file: \"/dev/zero\" } } }"),
              IsInvalidArgument("model_warmup[0].inputs['x'].input_data_file: warmup 'w' input "
                                "'x': '/dev/zero' is an absolute path"));
  EXPECT_THAT(Validate(head + "input_data_file: \"../1/model.pt\" } } }"),
              IsInvalidArgument("has a '..' component"));
  EXPECT_THAT(Validate(head + "input_data_file: \"\" } } }"),
              IsInvalidArgument("input_data_file: warmup 'w' input 'x': '' is empty"));
}

TEST(CheckRelativeFileNameTest, Rules) {
  EXPECT_TRUE(CheckRelativeFileName("model.pt", "f").ok());
  EXPECT_TRUE(CheckRelativeFileName("a/b/c.bin", "f").ok());
  EXPECT_TRUE(CheckRelativeFileName("..hidden", "f").ok());  // a name, not a component
  EXPECT_FALSE(CheckRelativeFileName(std::string("a\0b", 3), "f").ok());
  EXPECT_FALSE(CheckRelativeFileName(std::string(5000, 'a'), "f").ok());
  EXPECT_THAT(CheckRelativeFileName("../x", "field"),
              IsInvalidArgument("field: '../x' has a '..' component"));
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

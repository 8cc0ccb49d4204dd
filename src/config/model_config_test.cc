#include "config/model_config.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "config/model_config_validation.h"
#include "config/test_configs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using ::ptserve::testing::kTritonPytorchConfig;

constexpr char kFile[] = "models/mlp/config.pbtxt";


ParsedModelConfig MustParse(std::string_view text) {
  absl::StatusOr<ParsedModelConfig> parsed = ParseModelConfig(text, kFile);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : ParsedModelConfig{};
}

absl::Status ParseError(std::string_view text) {
  absl::StatusOr<ParsedModelConfig> parsed = ParseModelConfig(text, kFile);
  return parsed.ok() ? absl::OkStatus() : parsed.status();
}

MATCHER_P(IsInvalidArgument, substring, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         ::testing::ExplainMatchResult(HasSubstr(substring), std::string(arg.message()),
                                       result_listener);
}

// ---------------------------------------------------------------------------
// Parsing

TEST(ParseModelConfigTest, TritonPytorchConfigParsesAndValidates) {
  ParsedModelConfig parsed = MustParse(kTritonPytorchConfig);
  const config::ModelConfig& c = parsed.config;
  EXPECT_THAT(parsed.warnings, IsEmpty());
  EXPECT_EQ(c.name(), "mlp");
  EXPECT_EQ(c.platform(), "pytorch_libtorch");
  EXPECT_EQ(c.max_batch_size(), 32);
  EXPECT_EQ(c.version_policy().latest().num_versions(), 2u);
  ASSERT_EQ(c.input_size(), 1);
  EXPECT_EQ(c.input(0).name(), "INPUT__0");
  EXPECT_EQ(c.input(0).data_type(), config::TYPE_FP32);
  EXPECT_THAT(c.input(0).dims(), ElementsAre(-1, 784));
  ASSERT_EQ(c.output_size(), 1);
  EXPECT_EQ(c.output(0).name(), "OUTPUT__0");
  ASSERT_EQ(c.instance_group_size(), 1);
  EXPECT_EQ(c.instance_group(0).kind(), config::ModelInstanceGroup::KIND_GPU);
  EXPECT_EQ(c.instance_group(0).count(), 2);
  EXPECT_THAT(c.instance_group(0).gpus(), ElementsAre(0, 1));
  ASSERT_TRUE(c.has_dynamic_batching());
  EXPECT_THAT(c.dynamic_batching().preferred_batch_size(), ElementsAre(8, 16));
  EXPECT_EQ(c.dynamic_batching().max_queue_delay_microseconds(), 100u);
  EXPECT_EQ(c.dynamic_batching().default_queue_policy().max_queue_size(), 64u);
  EXPECT_EQ(c.dynamic_batching().priority_queue_policy().at(1).timeout_action(),
            config::ModelQueuePolicy::DELAY);
  EXPECT_EQ(c.parameters().at("INFERENCE_MODE").string_value(), "true");
  ASSERT_EQ(c.model_warmup_size(), 1);
  EXPECT_EQ(c.model_warmup(0).batch_size(), 4u);
  EXPECT_TRUE(c.model_warmup(0).inputs().at("INPUT__0").zero_data());
  EXPECT_TRUE(ValidateModelConfig(c, kFile).ok()) << ValidateModelConfig(c, kFile);
}

TEST(ParseModelConfigTest, BackendFormAndOmittedBracketsParse) {
  ParsedModelConfig parsed = MustParse(R"pb(
    backend: "pytorch"
    max_batch_size: 0
    input { name: "x" data_type: TYPE_INT64 dims: 3 dims: 4 }
    input { name: "y" data_type: TYPE_STRING dims: [1] reshape: { shape: [] } optional: true }
    output { name: "z" data_type: TYPE_BF16 dims: [ 3, 4 ] }
    default_model_filename: "model.pt"
  )pb");
  EXPECT_THAT(parsed.warnings, IsEmpty());
  EXPECT_THAT(parsed.config.input(0).dims(), ElementsAre(3, 4));
  EXPECT_TRUE(parsed.config.input(1).optional());
  EXPECT_TRUE(parsed.config.input(1).has_reshape());
  EXPECT_TRUE(ValidateModelConfig(parsed.config, kFile).ok());
}

TEST(ParseModelConfigTest, OptimizationParsesWithWarning) {
  ParsedModelConfig parsed = MustParse(absl::StrCat(kTritonPytorchConfig, R"pb(
    optimization {
      execution_accelerators {
        gpu_execution_accelerator : [ { name : "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ]
      }
      input_pinned_memory { enable: true }
    }
  )pb"));
  EXPECT_EQ(parsed.config.optimization()
                .execution_accelerators()
                .gpu_execution_accelerator(0)
                .name(),
            "tensorrt");
  EXPECT_THAT(parsed.warnings,
              ElementsAre(absl::StrCat(kFile, ": field 'optimization' is not supported by "
                                              "ptserve yet and is ignored")));
  EXPECT_TRUE(ValidateModelConfig(parsed.config, kFile).ok());
}

TEST(ParseModelConfigTest, OtherTritonFieldsParseWithWarnings) {
  ParsedModelConfig parsed = MustParse(R"pb(
    name: "seq"
    backend: "pytorch"
    runtime: "libtorch.so"
    max_batch_size: 4
    input { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [3, 8, 8]
            allow_ragged_batch: true }
    output { name: "y" data_type: TYPE_FP32 dims: [1] label_filename: "labels.txt" }
    instance_group { kind: KIND_CPU count: 1 rate_limiter { resources { name: "R" count: 2 } } }
    sequence_batching {
      max_sequence_idle_microseconds: 5000000
      oldest { max_candidate_sequences: 4 preferred_batch_size: [2] }
      control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START
                                                  int32_false_true: [0, 1] } ] } ]
      state [ { input_name: "S_IN" output_name: "S_OUT" data_type: TYPE_FP32 dims: [4]
                initial_state: { name: "z" data_type: TYPE_FP32 dims: [4] zero_data: true } } ]
    }
    batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT32
                    source_input: "x" } ]
    model_transaction_policy { decoupled: true }
    response_cache { enable: true }
    metric_tags { key: "team" value: "vision" }
    cc_model_filenames { key: "8.0" value: "model_a100.pt" }
    model_repository_agents { agents [ { name: "checksum" parameters { key: "MD5:model.pt" value: "abc" } } ] }
    model_operations { op_library_filename: "libops.so" }
    model_metrics { metric_control [ { metric_identifier { family: "nv_inference_first_response_histogram_ms" }
                                       histogram_options { buckets: [1, 2, 4] } } ] }
  )pb");
  EXPECT_THAT(parsed.config.sequence_batching().max_sequence_idle_microseconds(), 5000000u);
  EXPECT_THAT(UnsupportedFieldWarnings(parsed.config),
              ElementsAre("input[0].format", "input[0].allow_ragged_batch",
                          "output[0].label_filename", "instance_group[0].rate_limiter",
                          "cc_model_filenames", "metric_tags", "sequence_batching",
                          "model_operations", "model_transaction_policy", "batch_input",
                          "model_repository_agents", "response_cache", "runtime",
                          "model_metrics"));  // in field-number order
  EXPECT_EQ(parsed.warnings.size(), 14u);
}

TEST(ParseModelConfigTest, EnsembleSchedulingParses) {
  ParsedModelConfig parsed = MustParse(R"pb(
    name: "pipeline"
    platform: "ensemble"
    ensemble_scheduling {
      step [ { model_name: "pre" model_version: -1 input_map { key: "IN" value: "RAW" }
               output_map { key: "OUT" value: "t" } } ]
    }
  )pb");
  EXPECT_EQ(parsed.config.ensemble_scheduling().step(0).model_version(), -1);
  EXPECT_THAT(parsed.warnings, ElementsAre(HasSubstr("'ensemble_scheduling'")));
  // Parsing is not validating: ptserve does not serve ensembles.
  EXPECT_THAT(ValidateModelConfig(parsed.config, kFile), IsInvalidArgument("platform"));
}

TEST(ParseModelConfigTest, RoutingExtensionParses) {
  ParsedModelConfig parsed = MustParse(R"pb(
    name: "ranker"
    routing {
      variant { name: "stable" model: "ranker_v1" weight: 0.9 }
      variant { name: "canary" model: "ranker_v2" version: "3" weight: 0.1 }
      variant { name: "dark" model: "ranker_v3" shadow: true }
      sticky_header: "x-user-id"
    }
  )pb");
  EXPECT_THAT(parsed.warnings, IsEmpty());
  ASSERT_EQ(parsed.config.routing().variant_size(), 3);
  EXPECT_DOUBLE_EQ(parsed.config.routing().variant(1).weight(), 0.1);
  EXPECT_EQ(parsed.config.routing().variant(1).version(), "3");
  EXPECT_TRUE(parsed.config.routing().variant(2).shadow());
  EXPECT_EQ(parsed.config.routing().sticky_header(), "x-user-id");
  EXPECT_TRUE(ValidateModelConfig(parsed.config, kFile).ok());
}

TEST(ParseModelConfigTest, VersionPolicyForms) {
  EXPECT_EQ(MustParse("version_policy: { all: {} }").config.version_policy().policy_choice_case(),
            config::ModelVersionPolicy::kAll);
  EXPECT_EQ(MustParse("version_policy { all {} }").config.version_policy().policy_choice_case(),
            config::ModelVersionPolicy::kAll);
  config::ModelConfig specific =
      MustParse("version_policy: { specific: { versions: [1, 3] } }").config;
  EXPECT_THAT(specific.version_policy().specific().versions(), ElementsAre(1, 3));
  EXPECT_EQ(MustParse("version_policy: { latest: { num_versions: 1 } }")
                .config.version_policy()
                .latest()
                .num_versions(),
            1u);
  // No policy at all: the oneof is unset (the repository defaults to latest 1).
  EXPECT_EQ(MustParse("name: \"m\"").config.version_policy().policy_choice_case(),
            config::ModelVersionPolicy::POLICY_CHOICE_NOT_SET);
  EXPECT_THAT(ParseError("version_policy: { all: {} latest: { num_versions: 1 } }"),
              IsInvalidArgument("oneof"));
}

TEST(ParseModelConfigTest, SyntaxErrorReportsFileLineColumn) {
  absl::Status status = ParseError("name: \"mlp\"\nmax_batch_size: 8\ninput [\n  { name: \"x\" \n");
  EXPECT_THAT(status, IsInvalidArgument("models/mlp/config.pbtxt:5:1: "));
  status = ParseError("name: \"mlp\"\nmax_batch_size: 8\n  input { name: \"x\" dims: [1,, 2] }\n");
  EXPECT_THAT(status, IsInvalidArgument("models/mlp/config.pbtxt:3:30: Expected integer, got: , "
                                "(field 'dims')"));
  EXPECT_THAT(ParseError("name: \"unterminated\nmax_batch_size: 8\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:1:"));
}

TEST(ParseModelConfigTest, UnknownFieldIsAnErrorNamingFieldAndLine) {
  EXPECT_THAT(ParseError("name: \"mlp\"\nmax_batch_sise: 8\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:2:1: Message type "
                                "\"ptserve.config.ModelConfig\" has no field named "
                                "\"max_batch_sise\"."));
  EXPECT_THAT(ParseError("name: \"mlp\"\ninput {\n  name: \"x\"\n  dim: [1]\n}\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:4:3: Message type "
                                "\"ptserve.config.ModelInput\" has no field named \"dim\"."));
}

TEST(ParseModelConfigTest, InvalidUtf8IsAnError) {
  EXPECT_THAT(ParseError("name: \"ok\"\nparameters { key: \"k\" value { string_value: \"\\xff\" } }"),
              IsInvalidArgument("models/mlp/config.pbtxt: parameters[0].value.string_value: "
                                "string is not valid UTF-8"));
  EXPECT_TRUE(ParseModelConfig("name: \"caf\303\251 \\360\\237\\230\\200\"", kFile).ok());
}

TEST(ParseModelConfigTest, BadEnumNameIsAnError) {
  // Protobuf reports this at the next token ("dims", line 4); we move it back.
  EXPECT_THAT(ParseError("input {\n  name: \"x\"\n  data_type: TYPE_FP23\n  dims: [1]\n}\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:3:14: Unknown enumeration value of "
                                "\"TYPE_FP23\" for field \"data_type\"."));
  EXPECT_THAT(ParseError("instance_group { kind: KIND_TPU }"), IsInvalidArgument("KIND_TPU"));
}

TEST(ParseModelConfigTest, WrongValueTypeAndRepeatedSingularAreErrors) {
  EXPECT_THAT(ParseError("name: \"m\"\nmax_batch_size: \"8\""),
              IsInvalidArgument("models/mlp/config.pbtxt:2:17: Expected integer, got: \"8\" "
                                "(field 'max_batch_size')"));
  EXPECT_THAT(ParseError("max_batch_size: 3000000000"),
              IsInvalidArgument("1:17: Integer out of range (3000000000) (field "
                                "'max_batch_size')"));
  EXPECT_THAT(ParseError("input { dims: [1, -x] }"),
              IsInvalidArgument("1:20: Expected integer, got: x (field 'dims')"));
  EXPECT_THAT(ParseError("max_batch_size: 8\nmax_batch_size: 16\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:2:1: Non-repeated field "
                                "\"max_batch_size\" is specified multiple times."));
  EXPECT_THAT(ParseError("dynamic_batching {}\nsequence_batching {}\n"),
              IsInvalidArgument("models/mlp/config.pbtxt:2:1: Field \"sequence_batching\" is "
                                "specified along with field \"dynamic_batching\", another "
                                "member of oneof \"scheduling_choice\"."));
  // Structural errors name no field.
  EXPECT_THAT(ParseError("input { name: \"x\" } }"),
              IsInvalidArgument("1:21: Expected identifier, got: }"));
  EXPECT_THAT(ParseError("input { name: \"x\" } }"), Not(IsInvalidArgument("(field")));
}

// ---------------------------------------------------------------------------
// Data types and JSON

TEST(DataTypeConversionTest, RoundTripsEveryCoreType) {
  for (DataType type : kAllDataTypes) {
    config::DataType config_type = ToConfigDataType(type);
    EXPECT_NE(config_type, config::TYPE_INVALID);
    EXPECT_EQ(ToCoreDataType(config_type), type);
    // The config enum's names are Triton's, which core also knows.
    EXPECT_EQ(config::DataType_Name(config_type), DataTypeConfigName(type));
  }
  EXPECT_EQ(ToCoreDataType(config::TYPE_STRING), DataType::kBytes);
  EXPECT_EQ(ToCoreDataType(config::TYPE_INVALID), std::nullopt);
  EXPECT_EQ(ToCoreDataType(static_cast<config::DataType>(99)), std::nullopt);
}

TEST(ModelConfigToJsonTest, TritonShape) {
  absl::StatusOr<std::string> json = ModelConfigToJson(MustParse(kTritonPytorchConfig).config);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, AllOf(HasSubstr(R"("name":"mlp")"), HasSubstr(R"("max_batch_size":32)"),
                           HasSubstr(R"("dims":[-1,784])"), HasSubstr(R"("data_type":"TYPE_FP32")"),
                           HasSubstr(R"("max_queue_delay_microseconds":100)"),
                           HasSubstr(R"("priority_queue_policy":{"1":{)"),
                           HasSubstr(R"("preferred_batch_size":[8,16])"),
                           HasSubstr(R"("INFERENCE_MODE":{"string_value":"true"})"),
                           HasSubstr(R"("backend":"")"), HasSubstr(R"("gpus":[0,1])")));
  EXPECT_THAT(*json, Not(HasSubstr(R"("-1")")));
}

TEST(ModelConfigToJsonTest, StringsThatLookLikeFieldsStayStrings) {
  config::ModelConfig c;
  c.set_name("a\"dims\":[\"1\"]");
  (*c.mutable_metric_tags())["dims"] = "5";
  c.mutable_version_policy()->mutable_specific()->add_versions(3);
  absl::StatusOr<std::string> json = ModelConfigToJson(c);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, AllOf(HasSubstr(R"("name":"a\"dims\":[\"1\"]")"),
                           HasSubstr(R"("metric_tags":{"dims":"5"})"),
                           HasSubstr(R"("versions":[3])")));
}

TEST(ModelConfigToJsonTest, InvalidUtf8IsAnError) {
  config::ModelConfig c;
  c.add_input()->set_name("\xff\xfe");
  EXPECT_THAT(ModelConfigToJson(c).status(),
              IsInvalidArgument("input[0].name: string is not valid UTF-8"));
}

}  // namespace
}  // namespace ptserve

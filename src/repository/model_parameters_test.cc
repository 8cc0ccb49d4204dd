#include "repository/model_parameters.h"

#include "config/model_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

// Under ThreadSanitizer, parsing a config with map fields (parameters)
// crashes inside Debian's prebuilt libprotobuf, whose layout disagrees with
// the instrumented headers; these tests run in normal builds.
#if defined(__SANITIZE_THREAD__)
#define SKIP_IF_TSAN_WITH_PROTO_MAPS() GTEST_SKIP() << "protobuf map fields under TSan"
#else
#define SKIP_IF_TSAN_WITH_PROTO_MAPS() (void)0
#endif

absl::StatusOr<ModelParameters> Parse(const std::string& params) {
  const std::string text = R"pb(
    max_batch_size: 8
    input { name: "ids" data_type: TYPE_INT64 dims: [-1] }
    input { name: "image" data_type: TYPE_UINT8 dims: [3, -1, -1] }
    output { name: "y" data_type: TYPE_FP32 dims: [2] }
    dynamic_batching {}
  )pb" + params;
  auto parsed = ParseModelConfig(text, "config.pbtxt");
  if (!parsed.ok()) return parsed.status();
  return ParseModelParameters(parsed->config);
}

std::string Param(const std::string& key, const std::string& value) {
  return "parameters { key: \"" + key + "\" value { string_value: \"" + value + "\" } }";
}

TEST(ModelParametersTest, Autotune) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  auto p = Parse(Param("AUTOTUNE", "true") + Param("AUTOTUNE_P99_US", "20000"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->autotune);
  EXPECT_EQ(p->autotune_p99_us, 20000);
  EXPECT_TRUE(p->warnings.empty());
  EXPECT_FALSE(Parse("")->autotune);
  EXPECT_THAT(Parse(Param("AUTOTUNE", "maybe")).status().message(),
              HasSubstr("parameter AUTOTUNE: 'maybe' is not a boolean"));
  for (const char* bad : {"0", "-5", "1e3", "", "99999999999999"}) {
    EXPECT_THAT(Parse(Param("AUTOTUNE", "true") + Param("AUTOTUNE_P99_US", bad)).status().message(),
                HasSubstr("AUTOTUNE_P99_US"))
        << bad;
  }
  // A target without tuning does nothing: said as a warning.
  auto alone = Parse(Param("AUTOTUNE_P99_US", "20000"));
  ASSERT_TRUE(alone.ok());
  EXPECT_THAT(alone->warnings.at(0), HasSubstr("no effect without AUTOTUNE"));
  // What it replaces is said; GPU instances are not tuned.
  auto fixed = Parse(Param("AUTOTUNE", "true") + Param("INTRA_OP_THREAD_COUNT", "2") +
                     "instance_group { count: 3 kind: KIND_CPU }");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_THAT(fixed->warnings.at(0), HasSubstr("AUTOTUNE replaces"));
  EXPECT_THAT(
      Parse(Param("AUTOTUNE", "true") + "instance_group { kind: KIND_GPU }").status().message(),
      HasSubstr("CPU instances only"));
}

TEST(ModelParametersTest, MaxSequenceLength) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  auto p = Parse(Param("MAX_SEQUENCE_LENGTH", "512"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_sequence_length, 512);
  for (const char* bad : {"0", "-1", "abc", "", "99999999999", "1e3"}) {
    auto q = Parse(Param("MAX_SEQUENCE_LENGTH", bad));
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(q.status().message()),
                HasSubstr("parameter MAX_SEQUENCE_LENGTH: '" + std::string(bad) +
                          "' is not a size in [1, 2147483647]"));
  }
}

TEST(ModelParametersTest, OperatorLibrariesAreRelativeNamesInsideTheModelDirectory) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  auto p = Parse(Param("OPERATOR_LIBRARIES", "lib/libmy_ops.so, libmore.so"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->operator_libraries, (std::vector<std::string>{"lib/libmy_ops.so", "libmore.so"}));
  EXPECT_TRUE(p->backend.empty());  // the repository loads them, not the backend
  for (const char* bad : {"/usr/lib/libops.so", "../other/libops.so", "lib/../../x.so"}) {
    auto q = Parse(Param("OPERATOR_LIBRARIES", bad));
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(q.status().message()), HasSubstr("parameter OPERATOR_LIBRARIES"));
  }
}

TEST(ModelParametersTest, MaxInputDims) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  auto p = Parse(Param("MAX_INPUT_DIMS", "ids:128, image:3x1024x0"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_input_dims.at("ids"), (std::vector<int64_t>{128}));
  EXPECT_EQ(p->max_input_dims.at("image"), (std::vector<int64_t>{3, 1024, 0}));
  EXPECT_THAT(std::string(Parse(Param("MAX_INPUT_DIMS", "nope:3")).status().message()),
              HasSubstr("names 'nope', which is not a declared input"));
  EXPECT_THAT(std::string(Parse(Param("MAX_INPUT_DIMS", "image:3x4")).status().message()),
              HasSubstr("input 'image' has 3 dims but '3x4' gives 2 limits"));
  EXPECT_THAT(std::string(Parse(Param("MAX_INPUT_DIMS", "image:2x8x8")).status().message()),
              HasSubstr("dimension 0 is declared 3, more than its limit 2"));
  EXPECT_THAT(std::string(Parse(Param("MAX_INPUT_DIMS", "ids:0")).status().message()),
              HasSubstr("is not a size in [1, 2147483647]"));
  EXPECT_THAT(std::string(Parse(Param("MAX_INPUT_DIMS", "ids:1,ids:2")).status().message()),
              HasSubstr("names 'ids' twice"));
}

TEST(ModelParametersTest, PadValuesFitTheInputType) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  EXPECT_TRUE(Parse(Param("PAD_INPUTS", "ids:0,image:255")).ok());
  EXPECT_TRUE(Parse(Param("PAD_INPUTS", "ids:-9223372036854775808")).ok());
  for (const char* bad : {"image:256", "image:-1", "image:1.5", "ids:1e300", "ids:nan",
                          "ids:inf"}) {
    auto p = Parse(Param("PAD_INPUTS", bad));
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("parameter PAD_INPUTS")) << bad;
  }
}

}  // namespace
}  // namespace ptserve

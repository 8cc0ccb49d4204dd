#include "protocol/predict_codec.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<PredictRequest> Decode(const std::string& json, const PredictInputSpec& spec,
                                      const DecodeLimits& limits = {}) {
  return DecodePredictRequest(std::make_shared<const std::string>(json), spec, limits);
}

PredictInputSpec Spec(Shape dims, bool batched, DataType dtype = DataType::kFp32) {
  return PredictInputSpec{"INPUT__0", dtype, std::move(dims), batched};
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(t.byte_size() / 4);
  std::memcpy(v.data(), t.data(), t.byte_size());
  return v;
}

void ExpectInvalid(const absl::StatusOr<PredictRequest>& result,
                   const std::vector<std::string>& words) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  for (const std::string& word : words) {
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(word));
  }
}

template <typename T>
Tensor Make(DataType dtype, const std::vector<T>& values, Shape shape) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return Tensor::FromBytes(dtype, std::move(shape), std::move(bytes));
}

TEST(PredictCodecTest, SeedRequestIsOneExample) {
  std::string data = "[";
  for (int i = 0; i < 784; ++i) data += i ? ",0.1" : "0.1";
  data += "]";
  auto decoded = Decode("{\"data\": " + data + "}", Spec({784}, true));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->single_example);
  ASSERT_EQ(decoded->request.inputs.size(), 1u);
  EXPECT_EQ(decoded->request.inputs[0].name, "INPUT__0");
  EXPECT_EQ(decoded->request.inputs[0].tensor.shape(), (Shape{1, 784}));
  EXPECT_EQ(Floats(decoded->request.inputs[0].tensor)[783], 0.1f);
}

TEST(PredictCodecTest, BatchOfExamples) {
  auto decoded = Decode(R"({"data": [[1,2,3],[4,5,6]], "id": "abc"})", Spec({3}, true));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->single_example);
  EXPECT_EQ(decoded->request.id, "abc");
  EXPECT_EQ(decoded->request.inputs[0].tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(Floats(decoded->request.inputs[0].tensor), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(PredictCodecTest, UnbatchedModelGetsDimsOnly) {
  auto decoded = Decode(R"({"data": [[1,2],[3,4]]})", Spec({2, 2}, false));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->single_example);
  EXPECT_EQ(decoded->request.inputs[0].tensor.shape(), (Shape{2, 2}));
}

TEST(PredictCodecTest, FlatListIsReshapedToDims) {
  auto decoded = Decode(R"({"data": [1,2,3,4,5,6]})", Spec({2, 3}, true));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->single_example);
  EXPECT_EQ(decoded->request.inputs[0].tensor.shape(), (Shape{1, 2, 3}));
}

TEST(PredictCodecTest, BatchOfFlatExamples) {
  auto decoded =
      Decode(R"({"data": [[1,2,3,4,5,6,7,8],[8,7,6,5,4,3,2,1]]})", Spec({2, 2, 2}, true));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->single_example);
  EXPECT_EQ(decoded->request.inputs[0].tensor.shape(), (Shape{2, 2, 2, 2}));
}

TEST(PredictCodecTest, ResolvesVariableDims) {
  auto nested = Decode(R"({"data": [[1,2,3],[4,5,6]]})", Spec({-1, -1}, true));
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(nested->request.inputs[0].tensor.shape(), (Shape{1, 2, 3}));

  auto flat = Decode(R"({"data": [1,2,3,4,5,6]})", Spec({-1, 3}, true));
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->request.inputs[0].tensor.shape(), (Shape{1, 2, 3}));

  auto sequence = Decode(R"({"data": [1,2,3,4,5]})", Spec({-1}, true, DataType::kInt64));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(sequence->request.inputs[0].tensor.shape(), (Shape{1, 5}));
  EXPECT_EQ(sequence->request.inputs[0].tensor.byte_size(), 40u);

  ExpectInvalid(Decode(R"({"data": [1,2,3,4,5,6]})", Spec({-1, -1}, true)),
                {"more than one -1", "nested"});
  ExpectInvalid(Decode(R"({"data": [1,2,3,4,5]})", Spec({-1, 3}, true)),
                {"data has 5 elements", "does not fit", "[-1,3]"});
}

TEST(PredictCodecTest, ScalarExamples) {
  auto one = Decode(R"({"data": 2.5})", Spec({}, true));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(one->single_example);
  EXPECT_EQ(one->request.inputs[0].tensor.shape(), (Shape{1}));
  auto batch = Decode(R"({"data": [1, 2]})", Spec({}, true));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_FALSE(batch->single_example);
  EXPECT_EQ(batch->request.inputs[0].tensor.shape(), (Shape{2}));
}

TEST(PredictCodecTest, OtherDataTypes) {
  auto bytes = Decode(R"({"data": ["a", "bc"]})", Spec({2}, false, DataType::kBytes));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes->request.inputs[0].tensor.data()),
                        bytes->request.inputs[0].tensor.byte_size()),
            std::string("\x01\0\0\0a\x02\0\0\0bc", 11));
  ExpectInvalid(Decode(R"({"data": [1, 256]})", Spec({2}, true, DataType::kUint8)),
                {"input 'INPUT__0'", "data[1] = 256", "out of range"});
}

TEST(PredictCodecTest, Errors) {
  ExpectInvalid(Decode(R"({"inputs": [1]})", Spec({1}, true)), {"\"data\" is missing"});
  ExpectInvalid(Decode(R"([1,2])", Spec({2}, true)), {"JSON object"});
  ExpectInvalid(Decode(R"({"data": [1,2,3]})", Spec({2, 2}, true)),
                {"data has 3 elements", "[2,2]", "takes 4"});
  ExpectInvalid(Decode(R"({"data": [1,2,3]})", Spec({4}, true)),
                {"data has shape [3]", "takes [4]"});
  ExpectInvalid(Decode(R"({"data": [1,"x"]})", Spec({2}, true)),
                {"data[1] = \"x\"", "not a number"});
  ExpectInvalid(Decode(R"({"data": [[1,2],[3]]})", Spec({2}, true)), {"ragged"});
  ExpectInvalid(Decode(R"({"data": [1,[2]]})", Spec({2, 1}, true)), {"mixes lists and values"});
  ExpectInvalid(Decode(R"({"data": [[[[1]]]]})", Spec({1}, true)), {"nested 4 deep", "[1]"});
  ExpectInvalid(Decode(R"({"data": [[1,2],[3,4]]})", Spec({2}, false)), {"no batch dimension"});
  ExpectInvalid(Decode(R"({"data": [1,2], "id": 3})", Spec({2}, true)),
                {"\"id\" must be a string"});
  ExpectInvalid(Decode(R"({"data": [1,2)", Spec({2}, true)), {"malformed JSON at byte"});
  DecodeLimits small;
  small.max_elements = 3;
  ExpectInvalid(Decode(R"({"data": [1,2,3,4]})", Spec({-1}, true), small),
                {"more than 3 elements"});
}

TEST(PredictCodecTest, EncodesSingleExampleWithoutBatchDim) {
  InferenceResponse response;
  response.model_name = "mlp";
  response.model_version = "2";
  response.outputs.push_back({"OUTPUT__0", Make<float>(DataType::kFp32, {0.25f, 0.75f}, {1, 2})});
  EXPECT_EQ(EncodePredictResponse(response, true),
            R"({"prediction":[0.25,0.75],"model_name":"mlp","model_version":"2"})");
  EXPECT_EQ(EncodePredictResponse(response, false),
            R"({"prediction":[[0.25,0.75]],"model_name":"mlp","model_version":"2"})");
}

TEST(PredictCodecTest, EncodesSeveralOutputs) {
  InferenceResponse response;
  response.model_name = "m";
  response.model_version = "1";
  response.id = "x";
  response.outputs.push_back({"a", Make<int32_t>(DataType::kInt32, {1, 2, 3, 4}, {2, 2})});
  response.outputs.push_back({"b", Make<uint8_t>(DataType::kBool, {1, 0}, {2})});
  EXPECT_EQ(EncodePredictResponse(response, false),
            R"({"prediction":[[1,2],[3,4]],"model_name":"m","model_version":"1","id":"x",)"
            R"("outputs":{"a":[[1,2],[3,4]],"b":[true,false]}})");
}

TEST(PredictCodecTest, EncodesNoOutputsAsNull) {
  InferenceResponse response;
  EXPECT_EQ(EncodePredictResponse(response, true),
            R"({"prediction":null,"model_name":"","model_version":""})");
}

}  // namespace
}  // namespace ptserve

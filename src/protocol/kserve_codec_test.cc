#include "protocol/kserve_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "core/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const std::string> Body(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

absl::StatusOr<InferenceRequest> Decode(const std::string& json,
                                        std::optional<size_t> header = std::nullopt,
                                        const DecodeLimits& limits = {}) {
  return DecodeKServeRequest(Body(json), header, limits);
}

std::string BytesOf(const Tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data()), t.byte_size());
}

template <typename T>
Tensor Make(DataType dtype, const std::vector<T>& values, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return Tensor::FromBytes(dtype, std::move(shape), std::move(bytes));
}

Tensor MakeBytes(const std::vector<std::string>& values) {
  std::string bytes;
  for (const std::string& v : values) {
    const uint32_t len = static_cast<uint32_t>(v.size());
    bytes.append(reinterpret_cast<const char*>(&len), 4);
    bytes.append(v);
  }
  return Tensor::FromBytes(DataType::kBytes, {static_cast<int64_t>(values.size())}, bytes);
}

// One tensor of every datatype, with the values most likely to go wrong.
std::vector<NamedTensor> EveryDataType() {
  std::vector<NamedTensor> t;
  t.push_back({"bool", Make<uint8_t>(DataType::kBool, {1, 0, 1})});
  t.push_back({"uint8", Make<uint8_t>(DataType::kUint8, {0, 255, 7})});
  t.push_back({"uint16", Make<uint16_t>(DataType::kUint16, {0, 65535, 7})});
  t.push_back({"uint32", Make<uint32_t>(DataType::kUint32, {0, 4294967295u, 7})});
  t.push_back({"uint64", Make<uint64_t>(DataType::kUint64, {0, std::numeric_limits<uint64_t>::max(),
                                                            uint64_t{1} << 63})});
  t.push_back({"int8", Make<int8_t>(DataType::kInt8, {-128, 127, -1})});
  t.push_back({"int16", Make<int16_t>(DataType::kInt16, {-32768, 32767, -1})});
  t.push_back(
      {"int32", Make<int32_t>(DataType::kInt32, {std::numeric_limits<int32_t>::min(),
                                                 std::numeric_limits<int32_t>::max(), -1})});
  t.push_back(
      {"int64", Make<int64_t>(DataType::kInt64, {std::numeric_limits<int64_t>::min(),
                                                 std::numeric_limits<int64_t>::max(), -1})});
  t.push_back({"fp16", Make<uint16_t>(DataType::kFp16,
                                      {FloatToHalf(1.5f), 0x7bff /* 65504 */,
                                       0x0001 /* smallest subnormal */, FloatToHalf(-0.1f)})});
  t.push_back({"bf16", Make<uint16_t>(DataType::kBf16, {FloatToBf16(3.14159f), 0x7f7f /* max */,
                                                        FloatToBf16(-1e-30f)})});
  t.push_back({"fp32", Make<float>(DataType::kFp32,
                                   {0.1f, -std::numeric_limits<float>::max(),
                                    std::numeric_limits<float>::denorm_min(), 1.0f, -0.0f},
                                   {1, 5})});
  t.push_back({"fp64", Make<double>(DataType::kFp64,
                                    {0.1, std::numeric_limits<double>::max(),
                                     -std::numeric_limits<double>::denorm_min(), 1e-300},
                                    {2, 2})});
  t.push_back({"bytes", MakeBytes({"", "hello", "a\"b\\c\n\x01/caf\xc3\xa9"})});
  return t;
}

InferenceResponse ResponseWith(std::vector<NamedTensor> outputs, bool binary) {
  InferenceResponse response;
  response.model_name = "m";
  response.model_version = "1";
  response.outputs = std::move(outputs);
  response.binary.assign(response.outputs.size(), binary);
  return response;
}

// Turns an encoded response into a request body: "outputs" -> "inputs".
std::pair<std::string, std::optional<size_t>> AsRequest(const EncodedResponse& encoded) {
  const size_t json_size = encoded.json_header_length.value_or(encoded.body.size());
  std::string json =
      absl::StrReplaceAll(encoded.body.substr(0, json_size), {{"\"outputs\":[", "\"inputs\":["}});
  std::optional<size_t> header;
  if (encoded.json_header_length) header = json.size();
  return {json + encoded.body.substr(json_size), header};
}

void ExpectSameTensors(const std::vector<NamedTensor>& expected,
                       const std::vector<NamedTensor>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_EQ(actual[i].tensor.dtype(), expected[i].tensor.dtype());
    EXPECT_EQ(actual[i].tensor.shape(), expected[i].tensor.shape());
    EXPECT_EQ(BytesOf(actual[i].tensor), BytesOf(expected[i].tensor));
  }
}

void ExpectInvalid(const absl::StatusOr<InferenceRequest>& result,
                   const std::vector<std::string>& words) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  for (const std::string& word : words) {
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(word));
  }
}

// ----------------------------------------------------------------- round trips

TEST(KServeCodecTest, JsonRoundTripOfEveryDataTypeIsByteExact) {
  const std::vector<NamedTensor> tensors = EveryDataType();
  EncodedResponse encoded = EncodeKServeResponse(ResponseWith(tensors, false));
  EXPECT_FALSE(encoded.json_header_length.has_value());
  auto [body, header] = AsRequest(encoded);
  auto request = Decode(body, header);
  ASSERT_TRUE(request.ok()) << request.status() << "\n" << body;
  ExpectSameTensors(tensors, request->inputs);
}

TEST(KServeCodecTest, BinaryRoundTripOfEveryDataTypeIsByteExactAndZeroCopy) {
  const std::vector<NamedTensor> tensors = EveryDataType();
  EncodedResponse encoded = EncodeKServeResponse(ResponseWith(tensors, true));
  ASSERT_TRUE(encoded.json_header_length.has_value());
  auto [body_string, header] = AsRequest(encoded);
  auto body = Body(body_string);
  auto request = DecodeKServeRequest(body, header, {});
  ASSERT_TRUE(request.ok()) << request.status();
  ExpectSameTensors(tensors, request->inputs);
  const auto* begin = reinterpret_cast<const uint8_t*>(body->data()) + *header;
  const auto* end = reinterpret_cast<const uint8_t*>(body->data()) + body->size();
  for (const NamedTensor& input : request->inputs) {
    EXPECT_GE(input.tensor.data(), begin) << input.name;
    EXPECT_LE(input.tensor.data() + input.tensor.byte_size(), end) << input.name;
    EXPECT_EQ(input.tensor.owner().get(), static_cast<const void*>(body.get()));
  }
}

TEST(KServeCodecTest, MixedBinaryAndJsonOutputs) {
  std::vector<NamedTensor> tensors = EveryDataType();
  InferenceResponse response = ResponseWith(tensors, false);
  for (size_t i = 0; i < tensors.size(); i += 2) response.binary[i] = true;
  EncodedResponse encoded = EncodeKServeResponse(response);
  ASSERT_TRUE(encoded.json_header_length.has_value());
  auto [body, header] = AsRequest(encoded);
  auto request = Decode(body, header);
  ASSERT_TRUE(request.ok()) << request.status();
  ExpectSameTensors(tensors, request->inputs);
}

TEST(KServeCodecTest, NonFiniteFloatsRoundTripThroughJson) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<NamedTensor> tensors;
  tensors.push_back({"f", Make<float>(DataType::kFp32, {nan, inf, -inf, 2.0f})});
  tensors.push_back({"h", Make<uint16_t>(DataType::kFp16, {0x7c00, 0xfc00})});
  tensors.push_back(
      {"d", Make<double>(DataType::kFp64, {-std::numeric_limits<double>::infinity()})});
  EncodedResponse encoded = EncodeKServeResponse(ResponseWith(tensors, false));
  EXPECT_THAT(encoded.body, HasSubstr("\"data\":[\"NaN\",\"Infinity\",\"-Infinity\",2]"));
  auto [body, header] = AsRequest(encoded);
  auto request = Decode(body, header);
  ASSERT_TRUE(request.ok()) << request.status();
  const float* f = request->inputs[0].tensor.data_as<float>();
  EXPECT_TRUE(std::isnan(f[0]));
  EXPECT_EQ(f[1], inf);
  EXPECT_EQ(f[2], -inf);
  EXPECT_EQ(BytesOf(request->inputs[1].tensor), BytesOf(tensors[1].tensor));
  EXPECT_EQ(BytesOf(request->inputs[2].tensor), BytesOf(tensors[2].tensor));
}

// ----------------------------------------------------------------- decoding

TEST(KServeCodecTest, DecodesAllFields) {
  auto request = Decode(R"({
    "id": "req-1",
    "parameters": {"timeout": 5000, "priority": 2, "binary_data_output": true, "other": [1]},
    "inputs": [{"name": "INPUT__0", "shape": [2, 2], "datatype": "FP32",
                "data": [1, 2.5, -3, 4e2]}],
    "outputs": [{"name": "OUTPUT__0", "parameters": {"binary_data": true}},
                {"name": "OUTPUT__1"}],
    "unknown": {"ignored": true}
  })");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->id, "req-1");
  EXPECT_EQ(request->timeout_us, 5000);
  EXPECT_EQ(request->priority, 2);
  EXPECT_TRUE(request->binary_data_output);
  ASSERT_EQ(request->inputs.size(), 1u);
  EXPECT_EQ(request->inputs[0].name, "INPUT__0");
  EXPECT_EQ(request->inputs[0].tensor.shape(), (Shape{2, 2}));
  const float* f = request->inputs[0].tensor.data_as<float>();
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], 2.5f);
  EXPECT_EQ(f[2], -3.0f);
  EXPECT_EQ(f[3], 400.0f);
  ASSERT_EQ(request->outputs.size(), 2u);
  EXPECT_EQ(request->outputs[0].name, "OUTPUT__0");
  EXPECT_TRUE(request->outputs[0].binary);
  EXPECT_FALSE(request->outputs[1].binary);
}

TEST(KServeCodecTest, DefaultsWhenOptionalFieldsAreAbsent) {
  auto request = Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[3]}]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->id, "");
  EXPECT_FALSE(request->timeout_us.has_value());
  EXPECT_FALSE(request->priority.has_value());
  EXPECT_FALSE(request->binary_data_output);
  EXPECT_TRUE(request->outputs.empty());
}

TEST(KServeCodecTest, NestedAndFlatDataDecodeTheSame) {
  auto flat =
      Decode(R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[1,2,3,4,5,6]}]})");
  auto nested = Decode(
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[[1,2,3],[4,5,6]]}]})");
  ASSERT_TRUE(flat.ok()) << flat.status();
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(BytesOf(flat->inputs[0].tensor), BytesOf(nested->inputs[0].tensor));
}

TEST(KServeCodecTest, ScalarAndEmptyTensors) {
  auto request = Decode(R"({"inputs":[{"name":"s","shape":[],"datatype":"FP64","data":2.5},
                                      {"name":"e","shape":[0,3],"datatype":"FP32","data":[]}]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->inputs[0].tensor.data_as<double>()[0], 2.5);
  EXPECT_EQ(request->inputs[1].tensor.byte_size(), 0u);
  EXPECT_EQ(request->inputs[1].tensor.shape(), (Shape{0, 3}));
}

TEST(KServeCodecTest, BytesAndBoolFromJson) {
  auto request = Decode(
      R"({"inputs":[{"name":"b","shape":[2],"datatype":"BYTES","data":["hi","\u00e9\n"]},
                    {"name":"t","shape":[3],"datatype":"BOOL","data":[true,false,true]}]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(BytesOf(request->inputs[0].tensor),
            std::string("\x02\0\0\0hi\x03\0\0\0\xc3\xa9\n", 13));
  EXPECT_EQ(BytesOf(request->inputs[1].tensor), std::string("\x01\x00\x01", 3));
}

TEST(KServeCodecTest, BinaryInputsFollowJsonOrder) {
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}},)"
      R"({"name":"j","shape":[1],"datatype":"INT16","data":[9]},)"
      R"({"name":"b","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]})";
  const std::string body = json + std::string("\x01\x00\x02\x00\x05", 5);
  auto request = Decode(body, json.size());
  ASSERT_TRUE(request.ok()) << request.status();
  // Binary views sit at arbitrary offsets of the body: read them unaligned.
  EXPECT_EQ(BytesOf(request->inputs[0].tensor), std::string("\x01\x00\x02\x00", 4));
  EXPECT_EQ(BytesOf(request->inputs[1].tensor), std::string("\x09\x00", 2));
  EXPECT_EQ(request->inputs[2].tensor.data()[0], 5);
}

TEST(KServeCodecTest, ParsesInPlaceWhenTheBodyHasPadding) {
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[100],"datatype":"UINT8","parameters":{"binary_data_size":100}}]})";
  std::string body_string;
  body_string.reserve(json.size() + 100 + 64);
  body_string.append(json);
  body_string.append(100, '\x7b');  // '{' bytes right after the JSON
  auto body = Body(std::move(body_string));
  ASSERT_GE(body->capacity(), body->size() + 64);
  auto request = DecodeKServeRequest(body, json.size(), {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->inputs[0].tensor.data(),
            reinterpret_cast<const uint8_t*>(body->data()) + json.size());
}

TEST(KServeCodecTest, HeaderLengthEqualToBodyMeansJsonOnly) {
  const std::string json = R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[-5]}]})";
  auto request = Decode(json, json.size());
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(static_cast<int8_t>(request->inputs[0].tensor.data()[0]), -5);
}

// ----------------------------------------------------------------- errors

TEST(KServeCodecTest, ElementCountMismatch) {
  std::string data = "[";
  for (int i = 0; i < 783; ++i) data += (i ? ",0.1" : "0.1");
  data += "]";
  ExpectInvalid(
      Decode(R"({"inputs":[{"name":"INPUT__0","shape":[1,784],"datatype":"FP32","data":)" + data +
             "}]}"),
      {"input 'INPUT__0': shape [1,784] has 784 elements but data has 783"});
  ExpectInvalid(
      Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[[1],[2]]}]})"),
      {"input 'x'", "has 1 elements but data has 2"});
}

TEST(KServeCodecTest, UnknownDatatype) {
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP23","data":[1]}]})"),
                {"input 'x': datatype 'FP23' is not a KServe datatype"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"fp32","data":[1]}]})"),
                {"'fp32' is not a KServe datatype"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})"),
                {"input 'x'", "\"datatype\" is missing"});
}

TEST(KServeCodecTest, ElementsOfTheWrongTypeOrRange) {
  ExpectInvalid(
      Decode(R"({"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[1,300]}]})"),
      {"input 'x'", "data[1] = 300", "out of range", "UINT8"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1.5]}]})"),
                {"input 'x'", "data[0] = 1.5", "not an integer"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]})"),
                {"input 'x'", "not true or false"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[1]}]})"),
                {"input 'x'", "not a string"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["one"]}]})"),
                {"input 'x'", "not a number"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT64","data":[-1]}]})"),
                {"input 'x'", "out of range"});
}

TEST(KServeCodecTest, BinaryDataSizeBeyondBody) {
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[25],"datatype":"FP32","parameters":{"binary_data_size":100}}]})";
  ExpectInvalid(Decode(json + std::string(40, '\0'), json.size()),
                {"binary_data_size of input 'x' is 100 but only 40 bytes remain"});
  // Without the header the whole body is JSON: nothing remains.
  ExpectInvalid(Decode(json), {"binary_data_size of input 'x' is 100 but only 0 bytes remain"});
}

TEST(KServeCodecTest, BinaryDataSizeMustMatchShape) {
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  ExpectInvalid(Decode(json + std::string(8, '\0'), json.size()),
                {"input 'x'", "binary_data_size is 8", "needs 12 bytes"});
}

TEST(KServeCodecTest, BinaryBytesMustBeWellFormed) {
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":7}}]})";
  ExpectInvalid(Decode(json + std::string("\x01\0\0\0a\x05\0", 7), json.size()),
                {"input 'x'", "truncated"});
  const std::string json2 =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":5}}]})";
  ExpectInvalid(Decode(json2 + std::string("\x01\0\0\0a", 5), json2.size()),
                {"input 'x'", "has 1 elements but the shape has 2"});
  const std::string json3 =
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]})";
  ExpectInvalid(Decode(json3 + std::string("\x09\0\0\0ab", 6), json3.size()),
                {"input 'x'", "length 9 but only 2 bytes remain"});
}

TEST(KServeCodecTest, UnclaimedBinaryBytes) {
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]})";
  ExpectInvalid(Decode(json + "abc", json.size()), {"2 bytes", "not claimed"});
}

TEST(KServeCodecTest, HeaderLengthLargerThanBody) {
  ExpectInvalid(Decode("{}", 10), {"Inference-Header-Content-Length is 10", "only 2 bytes"});
}

TEST(KServeCodecTest, MalformedJsonNamesTheByte) {
  ExpectInvalid(Decode(R"({"inputs": [1, 2,, 3]})"), {"malformed JSON at byte 17: "});
  ExpectInvalid(Decode(""), {"malformed JSON at byte 0"});
  // The JSON ends at the header length; the binary part is not JSON.
  ExpectInvalid(Decode("{\"inputs\":[]}xyz", 5), {"malformed JSON at byte 5"});
}

TEST(KServeCodecTest, HugeShapesAreRejectedBeforeAllocating) {
  ExpectInvalid(
      Decode(
          R"({"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[]}]})"),
      {"input 'x'", "shape [4294967296,4294967296] has more than 268435456 elements"});
  ExpectInvalid(
      Decode(
          R"({"inputs":[{"name":"x","shape":[4294967296,4294967296,4294967296],"datatype":"FP64",)"
          R"("parameters":{"binary_data_size":0}}]})"),
      {"input 'x'", "more than"});
  ExpectInvalid(
      Decode(
          R"({"inputs":[{"name":"x","shape":[18446744073709551615],"datatype":"FP32","data":[]}]})"),
      {"input 'x'", "too many elements"});
  DecodeLimits small;
  small.max_elements = 10;
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[11],"datatype":"INT8","data":[]}]})",
                       std::nullopt, small),
                {"has more than 10 elements"});
}

TEST(KServeCodecTest, BadShapes) {
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[2,-1],"datatype":"FP32","data":[]}]})"),
                {"input 'x'", "negative dimension"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1.5],"datatype":"FP32","data":[]}]})"),
                {"input 'x'", "\"shape\" must be an array of integers"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","datatype":"FP32","data":[]}]})"),
                {"input 'x'", "\"shape\" is missing"});
}

TEST(KServeCodecTest, MissingOrMalformedInputs) {
  ExpectInvalid(Decode(R"({"id":"a"})"), {"\"inputs\" is missing"});
  ExpectInvalid(Decode(R"({"inputs":{}})"), {"\"inputs\" must be an array"});
  ExpectInvalid(Decode(R"([1])"), {"request must be a JSON object"});
  ExpectInvalid(Decode(R"({"inputs":[5]})"), {"inputs[0] must be a JSON object"});
  ExpectInvalid(Decode(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})"),
                {"inputs[0]", "\"name\" is missing"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})"),
                {"input 'x'", "neither \"data\" nor binary_data_size"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],)"
                       R"("parameters":{"binary_data_size":4}}]})"),
                {"input 'x'", "both \"data\" and binary_data_size"});
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32",)"
                       R"("parameters":{"binary_data_size":-4}}]})"),
                {"input 'x'", "binary_data_size must be a non-negative integer"});
}

TEST(KServeCodecTest, DuplicateNames) {
  ExpectInvalid(Decode(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},
                                     {"name":"x","shape":[1],"datatype":"FP32","data":[2]}]})"),
                {"duplicate input name 'x'"});
  ExpectInvalid(Decode(R"({"inputs":[],"outputs":[{"name":"y"},{"name":"y"}]})"),
                {"duplicate output name 'y'"});
}

TEST(KServeCodecTest, BadParameters) {
  ExpectInvalid(Decode(R"({"inputs":[],"parameters":{"timeout":-1}})"), {"'timeout'", "-1"});
  ExpectInvalid(Decode(R"({"inputs":[],"parameters":{"timeout":"5"}})"), {"'timeout'"});
  ExpectInvalid(Decode(R"({"inputs":[],"parameters":{"priority":1.5}})"), {"'priority'"});
  ExpectInvalid(Decode(R"({"inputs":[],"parameters":{"binary_data_output":1}})"),
                {"'binary_data_output'"});
  ExpectInvalid(Decode(R"({"inputs":[],"parameters":[]})"),
                {"\"parameters\" must be a JSON object"});
  ExpectInvalid(Decode(R"({"inputs":[],"id":5})"), {"\"id\" must be a string"});
  ExpectInvalid(
      Decode(R"({"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":"yes"}}]})"),
      {"output 'y'", "binary_data must be true or false"});
  ExpectInvalid(Decode(R"({"inputs":[],"outputs":{}})"), {"\"outputs\" must be an array"});
}

TEST(KServeCodecTest, NullBody) {
  auto result = DecodeKServeRequest(nullptr, std::nullopt, {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

// ----------------------------------------------------------------- encoding

TEST(KServeCodecTest, EncodesTheDocumentedJson) {
  InferenceResponse response =
      ResponseWith({{"out", Make<float>(DataType::kFp32, {0.5f, 1.0f}, {1, 2})}}, false);
  response.id = "r\"1";
  response.timing = {12, 34, 8};
  EncodedResponse encoded = EncodeKServeResponse(response);
  EXPECT_EQ(encoded.body,
            R"({"model_name":"m","model_version":"1","id":"r\"1",)"
            R"("parameters":{"queue_time_us":12,"compute_time_us":34,"batch_size":8},)"
            R"("outputs":[{"name":"out","datatype":"FP32","shape":[1,2],"data":[0.5,1]}]})");
  EXPECT_FALSE(encoded.json_header_length.has_value());
}

TEST(KServeCodecTest, OmitsEmptyIdAndWritesBinaryAfterJson) {
  InferenceResponse response = ResponseWith(
      {{"a", Make<int32_t>(DataType::kInt32, {7})}, {"b", Make<uint8_t>(DataType::kUint8, {1, 2})}},
      false);
  response.binary = {false, true};
  EncodedResponse encoded = EncodeKServeResponse(response);
  ASSERT_TRUE(encoded.json_header_length.has_value());
  const std::string json = encoded.body.substr(0, *encoded.json_header_length);
  EXPECT_EQ(json.find("\"id\""), std::string::npos);
  EXPECT_THAT(json, HasSubstr(R"({"name":"a","datatype":"INT32","shape":[1],"data":[7]})"));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"({"name":"b","datatype":"UINT8","shape":[2],"parameters":{"binary_data_size":2}})"));
  EXPECT_EQ(encoded.body.substr(*encoded.json_header_length), std::string("\x01\x02", 2));
}

TEST(KServeCodecTest, ShortBinaryVectorMeansJson) {
  InferenceResponse response = ResponseWith({{"a", Make<int8_t>(DataType::kInt8, {-1})}}, false);
  response.binary.clear();
  EncodedResponse encoded = EncodeKServeResponse(response);
  EXPECT_FALSE(encoded.json_header_length.has_value());
  EXPECT_THAT(encoded.body, HasSubstr("\"data\":[-1]"));
}

TEST(KServeCodecTest, EncodedBytesAreEscapedAndValidJson) {
  InferenceResponse response = ResponseWith({{"s", MakeBytes({"q\"\\\x01", "\xff"})}}, false);
  EncodedResponse encoded = EncodeKServeResponse(response);
  EXPECT_THAT(encoded.body, HasSubstr(R"("data":["q\"\\\u0001","\u00ff"])"));
  auto [body, header] = AsRequest(encoded);
  auto request = Decode(body, header);
  ASSERT_TRUE(request.ok()) << request.status();
  // Valid UTF-8 round-trips exactly; the invalid byte 0xFF comes back as U+00FF.
  EXPECT_EQ(BytesOf(request->inputs[0].tensor),
            std::string("\x04\0\0\0q\"\\\x01\x02\0\0\0\xc3\xbf", 14));
}

}  // namespace
}  // namespace ptserve

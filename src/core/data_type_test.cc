#include "core/data_type.h"

#include <gtest/gtest.h>

namespace ptserve {
namespace {

TEST(DataTypeTest, NamesRoundTrip) {
  for (DataType t : kAllDataTypes) {
    EXPECT_EQ(DataTypeFromName(DataTypeName(t)), t);
    EXPECT_EQ(DataTypeFromConfigName(DataTypeConfigName(t)), t);
  }
}

TEST(DataTypeTest, UnknownNames) {
  EXPECT_FALSE(DataTypeFromName("fp32").has_value());
  EXPECT_FALSE(DataTypeFromName("").has_value());
  EXPECT_FALSE(DataTypeFromConfigName("FP32").has_value());
  EXPECT_EQ(DataTypeFromConfigName("TYPE_STRING"), DataType::kBytes);
}

TEST(DataTypeTest, Sizes) {
  EXPECT_EQ(DataTypeSize(DataType::kBool), 1u);
  EXPECT_EQ(DataTypeSize(DataType::kBf16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kFp32), 4u);
  EXPECT_EQ(DataTypeSize(DataType::kInt64), 8u);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
}

}  // namespace
}  // namespace ptserve

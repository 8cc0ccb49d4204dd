#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ptserve {
namespace {

TEST(HalfTest, ExactValuesRoundTrip) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 0.333251953125f, 65504.0f, 6.103515625e-05f,
                  5.960464477539063e-08f /* smallest subnormal */}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

TEST(HalfTest, RoundsToNearestEvenAndOverflows) {
  EXPECT_EQ(HalfToFloat(FloatToHalf(1.0f + 1.0f / 4096)), 1.0f);  // halfway, ties to even
  EXPECT_EQ(HalfToFloat(FloatToHalf(1e6f)), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(FloatToHalf(1e-10f)), 0.0f);
}

TEST(Bf16Test, RoundTrip) {
  for (float f : {0.0f, 1.0f, -3.0f, 0.15625f, 0x1p100f}) {
    EXPECT_EQ(Bf16ToFloat(FloatToBf16(f)), f);
  }
  EXPECT_NEAR(Bf16ToFloat(FloatToBf16(0.1f)), 0.1f, 1e-3f);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::nanf("")))));
}

}  // namespace
}  // namespace ptserve

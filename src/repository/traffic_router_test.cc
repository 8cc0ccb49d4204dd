#include "repository/traffic_router.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace ptserve {
namespace {

config::RoutingConfig Routing(double wa, double wb, bool shadow = false) {
  config::RoutingConfig c;
  auto* a = c.add_variant();
  a->set_name("a");
  a->set_model("mlp");
  a->set_version("1");
  a->set_weight(wa);
  auto* b = c.add_variant();
  b->set_name("b");
  b->set_model("mlp");
  b->set_version("2");
  b->set_weight(wb);
  if (shadow) {
    auto* s = c.add_variant();
    s->set_name("s");
    s->set_model("digits");
    s->set_shadow(true);
  }
  return c;
}

TEST(TrafficRouterTest, SplitFollowsWeights) {
  auto r = TrafficRouter::Create(Routing(1, 3), "ab").value();
  std::map<std::string, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[r->Pick("", "").value().name]++;
  // Binomial(20000, 0.25): sd ~61; 5 sd.
  EXPECT_NEAR(counts["a"], n / 4, 310);
  EXPECT_EQ(counts["a"] + counts["b"], n);
}

TEST(TrafficRouterTest, KeysAreStickyAndSpread) {
  auto r = TrafficRouter::Create(Routing(1, 1), "ab").value();
  std::map<std::string, int> counts;
  for (int user = 0; user < 4000; ++user) {
    const std::string key = "user-" + std::to_string(user);
    const std::string first = r->Pick(key, "").value().name;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r->Pick(key, "").value().name, first);
    counts[first]++;
  }
  EXPECT_NEAR(counts["a"], 2000, 200);
}

TEST(TrafficRouterTest, ForcedVariantAndErrors) {
  auto r = TrafficRouter::Create(Routing(1, 0, true), "ab").value();
  EXPECT_EQ(r->Pick("", "b").value().name, "b");
  EXPECT_EQ(r->Pick("", "").value().name, "a");  // b has weight 0
  EXPECT_FALSE(r->Pick("", "zzz").ok());
  EXPECT_FALSE(r->Pick("", "s").ok());  // shadows are never primary
  ASSERT_EQ(r->Shadows().size(), 1u);
  EXPECT_EQ(r->Shadows()[0].model, "digits");
}

TEST(TrafficRouterTest, LiveWeightChange) {
  auto r = TrafficRouter::Create(Routing(1, 0), "ab").value();
  ASSERT_TRUE(r->SetWeights({{"a", 0}, {"b", 5}}).ok());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r->Pick("", "").value().name, "b");
  EXPECT_FALSE(r->SetWeights({{"b", 0}}).ok());   // all zero
  EXPECT_FALSE(r->SetWeights({{"x", 1}}).ok());   // unknown
  EXPECT_FALSE(r->SetWeights({{"a", -1}}).ok());  // negative
  EXPECT_EQ(r->Pick("", "").value().name, "b");   // unchanged
}

TEST(TrafficRouterTest, InvalidConfigs) {
  config::RoutingConfig empty;
  EXPECT_FALSE(TrafficRouter::Create(empty, "ab").ok());
  EXPECT_FALSE(TrafficRouter::Create(Routing(0, 0), "ab").ok());
  auto self = Routing(1, 1);
  self.mutable_variant(0)->set_model("ab");
  EXPECT_FALSE(TrafficRouter::Create(self, "ab").ok());
}

}  // namespace
}  // namespace ptserve

#include "server/http/router.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve::http {
namespace {

using ::testing::HasSubstr;

// Records what was sent.
class FakeResponder : public Responder {
 public:
  void Send(HttpResponse response) override {
    if (!sent) sent = std::move(response);
  }
  bool disconnected() const override { return false; }
  void OnDisconnect(std::function<void()>) override {}

  std::optional<HttpResponse> sent;
};

// A handler that answers with `name` and the request's parameters "k=v;".
Handler Named(std::string name) {
  return [name](HttpRequest& request, std::shared_ptr<Responder> responder) {
    std::string body = name + ":";
    for (const auto& [key, value] : request.path_params) body += key + "=" + value + ";";
    HttpResponse response;
    response.body = std::move(body);
    responder->Send(std::move(response));
  };
}

HttpResponse Route(const Router& router, std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  auto responder = std::make_shared<FakeResponder>();
  router.Dispatch(request, responder);
  EXPECT_TRUE(responder->sent.has_value());
  return responder->sent.value_or(HttpResponse{});
}

TEST(RouterTest, MatchesLiteralRoutes) {
  Router router;
  router.Add("GET", "/", Named("root"));
  router.Add("GET", "/v2/health/ready", Named("ready"));
  router.Add("GET", "/v2/health/live", Named("live"));
  EXPECT_EQ(Route(router, "GET", "/").body, "root:");
  EXPECT_EQ(Route(router, "GET", "/v2/health/ready").body, "ready:");
  EXPECT_EQ(Route(router, "GET", "/v2/health/live").body, "live:");
  EXPECT_EQ(Route(router, "GET", "/v2/health/live/").status, 404);  // trailing slash differs
  EXPECT_EQ(Route(router, "GET", "/v2/health").status, 404);
}

TEST(RouterTest, ExtractsNamedParameters) {
  Router router;
  router.Add("POST", "/v2/models/{model}/versions/{version}/infer", Named("infer"));
  router.Add("POST", "/v2/models/{model}/infer", Named("infer_latest"));
  EXPECT_EQ(Route(router, "POST", "/v2/models/mlp/versions/3/infer").body,
            "infer:model=mlp;version=3;");
  EXPECT_EQ(Route(router, "POST", "/v2/models/resnet-50/infer").body,
            "infer_latest:model=resnet-50;");
}

TEST(RouterTest, ParamOnRequestIsAvailableToTheHandler) {
  Router router;
  std::string seen;
  router.Add("GET", "/m/{model}", [&](HttpRequest& request, std::shared_ptr<Responder> r) {
    seen = std::string(request.Param("model"));
    r->Send({});
  });
  Route(router, "GET", "/m/bert");
  EXPECT_EQ(seen, "bert");
}

TEST(RouterTest, ParameterNeedsANonEmptySegment) {
  Router router;
  router.Add("GET", "/v2/models/{model}/ready", Named("ready"));
  EXPECT_EQ(Route(router, "GET", "/v2/models//ready").status, 404);
  EXPECT_EQ(Route(router, "GET", "/v2/models/a/b/ready").status, 404);
}

TEST(RouterTest, PercentDecodesParametersWithoutCreatingSegments) {
  Router router;
  router.Add("GET", "/v2/models/{model}/ready", Named("ready"));
  EXPECT_EQ(Route(router, "GET", "/v2/models/my%20model/ready").body, "ready:model=my model;");
  // %2F decodes to '/' inside the value; it is not a separator.
  EXPECT_EQ(Route(router, "GET", "/v2/models/a%2Fb/ready").body, "ready:model=a/b;");
  EXPECT_EQ(Route(router, "GET", "/v2/models/..%2F..%2Fetc/ready").body, "ready:model=../../etc;");
  // Literal segments compare decoded too.
  EXPECT_EQ(Route(router, "GET", "/v2/%6Dodels/x/ready").body, "ready:model=x;");
}

TEST(RouterTest, MalformedPercentEscapeIs400) {
  Router router;
  router.Add("GET", "/m/{model}", Named("m"));
  EXPECT_EQ(Route(router, "GET", "/m/bad%2").status, 400);
  EXPECT_EQ(Route(router, "GET", "/m/bad%zz").status, 400);
}

TEST(RouterTest, LiteralSegmentsWinOverParameters) {
  Router router;
  router.Add("GET", "/models/{name}", Named("param"));  // added first on purpose
  router.Add("GET", "/models/stats", Named("literal"));
  router.Add("GET", "/{a}/b", Named("a_b"));
  router.Add("GET", "/x/{b}", Named("x_b"));
  EXPECT_EQ(Route(router, "GET", "/models/stats").body, "literal:");
  EXPECT_EQ(Route(router, "GET", "/models/mlp").body, "param:name=mlp;");
  // Literal at the first differing position wins.
  EXPECT_EQ(Route(router, "GET", "/x/b").body, "x_b:b=b;");
  EXPECT_EQ(Route(router, "GET", "/y/b").body, "a_b:a=y;");
}

TEST(RouterTest, FallsBackToAParameterRouteWithTheMethod) {
  Router router;
  router.Add("GET", "/models/stats", Named("stats"));
  router.Add("POST", "/models/{name}", Named("post"));
  EXPECT_EQ(Route(router, "POST", "/models/stats").body, "post:name=stats;");
}

TEST(RouterTest, NoRouteIs404WithJsonMessage) {
  Router router;
  router.Add("GET", "/ping", Named("ping"));
  HttpResponse response = Route(router, "GET", "/x");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, R"({"error":"no route for GET /x"})");
  EXPECT_EQ(response.content_type, "application/json");
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  Router router;
  router.Add("GET", "/v2/repository/models/{m}", Named("get"));
  router.Add("DELETE", "/v2/repository/models/{m}", Named("delete"));
  router.Add("GET", "/v2/repository/models/index", Named("index"));
  HttpResponse response = Route(router, "POST", "/v2/repository/models/index");
  EXPECT_EQ(response.status, 405);
  EXPECT_THAT(response.body, HasSubstr("POST"));
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "Allow");
  EXPECT_EQ(response.headers[0].second, "GET, DELETE");
}

TEST(RouterTest, NonOriginTargetIs404) {
  Router router;
  router.Add("OPTIONS", "/", Named("root"));
  EXPECT_EQ(Route(router, "OPTIONS", "*").status, 404);
}

TEST(RouterTest, HandlerMayKeepTheResponder) {
  Router router;
  std::shared_ptr<Responder> kept;
  router.Add("GET", "/later",
             [&](HttpRequest&, std::shared_ptr<Responder> r) { kept = std::move(r); });
  HttpRequest request;
  request.method = "GET";
  request.path = "/later";
  auto responder = std::make_shared<FakeResponder>();
  router.Dispatch(request, responder);
  EXPECT_FALSE(responder->sent.has_value());
  kept->Send({});
  EXPECT_TRUE(responder->sent.has_value());
}

TEST(PercentDecodeTest, Decodes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%41%62+c", &out));
  EXPECT_EQ(out, "aAb+c");
  EXPECT_FALSE(PercentDecode("%4", &out));
  EXPECT_FALSE(PercentDecode("%", &out));
  EXPECT_FALSE(PercentDecode("%g0", &out));
}

TEST(RouterDeathTest, InvalidPatternsAbort) {
  auto ok = [](HttpRequest&, std::shared_ptr<Responder>) {};
  EXPECT_DEATH(Router().Add("GET", "no-slash", ok), "must start with");
  EXPECT_DEATH(Router().Add("GET", "/a{b}", ok), "whole segment");
  EXPECT_DEATH(Router().Add("GET", "/{}", ok), "whole segment");
  EXPECT_DEATH(Router().Add("GET", "/{a}/{a}", ok), "repeated");
  EXPECT_DEATH(
      {
        Router router;
        router.Add("GET", "/m/{a}", ok);
        router.Add("GET", "/m/{b}", ok);
      },
      "conflicts with /m/\\{a\\}");
}

}  // namespace
}  // namespace ptserve::http

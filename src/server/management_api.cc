#include "server/management_api.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <map>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "protocol/json_writer.h"
#include "server/http_status.h"
#include "simdjson.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Responder;

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

bool SameSecret(std::string_view given, std::string_view secret) {
  // Time depends only on the secret's length, never on where `given` differs.
  volatile unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < secret.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(secret[i]));
  }
  return diff == 0;
}

bool ManagementHostAllowed(std::string_view host, std::string_view configured_address) {
  // Host = uri-host [ ":" port ]; an IPv6 literal is in brackets.
  std::string name;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = std::string(host.substr(1, close - 1));
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() > 6)) return false;
  } else {
    const size_t colon = host.find(':');
    name = std::string(host.substr(0, colon));
    if (colon != std::string_view::npos && host.find(':', colon + 1) != std::string_view::npos) {
      return false;
    }
  }
  absl::AsciiStrToLower(&name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return false;
  if (name == "localhost" || absl::EndsWith(name, ".localhost")) return true;
  std::string configured(configured_address);
  absl::AsciiStrToLower(&configured);
  if (configured.size() > 2 && configured.front() == '[' && configured.back() == ']') {
    configured = configured.substr(1, configured.size() - 2);
  }
  if (name == configured) return true;
  boost::system::error_code ec;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(name, ec);
  if (ec) return false;  // a name that is not a loopback name: possibly DNS rebinding
  if (ip.is_loopback()) return true;
  if (ip.is_v6() && ip.to_v6().is_v4_mapped() &&
      boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ip.to_v6()).is_loopback()) {
    return true;
  }
  const boost::asio::ip::address bound = boost::asio::ip::make_address(configured, ec);
  if (!ec && bound.is_unspecified()) return true;  // listening everywhere: any IP literal
  return !ec && bound == ip;
}

bool IsJsonContentType(std::string_view content_type) {
  std::string media(content_type.substr(0, content_type.find(';')));
  absl::AsciiStrToLower(&media);
  return absl::StripAsciiWhitespace(media) == "application/json";
}

namespace {

// Parses an optional JSON object body; nullopt for an empty body.
absl::StatusOr<std::optional<simdjson::dom::element>> ParseBody(simdjson::dom::parser& parser,
                                                                const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return std::optional<simdjson::dom::element>();
  }
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return absl::InvalidArgumentError("the request body is not a JSON object");
  }
  return std::optional<simdjson::dom::element>(doc);
}

// ParseBody for a handler: false when the body is bad (then answered 400).
bool ReadBody(simdjson::dom::parser& parser, const HttpRequest& request, Responder& responder,
              std::optional<simdjson::dom::element>* body) {
  absl::StatusOr<std::optional<simdjson::dom::element>> parsed = ParseBody(parser, *request.body);
  if (!parsed.ok()) {
    responder.Send(ErrorFor(parsed.status()));
    return false;
  }
  *body = *parsed;
  return true;
}

// Profiles: ------------------------------------------------------------------

constexpr int kDefaultProfileExecutions = 10;
constexpr int kMaxProfileExecutions = 1000;
constexpr int64_t kDefaultProfileTimeoutMs = 30000;
constexpr int64_t kMaxProfileTimeoutMs = 600000;

struct ProfileCall {
  profiling::ProfileRequest request;
  std::string version;  // "" = the newest ready one
  bool trace_only = false;
};

// {"requests": n, "timeout_ms": ms, "version": "v" or n}, every key optional;
// ?format=trace (or json).
absl::StatusOr<ProfileCall> ParseProfileCall(simdjson::dom::parser& parser,
                                             const HttpRequest& request) {
  ProfileCall call;
  call.request.executions = kDefaultProfileExecutions;
  call.request.timeout = std::chrono::milliseconds(kDefaultProfileTimeoutMs);
  for (std::string_view rest = request.query; !rest.empty();) {
    const size_t amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item == "format=trace") {
      call.trace_only = true;
    } else if (item != "format=json" && !item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter '", Str(item), "' (valid: format=json|trace)"));
    }
  }
  ASSIGN_OR_RETURN(auto body, ParseBody(parser, *request.body));
  if (!body) return call;
  simdjson::dom::object fields;
  if (body->get(fields) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the request body is not a JSON object");
  }
  for (auto [key, value] : fields) {
    if (key == "requests") {
      int64_t n;
      if (value.get(n) != simdjson::SUCCESS || n < 1 || n > kMaxProfileExecutions) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'requests' must be an integer from 1 to ", kMaxProfileExecutions));
      }
      call.request.executions = static_cast<int>(n);
    } else if (key == "timeout_ms") {
      int64_t ms;
      if (value.get(ms) != simdjson::SUCCESS || ms < 1 || ms > kMaxProfileTimeoutMs) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'timeout_ms' must be an integer from 1 to ", kMaxProfileTimeoutMs));
      }
      call.request.timeout = std::chrono::milliseconds(ms);
    } else if (key == "version") {
      std::string_view text;
      int64_t number;
      if (value.get(text) == simdjson::SUCCESS) {
        call.version = Str(text);
      } else if (value.get(number) == simdjson::SUCCESS) {
        call.version = absl::StrCat(number);
      } else {
        return absl::InvalidArgumentError("'version' must be a string or an integer");
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown key '", Str(key), "' in the profile request (valid: requests, timeout_ms, "
          "version)"));
    }
  }
  return call;
}

std::string ProfileJson(const std::string& model, const std::string& version,
                        const profiling::ProfileReport& report) {
  std::string out = "{\"model\":";
  AppendJsonString(&out, model);
  out.append(",\"version\":");
  AppendJsonString(&out, version);
  out.append(",\"requested\":");
  AppendJsonInt(&out, report.requested);
  out.append(",\"executions\":");
  AppendJsonInt(&out, report.executions);
  out.append(",\"timed_out\":");
  AppendJsonBool(&out, report.timed_out);
  out.append(",\"total_us\":");
  AppendJsonDouble(&out, std::round(report.total_us * 10) / 10);
  out.append(",\"operator_us\":");
  AppendJsonDouble(&out, std::round(report.operator_us * 10) / 10);
  out.append(",\"operators\":[");
  bool first = true;
  for (const profiling::OperatorStats& op : report.operators) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"name\":");
    AppendJsonString(&out, op.name);
    out.append(",\"calls\":");
    AppendJsonInt(&out, op.calls);
    out.append(",\"self_us\":");
    AppendJsonDouble(&out, std::round(op.self_us * 10) / 10);
    out.append(",\"self_share\":");
    AppendJsonDouble(&out, std::round(op.self_share * 1e4) / 1e4);
    out.append(",\"total_us\":");
    AppendJsonDouble(&out, std::round(op.total_us * 10) / 10);
    out.push_back('}');
  }
  out.append("],\"trace\":");
  out.append(report.trace_json);
  out.push_back('}');
  return out;
}

}  // namespace

ManagementApi::ManagementApi(Options options, ModelRepository* repository)
    : options_(std::move(options)), repository_(repository) {}

ManagementApi::~ManagementApi() { background_.Stop(); }

void ManagementApi::Register(http::Router& router) {
  router.Add("POST", "/v2/repository/index",
             [this](HttpRequest& q, std::shared_ptr<Responder> r) { Index(q, std::move(r)); });
  router.Add("POST", "/v2/repository/models/{model}/load",
             [this](HttpRequest& q, std::shared_ptr<Responder> r) { Load(q, std::move(r)); });
  router.Add("POST", "/v2/repository/models/{model}/unload",
             [this](HttpRequest& q, std::shared_ptr<Responder> r) { Unload(q, std::move(r)); });
  router.Add("POST", "/v2/repository/models/{model}/routing",
             [this](HttpRequest& q, std::shared_ptr<Responder> r) { Routing(q, std::move(r)); });
  router.Add("POST", "/v2/repository/models/{model}/profile",
             [this](HttpRequest& q, std::shared_ptr<Responder> r) { Profile(q, std::move(r)); });
}

bool ManagementApi::Authorized(const HttpRequest& request, Responder& responder) const {
  const std::string_view host = request.Header("host");
  if (!options_.inference_port && !host.empty() && !ManagementHostAllowed(host, options_.address)) {
    responder.Send(http::ErrorResponse(
        403, "the management API answers only requests addressed to a loopback name or "
             "address or to --management-address (Host header refused)"));
    return false;
  }
  const std::string_view origin = request.Header("origin");
  if (!origin.empty()) {
    std::string own =
        absl::StrCat(options_.scheme, "://", absl::string_view(host.data(), host.size()));
    std::string given(origin);
    absl::AsciiStrToLower(&own);
    absl::AsciiStrToLower(&given);
    if (host.empty() || given != own) {
      responder.Send(http::ErrorResponse(
          403, "cross-origin requests to the management API are refused (Origin header)"));
      return false;
    }
  }
  if (!options_.token.empty()) {
    std::string_view auth = request.Header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    const bool bearer = auth.size() > kBearer.size() &&
                        absl::EqualsIgnoreCase(absl::string_view(auth.data(), kBearer.size()),
                                               absl::string_view(kBearer.data(), kBearer.size()));
    const bool valid = SameSecret(bearer ? auth.substr(kBearer.size()) : std::string_view(),
                                  options_.token);
    if (!bearer || !valid) {
      HttpResponse response = http::ErrorResponse(
          401, auth.empty() ? "the management API needs 'Authorization: Bearer <token>'"
                            : "invalid management token");
      response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ptserve-management\"");
      responder.Send(std::move(response));
      return false;
    }
  }
  if (!request.body->empty() && !IsJsonContentType(request.Header("content-type"))) {
    responder.Send(http::ErrorResponse(
        415, "a management request with a body needs 'Content-Type: application/json'"));
    return false;
  }
  return true;
}

void ManagementApi::Index(HttpRequest& request, std::shared_ptr<Responder> responder) {
  if (!Authorized(request, *responder)) return;
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::element> body;
  if (!ReadBody(parser, request, *responder, &body)) return;
  bool ready_only = false;
  if (body) {
    bool ready;
    if ((*body)["ready"].get(ready) == simdjson::SUCCESS) ready_only = ready;
  }
  std::string out = "[";
  bool first = true;
  for (const RepositoryIndexEntry& e : repository_->Index(ready_only)) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"name\":");
    AppendJsonString(&out, e.name);
    if (!e.version.empty()) {
      out.append(",\"version\":");
      AppendJsonString(&out, e.version);
    }
    out.append(",\"state\":");
    AppendJsonString(&out, ModelStateName(e.state));
    out.append(",\"reason\":");
    AppendJsonString(&out, e.reason);
    out.push_back('}');
  }
  out.push_back(']');
  responder->Send({200, "application/json", {}, std::move(out)});
}

void ManagementApi::Load(HttpRequest& request, std::shared_ptr<Responder> responder) {
  if (!Authorized(request, *responder)) return;
  const std::string name = Str(request.Param("model"));
  std::optional<config::ModelConfig> override_config;
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::element> body;
  if (!ReadBody(parser, request, *responder, &body)) return;
  if (body) {
    std::string_view config_json;
    if ((*body)["parameters"]["config"].get(config_json) == simdjson::SUCCESS) {
      config::ModelConfig config;
      google::protobuf::util::JsonParseOptions options;
      auto status = google::protobuf::util::JsonStringToMessage(
          std::string(config_json), &config, options);
      if (!status.ok()) {
        responder->Send(http::ErrorResponse(
            400, absl::StrCat("parameters.config is not a valid model config: ",
                              std::string(status.message()))));
        return;
      }
      override_config = std::move(config);
    }
  }
  background_.Post([this, name, override_config, responder] {
    absl::Status status = repository_->Load(name, override_config);
    if (!status.ok()) {
      responder->Send(ErrorFor(status.code() == absl::StatusCode::kNotFound
                                   ? status
                                   : absl::InvalidArgumentError(absl::StrCat(
                                         "failed to load '", name, "': ", status.message()))));
      return;
    }
    responder->Send({200, "application/json", {}, "{}"});
  });
}

void ManagementApi::Unload(HttpRequest& request, std::shared_ptr<Responder> responder) {
  if (!Authorized(request, *responder)) return;
  const std::string name = Str(request.Param("model"));
  absl::Status status = repository_->Unload(name);
  if (!status.ok()) {
    responder->Send(ErrorFor(status));
    return;
  }
  responder->Send({200, "application/json", {}, "{}"});
}

void ManagementApi::Routing(HttpRequest& request, std::shared_ptr<Responder> responder) {
  if (!Authorized(request, *responder)) return;
  const std::string name = Str(request.Param("model"));
  std::shared_ptr<TrafficRouter> router = repository_->Router(name);
  if (!router) {
    responder->Send(http::ErrorResponse(
        404, absl::StrCat("model '", name, "' is not a routed model (no routing block)")));
    return;
  }
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::element> body;
  if (!ReadBody(parser, request, *responder, &body)) return;
  if (body) {
    simdjson::dom::object weights;
    if ((*body)["weights"].get(weights) == simdjson::SUCCESS) {
      std::map<std::string, double> update;
      for (auto [key, value] : weights) {
        double w;
        if (value.get(w) != simdjson::SUCCESS) {
          responder->Send(http::ErrorResponse(
              400, absl::StrCat("weights.", std::string(key), " is not a number")));
          return;
        }
        update[std::string(key)] = w;
      }
      absl::Status status = router->SetWeights(update);
      if (!status.ok()) {
        responder->Send(ErrorFor(status));
        return;
      }
      spdlog::info("model '{}': routing weights changed", name);
    }
  }
  // The variants, their weights and what each has served.
  const auto stats = router->Stats();
  std::string out = "{\"name\":";
  AppendJsonString(&out, name);
  out.append(",\"variants\":[");
  bool first = true;
  for (const TrafficRouter::Variant& v : router->Variants()) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"name\":");
    AppendJsonString(&out, v.name);
    out.append(",\"model\":");
    AppendJsonString(&out, v.model);
    out.append(",\"version\":");
    AppendJsonString(&out, v.version);
    out.append(",\"weight\":");
    AppendJsonDouble(&out, v.weight);
    out.append(",\"shadow\":");
    AppendJsonBool(&out, v.shadow);
    auto it = stats.find(v.name);
    const TrafficRouter::VariantStats st = it == stats.end() ? TrafficRouter::VariantStats{} : it->second;
    out.append(",\"requests\":");
    AppendJsonUint(&out, st.requests);
    out.append(",\"failures\":");
    AppendJsonUint(&out, st.failures);
    out.append(",\"mean_latency_us\":");
    AppendJsonDouble(&out, st.requests ? st.latency_sum_us / st.requests : 0);
    if (v.shadow) {
      out.append(",\"compared\":");
      AppendJsonUint(&out, st.compared);
      out.append(",\"max_abs_diff\":");
      AppendJsonDouble(&out, st.max_abs_diff);
    }
    out.push_back('}');
  }
  out.append("]}");
  responder->Send({200, "application/json", {}, std::move(out)});
}

// Arms a capture on the version and returns: the answer is sent by the
// callback, on the profiler's thread, when the executions are captured.
void ManagementApi::Profile(HttpRequest& request, std::shared_ptr<Responder> responder) {
  if (!Authorized(request, *responder)) return;
  const std::string name = Str(request.Param("model"));
  simdjson::dom::parser parser;
  absl::StatusOr<ProfileCall> call = ParseProfileCall(parser, request);
  if (!call.ok()) {
    responder->Send(ErrorFor(call.status()));
    return;
  }
  auto version = repository_->Get(name, call->version);
  if (!version.ok()) {
    responder->Send(ErrorFor(version.status()));
    return;
  }
  const std::string version_string = (*version)->version_string();
  const int requested = call->request.executions;
  absl::Status armed = (*version)->Profile(
      call->request, [responder, name, version_string, trace_only = call->trace_only](
                         profiling::ProfileReport report) {
        std::string top;
        if (!report.operators.empty()) {
          top = absl::StrCat("; most self time: ", report.operators[0].name, " ",
                             std::lround(report.operators[0].self_share * 100), "%");
        }
        spdlog::info("model '{}' version {}: profiled {} of {} executions{}", name,
                     version_string, report.executions, report.requested, top);
        responder->Send({200, "application/json", {},
                         trace_only ? std::move(report.trace_json)
                                    : ProfileJson(name, version_string, report)});
      });
  if (!armed.ok()) {
    responder->Send(armed.code() == absl::StatusCode::kAlreadyExists
                        ? http::ErrorResponse(409, std::string(armed.message()))
                        : ErrorFor(armed));
    return;
  }
  spdlog::info("model '{}' version {}: profiling the next {} executions", name, version_string,
               requested);
}

}  // namespace ptserve

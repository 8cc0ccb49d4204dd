#include "server/http/router.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"

namespace ptserve::http {
namespace {

// Typical API paths have under 8 segments; longer ones spill to the heap, which is fine.
using SegmentViews = absl::InlinedVector<std::string_view, 8>;

// "/a/b" -> {"a", "b"}; "/" -> {""}; "/a/" -> {"a", ""}. `path` starts with '/'.
SegmentViews SplitPath(std::string_view path) {
  SegmentViews segments;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void DieBadRoute(std::string_view method, std::string_view pattern,
                              std::string_view why) {
  std::fprintf(stderr, "ptserve: invalid HTTP route %.*s %.*s: %.*s\n",
               static_cast<int>(method.size()), method.data(), static_cast<int>(pattern.size()),
               pattern.data(), static_cast<int>(why.size()), why.data());
  std::abort();
}

}  // namespace

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  if (method.empty()) DieBadRoute(method, pattern, "empty method");
  if (pattern.empty() || pattern[0] != '/') DieBadRoute(method, pattern, "must start with '/'");
  if (!handler) DieBadRoute(method, pattern, "null handler");
  Route route;
  for (std::string_view text : SplitPath(pattern)) {
    Segment segment;
    if (!text.empty() && text.front() == '{') {
      if (text.size() < 3 || text.back() != '}') {
        DieBadRoute(method, pattern, "a parameter must be a whole segment '{name}'");
      }
      segment.is_param = true;
      segment.text = std::string(text.substr(1, text.size() - 2));
      if (segment.text.find_first_of("{}") != std::string::npos) {
        DieBadRoute(method, pattern, "bad parameter name");
      }
      for (const Segment& other : route.segments) {
        if (other.is_param && other.text == segment.text) {
          DieBadRoute(method, pattern, "parameter name repeated");
        }
      }
    } else {
      if (text.find_first_of("{}") != std::string_view::npos) {
        DieBadRoute(method, pattern, "a parameter must be a whole segment '{name}'");
      }
      segment.text = std::string(text);
    }
    route.segments.push_back(std::move(segment));
  }
  // Same shape (literal texts equal, parameters in the same places) and method: a duplicate.
  for (const Route& other : routes_) {
    if (other.method != method || other.segments.size() != route.segments.size()) continue;
    bool same = true;
    for (size_t i = 0; i < route.segments.size() && same; ++i) {
      const Segment& a = other.segments[i];
      const Segment& b = route.segments[i];
      same = a.is_param == b.is_param && (a.is_param || a.text == b.text);
    }
    if (same) DieBadRoute(method, pattern, absl::StrCat("conflicts with ", other.pattern));
  }
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
  // Literal before parameter at the first position where two patterns differ in kind; among
  // equals, the order of Add. Patterns of different lengths never match the same path.
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    const size_t n = std::min(a.segments.size(), b.segments.size());
    for (size_t i = 0; i < n; ++i) {
      if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    }
    return false;
  });
}

void Router::Dispatch(HttpRequest& request, std::shared_ptr<Responder> responder) const {
  if (request.path.empty() || request.path[0] != '/') {
    responder->Send(
        ErrorResponse(404, absl::StrCat("no route for ", request.method, " ", request.path)));
    return;
  }
  SegmentViews segments = SplitPath(request.path);
  // Decode escapes only when there are any; decoded[i] backs segments[i].
  std::vector<std::string> decoded;
  if (request.path.find('%') != std::string::npos) {
    decoded.resize(segments.size());
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].find('%') == std::string_view::npos) continue;
      if (!PercentDecode(segments[i], &decoded[i])) {
        responder->Send(ErrorResponse(400, "malformed percent-encoding in the path"));
        return;
      }
      segments[i] = decoded[i];
    }
  }

  const Route* found = nullptr;
  absl::InlinedVector<std::string_view, 4> allowed;  // methods matching the path, for 405
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const Segment& segment = route.segments[i];
      match = segment.is_param ? !segments[i].empty() : segment.text == segments[i];
    }
    if (!match) continue;
    if (route.method == request.method) {
      found = &route;
      break;
    }
    if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }

  if (found == nullptr) {
    if (allowed.empty()) {
      responder->Send(
          ErrorResponse(404, absl::StrCat("no route for ", request.method, " ", request.path)));
    } else {
      HttpResponse response = ErrorResponse(
          405, absl::StrCat("method ", request.method, " not allowed for ", request.path));
      std::string allow;
      for (std::string_view method : allowed) {
        if (!allow.empty()) allow += ", ";
        allow += method;
      }
      response.headers.emplace_back("Allow", std::move(allow));
      responder->Send(std::move(response));
    }
    return;
  }

  request.path_params.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& segment = found->segments[i];
    if (segment.is_param) request.path_params.emplace_back(segment.text, segments[i]);
  }
  found->handler(request, std::move(responder));
}

}  // namespace ptserve::http

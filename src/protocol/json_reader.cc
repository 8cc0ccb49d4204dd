#include "protocol/json_reader.h"

#include <cctype>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ptserve {
namespace {

// A recursive-descent JSON checker that reports the first offending byte. It
// runs only after simdjson has rejected a document, so it favours clarity
// over speed.
class SyntaxChecker {
 public:
  explicit SyntaxChecker(std::string_view s) : s_(s) {}

  std::optional<JsonSyntaxError> Check() {
    SkipSpace();
    if (!Value(0)) return error_;
    SkipSpace();
    if (pos_ != s_.size()) Fail("unexpected content after the JSON value");
    return error_;
  }

 private:
  static constexpr int kMaxDepth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);

  bool Fail(std::string reason) {
    if (!error_) error_ = JsonSyntaxError{pos_, std::move(reason)};
    return false;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(s_[pos_]); }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r'))
      ++pos_;
  }
  bool Expect(char c, const char* what) {
    if (AtEnd()) return Fail(absl::StrCat("unexpected end of input, expected ", what));
    if (Peek() != static_cast<unsigned char>(c)) return Fail(absl::StrCat("expected ", what));
    ++pos_;
    return true;
  }

  bool Value(int depth) {
    if (AtEnd()) return Fail("unexpected end of input, expected a value");
    switch (Peek()) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return Number();
        return Fail("expected a value");
    }
  }

  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return Fail(absl::StrCat("expected '", absl::string_view(word.data(), word.size()), "'"));
    pos_ += word.size();
    return true;
  }

  bool Object(int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    ++pos_;  // '{'
    SkipSpace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (AtEnd() || Peek() != '"') {
        return Fail(AtEnd() ? "unexpected end of input, expected a key" : "expected a string key");
      }
      if (!String()) return false;
      SkipSpace();
      if (!Expect(':', "':'")) return false;
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Fail("unexpected end of input, expected ',' or '}'");
      if (Peek() == '}') {
        ++pos_;
        return true;
      }
      if (!Expect(',', "',' or '}'")) return false;
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    ++pos_;  // '['
    SkipSpace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Fail("unexpected end of input, expected ',' or ']'");
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      if (!Expect(',', "',' or ']'")) return false;
    }
  }

  bool String() {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd()) return Fail("unterminated string");
      const unsigned char c = Peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in string");
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) return Fail("unterminated string");
        const char e = static_cast<char>(Peek());
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i) {
            if (pos_ + i >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_ + i]))) {
              return Fail("invalid \\u escape");
            }
          }
          pos_ += 5;
        } else if (std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos) {
          ++pos_;
        } else {
          return Fail("invalid escape");
        }
        continue;
      }
      if (c < 0x80) {
        ++pos_;
        continue;
      }
      const size_t len = Utf8Length();
      if (len == 0) return Fail("invalid UTF-8");
      pos_ += len;
    }
  }

  size_t Utf8Length() const {
    const auto* s = reinterpret_cast<const unsigned char*>(s_.data()) + pos_;
    const size_t n = s_.size() - pos_;
    auto cont = [&](size_t i) { return i < n && (s[i] & 0xc0) == 0x80; };
    const unsigned char c = s[0];
    if (c < 0xc2 || c > 0xf4) return 0;
    if (c < 0xe0) return cont(1) ? 2 : 0;
    if (c < 0xf0) {
      if (!cont(1) || !cont(2)) return 0;
      if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)) return 0;
      return 3;
    }
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)) return 0;
    return 4;
  }

  bool Number() {
    const size_t start = pos_;
    auto invalid = [&] {
      pos_ = start;
      return Fail("invalid number");
    };
    auto digit = [&] { return !AtEnd() && Peek() >= '0' && Peek() <= '9'; };
    if (Peek() == '-') ++pos_;
    if (!digit()) return invalid();
    if (Peek() == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (!digit()) return invalid();
      while (digit()) ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (!digit()) return invalid();
      while (digit()) ++pos_;
    }
    // A number must be followed by a delimiter ("01" and "1x" are errors).
    if (!AtEnd()) {
      const unsigned char c = Peek();
      if (!(c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        return invalid();
      }
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::optional<JsonSyntaxError> error_;
};

}  // namespace

std::optional<JsonSyntaxError> FindJsonSyntaxError(std::string_view json) {
  return SyntaxChecker(json).Check();
}

absl::StatusOr<simdjson::dom::element> ParseJson(std::string_view json, size_t readable) {
  // The parser keeps buffers sized for the largest document it has seen; drop
  // them after an unusually large one so that each thread does not hold on to
  // hundreds of MB.
  constexpr size_t kKeepCapacity = size_t{16} << 20;
  thread_local simdjson::dom::parser parser;
  if (parser.capacity() > kKeepCapacity && json.size() <= kKeepCapacity) {
    parser = simdjson::dom::parser();
  }
  const bool padded = readable >= json.size() + simdjson::SIMDJSON_PADDING;
  simdjson::dom::element root;
  const simdjson::error_code error = parser.parse(json.data(), json.size(), !padded).get(root);
  if (error == simdjson::SUCCESS) return root;
  if (std::optional<JsonSyntaxError> syntax = FindJsonSyntaxError(json)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON at byte ", syntax->offset, ": ", syntax->reason));
  }
  // Grammatically valid but rejected, e.g. a number out of double's range.
  return absl::InvalidArgumentError(
      absl::StrCat("malformed JSON: ", simdjson::error_message(error)));
}

std::string JsonSnippet(simdjson::dom::element value) {
  std::string text = simdjson::minify(value);
  constexpr size_t kMax = 40;
  if (text.size() > kMax) {
    text.resize(kMax);
    text.append("...");
  }
  return text;
}

}  // namespace ptserve

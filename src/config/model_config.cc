#include "config/model_config.h"

#include <climits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace ptserve {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Debian's Abseil has its own absl::string_view (not an alias of
// std::string_view), which is all StrCat takes.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The fields ptserve acts on, as dotted paths without indices. A field is
// supported when it, or a message containing it, is listed here; everything
// else that is set draws a "not supported yet" warning. Extend this table
// when a feature lands.
constexpr std::string_view kSupportedFields[] = {
    "name",
    "platform",
    "backend",
    "version_policy",
    "max_batch_size",
    "input.name",
    "input.data_type",
    "input.dims",
    "input.reshape",
    "input.optional",
    "output.name",
    "output.data_type",
    "output.dims",
    "output.reshape",
    "instance_group.name",
    "instance_group.kind",
    "instance_group.count",
    "instance_group.gpus",
    "dynamic_batching",
    "model_warmup",
    "parameters",
    "default_model_filename",
    "routing",
};

bool IsSupported(std::string_view path) {
  for (std::string_view supported : kSupportedFields) {
    if (path == supported) return true;
    if (path.size() > supported.size() && path.starts_with(supported) &&
        path[supported.size()] == '.') {
      return true;
    }
  }
  return false;
}

bool HasSupportedDescendant(std::string_view path) {
  for (std::string_view supported : kSupportedFields) {
    if (supported.size() > path.size() && supported.starts_with(path) &&
        supported[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

// `schema_path` names fields without indices (for the table), `shown_path`
// with them (for people).
void CollectUnsupported(const Message& message, const std::string& schema_path,
                        const std::string& shown_path, std::vector<std::string>* out) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);  // set fields only
  for (const FieldDescriptor* field : fields) {
    const std::string schema = schema_path + field->name();
    const std::string shown = shown_path + field->name();
    if (IsSupported(schema)) continue;
    const bool descend = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                         !field->is_map() && HasSupportedDescendant(schema);
    if (!descend) {
      out->push_back(shown);
    } else if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        CollectUnsupported(reflection->GetRepeatedMessage(message, field, i), schema + ".",
                           absl::StrCat(shown, "[", i, "]."), out);
      }
    } else {
      CollectUnsupported(reflection->GetMessage(message, field), schema + ".", shown + ".",
                         out);
    }
  }
}

// Keeps the first error (the parser stops there; the tokenizer may go on) and
// every warning. Positions are protobuf's: 0-based, tabs advance to the next
// multiple of 8.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  struct Error {
    int line = -1;
    int column = 0;
    std::string message;
  };

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.has_value()) error_ = Error{line, column, message};
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    warnings_.push_back(Error{line, column, message});
  }

  const std::optional<Error>& error() const { return error_; }
  const std::vector<Error>& warnings() const { return warnings_; }

 private:
  std::optional<Error> error_;
  std::vector<Error> warnings_;
};

class NullErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

// The first or last "quoted" part of a protobuf message, e.g. TYPE_FP23 in
// `Unknown enumeration value of "TYPE_FP23" for field "data_type".`
std::string Quoted(const std::string& message, bool last) {
  const size_t close = last ? message.rfind('"') : message.find('"', message.find('"') + 1);
  if (close == std::string::npos || close == 0) return "";
  const size_t open = message.rfind('"', close - 1);
  if (open == std::string::npos) return "";
  return message.substr(open + 1, close - open - 1);
}

// Protobuf 3.21's text parser reports an unknown field, a repeated singular
// field or a second oneof member at the token after the field name, and an
// unknown enum name at the token after the value (often on the next line); and
// it says "Expected integer, got: \"8\"" without naming the field.
// Re-tokenizing the text up to the error fixes both: the position moves back
// onto the offending token, and value errors get " (field 'x')".
void RefineError(std::string_view text, FirstErrorCollector::Error* error) {
  if (error->line < 0) return;
  std::string culprit;
  if (error->message.starts_with("Unknown enumeration value of \"") ||
      error->message.starts_with("Non-repeated field \"") ||
      error->message.find("another member of oneof") != std::string::npos) {
    culprit = Quoted(error->message, /*last=*/false);
  } else if (error->message.find("has no field named \"") != std::string::npos) {
    culprit = Quoted(error->message, /*last=*/true);
  }
  const bool names_field = error->message.find("field") != std::string::npos;

  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  NullErrorCollector ignore;
  google::protobuf::io::Tokenizer tokenizer(&input, &ignore);
  // As TextFormat::Parser configures it.
  tokenizer.set_allow_f_after_float(true);
  tokenizer.set_comment_style(google::protobuf::io::Tokenizer::SH_COMMENT_STYLE);
  tokenizer.set_require_space_after_number(false);
  tokenizer.set_allow_multiline_strings(true);

  using Token = google::protobuf::io::Tokenizer::Token;
  enum class State { kNone, kAfterColon, kInList };
  State state = State::kNone;
  std::string field;           // the field whose value is being read, if any
  std::string last_identifier;
  std::optional<std::pair<int, int>> culprit_at;
  while (tokenizer.Next()) {
    const Token& token = tokenizer.current();
    if (token.line > error->line || (token.line == error->line && token.column >= error->column)) {
      break;
    }
    if (!culprit.empty() && token.text == culprit) culprit_at = {token.line, token.column};
    const std::string& t = token.text;
    if (t == "{" || t == "}" || t == "<" || t == ">") {
      state = State::kNone;
    } else if (t == ":" && state == State::kNone && !last_identifier.empty()) {
      field = last_identifier;
      state = State::kAfterColon;
    } else if (state == State::kAfterColon && t == "[") {
      state = State::kInList;
    } else if ((state == State::kAfterColon && t != "-") || (state == State::kInList && t == "]")) {
      state = State::kNone;  // the value is complete
    }
    last_identifier = token.type == google::protobuf::io::Tokenizer::TYPE_IDENTIFIER ? t : "";
  }
  if (culprit_at.has_value()) {
    error->line = culprit_at->first;
    error->column = culprit_at->second;
  } else if (!names_field && state != State::kNone) {
    absl::StrAppend(&error->message, " (field '", field, "')");
  }
}

std::string Located(std::string_view file_name, const FirstErrorCollector::Error& error) {
  if (error.line < 0) return absl::StrCat(Sv(file_name), ": ", error.message);
  return absl::StrCat(Sv(file_name), ":", error.line + 1, ":", error.column + 1, ": ",
                      error.message);
}

bool IsValidUtf8(std::string_view s) {
  static constexpr uint32_t kMinCode[] = {0, 0x80, 0x800, 0x10000};  // no overlongs
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char lead = s[i];
    size_t extra;
    uint32_t code;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, code = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char next = s[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < kMinCode[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Path of the first string field (recursively) that is not valid UTF-8.
std::optional<std::string> FindInvalidUtf8(const Message& message, const std::string& path) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = path + field->name();
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string shown = field->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      if (field->type() == FieldDescriptor::TYPE_STRING) {
        std::string scratch;
        const std::string& value =
            field->is_repeated()
                ? reflection->GetRepeatedStringReference(message, field, i, &scratch)
                : reflection->GetStringReference(message, field, &scratch);
        if (!IsValidUtf8(value)) return shown;
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const Message& child = field->is_repeated()
                                   ? reflection->GetRepeatedMessage(message, field, i)
                                   : reflection->GetMessage(message, field);
        std::optional<std::string> bad = FindInvalidUtf8(child, shown + ".");
        if (bad.has_value()) return bad;
      }
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// JSON

// Rewrites protobuf's proto3 JSON for a message of type `descriptor` so that
// 64-bit integer fields are numbers ("dims":[-1,784]) rather than strings, as
// Triton's config endpoint prints them. The input is MessageToJsonString's
// compact output, so the grammar is small; anything unexpected makes Run()
// return nullopt and the caller keeps protobuf's text.
class Int64Unquoter {
 public:
  explicit Int64Unquoter(std::string_view json) : in_(json) { out_.reserve(json.size()); }

  std::optional<std::string> Run(const Descriptor* descriptor) {
    if (!Object(descriptor) || pos_ != in_.size()) return std::nullopt;
    return std::move(out_);
  }

 private:
  bool Object(const Descriptor* descriptor) {
    if (!Copy('{')) return false;
    if (Copy('}')) return true;
    do {
      std::string_view key;
      if (!String(&key)) return false;
      out_ += key;
      if (!Copy(':')) return false;
      const std::string name(key.substr(1, key.size() - 2));
      const FieldDescriptor* field = descriptor->FindFieldByName(name);
      if (field == nullptr || !Field(field)) return false;
    } while (Copy(','));
    return Copy('}');
  }

  bool Field(const FieldDescriptor* field) {
    if (field->is_map()) {
      const FieldDescriptor* value = field->message_type()->map_value();
      if (!Copy('{')) return false;
      if (Copy('}')) return true;
      do {
        std::string_view key;
        if (!String(&key)) return false;
        out_ += key;  // JSON keys stay strings, uint64 ones included
        if (!Copy(':') || !Value(value)) return false;
      } while (Copy(','));
      return Copy('}');
    }
    if (field->is_repeated()) {
      if (!Copy('[')) return false;
      if (Copy(']')) return true;
      do {
        if (!Value(field)) return false;
      } while (Copy(','));
      return Copy(']');
    }
    return Value(field);
  }

  bool Value(const FieldDescriptor* field) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Object(field->message_type());
    }
    if (pos_ < in_.size() && in_[pos_] == '"') {
      std::string_view token;
      if (!String(&token)) return false;
      const bool is_64 = field->cpp_type() == FieldDescriptor::CPPTYPE_INT64 ||
                         field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
      if (!is_64) {
        out_ += token;
        return true;
      }
      const std::string_view digits = token.substr(1, token.size() - 2);
      const size_t start = digits.starts_with('-') ? 1 : 0;
      if (digits.size() == start) return false;
      for (size_t i = start; i < digits.size(); ++i) {
        if (digits[i] < '0' || digits[i] > '9') return false;
      }
      out_ += digits;
      return true;
    }
    // A number, true or false.
    const size_t end = in_.find_first_of(",]}", pos_);
    if (end == std::string_view::npos || end == pos_) return false;
    out_ += in_.substr(pos_, end - pos_);
    pos_ = end;
    return true;
  }

  // A JSON string token, quotes included; escapes are skipped, not decoded.
  bool String(std::string_view* token) {
    if (pos_ >= in_.size() || in_[pos_] != '"') return false;
    size_t i = pos_ + 1;
    while (i < in_.size() && in_[i] != '"') i += in_[i] == '\\' ? 2 : 1;
    if (i >= in_.size()) return false;
    *token = in_.substr(pos_, i + 1 - pos_);
    pos_ = i + 1;
    return true;
  }

  bool Copy(char c) {
    if (pos_ >= in_.size() || in_[pos_] != c) return false;
    out_ += c;
    ++pos_;
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::string out_;
};

}  // namespace

absl::StatusOr<ParsedModelConfig> ParseModelConfig(std::string_view text,
                                                   std::string_view file_name) {
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(file_name), ": file is too large"));
  }
  ParsedModelConfig parsed;
  FirstErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (!parser.Parse(&input, &parsed.config)) {
    FirstErrorCollector::Error error =
        errors.error().value_or(FirstErrorCollector::Error{-1, 0, "not a valid config"});
    RefineError(text, &error);
    return absl::InvalidArgumentError(Located(file_name, error));
  }
  // The text parser takes any bytes in strings ("\xff"); JSON and HTTP cannot.
  if (std::optional<std::string> bad = FindInvalidUtf8(parsed.config, ""); bad.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(file_name), ": ", *bad, ": string is not valid UTF-8"));
  }
  for (const FirstErrorCollector::Error& warning : errors.warnings()) {
    parsed.warnings.push_back(Located(file_name, warning));
  }
  for (const std::string& field : UnsupportedFieldWarnings(parsed.config)) {
    parsed.warnings.push_back(absl::StrCat(Sv(file_name), ": field '", field,
                                           "' is not supported by ptserve yet and is ignored"));
  }
  return parsed;
}

std::vector<std::string> UnsupportedFieldWarnings(const config::ModelConfig& config) {
  std::vector<std::string> fields;
  CollectUnsupported(config, "", "", &fields);
  return fields;
}

std::optional<DataType> ToCoreDataType(config::DataType type) {
  switch (type) {
    case config::TYPE_BOOL: return DataType::kBool;
    case config::TYPE_UINT8: return DataType::kUint8;
    case config::TYPE_UINT16: return DataType::kUint16;
    case config::TYPE_UINT32: return DataType::kUint32;
    case config::TYPE_UINT64: return DataType::kUint64;
    case config::TYPE_INT8: return DataType::kInt8;
    case config::TYPE_INT16: return DataType::kInt16;
    case config::TYPE_INT32: return DataType::kInt32;
    case config::TYPE_INT64: return DataType::kInt64;
    case config::TYPE_FP16: return DataType::kFp16;
    case config::TYPE_FP32: return DataType::kFp32;
    case config::TYPE_FP64: return DataType::kFp64;
    case config::TYPE_STRING: return DataType::kBytes;
    case config::TYPE_BF16: return DataType::kBf16;
    default: return std::nullopt;  // TYPE_INVALID, out-of-range values
  }
}

config::DataType ToConfigDataType(DataType type) {
  switch (type) {
    case DataType::kBool: return config::TYPE_BOOL;
    case DataType::kUint8: return config::TYPE_UINT8;
    case DataType::kUint16: return config::TYPE_UINT16;
    case DataType::kUint32: return config::TYPE_UINT32;
    case DataType::kUint64: return config::TYPE_UINT64;
    case DataType::kInt8: return config::TYPE_INT8;
    case DataType::kInt16: return config::TYPE_INT16;
    case DataType::kInt32: return config::TYPE_INT32;
    case DataType::kInt64: return config::TYPE_INT64;
    case DataType::kFp16: return config::TYPE_FP16;
    case DataType::kBf16: return config::TYPE_BF16;
    case DataType::kFp32: return config::TYPE_FP32;
    case DataType::kFp64: return config::TYPE_FP64;
    case DataType::kBytes: return config::TYPE_STRING;
  }
  return config::TYPE_INVALID;
}

absl::StatusOr<std::string> ModelConfigToJson(const config::ModelConfig& config) {
  // Protobuf 3.21 prints invalid UTF-8 as is (logging an error); refuse instead.
  if (std::optional<std::string> bad = FindInvalidUtf8(config, ""); bad.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(*bad, ": string is not valid UTF-8"));
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(config, &json, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config cannot be printed as JSON: ", status.ToString()));
  }
  std::optional<std::string> numeric =
      Int64Unquoter(json).Run(config::ModelConfig::descriptor());
  return numeric.has_value() ? *std::move(numeric) : json;
}

}  // namespace ptserve

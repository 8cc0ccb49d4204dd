// CatchTorch: the one place libtorch's exceptions become a Status (the
// request path returns errors as values; see STYLE.md).
//
//   ASSIGN_OR_RETURN(torch::jit::Module m,
//                    CatchTorch(absl::StatusCode::kInvalidArgument, "cannot load m.pt",
//                               [&] { return torch::jit::load(path); }));
//
// `code` is what a libtorch error means at this call: a model that fails at
// run time is kInternal (the server's side: 500, counted as a server error),
// a file that does not load is kInvalidArgument. Running out of memory is
// kResourceExhausted wherever it happens; an index out of range (e.g. a
// token id past an embedding) is kInvalidArgument: the request chose it.
// Libtorch headers: backend only.
#ifndef PTSERVE_BACKEND_TORCH_CALL_H_
#define PTSERVE_BACKEND_TORCH_CALL_H_

#include <c10/util/Exception.h>

#include <algorithm>
#include <new>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ptserve {

// The line of a libtorch message that says what went wrong, bounded (they
// can run to pages): the first non-empty one, or for an error raised inside
// the TorchScript interpreter (a header, then tracebacks) the last one
// ("RuntimeError: index out of range in self").
inline std::string ShortTorchError(const std::string& what, size_t limit = 1000) {
  const size_t start = std::min(what.find_first_not_of(" \n\r\t"), what.size());
  std::string s = what.substr(start, what.find('\n', start) - start);
  if (s.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
    const size_t end = what.find_last_not_of(" \n\r\t");
    if (end != std::string::npos) {
      const size_t line = what.rfind('\n', end);
      s = what.substr(line == std::string::npos ? 0 : line + 1, end + 1 - (line == std::string::npos ? 0 : line + 1));
    }
  }
  return s.size() > limit ? s.substr(0, limit) + "..." : s;
}

// Whether a failure inside a model was caused by an index the request chose
// (e.g. a token id past an embedding's vocabulary): c10::IndexError, which
// the TorchScript interpreter rethrows as a RuntimeError with this text.
inline bool IsIndexError(const std::string& message) {
  return message.find("IndexError") != std::string::npos ||
         message.find("index out of range") != std::string::npos;
}

template <typename Fn>
auto CatchTorch(absl::StatusCode code, absl::string_view what, Fn&& fn)
    -> absl::StatusOr<decltype(fn())> {
  try {
    return fn();
  } catch (const c10::Error& e) {
    const std::string message = ShortTorchError(e.what_without_backtrace());
    return absl::Status(IsIndexError(message) ? absl::StatusCode::kInvalidArgument : code,
                        absl::StrCat(what, ": ", message));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    const std::string message = ShortTorchError(e.what());
    return absl::Status(IsIndexError(message) ? absl::StatusCode::kInvalidArgument : code,
                        absl::StrCat(what, ": ", message));
  }
}

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_TORCH_CALL_H_

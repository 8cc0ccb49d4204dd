// TLS for HttpServer: a server certificate chain and private key, and optionally a CA bundle
// that client certificates must chain to (mutual TLS), read from PEM files. Reloadable: Reload
// re-reads the files and new connections use the new context, while connections already open
// keep the one they started with (nothing is dropped); when the new files are bad the current
// context stays and Reload says why.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> tls,
//                    TlsContext::Create({.cert_file = "tls.crt", .key_file = "tls.key"}));
//   options.tls = tls;                         // HttpServer::Options
//   ...                                        // on SIGHUP:
//   absl::Status s = tls->Reload();
//
// Accepted protocol versions: TLS 1.2 and 1.3 (OpenSSL's defaults for ciphers).
// Thread-safety: all methods may be called from any thread.
#ifndef PTSERVE_SERVER_HTTP_TLS_CONTEXT_H_
#define PTSERVE_SERVER_HTTP_TLS_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/mutex.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace ptserve::http {

class TlsContext {
 public:
  struct Files {
    std::string cert_file{};       // PEM certificate chain (server certificate first)
    std::string key_file{};        // PEM private key matching the certificate
    std::string client_ca_file{};  // PEM CA bundle; non-empty: clients must present a certificate
  };

  // Reads and checks the files (regular files, at most 1 MiB each, PEM, key matches the
  // certificate). The error names the file and what is wrong with it.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const Files& files);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Re-reads the same files. On success new connections use them; on failure nothing changes.
  absl::Status Reload();

  // The context for a new connection (kept by the connection for its lifetime).
  std::shared_ptr<boost::asio::ssl::context> Current() const;

  // Mutual TLS (a client CA bundle was given).
  bool mutual() const { return !files_.client_ca_file.empty(); }
  // Successful loads so far (1 after Create).
  uint64_t generation() const;

 private:
  explicit TlsContext(Files files) : files_(std::move(files)) {}

  const Files files_;
  mutable Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ptserve::http

#endif  // PTSERVE_SERVER_HTTP_TLS_CONTEXT_H_

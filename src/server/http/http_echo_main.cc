// A tiny server for measuring the transport with an outside load generator (wrk, hey):
//   http_echo_main [port] [threads]
// Routes: GET /ping -> "{}" ; POST /echo -> the request body. Stops on SIGINT/SIGTERM.
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "server/http/http_server.h"

int main(int argc, char** argv) {
  using ptserve::http::HttpRequest;
  using ptserve::http::HttpResponse;
  using ptserve::http::HttpServer;
  using ptserve::http::Responder;
  using ptserve::http::Router;

  HttpServer::Options options;
  options.port = argc > 1 ? std::atoi(argv[1]) : 8000;
  options.threads = argc > 2 ? std::atoi(argv[2]) : 2;

  auto router = std::make_shared<Router>();
  router->Add("GET", "/ping", [](HttpRequest&, std::shared_ptr<Responder> responder) {
    HttpResponse response;
    response.body = "{}";
    responder->Send(std::move(response));
  });
  router->Add("POST", "/echo", [](HttpRequest& request, std::shared_ptr<Responder> responder) {
    HttpResponse response;
    response.content_type = "application/octet-stream";
    response.body = *request.body;
    responder->Send(std::move(response));
  });

  // A shell's background job starts with SIGINT ignored, and sigwait() never sees an ignored
  // signal: restore the default disposition first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // network threads inherit the mask

  auto server = HttpServer::Create(options, std::move(router));
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->Start();
  std::printf("listening on port %d with %d threads\n", (*server)->port(), options.threads);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->Shutdown(std::chrono::seconds(5));
  std::printf("served %llu requests\n",
              static_cast<unsigned long long>((*server)->requests_served()));
  return 0;
}

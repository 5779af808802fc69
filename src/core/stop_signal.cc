#include "core/stop_signal.h"

#include <signal.h>

#include <atomic>

namespace cgscope {
namespace {

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int sig) { g_stop_signal.store(sig); }

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int peek_stop_signal() { return g_stop_signal.load(); }
int take_stop_signal() { return g_stop_signal.exchange(0); }

}  // namespace cgscope

// SIGINT/SIGTERM/SIGHUP as a request to stop, for the commands that run until
// stopped (trace, proxy): installed before anything is created, so that a Ctrl-C
// or a closed terminal at any point still runs the destructors (cgroups, children,
// programs). SIGPIPE is ignored: a closed output is an error value, not a death.
#pragma once

namespace cgscope {

void install_stop_signal_handlers();

// The signal that asked to stop, or 0; take_stop_signal() also clears it.
int peek_stop_signal();
int take_stop_signal();

}  // namespace cgscope

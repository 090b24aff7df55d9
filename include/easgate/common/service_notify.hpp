#pragma once

namespace easgate::common {

// Tells systemd (Type=notify) where the daemon is; without NOTIFY_SOCKET, as when run by hand or in
// a test, each is a no-op.
void notify_ready();      // every listener is bound and accepting
void notify_reloading();  // a SIGHUP reload has begun; notify_ready() ends it
void notify_stopping();   // draining for shutdown

}  // namespace easgate::common
